# Talos on AWS behind a public network load balancer, the way the Talos AWS guide sets it
# up: the NLB has no security group and keeps the client's address, so the control-plane
# group must admit the clients themselves, and it admits everyone on 6443 and 50000.

resource "aws_vpc" "talos" {
  cidr_block = "10.50.0.0/16"
}

resource "aws_subnet" "public" {
  vpc_id     = aws_vpc.talos.id
  cidr_block = "10.50.0.0/24"
}

resource "aws_subnet" "nodes" {
  vpc_id     = aws_vpc.talos.id
  cidr_block = "10.50.10.0/24"
}

resource "aws_security_group" "control_plane" {
  name   = "talos-control-plane"
  vpc_id = aws_vpc.talos.id
  tags   = { Role = "controlplane" }

  ingress {
    description = "kube-apiserver through the NLB (client addresses preserved)"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "talosctl through the NLB"
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
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
  private_ip             = "10.50.10.${11 + count.index}"
  vpc_security_group_ids = [aws_security_group.control_plane.id]
  tags                   = { Name = "talos-cp-${count.index}" }
}

resource "aws_lb" "api" {
  name               = "talos-api"
  internal           = false
  load_balancer_type = "network"
  subnets            = [aws_subnet.public.id]
}

resource "aws_lb_target_group" "k8s" {
  name     = "talos-k8s-api"
  port     = 6443
  protocol = "TCP"
  vpc_id   = aws_vpc.talos.id
}

resource "aws_lb_target_group" "talos" {
  name     = "talos-apid"
  port     = 50000
  protocol = "TCP"
  vpc_id   = aws_vpc.talos.id
}

resource "aws_lb_listener" "k8s" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.k8s.arn
  }
}

resource "aws_lb_listener" "talos" {
  load_balancer_arn = aws_lb.api.arn
  port              = 50000
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.talos.arn
  }
}

resource "aws_lb_target_group_attachment" "k8s" {
  count            = 3
  target_group_arn = aws_lb_target_group.k8s.arn
  target_id        = aws_instance.control_plane[count.index].id
  port             = 6443
}

resource "aws_lb_target_group_attachment" "talos" {
  count            = 3
  target_group_arn = aws_lb_target_group.talos.arn
  target_id        = aws_instance.control_plane[count.index].id
  port             = 50000
}
