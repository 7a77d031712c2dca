"""The normalised model: plain immutable data. Imports nothing else of the package."""

from talosaudit.model.addresses import ALL_ADDRESSES, EMPTY, INTERNET, PRIVATE, AddressSet
from talosaudit.model.cluster import Fact, FactOrigin, NodeGroup, Role, Segment
from talosaudit.model.collection import (
    Attachment,
    Collection,
    Drift,
    DriftSide,
    Model,
    Problem,
    ProblemKind,
    merge,
)
from talosaudit.model.firewall import (
    Action,
    Direction,
    Layer,
    LayerKind,
    Peer,
    Placement,
    Rule,
    Semantics,
    Unresolved,
)
from talosaudit.model.intervals import IntervalSet
from talosaudit.model.ports import ALL_PORTS, ICMP, ICMPV6, IPIP, NO_PORTS, TCP, UDP, PortSet
from talosaudit.model.source import SourceRef

__all__ = [
    "ALL_ADDRESSES",
    "ALL_PORTS",
    "EMPTY",
    "ICMP",
    "ICMPV6",
    "INTERNET",
    "IPIP",
    "NO_PORTS",
    "PRIVATE",
    "TCP",
    "UDP",
    "Action",
    "AddressSet",
    "Attachment",
    "Collection",
    "Direction",
    "Drift",
    "DriftSide",
    "Fact",
    "FactOrigin",
    "IntervalSet",
    "Layer",
    "LayerKind",
    "Model",
    "NodeGroup",
    "Peer",
    "Placement",
    "PortSet",
    "Problem",
    "ProblemKind",
    "Role",
    "Rule",
    "Segment",
    "Semantics",
    "SourceRef",
    "Unresolved",
    "merge",
]
