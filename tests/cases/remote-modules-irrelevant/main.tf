# Talos on AWS with the public registry modules, read without `terraform init`, next to
# remote modules that have nothing to do with the network: the AMI lookup feeds only the
# workers' `ami`, the image registry and the Helm release feed outputs (addons.tf).

variable "cluster_name" {
  type    = string
  default = "talos-prod"
}

variable "vpc_id" {
  type    = string
  default = "vpc-0f1e2d3c4b5a69788"
}

variable "private_subnets" {
  type    = list(string)
  default = ["subnet-01a2b3c4d5e6f7081", "subnet-0918273645aabbccd", "subnet-0fedcba9876543210"]
}

variable "allowed_admin_cidrs" {
  type    = list(string)
  default = ["198.18.40.0/24"]
}

module "control_plane_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.0"

  name        = "${var.cluster_name}-control-plane"
  description = "Talos control plane"
  vpc_id      = var.vpc_id

  ingress_cidr_blocks = var.allowed_admin_cidrs
  ingress_rules       = ["kubernetes-api-tcp"]

  ingress_with_cidr_blocks = [
    {
      from_port   = 50000
      to_port     = 50000
      protocol    = "tcp"
      description = "talosctl from the admin networks"
    },
  ]

  ingress_with_self = [
    { rule = "kubernetes-api-tcp" },
    { rule = "etcd-client-tcp" },
    { rule = "etcd-peer-tcp" },
    { from_port = 50000, to_port = 50000, protocol = "tcp", description = "apid between control planes" },
    { from_port = 10250, to_port = 10250, protocol = "tcp", description = "kubelet" },
    { from_port = 4789, to_port = 4789, protocol = "udp", description = "flannel vxlan" },
  ]

  ingress_with_source_security_group_id = [
    {
      rule                     = "kubernetes-api-tcp"
      source_security_group_id = module.worker_sg.security_group_id
    },
    {
      from_port                = 50001
      to_port                  = 50001
      protocol                 = "tcp"
      description              = "trustd for joining workers"
      source_security_group_id = module.worker_sg.security_group_id
    },
    {
      from_port                = 10250
      to_port                  = 10250
      protocol                 = "tcp"
      description              = "kubelet"
      source_security_group_id = module.worker_sg.security_group_id
    },
    {
      from_port                = 4789
      to_port                  = 4789
      protocol                 = "udp"
      description              = "flannel vxlan"
      source_security_group_id = module.worker_sg.security_group_id
    },
  ]

  egress_rules = ["all-all"]
}

module "worker_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.0"

  name        = "${var.cluster_name}-worker"
  description = "Talos workers"
  vpc_id      = var.vpc_id

  ingress_with_self = [
    { from_port = 10250, to_port = 10250, protocol = "tcp", description = "kubelet" },
    { from_port = 4789, to_port = 4789, protocol = "udp", description = "flannel vxlan" },
  ]

  ingress_with_source_security_group_id = [
    {
      from_port                = 50000
      to_port                  = 50000
      protocol                 = "tcp"
      description              = "apid proxied by the control plane"
      source_security_group_id = module.control_plane_sg.security_group_id
    },
    {
      from_port                = 10250
      to_port                  = 10250
      protocol                 = "tcp"
      description              = "kubelet"
      source_security_group_id = module.control_plane_sg.security_group_id
    },
    {
      from_port                = 4789
      to_port                  = 4789
      protocol                 = "udp"
      description              = "flannel vxlan"
      source_security_group_id = module.control_plane_sg.security_group_id
    },
  ]

  egress_rules = ["all-all"]
}

module "control_plane" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 5.0"

  for_each = toset(["a", "b", "c"])

  name                   = "${var.cluster_name}-control-plane-${each.key}"
  ami                    = "ami-0abcdef1234567890"
  instance_type          = "c6i.large"
  subnet_id              = var.private_subnets[index(["a", "b", "c"], each.key)]
  vpc_security_group_ids = [module.control_plane_sg.security_group_id]
  ignore_ami_changes     = true
}

module "worker" {
  source  = "terraform-aws-modules/ec2-instance/aws"
  version = "~> 5.0"

  count = 3

  name                   = "${var.cluster_name}-worker-${count.index}"
  ami                    = module.talos_ami.image_id
  instance_type          = "c6i.xlarge"
  subnet_id              = var.private_subnets[count.index]
  vpc_security_group_ids = [module.worker_sg.security_group_id]
  create_iam_instance_profile = true
  iam_role_policies      = { ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }
}
