# Talos on Hetzner Cloud: servers on a private network, a Hetzner firewall in front of them
# that only lets the operator's address reach the Talos and Kubernetes APIs. The Talos host
# firewall itself accepts apid from anywhere (the Hetzner firewall is the gate).

terraform {
  required_providers {
    hcloud = { source = "hetznercloud/hcloud", version = "~> 1.48" }
    talos  = { source = "siderolabs/talos", version = "~> 0.6" }
  }
}

locals {
  private_subnet = "10.0.1.0/24"
  control_plane  = "10.0.1.10"
  worker         = "10.0.1.20"
  operator_cidr  = "198.18.40.7/32"
}

resource "hcloud_network" "cluster" {
  name     = "talos"
  ip_range = "10.0.0.0/16"
}

resource "hcloud_network_subnet" "nodes" {
  network_id   = hcloud_network.cluster.id
  type         = "cloud"
  network_zone = "eu-central"
  ip_range     = local.private_subnet
}

resource "hcloud_firewall" "cluster" {
  name = "talos-cluster"

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "50000"
    source_ips = [local.operator_cidr]
  }

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "6443"
    source_ips = [local.operator_cidr]
  }

  apply_to {
    label_selector = "cluster=talos"
  }
}

resource "hcloud_server" "control_plane" {
  name        = "talos-cp-1"
  image       = "talos-v1.8"
  server_type = "cx32"
  location    = "fsn1"
  labels      = { cluster = "talos", role = "controlplane" }

  network {
    network_id = hcloud_network.cluster.id
    ip         = local.control_plane
  }
}

resource "hcloud_server" "worker" {
  name        = "talos-worker-1"
  image       = "talos-v1.8"
  server_type = "cx32"
  location    = "fsn1"
  labels      = { cluster = "talos", role = "worker" }

  network {
    network_id = hcloud_network.cluster.id
    ip         = local.worker
  }
}

resource "talos_machine_secrets" "this" {}

data "talos_machine_configuration" "control_plane" {
  cluster_name     = "hetzner"
  machine_type     = "controlplane"
  cluster_endpoint = "https://${local.control_plane}:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches   = [file("${path.module}/patches/controlplane.yaml")]
}

data "talos_machine_configuration" "worker" {
  cluster_name     = "hetzner"
  machine_type     = "worker"
  cluster_endpoint = "https://${local.control_plane}:6443"
  machine_secrets  = talos_machine_secrets.this.machine_secrets
  config_patches   = [file("${path.module}/patches/worker.yaml")]
}

resource "talos_machine_configuration_apply" "control_plane" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.control_plane.machine_configuration
  node                        = local.control_plane
  config_patches = [
    yamlencode({
      machine = {
        network = {
          interfaces = [{ interface = "eth1", addresses = ["${local.control_plane}/24"] }]
        }
      }
    }),
  ]
}

resource "talos_machine_configuration_apply" "worker" {
  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.worker.machine_configuration
  node                        = local.worker
  config_patches = [
    yamlencode({
      machine = {
        network = {
          interfaces = [{ interface = "eth1", addresses = ["${local.worker}/24"] }]
        }
      }
    }),
  ]
}
