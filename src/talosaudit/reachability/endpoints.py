"""The two ends of a flow: node groups, the internet, the admin and node networks, a CIDR."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from talosaudit.model import EMPTY, INTERNET, PRIVATE, AddressSet, Model, NodeGroup
from talosaudit.model.addresses import ALL_V4


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a flow.

    ``labels`` are the group memberships rules can reference (a security group identity):
    a rule whose peer names one of them matches the endpoint's whole address set.
    ``node_group`` brings the group's NODE layers onto the path. ``segment`` None means
    "place each address into the segment that holds it" (the internet, a CIDR); a node
    group's own segment is kept as it is.

    ``approximate`` marks a node group whose addresses are unknown (Terraform without
    instances): ``addresses`` is then the region the nodes are known to sit in (their
    segment or the node network), and a CIDR that covers only part of that region may or
    may not hold the nodes, so reachability treats such a match as unresolved.
    """

    name: str
    addresses: AddressSet
    labels: frozenset[str] = frozenset()
    node_group: NodeGroup | None = None
    segment: str | None = None
    approximate: bool = False


def group_endpoint(model: Model, group: NodeGroup) -> Endpoint:
    """The nodes of ``group``; where their addresses are unknown, the region that holds them."""
    if group.addresses:
        return Endpoint(group.name, group.addresses, group.labels, group, group.segment)
    region = EMPTY
    segment = model.segments.get(group.segment) if group.segment else None
    if segment is not None:
        region = segment.addresses
    if not region:
        region = model.node_network
    if not region:
        region = ALL_V4
    return Endpoint(group.name, region, group.labels, group, group.segment, approximate=True)


def trusted_admin(model: Model, min_prefix_v4: int = 24, min_prefix_v6: int = 48) -> AddressSet:
    """The admin networks narrow enough to trust as "not the internet".

    A private admin network is trusted; a public one only when it is at least as narrow as
    the given prefix (so ``allowed_admin_cidrs = ["0.0.0.0/0"]`` trusts nobody).
    """
    trusted = EMPTY
    for cidr in model.admin.cidrs():
        net = ipaddress.ip_network(cidr)
        limit = min_prefix_v4 if net.version == 4 else min_prefix_v6
        piece = AddressSet.parse(cidr)
        if piece <= PRIVATE or net.prefixlen >= limit:
            trusted = trusted | piece
    return trusted


def internet_endpoint(model: Model, trusted: AddressSet = EMPTY) -> Endpoint:
    """Every public address except the trusted admin networks."""
    return Endpoint("the internet", INTERNET - trusted)


def admin_endpoint(model: Model) -> Endpoint:
    return Endpoint("the admin networks", model.admin)


def node_network_endpoint(model: Model) -> Endpoint:
    """Any host of the node network, as a stranger: no group labels."""
    return Endpoint("the node network", model.node_network)


def cidr_endpoint(name: str, addresses: AddressSet, labels: frozenset[str] = frozenset()) -> Endpoint:
    return Endpoint(name, addresses, labels)
