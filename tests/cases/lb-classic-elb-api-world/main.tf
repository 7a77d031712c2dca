# Talos on AWS behind classic ELBs in TCP mode: the ELB connects to the nodes from its own
# security group, so the control-plane group admits only that group on 6443 and 50000.
# The public API ELB's group admits everyone on 443; the Talos API ELB is internet-facing
# too, but its group admits only the operators' office range.

resource "aws_vpc" "talos" {
  cidr_block = "10.60.0.0/16"
}

resource "aws_subnet" "public" {
  vpc_id     = aws_vpc.talos.id
  cidr_block = "10.60.0.0/24"
}

resource "aws_subnet" "nodes" {
  vpc_id     = aws_vpc.talos.id
  cidr_block = "10.60.10.0/24"
}

resource "aws_security_group" "api_elb" {
  name   = "talos-api-elb"
  vpc_id = aws_vpc.talos.id

  ingress {
    description = "Kubernetes API for everyone"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "talos_elb" {
  name   = "talos-apid-elb"
  vpc_id = aws_vpc.talos.id

  ingress {
    description = "talosctl from the office"
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = ["198.51.100.0/24"]
  }
}

resource "aws_security_group" "control_plane" {
  name   = "talos-control-plane"
  vpc_id = aws_vpc.talos.id
  tags   = { Role = "controlplane" }

  ingress {
    description     = "kube-apiserver from the API ELB"
    from_port       = 6443
    to_port         = 6443
    protocol        = "tcp"
    security_groups = [aws_security_group.api_elb.id]
  }

  ingress {
    description     = "apid from the Talos ELB"
    from_port       = 50000
    to_port         = 50000
    protocol        = "tcp"
    security_groups = [aws_security_group.talos_elb.id]
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
    description = "kubelet"
    from_port   = 10250
    to_port     = 10250
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "apid and trustd"
    from_port   = 50000
    to_port     = 50001
    protocol    = "tcp"
    self        = true
  }

  ingress {
    description = "flannel vxlan"
    from_port   = 4789
    to_port     = 4789
    protocol    = "udp"
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
  private_ip             = "10.60.10.${11 + count.index}"
  vpc_security_group_ids = [aws_security_group.control_plane.id]
  tags                   = { Name = "talos-cp-${count.index}" }
}

resource "aws_elb" "api" {
  name            = "talos-k8s-api"
  subnets         = [aws_subnet.public.id]
  security_groups = [aws_security_group.api_elb.id]
  instances       = aws_instance.control_plane[*].id

  listener {
    lb_port           = 443
    lb_protocol       = "tcp"
    instance_port     = 6443
    instance_protocol = "tcp"
  }
}

resource "aws_elb" "talos" {
  name            = "talos-apid"
  subnets         = [aws_subnet.public.id]
  security_groups = [aws_security_group.talos_elb.id]
  instances       = aws_instance.control_plane[*].id

  listener {
    lb_port           = 50000
    lb_protocol       = "tcp"
    instance_port     = 50000
    instance_protocol = "tcp"
  }
}
