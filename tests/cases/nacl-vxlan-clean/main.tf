# A worker subnet with a tight network ACL and Flannel VXLAN between the subnets.
# Two security groups (control plane, worker) of a small Talos cluster with Flannel.

provider "aws" {
  region = "eu-west-1"
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "cni_type" {
  type    = string
  default = "flannel"
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

resource "aws_instance" "control_plane" {
  ami                    = "ami-0123456789abcdef0"
  instance_type          = "t3.medium"
  subnet_id              = aws_subnet.control_plane.id
  vpc_security_group_ids = [aws_security_group.control_plane.id]

  tags = {
    Name = "talos-control-plane-1"
    Role = "control-plane"
  }
}

resource "aws_instance" "worker" {
  ami                    = "ami-0123456789abcdef0"
  instance_type          = "t3.medium"
  subnet_id              = aws_subnet.worker.id
  vpc_security_group_ids = [aws_security_group.worker.id]

  tags = {
    Name = "talos-worker-1"
    Role = "worker"
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

resource "aws_vpc_security_group_ingress_rule" "cp_vxlan" {
  security_group_id = aws_security_group.control_plane.id
  description       = "Flannel VXLAN from the VPC"
  ip_protocol       = "udp"
  from_port         = 4789
  to_port           = 4789
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

resource "aws_vpc_security_group_ingress_rule" "wk_vxlan" {
  security_group_id = aws_security_group.worker.id
  description       = "Flannel VXLAN from the VPC"
  ip_protocol       = "udp"
  from_port         = 4789
  to_port           = 4789
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

# The worker subnet's network ACL lets in only what the workers serve, plus TCP replies. It
# has no entry for UDP replies: VXLAN is peer-to-peer on udp/4789 (each node sends from and to
# that port), so both directions are new flows to 4789 and no reply goes to an ephemeral port.
resource "aws_network_acl" "worker" {
  vpc_id     = aws_vpc.main.id
  subnet_ids = [aws_subnet.worker.id]

  ingress {
    rule_no    = 100
    action     = "allow"
    protocol   = "udp"
    from_port  = 4789
    to_port    = 4789
    cidr_block = "10.0.1.0/24"
  }

  ingress {
    rule_no    = 110
    action     = "allow"
    protocol   = "tcp"
    from_port  = 50000
    to_port    = 50000
    cidr_block = "10.0.1.0/24"
  }

  ingress {
    rule_no    = 120
    action     = "allow"
    protocol   = "tcp"
    from_port  = 10250
    to_port    = 10250
    cidr_block = "10.0.0.0/16"
  }

  ingress {
    rule_no    = 130
    action     = "allow"
    protocol   = "tcp"
    from_port  = 1024
    to_port    = 65535
    cidr_block = "0.0.0.0/0"
  }

  egress {
    rule_no    = 100
    action     = "allow"
    protocol   = "udp"
    from_port  = 4789
    to_port    = 4789
    cidr_block = "10.0.1.0/24"
  }

  egress {
    rule_no    = 110
    action     = "allow"
    protocol   = "tcp"
    from_port  = 0
    to_port    = 65535
    cidr_block = "0.0.0.0/0"
  }
}
