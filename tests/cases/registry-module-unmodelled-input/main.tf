# A registry ec2-instance whose node is attached through an input talosaudit does not model
# (network_interface: an existing interface with its own security groups). That input is named
# in a TA002; the rest of the call (name, private_ip, the security group module) is read.

module "cp_sg" {
  source  = "registry.terraform.io/terraform-aws-modules/security-group/aws"
  version = ">= 5.0, < 6.0"

  name   = "homelab-control-plane"
  vpc_id = "vpc-0badc0ffee0ddf00d"

  ingress_cidr_blocks = ["192.168.50.0/24"]
  ingress_rules       = ["kubernetes-api-tcp"]
  ingress_with_cidr_blocks = [
    { from_port = 50000, to_port = 50000, protocol = "tcp", description = "talosctl from the LAN" },
  ]

  ingress_with_self = [
    { rule = "kubernetes-api-tcp" },
    { rule = "etcd-client-tcp" },
    { rule = "etcd-peer-tcp" },
    { from_port = 10250, to_port = 10250, protocol = "tcp", description = "kubelet" },
    { from_port = 4789, to_port = 4789, protocol = "udp", description = "flannel" },
  ]
  egress_rules = ["all-all"]
}

module "cp" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 5.0"

  name                   = "homelab-control-plane-1"
  private_ip             = "192.168.50.11"
  vpc_security_group_ids = [module.cp_sg.security_group_id]

  network_interface = [
    {
      device_index         = 0
      network_interface_id = "eni-0123456789abcdef0"
    },
  ]
}
