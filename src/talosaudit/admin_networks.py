"""Admin networks as facts: where each one came from, and the check that a network the user
declares is narrow enough to be one.

``--admin-cidr`` and ``admin_networks:`` *add* to the admin networks found in the inputs
(``allowed_admin_cidrs`` and similar Terraform variables, pfSense/OPNsense admin interfaces):
the inputs say who the code lets in, the user names more operators; nothing the code declares
is dropped silently. The "Facts used" line says so.

A declared public range wider than the allowlist threshold (TA207's ``min_public_prefix``,
/24 and /56 by default) is the internet, not an operator (docs/ports.md, "from the internet"):
declaring it would hide every exposure it covers, so it is a usage error. An admin network
found in the inputs that wide is kept as it is and simply not trusted (TA201/TA202 report it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from talosaudit.model import PRIVATE, AddressSet, Fact, FactOrigin, SourceRef

ADDS_NOT_REPLACES = "--admin-cidr and admin_networks add to the admin networks found in the inputs"

#: TA207's defaults (policies/TA207-overly-broad-cidr.yaml); a config's ``rules.TA207.params``
#: overrides them, as it does for the policy itself.
DEFAULT_PREFIXES = (24, 56)


class AdminNetworkError(ValueError):
    """A declared admin network that is the internet rather than an operator's network."""


def allowlist_prefixes(rule_params: Mapping[str, Any] | None) -> tuple[int, int]:
    """The IPv4/IPv6 allowlist threshold from TA207's configured params (or the defaults)."""
    params = rule_params or {}
    v4 = int(params.get("min_public_prefix", DEFAULT_PREFIXES[0]))
    v6 = int(params.get("min_public_prefix_v6", DEFAULT_PREFIXES[1]))
    return v4, v6


def check_declared(cidr: str, where: str, prefixes: tuple[int, int]) -> AddressSet:
    """``cidr`` parsed, or AdminNetworkError when its public part is wider than the threshold."""
    addresses = AddressSet.parse(cidr)
    for piece in (addresses - PRIVATE).cidrs():
        net = ipaddress.ip_network(piece)
        limit = prefixes[0] if net.version == 4 else prefixes[1]
        if net.prefixlen < limit:
            raise AdminNetworkError(
                f"{where} {cidr}: a public range wider than /{limit} is the internet, not an admin "
                f"network (it would hide every exposure it covers); name the operators' own "
                f"addresses (public ranges of at most /{prefixes[0]} for IPv4, /{prefixes[1]} for "
                f"IPv6), or change TA207's min_public_prefix"
            )
    return addresses


def admin_fact(
    discovered: Iterable[tuple[AddressSet, SourceRef | None]],
    from_command_line: Iterable[str],
    from_config: Iterable[str],
    config_name: str,
) -> Fact | None:
    """One ``admin_networks`` fact listing every admin network and where it came from."""
    parts: list[tuple[str, str]] = []
    for addresses, source in discovered:
        where = "the inputs"
        if source is not None:
            name = f"{source.resource} " if source.resource else ""
            where = f"{name}at {source.path}:{source.start_line}"
        parts.extend((cidr, f"{cidr} from {where}") for cidr in addresses.cidrs())
    command_line = list(from_command_line)
    config = list(from_config)
    parts.extend((cidr, f"{cidr} from --admin-cidr") for cidr in command_line)
    parts.extend((cidr, f"{cidr} from admin_networks in {config_name}") for cidr in config)
    if not parts:
        return None
    reasons = list(dict.fromkeys(reason for _, reason in parts))
    if command_line or config:
        reasons.append(ADDS_NOT_REPLACES)
    origin = FactOrigin.TERRAFORM
    if command_line:
        origin = FactOrigin.COMMAND_LINE
    elif config:
        origin = FactOrigin.CONFIG_FILE
    value = ", ".join(dict.fromkeys(cidr for cidr, _ in parts))
    return Fact("admin_networks", value, "; ".join(reasons), origin)
