"""Talos machine configs: the host firewall layer, roles, addresses and CNI facts."""
