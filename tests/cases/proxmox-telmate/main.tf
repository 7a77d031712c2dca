terraform {
  required_providers {
    proxmox = {
      source = "Telmate/proxmox"
    }
  }
}

resource "proxmox_vm_qemu" "talos_worker" {
  name        = "talos-worker-1"
  target_node = "pve"
  vmid        = 102
  ipconfig0   = "ip=10.0.30.21/24,gw=10.0.30.1"

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    tag      = 30
    firewall = false
  }
}
