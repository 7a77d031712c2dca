# Modules outside the network path: none of their outputs reaches a security group, a rule,
# a subnet, an instance's address or groups, or a Talos configuration.

module "talos_ami" {
  source  = "app.terraform.io/example-org/talos-ami/aws"
  version = "~> 1.4"

  talos_version = "v1.7.6"
  architecture  = "amd64"
}

module "image_registry" {
  source  = "terraform-aws-modules/ecr/aws"
  version = "~> 2.0"

  repository_name                 = "${var.cluster_name}-images"
  repository_image_tag_mutability = "IMMUTABLE"
}

module "cilium" {
  source = "git::https://github.com/example-org/terraform-helm-release.git?ref=v0.3.1"

  name       = "cilium"
  repository = "https://helm.cilium.io"
  chart      = "cilium"
  namespace  = "kube-system"
  values     = [yamlencode({ ipam = { mode = "kubernetes" }, kubeProxyReplacement = true })]
}

output "image_repository" {
  value = module.image_registry.repository_url
}

output "cilium_status" {
  value = module.cilium.status
}
