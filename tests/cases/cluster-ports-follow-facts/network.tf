# Cilium with a Geneve tunnel, no KubeSpan, no Cilium WireGuard. The control-plane group still
# carries rules for the office network 10.0.0.0/8 copied from an older VXLAN + WireGuard setup.

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

# Leftovers for the office network: only the Geneve one is a port this cluster uses.
resource "aws_vpc_security_group_ingress_rule" "office_old_vxlan" {
  security_group_id = aws_security_group.cp.id
  description       = "office: vxlan (old tunnel)"
  ip_protocol       = "udp"
  from_port         = 8472
  to_port           = 8472
  cidr_ipv4         = "10.0.0.0/8"
}

resource "aws_vpc_security_group_ingress_rule" "office_wireguard" {
  security_group_id = aws_security_group.cp.id
  description       = "office: wireguard mesh"
  ip_protocol       = "udp"
  from_port         = 51820
  to_port           = 51871
  cidr_ipv4         = "10.0.0.0/8"
}

resource "aws_vpc_security_group_ingress_rule" "office_geneve" {
  security_group_id = aws_security_group.cp.id
  description       = "office: geneve"
  ip_protocol       = "udp"
  from_port         = 6081
  to_port           = 6081
  cidr_ipv4         = "10.0.0.0/8"
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
