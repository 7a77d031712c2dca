"""Firewall resources of platforms talosaudit does not model, in a Terraform root module
that builds Talos nodes.

Such a firewall may block what the modelled layers let through, so every exposure the scan
would claim for the root's nodes is uncertain. Each one becomes a NOT_EVALUATED problem at
its resource; the policies decide what that means for exposure findings.

"Attached to Talos nodes" is read at the root module level: the root configures Talos
through the Talos provider (a ``talos_*`` resource or data source). Which server a firewall
applies to (``apply_to``, ``firewall_ids``, target tags, NIC associations) is not followed.
"""

from __future__ import annotations

from talosaudit.collectors.terraform.values import ResourceInstance, TerraformConfig
from talosaudit.model import Collection, Problem, ProblemKind, SourceRef

#: Resource types (or prefixes ending in ``_``) of firewalls on platforms not modelled, with
#: the platform's name.
FIREWALL_TYPES: tuple[tuple[str, str], ...] = (
    ("hcloud_firewall", "Hetzner Cloud"),
    ("google_compute_firewall", "Google Cloud"),
    ("azurerm_network_security_group", "Azure"),
    ("openstack_networking_secgroup_", "OpenStack"),
    ("openstack_compute_secgroup_", "OpenStack"),
    ("digitalocean_firewall", "DigitalOcean"),
)
#: Rules and attachments of those firewalls: part of a firewall already reported.
_PARTS = ("_rule", "_attachment", "_association")


def map_unmodelled(config: TerraformConfig) -> Collection:
    """A NOT_EVALUATED problem per unmodelled firewall of a root that builds Talos nodes."""
    if not any(r.type.startswith("talos_") for r in config.resources):
        return Collection()
    problems: list[Problem] = []
    for r in config.resources:
        platform = _platform(r)
        if platform is None or r.mode != "managed":
            continue
        lines = r.lines
        problems.append(
            Problem(
                ProblemKind.NOT_EVALUATED,
                f"{r.address} is a {platform} firewall ({r.type}), which talosaudit does not model: "
                "this firewall is not evaluated; findings for the Talos nodes of this root ignore it, "
                "and exposures it might block are not reported",
                SourceRef(lines.path, lines.start, lines.end, resource=r.address),
                key=f"unmodelled-firewall:{r.address}",
            )
        )
    return Collection(problems=tuple(problems))


def _platform(r: ResourceInstance) -> str | None:
    for prefix, platform in FIREWALL_TYPES:
        if r.type == prefix or (prefix.endswith("_") and r.type.startswith(prefix)):
            if r.type.endswith(_PARTS) and r.type != prefix:
                # openstack_networking_secgroup_rule_v2 is a rule of a group reported itself
                return None if "secgroup_rule" in r.type else platform
            return platform
    return None
