terraform {
  required_providers {
    proxmox = {
      source = "bpg/proxmox"
    }
  }
}

# A Talos control plane and worker on VLAN 30. The NICs ask for the Proxmox firewall and a
# security group holds the cluster's rules, but no proxmox_virtual_environment_firewall_options
# turns the VM-level firewall on: with bpg that level stays off, so none of it filters.

resource "proxmox_virtual_environment_cluster_firewall" "datacenter" {
  enabled       = true
  input_policy  = "DROP"
  output_policy = "ACCEPT"
}

resource "proxmox_virtual_environment_cluster_firewall_security_group" "talos" {
  name    = "talos"
  comment = "Talos node ports"

  rule {
    type    = "in"
    action  = "ACCEPT"
    proto   = "tcp"
    dport   = "50000"
    source  = "10.0.30.0/24"
    comment = "apid"
  }
}

resource "proxmox_virtual_environment_vm" "talos_cp" {
  name      = "talos-cp-1"
  node_name = "pve"
  vm_id     = 301
  tags      = ["talos", "controlplane"]

  network_device {
    bridge   = "vmbr0"
    model    = "virtio"
    vlan_id  = 30
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

resource "proxmox_virtual_environment_firewall_rules" "talos_cp" {
  node_name = proxmox_virtual_environment_vm.talos_cp.node_name
  vm_id     = proxmox_virtual_environment_vm.talos_cp.vm_id

  rule {
    security_group = proxmox_virtual_environment_cluster_firewall_security_group.talos.name
    iface          = "net0"
  }
}

resource "proxmox_virtual_environment_vm" "talos_worker" {
  name      = "talos-worker-1"
  node_name = "pve"
  vm_id     = 311
  tags      = ["talos", "worker"]

  network_device {
    bridge   = "vmbr0"
    model    = "virtio"
    vlan_id  = 30
    firewall = true
  }

  initialization {
    ip_config {
      ipv4 {
        address = "10.0.30.21/24"
        gateway = "10.0.30.1"
      }
    }
  }
}
