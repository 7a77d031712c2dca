# Talos on AWS whose cluster endpoint is an internal classic ELB (TCP 443 -> 6443): the
# kubelets on the workers reach the API through it, so the control-plane group admits the
# API only from the ELB's group and from the other control planes. The ELB's group admits
# 443 from anywhere, which is harmless: the ELB is internal. The workers' trustd (50001)
# does not go through the ELB, and no rule admits it.

variable "cluster_endpoint" {
  type    = string
  default = "https://internal-talos-api.eu-west-1.elb.amazonaws.com:443"
}

resource "aws_vpc" "talos" {
  cidr_block = "10.70.0.0/16"
}

resource "aws_subnet" "nodes" {
  vpc_id     = aws_vpc.talos.id
  cidr_block = "10.70.10.0/24"
}

resource "aws_security_group" "api_elb" {
  name   = "talos-api-internal"
  vpc_id = aws_vpc.talos.id

  ingress {
    description = "Kubernetes API"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "to the control planes"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.talos.cidr_block]
  }
}

resource "aws_security_group" "control_plane" {
  name   = "talos-control-plane"
  vpc_id = aws_vpc.talos.id
  tags   = { Role = "controlplane" }

  ingress {
    description     = "kube-apiserver from the endpoint ELB"
    from_port       = 6443
    to_port         = 6443
    protocol        = "tcp"
    security_groups = [aws_security_group.api_elb.id]
  }

  ingress {
    description = "etcd between control planes"
    from_port   = 2379
    to_port     = 2380
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "kube-apiserver between control planes"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "kubelet and Talos APIs between control planes"
    from_port   = 10250
    to_port     = 10250
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "apid and trustd between control planes"
    from_port   = 50000
    to_port     = 50001
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description     = "flannel vxlan"
    from_port       = 4789
    to_port         = 4789
    protocol        = "udp"
    self            = true
    security_groups = [aws_security_group.worker.id]
  }

  ingress {
    description     = "kubelet from the workers (metrics)"
    from_port       = 10250
    to_port         = 10250
    protocol        = "tcp"
    security_groups = [aws_security_group.worker.id]
  }

  egress {
    description = "all outbound"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "worker" {
  name   = "talos-worker"
  vpc_id = aws_vpc.talos.id
  tags   = { Role = "worker" }

  ingress {
    description     = "kubelet and apid from the control planes"
    from_port       = 10250
    to_port         = 10250
    protocol        = "tcp"
    security_groups = [aws_security_group.control_plane.id]
  }

  ingress {
    description     = "apid from the control planes"
    from_port       = 50000
    to_port         = 50000
    protocol        = "tcp"
    security_groups = [aws_security_group.control_plane.id]
  }

  ingress {
    description     = "flannel vxlan"
    from_port       = 4789
    to_port         = 4789
    protocol        = "udp"
    self            = true
    security_groups = [aws_security_group.control_plane.id]
  }

  ingress {
    description = "kubelet between workers"
    from_port   = 10250
    to_port     = 10250
    protocol    = "tcp"
    self        = true
  }

  egress {
    description = "all outbound"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "control_plane" {
  count = 3

  ami                    = "ami-0abcdef1234567890"
  instance_type          = "m6i.large"
  subnet_id              = aws_subnet.nodes.id
  private_ip             = "10.70.10.${11 + count.index}"
  vpc_security_group_ids = [aws_security_group.control_plane.id]
  tags                   = { Name = "talos-cp-${count.index}" }
}

resource "aws_instance" "worker" {
  count = 2

  ami                    = "ami-0abcdef1234567890"
  instance_type          = "m6i.xlarge"
  subnet_id              = aws_subnet.nodes.id
  private_ip             = "10.70.10.${21 + count.index}"
  vpc_security_group_ids = [aws_security_group.worker.id]
  tags                   = { Name = "talos-worker-${count.index}" }
}

resource "aws_elb" "api" {
  name            = "talos-api"
  internal        = true
  subnets         = [aws_subnet.nodes.id]
  security_groups = [aws_security_group.api_elb.id]
  instances       = aws_instance.control_plane[*].id

  listener {
    lb_port           = 443
    lb_protocol       = "tcp"
    instance_port     = 6443
    instance_protocol = "tcp"
  }
}
