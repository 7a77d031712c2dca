# Talos on Proxmox VMs with the siderolabs/talos provider: one generated config per role,
# applied to each VM. The patches set the CNI and the node's address but no host firewall.

locals {
  endpoint = "https://10.50.0.10:6443"
  controlplanes = {
    talos-cp-1 = "10.50.0.11"
  }
  workers = {
    talos-wk-1 = "10.50.0.21"
  }
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "controlplane" {
  cluster_name     = "pve"
  machine_type     = "controlplane"
  cluster_endpoint = local.endpoint
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [
    yamlencode({
      cluster = {
        network = { cni = { name = "flannel" } }
      }
    }),
  ]
}

data "talos_machine_configuration" "worker" {
  cluster_name     = "pve"
  machine_type     = "worker"
  cluster_endpoint = local.endpoint
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches = [
    yamlencode({
      cluster = {
        network = { cni = { name = "flannel" } }
      }
    }),
  ]
}

resource "talos_machine_configuration_apply" "controlplane" {
  for_each                    = local.controlplanes
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.controlplane.machine_configuration
  node                        = each.value
  config_patches = [
    yamlencode({
      machine = {
        network = {
          hostname   = each.key
          interfaces = [{ interface = "eth0", addresses = ["${each.value}/24"] }]
        }
      }
    }),
  ]
}

resource "talos_machine_configuration_apply" "worker" {
  for_each                    = local.workers
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.worker.machine_configuration
  node                        = each.value
  config_patches = [
    yamlencode({
      machine = {
        network = {
          hostname   = each.key
          interfaces = [{ interface = "eth0", addresses = ["${each.value}/24"] }]
        }
      }
    }),
  ]
}
