"""Load balancers in the AWS mapping: listeners become forwarders toward node groups."""

from __future__ import annotations

from pathlib import Path

from talosaudit.collectors.aws.terraform import map_aws
from talosaudit.collectors.discover import discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.terraform import load_config

_TF = """
module "sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.1"
  name    = "talos-cp"
  vpc_id  = "vpc-0123456789abcdef0"
  tags    = { Role = "controlplane" }
  ingress_with_cidr_blocks = [
    { from_port = 6443, to_port = 6443, protocol = "tcp", cidr_blocks = "0.0.0.0/0" },
  ]
}

resource "aws_instance" "cp" {
  ami                    = "ami-0abcdef1234567890"
  instance_type          = "m6i.large"
  private_ip             = "10.0.1.10"
  vpc_security_group_ids = [module.sg.security_group_id]
}

module "nlb" {
  source  = "terraform-aws-modules/alb/aws"
  version = "~> 9.0"

  name                  = "talos-api"
  load_balancer_type    = "network"
  internal              = true
  vpc_id                = "vpc-0123456789abcdef0"
  create_security_group = false

  listeners = {
    api = { port = 443, protocol = "TCP", forward = { target_group_key = "api" } }
  }
  target_groups = {
    api = { protocol = "TCP", port = 6443, target_type = "instance", target_id = aws_instance.cp.id }
  }
}
"""


def test_registry_alb_target_id_attaches_the_instance(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_TF, encoding="utf-8")
    files, _ = discover([tmp_path], tmp_path)
    collection = map_aws(load_config(files, tmp_path, CollectOptions(jobs=1)))
    (forwarder,) = collection.forwarders
    assert forwarder.id == "module.nlb.aws_lb.this[0] listener 443"
    assert forwarder.targets == ("aws_instance.cp",)
    assert forwarder.target_port == 6443
    assert forwarder.preserves_client is True
    assert forwarder.internet_facing is False
    # No security group on the NLB: the listener admits anyone on the target port.
    (rule,) = forwarder.layer.rules
    assert str(rule.ports) == "6443"
    assert rule.peer.addresses.describe() == "0.0.0.0/0, ::/0"
