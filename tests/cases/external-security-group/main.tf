# The control-plane instance carries its role's security group, which does not let workers
# reach trustd (tcp/50001), and a second group given by its literal id: that group is
# defined outside this code, so its rules are unknown and may allow trustd.

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

resource "aws_vpc" "main" {
  cidr_block = var.vpc_cidr
}

resource "aws_subnet" "nodes" {
  vpc_id     = aws_vpc.main.id
  cidr_block = "10.0.1.0/24"
}

locals {
  # Every flow the nodes need between each other, from the VPC.
  node_ports = {
    k8s_api = { from = 6443, to = 6443, proto = "tcp" }
    apid    = { from = 50000, to = 50000, proto = "tcp" }
    trustd  = { from = 50001, to = 50001, proto = "tcp" }
    kubelet = { from = 10250, to = 10250, proto = "tcp" }
    geneve  = { from = 6081, to = 6081, proto = "udp" }
    health  = { from = 4240, to = 4240, proto = "tcp" }
    icmp    = { from = -1, to = -1, proto = "icmp" }
  }
}

resource "aws_security_group" "cp" {
  name   = "talos-control-plane"
  vpc_id = aws_vpc.main.id

  dynamic "ingress" {
    for_each = { for k, v in local.node_ports : k => v if k != "trustd" }
    content {
      description = "${ingress.key} from the VPC"
      from_port   = ingress.value.from
      to_port     = ingress.value.to
      protocol    = ingress.value.proto
      cidr_blocks = [var.vpc_cidr]
    }
  }

  ingress {
    description = "etcd between control planes"
    from_port   = 2379
    to_port     = 2380
    protocol    = "tcp"
    self        = true
  }

  egress {
    description = "All outbound traffic"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "worker" {
  name   = "talos-worker"
  vpc_id = aws_vpc.main.id

  dynamic "ingress" {
    for_each = { for k, v in local.node_ports : k => v if k != "k8s_api" && k != "trustd" }
    content {
      description = "${ingress.key} from the VPC"
      from_port   = ingress.value.from
      to_port     = ingress.value.to
      protocol    = ingress.value.proto
      cidr_blocks = [var.vpc_cidr]
    }
  }

  egress {
    description = "All outbound traffic"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "control_plane" {
  ami                    = "ami-0123456789abcdef0"
  instance_type          = "t3.medium"
  subnet_id              = aws_subnet.nodes.id
  vpc_security_group_ids = [aws_security_group.cp.id, "sg-0123456789abcdef0"]
}

resource "aws_instance" "worker" {
  count                  = 2
  ami                    = "ami-0123456789abcdef0"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.nodes.id
  vpc_security_group_ids = [aws_security_group.worker.id]
}
