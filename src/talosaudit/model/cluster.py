"""Nodes, roles, network segments and the facts that decide which flows are required."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.source import SourceRef


class Role(StrEnum):
    CONTROL_PLANE = "controlplane"
    WORKER = "worker"

    @property
    def label(self) -> str:
        return "control-plane" if self is Role.CONTROL_PLANE else "worker"


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """Nodes that share role, addresses and filtering layers.

    From Terraform without instances, a node group stands for "the nodes that carry this
    security group". ``labels`` are the group memberships that rules can reference (security
    group identities). ``layers`` are the ids of NODE-placed layers on the group's interface,
    outermost first (security groups, then the Proxmox guest firewall, then the Talos host
    firewall). ``segment`` is the id of the network segment the nodes sit in, if known.
    """

    id: str
    name: str
    role: Role | None
    role_reason: str
    source: SourceRef
    addresses: AddressSet = EMPTY
    address_reason: str = ""
    labels: frozenset[str] = frozenset()
    layers: tuple[str, ...] = ()
    segment: str | None = None
    #: Where the group came from, e.g. "aws_instance", "security group (no instances)".
    origin: str = ""
    #: How many nodes the group holds, when a collector knows it (a per-node Talos config is
    #: one node); None when unknown.
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A network segment (AWS subnet, VLAN, pfSense interface network).

    Collectors see the same network from different sides: Proxmox as a bridge and VLAN tag
    (``vmbr0.30``), pfSense as the interface whose subnet it is (``opt2`` on ``vtnet1.30``).
    ``merge()`` joins them (see ``model/segments.py``); ``vlan`` is the 802.1Q tag when the
    collector knows it, used to join a segment whose subnet is unknown.
    """

    id: str
    name: str
    addresses: AddressSet
    source: SourceRef | None = None
    #: True for the segment beyond a firewall's WAN side.
    is_internet: bool = False
    vlan: int | None = None


class FactOrigin(IntEnum):
    """Where a fact came from; lower wins."""

    COMMAND_LINE = 0
    CONFIG_FILE = 1
    TALOS_CONFIG = 2
    TERRAFORM = 3
    LIVE = 4
    DEFAULT = 9


@dataclass(frozen=True, slots=True)
class Fact:
    """One claim about the cluster, e.g. ``cni = cilium``, with where and why.

    Known names: ``cni`` (flannel, cilium, calico, none, custom), ``tunnel`` (vxlan, geneve,
    ipip, bgp, none), ``tunnel_port``, ``kubespan``, ``discovery``, ``nodeport``, ``hubble``,
    ``wireguard``, ``typha`` (booleans as "true"/"false").
    """

    name: str
    value: str
    reason: str
    origin: FactOrigin
    source: SourceRef | None = None
