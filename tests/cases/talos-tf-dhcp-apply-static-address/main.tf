# Bare-metal Talos on rented servers: every machine first boots the Talos ISO and gets a lease
# from the provider's DHCP on the rescue network; Terraform pushes the machine config to that
# lease, and the config pins the server's public address on its uplink. The host firewall lists
# the nodes by their public /32s (kubelets reach the API through the public endpoint too).

locals {
  cluster_endpoint = "https://95.217.10.11:6443"
  gateway          = "95.217.10.1"
  controlplanes = {
    cp-1 = { bootstrap = "172.16.40.11", public = "95.217.10.11" }
    cp-2 = { bootstrap = "172.16.40.12", public = "95.217.10.12" }
  }
  workers = {
    wk-1 = { bootstrap = "172.16.40.21", public = "95.217.10.21" }
  }
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "controlplane" {
  cluster_name     = "metal"
  machine_type     = "controlplane"
  cluster_endpoint = local.cluster_endpoint
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches   = [file("${path.module}/patches/firewall-controlplane.yaml")]
}

data "talos_machine_configuration" "worker" {
  cluster_name     = "metal"
  machine_type     = "worker"
  cluster_endpoint = local.cluster_endpoint
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches   = [file("${path.module}/patches/firewall-worker.yaml")]
}

resource "talos_machine_configuration_apply" "controlplane" {
  for_each                    = local.controlplanes
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.controlplane.machine_configuration
  node                        = each.value.bootstrap
  config_patches = [
    yamlencode({
      machine = {
        network = {
          hostname = each.key
          interfaces = [{
            interface = "enp1s0"
            addresses = ["${each.value.public}/26"]
            routes    = [{ network = "0.0.0.0/0", gateway = local.gateway }]
          }]
        }
      }
    }),
  ]
}

resource "talos_machine_configuration_apply" "worker" {
  for_each                    = local.workers
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.worker.machine_configuration
  node                        = each.value.bootstrap
  config_patches = [
    yamlencode({
      machine = {
        network = {
          hostname = each.key
          interfaces = [{
            interface = "enp1s0"
            addresses = ["${each.value.public}/26"]
            routes    = [{ network = "0.0.0.0/0", gateway = local.gateway }]
          }]
        }
      }
    }),
  ]
}
