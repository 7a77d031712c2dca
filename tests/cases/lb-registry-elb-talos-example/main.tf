# Talos on AWS in the shape of the public Talos AWS example: registry modules without
# `terraform init`, one security group shared by the nodes and the classic ELB that is the
# Kubernetes endpoint (443 -> 6443), the API ports open to the allowed CIDRs, which default to
# everyone.

variable "cluster_name" {
  type    = string
  default = "talos-aws-example"
}

variable "kubernetes_api_allowed_cidr" {
  type    = string
  default = "0.0.0.0/0"
}

variable "talos_api_allowed_cidr" {
  type    = string
  default = "0.0.0.0/0"
}

variable "vpc_id" {
  type    = string
  default = "vpc-0a1b2c3d4e5f60718"
}

variable "subnets" {
  type    = list(string)
  default = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
}

module "cluster_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 4.0"

  name        = var.cluster_name
  description = "Allow all intra-cluster and egress traffic"
  vpc_id      = var.vpc_id

  ingress_with_self = [
    {
      rule = "all-all"
    },
  ]

  ingress_with_cidr_blocks = [
    {
      from_port   = 443
      to_port     = 443
      protocol    = "tcp"
      cidr_blocks = var.kubernetes_api_allowed_cidr
      description = "Kubernetes API Access"
    },
    {
      from_port   = 6443
      to_port     = 6443
      protocol    = "tcp"
      cidr_blocks = var.kubernetes_api_allowed_cidr
      description = "Kubernetes API Access"
    },
    {
      from_port   = 50000
      to_port     = 50000
      protocol    = "tcp"
      cidr_blocks = var.talos_api_allowed_cidr
      description = "Talos API Access"
    },
  ]

  egress_with_cidr_blocks = [
    {
      rule        = "all-all"
      cidr_blocks = "0.0.0.0/0"
    },
  ]
}

module "elb_k8s_elb" {
  source  = "terraform-aws-modules/elb/aws"
  version = "~> 4.0"

  name    = substr("${var.cluster_name}-k8s-api", 0, 32)
  subnets = var.subnets
  internal        = false
  security_groups = [module.cluster_sg.security_group_id]

  listener = [
    {
      lb_port           = 443
      lb_protocol       = "tcp"
      instance_port     = 6443
      instance_protocol = "tcp"
    },
  ]

  health_check = {
    target              = "tcp:6443"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 2
    timeout             = 5
  }

  number_of_instances = 3
  instances           = module.talos_control_plane_nodes[*].id
}

module "talos_control_plane_nodes" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 4.0"

  count = 3

  name                        = "${var.cluster_name}-control-plane-${count.index}"
  ami                         = "ami-0abcdef1234567890"
  instance_type               = "c5.large"
  subnet_id                   = element(var.subnets, count.index)
  associate_public_ip_address = true
  vpc_security_group_ids      = [module.cluster_sg.security_group_id]
}

module "talos_worker_group" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 4.0"

  count = 2

  name                        = "${var.cluster_name}-worker-${count.index}"
  ami                         = "ami-0abcdef1234567890"
  instance_type               = "c5.large"
  subnet_id                   = element(var.subnets, count.index)
  associate_public_ip_address = true
  vpc_security_group_ids      = [module.cluster_sg.security_group_id]
}
