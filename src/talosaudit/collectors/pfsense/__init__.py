"""pfSense and OPNsense config.xml exports: the network firewall layer."""
