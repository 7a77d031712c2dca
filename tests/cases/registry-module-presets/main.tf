# Named presets of the registry security-group module: "all-all" from anywhere, and the
# ssh preset submodule whose default rules are opened to the world.

module "nodes_sg" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 4.17"

  name   = "lab-talos-nodes"
  vpc_id = "vpc-0123abcd4567ef890"

  ingress_cidr_blocks = ["0.0.0.0/0"]
  ingress_rules       = ["all-all"]

  egress_rules = ["all-all"]
}

module "bastion_ssh" {
  source  = "terraform-aws-modules/security-group/aws//modules/ssh"
  version = "~> 4.17"

  name                = "lab-talos-ssh"
  vpc_id              = "vpc-0123abcd4567ef890"
  ingress_cidr_blocks = ["0.0.0.0/0"]
}

module "node" {
  source = "terraform-aws-modules/ec2-instance/aws"

  for_each = {
    cp1 = "10.0.1.11"
    w1  = "10.0.1.21"
  }

  name                   = each.key == "cp1" ? "lab-control-plane-1" : "lab-worker-1"
  private_ip             = each.value
  subnet_id              = "subnet-0123abcd4567ef890"
  vpc_security_group_ids = [module.nodes_sg.security_group_id, module.bastion_ssh.security_group_id]
}
