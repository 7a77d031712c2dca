# A Talos control-plane security group whose apiserver is public on purpose, said in the
# accepted form: several ids, an `until:` between the ids and the reason.

resource "aws_security_group" "control_plane" {
  name = "talos-control-plane"
  tags = { NodeType = "control-plane" }

  # talosaudit:ignore TA202,TA207 until: 2099-12-31 public behind the provider's allow-list
  ingress {
    description = "Kubernetes API from the world"
    from_port   = 6443
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "Talos API from the admin network"
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = ["192.0.2.0/24"] // talosaudit:ignore TA201 the admin VPN, reviewed
  }
}
