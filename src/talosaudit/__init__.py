"""talosaudit: network exposure auditor for Talos Linux Kubernetes clusters."""

__version__ = "0.1.0"
