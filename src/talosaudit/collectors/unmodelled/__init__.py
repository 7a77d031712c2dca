"""Platforms talosaudit does not model (Hetzner Cloud, Google Cloud, Azure, OpenStack,
DigitalOcean): their firewalls are said to exist, never evaluated."""
