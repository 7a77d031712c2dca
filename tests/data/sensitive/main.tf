# Cilium with a Geneve tunnel. The admins' address comes from allowed_admin_cidrs; a CI runner
# reaches the API server from a fixed address written inline.

variable "node_cidr" {
  type    = string
  default = "10.8.0.0/20"
}

resource "aws_vpc" "k8s" {
  cidr_block = var.node_cidr
}

resource "aws_subnet" "a" {
  vpc_id     = aws_vpc.k8s.id
  cidr_block = "10.8.0.0/24"
}

locals {
  intra_ports = {
    apiserver = { proto = "tcp", from = 6443, to = 6443 }
    apid      = { proto = "tcp", from = 50000, to = 50001 }
    kubelet   = { proto = "tcp", from = 10250, to = 10250 }
    geneve    = { proto = "udp", from = 6081, to = 6081 }
    health    = { proto = "tcp", from = 4240, to = 4240 }
  }
}

resource "aws_security_group" "cp" {
  name   = "k8s-cp"
  vpc_id = aws_vpc.k8s.id
  tags   = { Role = "controlplane" }
}

resource "aws_security_group" "wk" {
  name   = "k8s-wk"
  vpc_id = aws_vpc.k8s.id
  tags   = { Role = "worker" }
}

resource "aws_vpc_security_group_ingress_rule" "cp_intra" {
  for_each          = local.intra_ports
  security_group_id = aws_security_group.cp.id
  description       = "cluster ${each.key}"
  ip_protocol       = each.value.proto
  from_port         = each.value.from
  to_port           = each.value.to
  cidr_ipv4         = var.node_cidr
}

resource "aws_vpc_security_group_ingress_rule" "wk_intra" {
  for_each          = local.intra_ports
  security_group_id = aws_security_group.wk.id
  description       = "cluster ${each.key}"
  ip_protocol       = each.value.proto
  from_port         = each.value.from
  to_port           = each.value.to
  cidr_ipv4         = var.node_cidr
}

resource "aws_vpc_security_group_ingress_rule" "cp_etcd" {
  security_group_id            = aws_security_group.cp.id
  description                  = "etcd"
  ip_protocol                  = "tcp"
  from_port                    = 2379
  to_port                      = 2380
  referenced_security_group_id = aws_security_group.cp.id
}

resource "aws_vpc_security_group_ingress_rule" "cp_icmp" {
  security_group_id = aws_security_group.cp.id
  description       = "ping"
  ip_protocol       = "icmp"
  from_port         = -1
  to_port           = -1
  cidr_ipv4         = var.node_cidr
}

resource "aws_vpc_security_group_ingress_rule" "wk_icmp" {
  security_group_id = aws_security_group.wk.id
  description       = "ping"
  ip_protocol       = "icmp"
  from_port         = -1
  to_port           = -1
  cidr_ipv4         = var.node_cidr
}

resource "aws_vpc_security_group_egress_rule" "cp_out" {
  security_group_id = aws_security_group.cp.id
  description       = "all out"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "wk_out" {
  security_group_id = aws_security_group.wk.id
  description       = "all out"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

variable "allowed_admin_cidrs" {
  description = "Networks allowed to reach talosctl and kubectl"
  type        = list(string)
  default     = ["145.40.7.10/32"]
  sensitive   = true
}

# Secrets of issue 12: the CI runner's address, a token in a description, a value that is
# not a CIDR, and an output; none may be printed, in any format.
variable "ci_cidr" {
  type      = string
  default   = "145.40.9.9/32"
  sensitive = true
}

variable "broken_cidr" {
  type      = string
  default   = "s3cret-not-a-cidr"
  sensitive = true
}

resource "aws_vpc_security_group_ingress_rule" "broken" {
  security_group_id = aws_security_group.cp.id
  description       = "from a sensitive non-CIDR"
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = var.broken_cidr
}

output "kube_token" {
  value     = "kube-token-7f3a9c"
  sensitive = true
}

resource "aws_vpc_security_group_ingress_rule" "admin_talosctl" {
  count             = length(var.allowed_admin_cidrs)
  security_group_id = aws_security_group.cp.id
  description       = "talosctl from the admins"
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = var.allowed_admin_cidrs[count.index]
}

resource "aws_vpc_security_group_ingress_rule" "admin_kubectl" {
  count             = length(var.allowed_admin_cidrs)
  security_group_id = aws_security_group.cp.id
  description       = "kubectl from the admins"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = var.allowed_admin_cidrs[count.index]
}

# The CI runner deploys with talosctl and kubectl from its own fixed address.
resource "aws_vpc_security_group_ingress_rule" "ci_talosctl" {
  security_group_id = aws_security_group.cp.id
  description       = sensitive("ci-desc-token-51c0ffee")
  ip_protocol       = "tcp"
  from_port         = 50000
  to_port           = 50000
  cidr_ipv4         = var.ci_cidr
}

resource "aws_vpc_security_group_ingress_rule" "ci_kubectl" {
  security_group_id = aws_security_group.cp.id
  description       = "kubectl from the CI runner"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = var.ci_cidr
}

resource "aws_instance" "cp" {
  ami                    = "ami-00112233445566778"
  instance_type          = "m6i.large"
  subnet_id              = aws_subnet.a.id
  vpc_security_group_ids = [aws_security_group.cp.id]
}

resource "aws_instance" "wk" {
  ami                    = "ami-00112233445566778"
  instance_type          = "m6i.large"
  subnet_id              = aws_subnet.a.id
  vpc_security_group_ids = [aws_security_group.wk.id]
}
