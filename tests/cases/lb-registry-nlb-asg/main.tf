# Talos on AWS with registry modules (alb v9 as a network load balancer, autoscaling for the
# control planes), read without `terraform init`. The NLB's own security group admits 6443
# from the operators' range only and 50000 from everyone; the control-plane group admits both
# ports from everyone because the NLB keeps the client's address.

variable "vpc_id" {
  type    = string
  default = "vpc-0c0ffee0c0ffee001"
}

variable "public_subnets" {
  type    = list(string)
  default = ["subnet-0c0ffee0c0ffee101", "subnet-0c0ffee0c0ffee102"]
}

module "control_plane_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.1"

  name   = "talos-control-plane"
  vpc_id = var.vpc_id

  ingress_cidr_blocks = ["0.0.0.0/0"]
  ingress_with_cidr_blocks = [
    { from_port = 6443, to_port = 6443, protocol = "tcp", description = "API through the NLB" },
    { from_port = 50000, to_port = 50000, protocol = "tcp", description = "apid through the NLB" },
  ]
  ingress_with_self = [
    { from_port = 2379, to_port = 2380, protocol = "tcp", description = "etcd" },
    { from_port = 10250, to_port = 10250, protocol = "tcp", description = "kubelet" },
    { from_port = 50001, to_port = 50001, protocol = "tcp", description = "trustd" },
    { from_port = 4789, to_port = 4789, protocol = "udp", description = "flannel" },
  ]
  egress_rules = ["all-all"]
}

module "nlb" {
  source  = "terraform-aws-modules/alb/aws"
  version = "~> 9.9"

  name               = "talos-api"
  load_balancer_type = "network"
  internal           = false
  vpc_id             = var.vpc_id
  subnets            = var.public_subnets

  security_group_ingress_rules = {
    k8s_api = {
      from_port   = 6443
      to_port     = 6443
      ip_protocol = "tcp"
      cidr_ipv4   = "203.0.113.0/24"
      description = "operators"
    }
    talos_api = {
      from_port   = 50000
      to_port     = 50000
      ip_protocol = "tcp"
      cidr_ipv4   = "0.0.0.0/0"
      description = "talosctl from anywhere"
    }
  }
  security_group_egress_rules = {
    nodes = {
      ip_protocol = "-1"
      cidr_ipv4   = "10.0.0.0/8"
    }
  }

  listeners = {
    k8s = {
      port     = 6443
      protocol = "TCP"
      forward  = { target_group_key = "k8s" }
    }
    talos = {
      port     = 50000
      protocol = "TCP"
      forward  = { target_group_key = "talos" }
    }
  }

  target_groups = {
    k8s = {
      protocol          = "TCP"
      port              = 6443
      target_type       = "instance"
      create_attachment = false
    }
    talos = {
      protocol          = "TCP"
      port              = 50000
      target_type       = "instance"
      create_attachment = false
    }
  }
}

module "control_plane" {
  source  = "terraform-aws-modules/autoscaling/aws"
  version = "~> 7.4"

  name                = "talos-control-plane"
  min_size            = 3
  max_size            = 3
  desired_capacity    = 3
  vpc_zone_identifier = var.public_subnets
  image_id            = "ami-0abcdef1234567890"
  instance_type       = "m6i.large"
  security_groups     = [module.control_plane_sg.security_group_id]
  target_group_arns   = [for tg in module.nlb.target_groups : tg.arn]
}
