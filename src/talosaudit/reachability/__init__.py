"""Reachability: which flows get through which layers (pure interval arithmetic on the model)."""

from talosaudit.reachability.endpoints import (
    Endpoint,
    admin_endpoint,
    cidr_endpoint,
    group_endpoint,
    internet_endpoint,
    node_network_endpoint,
    trusted_admin,
)
from talosaudit.reachability.query import (
    EPHEMERAL_PORTS,
    FlowResult,
    LayerDecision,
    Reachability,
    Restrictor,
    Side,
    Verdict,
    query,
    reachability,
)
from talosaudit.reachability.space import Space, address_line, line_addresses

__all__ = [
    "EPHEMERAL_PORTS",
    "Endpoint",
    "FlowResult",
    "LayerDecision",
    "Reachability",
    "Restrictor",
    "Side",
    "Space",
    "Verdict",
    "address_line",
    "admin_endpoint",
    "cidr_endpoint",
    "group_endpoint",
    "internet_endpoint",
    "line_addresses",
    "node_network_endpoint",
    "query",
    "reachability",
    "trusted_admin",
]
