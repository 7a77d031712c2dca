# A Talos control-plane security group whose apiserver is public on purpose: each comment
# tries to say so; only the last one is in a form talosaudit understands and still valid.

resource "aws_security_group" "control_plane" {
  name = "talos-control-plane"
  tags = { NodeType = "control-plane" }

  ingress { # talosaudit:ignore TA302 NodePorts between the control planes only
    description = "everything between the control-plane nodes"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }

  egress {
    description = "everything out"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  #talosaudit:ignore:TA202 public on purpose
  ingress {
    description = "Kubernetes API from anywhere (another tool's syntax above)"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA2O2 public on purpose (a letter O in the id)
  ingress {
    description      = "Kubernetes API from anywhere over IPv6"
    from_port        = 6443
    to_port          = 6443
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }

  # talosaudit:skip=TA202:public on purpose (checkov's syntax)
  ingress {
    description = "Kubernetes API and the next port from anywhere"
    from_port   = 6443
    to_port     = 6444
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202 until: 31.03.2027 a date in the wrong format
  ingress {
    description = "Kubernetes API and two more ports from anywhere"
    from_port   = 6443
    to_port     = 6445
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202 until: 2020-01-01 expired long ago
  ingress {
    description = "Kubernetes API and three more ports: its suppression has expired"
    from_port   = 6443
    to_port     = 6446
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202 until: 2099-12-31 public behind the provider's allow-list
  ingress {
    description = "Kubernetes API and four more ports, suppressed until 2099"
    from_port   = 6443
    to_port     = 6447
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
