# Talos on AWS with the network from a remote VPC module that is not cached (no
# `terraform init`): the node security group admits kubelet and apid "from the VPC" through
# the module's CIDR output, so what the group allows depends on a module that was not read.

variable "cluster_name" {
  type    = string
  default = "talos-edge"
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.8"

  name            = var.cluster_name
  cidr            = "10.40.0.0/16"
  azs             = ["eu-west-1a", "eu-west-1b"]
  private_subnets = ["10.40.1.0/24", "10.40.2.0/24"]
}

module "cluster_dns" {
  source  = "terraform-aws-modules/route53/aws//modules/zones"
  version = "~> 3.1"

  zones = { "talos.example.internal" = { comment = "cluster endpoint" } }
}

resource "aws_security_group" "talos_nodes" {
  name   = "${var.cluster_name}-nodes"
  vpc_id = module.vpc.vpc_id

  ingress {
    description = "apid and trustd inside the VPC"
    from_port   = 50000
    to_port     = 50001
    protocol    = "tcp"
    cidr_blocks = [module.vpc.vpc_cidr_block]
  }

  ingress {
    description = "every node to every node"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = { Role = "controlplane" }
}

resource "aws_instance" "control_plane" {
  count = 3

  ami                    = "ami-0abcdef1234567890"
  instance_type          = "m6i.large"
  subnet_id              = module.vpc.private_subnets[count.index % 2]
  vpc_security_group_ids = [aws_security_group.talos_nodes.id]

  tags = { Name = "${var.cluster_name}-cp-${count.index}", Role = "controlplane" }
}
