terraform {
  required_providers {
    proxmox = {
      source = "bpg/proxmox"
    }
  }
}

variable "vlan_id" {
  type    = number
  default = 30
}

resource "proxmox_virtual_environment_vm" "talos_cp" {
  name      = "talos-cp-1"
  node_name = "pve"
  vm_id     = 101
  tags      = ["talos", "controlplane"]

  network_device {
    bridge   = "vmbr0"
    model    = "virtio"
    vlan_id  = var.vlan_id
    firewall = true
  }

  initialization {
    ip_config {
      ipv4 {
        address = "10.0.30.11/24"
        gateway = "10.0.30.1"
      }
    }
  }
}

resource "proxmox_virtual_environment_firewall_options" "talos_cp" {
  node_name = proxmox_virtual_environment_vm.talos_cp.node_name
  vm_id     = proxmox_virtual_environment_vm.talos_cp.vm_id

  enabled      = true
  input_policy = "DROP"
}

resource "proxmox_virtual_environment_cluster_firewall" "datacenter" {
  enabled       = true
  input_policy  = "DROP"
  output_policy = "ACCEPT"
}
