"""Proxmox VE collector: guest configs, firewall files and API JSON into model layers.

``conf`` reads qemu-server/lxc configs, ``firewall`` reads ``.fw`` files, ``api_json`` reads
pvesh/proxmoxer JSON, ``layers`` turns them into layers and node groups (shared with the
Terraform mapper ``collectors.proxmox.terraform``), ``collect`` is the entry point.
"""

from talosaudit.collectors.proxmox.api_json import looks_like_proxmox_json
from talosaudit.collectors.proxmox.collect import KINDS, collect

__all__ = ["KINDS", "collect", "looks_like_proxmox_json"]
