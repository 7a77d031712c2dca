# Talos Kubernetes on AWS: the reference layout of the firewall rules guide.
#
# The network module creates the VPC, the subnets and the two security groups
# (control plane and worker) with every rule the cluster needs. The compute module
# places the nodes in the private subnets. External admin access to the control
# plane is opened here, one rule per CIDR in var.allowed_admin_cidrs.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = var.tags
  }
}

module "network" {
  source = "./modules/network"

  environment        = var.environment
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  enable_nodeport    = var.enable_nodeport
  tags               = var.tags
}

module "compute" {
  source = "./modules/compute"

  environment                 = var.environment
  talos_ami_id                = var.talos_ami_id
  control_plane_count         = var.control_plane_count
  worker_count                = var.worker_count
  control_plane_instance_type = var.control_plane_instance_type
  worker_instance_type        = var.worker_instance_type
  subnet_ids                  = module.network.private_subnet_ids
  control_plane_sg_id         = module.network.control_plane_security_group_id
  worker_sg_id                = module.network.worker_security_group_id
  tags                        = var.tags
}

# Conditional external access: with allowed_admin_cidrs = [] no rule is created and the
# control plane is reachable from inside the VPC only.
resource "aws_vpc_security_group_ingress_rule" "cp_k8s_api_external" {
  count = length(var.allowed_admin_cidrs)

  security_group_id = module.network.control_plane_security_group_id
  description       = "Kubernetes API (external admin: ${var.allowed_admin_cidrs[count.index]})"
  from_port         = 6443
  to_port           = 6443
  ip_protocol       = "tcp"
  cidr_ipv4         = var.allowed_admin_cidrs[count.index]
}

resource "aws_vpc_security_group_ingress_rule" "cp_talos_api_external" {
  count = length(var.allowed_admin_cidrs)

  security_group_id = module.network.control_plane_security_group_id
  description       = "Talos API (external admin: ${var.allowed_admin_cidrs[count.index]})"
  from_port         = 50000
  to_port           = 50000
  ip_protocol       = "tcp"
  cidr_ipv4         = var.allowed_admin_cidrs[count.index]
}
