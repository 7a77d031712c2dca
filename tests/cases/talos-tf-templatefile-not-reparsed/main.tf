# Single-node Talos lab: the machine config patch is a template rendered into a local, then
# handed to the provider. A second template is left over from an earlier layout.

locals {
  node_ip = "10.70.0.11"
  controlplane_patch = templatefile("${path.module}/templates/controlplane.yaml.tpl", {
    hostname    = "lab-cp-1"
    node_ip     = local.node_ip
    admin_cidrs = ["10.70.0.0/24", "10.9.0.0/24"]
  })
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "controlplane" {
  cluster_name     = "lab"
  machine_type     = "controlplane"
  cluster_endpoint = "https://${local.node_ip}:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches   = [local.controlplane_patch]
}

resource "talos_machine_configuration_apply" "controlplane" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.controlplane.machine_configuration
  node                        = local.node_ip
}
