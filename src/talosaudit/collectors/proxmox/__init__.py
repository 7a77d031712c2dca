"""Proxmox VE collector: guest configs, firewall files and API JSON into model layers."""
