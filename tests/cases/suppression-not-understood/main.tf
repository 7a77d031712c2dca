# Talos control-plane security groups whose apiserver is public on purpose: each comment
# tries to say so; only the last one is in a form talosaudit understands and still valid.

resource "aws_security_group" "control_plane" {
  name = "talos-control-plane"
  tags = { NodeType = "control-plane" }

  #talosaudit:ignore:TA202 public on purpose
  ingress {
    description = "Kubernetes API from anywhere (other tool's syntax above)"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "control_plane_v6" {
  name = "talos-control-plane-v6"
  tags = { NodeType = "control-plane" }

  # talosaudit:ignore TA2O2 public on purpose (a letter O in the id)
  ingress {
    description      = "Kubernetes API from anywhere over IPv6"
    from_port        = 6443
    to_port          = 6443
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }
}

resource "aws_security_group" "control_plane_lb" {
  name = "talos-control-plane-lb"
  tags = { NodeType = "control-plane" }

  # talosaudit:ignore TA202 until: 2099-12-31 public behind the provider's allow-list
  ingress {
    description = "Kubernetes API from the world, suppressed until 2099"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "control_plane_old" {
  name = "talos-control-plane-old"
  tags = { NodeType = "control-plane" }

  # talosaudit:skip=TA202:public on purpose (checkov's syntax)
  ingress {
    description = "Kubernetes API from anywhere (skip= syntax above)"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202 until: 31.03.2027 a date in the wrong format
  ingress {
    description = "Kubernetes API from the world on the alternative port range"
    from_port   = 6443
    to_port     = 6444
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202 until: 2020-01-01 expired long ago
  ingress {
    description = "Kubernetes API from the world: its suppression has expired"
    from_port   = 6443
    to_port     = 6445
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
