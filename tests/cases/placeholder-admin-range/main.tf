# Copied from a README example: the Talos API is opened to the documentation range the example
# used, which nobody replaced. The API server is public on purpose.
# Talos-managed Flannel (the default CNI): the overlay is udp/4789.

provider "aws" {
  region = "eu-central-1"
}

variable "talosctl_sources" {
  type    = list(string)
  default = ["203.0.113.0/24"] # replace with your own network
}

variable "vpc_cidr" {
  type    = string
  default = "10.42.0.0/16"
}

resource "aws_vpc" "lab" {
  cidr_block = var.vpc_cidr
}

resource "aws_subnet" "nodes" {
  vpc_id     = aws_vpc.lab.id
  cidr_block = "10.42.1.0/24"
}

resource "aws_security_group" "controlplane" {
  name   = "lab-controlplane"
  vpc_id = aws_vpc.lab.id

  ingress {
    description = "API server from the VPC"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  ingress {
    description = "apid from the VPC"
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  ingress {
    description = "apid for talosctl"
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = var.talosctl_sources
  }

  ingress {
    description = "public API server"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description     = "trustd from the workers"
    from_port       = 50001
    to_port         = 50001
    protocol        = "tcp"
    security_groups = [aws_security_group.worker.id]
  }

  ingress {
    description = "etcd among control planes"
    from_port   = 2379
    to_port     = 2380
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "kubelet from the VPC"
    from_port   = 10250
    to_port     = 10250
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  ingress {
    description = "flannel vxlan from the VPC"
    from_port   = 4789
    to_port     = 4789
    protocol    = "udp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "anything out"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Role = "controlplane"
  }
}

resource "aws_security_group" "worker" {
  name   = "lab-worker"
  vpc_id = aws_vpc.lab.id

  ingress {
    description     = "apid from the control plane"
    from_port       = 50000
    to_port         = 50000
    protocol        = "tcp"
    security_groups = [aws_security_group.controlplane.id]
  }

  ingress {
    description = "kubelet from the VPC"
    from_port   = 10250
    to_port     = 10250
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  ingress {
    description = "flannel vxlan from the VPC"
    from_port   = 4789
    to_port     = 4789
    protocol    = "udp"
    cidr_blocks = [var.vpc_cidr]
  }

  egress {
    description = "anything out"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Role = "worker"
  }
}

resource "aws_instance" "controlplane" {
  ami                    = "ami-0a1b2c3d4e5f60718"
  instance_type          = "t3.small"
  subnet_id              = aws_subnet.nodes.id
  vpc_security_group_ids = [aws_security_group.controlplane.id]

  tags = {
    Name = "lab-cp-1"
  }
}

resource "aws_instance" "worker" {
  ami                    = "ami-0a1b2c3d4e5f60718"
  instance_type          = "t3.small"
  subnet_id              = aws_subnet.nodes.id
  vpc_security_group_ids = [aws_security_group.worker.id]

  tags = {
    Name = "lab-worker-1"
  }
}
