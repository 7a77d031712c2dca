# The security groups of a small Talos cluster with Cilium/Geneve (no instances: the groups stand
# for the nodes). They allow everything the cluster needs, trustd (tcp/50001) from the workers included.

provider "aws" {
  region = "eu-west-1"
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "cni_type" {
  type    = string
  default = "cilium"
}

resource "aws_vpc" "main" {
  cidr_block = var.vpc_cidr
}

resource "aws_subnet" "control_plane" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.0.1.0/24"
}

resource "aws_subnet" "worker" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.0.2.0/24"
}

resource "aws_security_group" "control_plane" {
  name   = "talos-control-plane"
  vpc_id = aws_vpc.main.id

  tags = {
    NodeType = "control-plane"
  }
}

resource "aws_security_group" "worker" {
  name   = "talos-worker"
  vpc_id = aws_vpc.main.id

  tags = {
    NodeType = "worker"
  }
}

# Control plane rules
resource "aws_vpc_security_group_ingress_rule" "cp_k8s_api" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Kubernetes API from the VPC"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_talos_api" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Talos API from the VPC"
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_trustd" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "trustd from the workers"
  ip_protocol                  = "tcp"
  from_port                    = 50001
  to_port                      = 50001
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_ingress_rule" "cp_etcd" {
  security_group_id            = aws_security_group.control_plane.id
  description                  = "etcd between control-plane nodes"
  ip_protocol                  = "tcp"
  from_port                    = 2379
  to_port                      = 2380
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "cp_kubelet" {
  security_group_id = aws_security_group.control_plane.id
  description       = "kubelet from the VPC"
  ip_protocol       = "tcp"
  from_port         = 10250
  to_port           = 10250
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_geneve" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Cilium Geneve from the VPC"
  ip_protocol       = "udp"
  from_port         = 6081
  to_port           = 6081
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_cilium_health" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Cilium health from the VPC"
  ip_protocol       = "tcp"
  from_port         = 4240
  to_port           = 4240
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_icmp" {
  security_group_id = aws_security_group.control_plane.id
  description       = "ICMP from the VPC"
  ip_protocol       = "icmp"
  from_port         = -1
  to_port           = -1
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "cp_all" {
  security_group_id = aws_security_group.control_plane.id
  description       = "All outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

# Worker rules
resource "aws_vpc_security_group_ingress_rule" "wk_talos_api" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Talos API from the control plane"
  ip_protocol                  = "tcp"
  from_port                    = 50000
  to_port                      = 50000
  referenced_security_group_id = aws_security_group.control_plane.id
}

resource "aws_vpc_security_group_ingress_rule" "wk_kubelet" {
  security_group_id = aws_security_group.worker.id
  description       = "kubelet from the VPC"
  ip_protocol       = "tcp"
  from_port         = 10250
  to_port           = 10250
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "wk_geneve" {
  security_group_id = aws_security_group.worker.id
  description       = "Cilium Geneve from the VPC"
  ip_protocol       = "udp"
  from_port         = 6081
  to_port           = 6081
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "wk_cilium_health" {
  security_group_id = aws_security_group.worker.id
  description       = "Cilium health from the VPC"
  ip_protocol       = "tcp"
  from_port         = 4240
  to_port           = 4240
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "wk_icmp" {
  security_group_id = aws_security_group.worker.id
  description       = "ICMP from the VPC"
  ip_protocol       = "icmp"
  from_port         = -1
  to_port           = -1
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "wk_all" {
  security_group_id = aws_security_group.worker.id
  description       = "All outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}
