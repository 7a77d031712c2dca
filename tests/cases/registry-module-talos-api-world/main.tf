# The Talos API opened to everyone through the registry security-group module: the
# comma-separated cidr_blocks string of ingress_with_cidr_blocks holds 0.0.0.0/0.

module "talos_sg" {
  source  = "git::https://github.com/terraform-aws-modules/terraform-aws-security-group.git?ref=v5.3.0"

  name   = "talos-edge-control-plane"
  vpc_id = "vpc-0c0ffee0c0ffee000"

  ingress_with_self = [
    { rule = "kubernetes-api-tcp" },
    { rule = "etcd-client-tcp" },
    { rule = "etcd-peer-tcp" },
    { from_port = 10250, to_port = 10250, protocol = "tcp", description = "kubelet" },
    { from_port = 4789, to_port = 4789, protocol = "udp", description = "flannel" },
  ]

  ingress_with_cidr_blocks = [
    {
      from_port   = 50000
      to_port     = 50000
      protocol    = "tcp"
      cidr_blocks = "10.20.1.10/32,0.0.0.0/0"
      description = "talosctl"
    },
  ]

  egress_rules = ["all-all"]
}

module "control_plane" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "5.7.1"

  name                   = "edge-control-plane-1"
  subnet_id              = "subnet-0aaaabbbbccccdddd"
  private_ip             = "10.20.1.10"
  vpc_security_group_ids = [module.talos_sg.security_group_id]
}
