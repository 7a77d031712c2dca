# A Talos cluster on AWS written the way the public examples do, without `terraform init`:
# one shared security group (everything between members, Talos and Kubernetes APIs from
# the admin networks only) and the nodes as ec2-instance modules.

variable "cluster_name" {
  type    = string
  default = "talos-lab"
}

variable "vpc_id" {
  type    = string
  default = "vpc-0a1b2c3d4e5f60718"
}

variable "subnet_ids" {
  type    = list(string)
  default = ["subnet-0aa11bb22cc33dd44", "subnet-0ee55ff66aa77bb88"]
}

variable "allowed_admin_cidrs" {
  type    = list(string)
  default = ["198.18.10.0/24"]
}

module "cluster_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.1"

  name        = "${var.cluster_name}-nodes"
  description = "Talos nodes: members talk freely, APIs from the admin networks"
  vpc_id      = var.vpc_id

  ingress_with_self = [
    {
      rule        = "all-all"
      description = "any traffic between cluster members"
    },
  ]

  ingress_with_cidr_blocks = [
    {
      from_port   = 50000
      to_port     = 50000
      protocol    = "tcp"
      cidr_blocks = join(",", var.allowed_admin_cidrs)
      description = "talosctl from the admin networks"
    },
    {
      rule        = "kubernetes-api-tcp"
      cidr_blocks = join(",", var.allowed_admin_cidrs)
      description = "kubectl from the admin networks"
    },
  ]

  egress_rules = ["all-all"]
}

module "control_plane" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 5.6"

  count = 3

  name          = "${var.cluster_name}-control-plane-${count.index}"
  ami           = "ami-0123456789abcdef0"
  instance_type = "m6i.large"
  monitoring    = true
  subnet_id     = element(var.subnet_ids, count.index)

  vpc_security_group_ids = [module.cluster_sg.security_group_id]

  root_block_device = [{ volume_size = 40 }]
}

module "worker" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 5.6"

  count = 2

  name          = "${var.cluster_name}-worker-${count.index}"
  ami           = "ami-0123456789abcdef0"
  instance_type = "m6i.xlarge"
  subnet_id     = element(var.subnet_ids, count.index)

  vpc_security_group_ids = [module.cluster_sg.security_group_id]
}
