# A Talos control-plane security group whose apiserver is public on purpose, said in the
# accepted form: several ids, an `until:` between the ids and the reason.

resource "aws_security_group" "control_plane" {
  name = "talos-control-plane"
  tags = { NodeType = "control-plane" }

  ingress {
    description = "everything between the control-plane nodes"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true // talosaudit:ignore TA302 NodePorts between the control planes only
  }

  egress {
    description = "everything out"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # talosaudit:ignore TA202,TA207 until: 2099-12-31 public behind the provider's allow-list
  ingress {
    description = "Kubernetes API from the world"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
