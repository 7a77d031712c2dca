"""Firewall rules and layers, normalised from every input format.

A layer is one place where traffic is filtered (an AWS security group, a network ACL, a
Proxmox guest firewall, a pfSense interface rule list, a Talos host firewall). Its
``semantics`` say how its rules combine; its ``placement`` says where on a path it sits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.ports import PortSet, flow_text
from talosaudit.model.source import SourceRef


class Action(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Semantics(StrEnum):
    #: Every rule allows; traffic passes if any rule matches (AWS security groups).
    UNION_OF_ALLOWS = "union-of-allows"
    #: Rules in order, the first that matches decides, else ``default_action``.
    FIRST_MATCH = "first-match"


class LayerKind(StrEnum):
    SECURITY_GROUP = "aws-security-group"
    NETWORK_ACL = "aws-network-acl"
    PROXMOX = "proxmox-firewall"
    PFSENSE = "pfsense"
    OPNSENSE = "opnsense"
    TALOS_HOST = "talos-host-firewall"
    #: A load balancer listener (model/forwarders.py): never one of a node's own layers.
    LOAD_BALANCER = "aws-load-balancer"


class Placement(StrEnum):
    #: Filters at a node's own interface: applies to the node's ingress and egress.
    NODE = "node"
    #: Filters traffic crossing a segment's boundary (a subnet's network ACL): applies only
    #: when source and destination are in different segments.
    SEGMENT = "segment"
    #: A router/firewall between segments (pfSense): rules of the interface where the
    #: packet enters; never between two hosts of the same segment.
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A value talosaudit could not resolve, and the expression it came from."""

    field: str
    expression: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Peer:
    """The other side of a rule: addresses, and/or members of named groups.

    ``groups`` holds labels such as a security group's identity: a rule with a group peer
    matches traffic of whichever node groups carry that label. ``any_unknown`` marks a peer
    whose value could not be resolved (see Rule.unresolved).
    """

    addresses: AddressSet = EMPTY
    groups: frozenset[str] = frozenset()
    description: str = ""

    def __bool__(self) -> bool:
        return bool(self.addresses) or bool(self.groups)

    def describe(self) -> str:
        if self.description:
            return self.description
        parts = [self.addresses.describe()] if self.addresses else []
        parts += sorted(f"group {g}" for g in self.groups)
        return ", ".join(parts) if parts else "nothing"


@dataclass(frozen=True, slots=True)
class Rule:
    """One normalised rule of a layer.

    ``protocol`` is an IP protocol number or None for every protocol. ``ports`` applies to
    tcp/udp/sctp only. For ingress rules ``peer`` is the source; for egress rules it is the
    destination. ``local`` narrows which of the layer's own addresses the rule protects
    (None = all of them; pfSense/Proxmox rules with a destination use it).
    """

    action: Action
    direction: Direction
    protocol: int | None
    ports: PortSet
    peer: Peer
    source: SourceRef
    description: str = ""
    local: AddressSet | None = None
    enabled: bool = True
    #: Values that could not be resolved: the rule then both may and may not match.
    unresolved: tuple[Unresolved, ...] = ()
    #: Identity of the rule inside its layer (e.g. ``sgr-…``, a Terraform address, a rule
    #: number): stable across line moves, used by fingerprints and drift.
    key: str = ""
    #: Where the rule came from, for messages ("inline ingress block", "nat port forward").
    origin: str = ""
    #: Free-form, format-specific facts a special evaluator may need (e.g. ``nat``).
    extra: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        way = "from" if self.direction is Direction.INGRESS else "to"
        return f"{self.action.value} {flow_text(self.protocol, self.ports)} {way} {self.peer.describe()}"


@dataclass(frozen=True, slots=True)
class Layer:
    """A filtering layer and its rules.

    ``id`` is unique within a scan. ``semantics`` and ``default_action`` define evaluation;
    ``stateful`` says whether return traffic is implied (security groups, pfSense) or must be
    allowed explicitly (network ACLs). ``segments`` lists the segment ids a SEGMENT or
    GATEWAY layer stands on (a NACL's subnets, a firewall's interface networks).
    ``enabled`` False means the layer exists but filters nothing (Proxmox firewall off).
    """

    id: str
    kind: LayerKind
    name: str
    source: SourceRef
    semantics: Semantics
    placement: Placement
    rules: tuple[Rule, ...] = ()
    default_ingress: Action = Action.DENY
    default_egress: Action = Action.DENY
    stateful: bool = True
    enabled: bool = True
    segments: tuple[str, ...] = ()
    #: Free-form facts for messages and special evaluators (tags, vpc, interface names).
    attributes: tuple[tuple[str, str], ...] = field(default=())
    #: Where the layer's switches are written, by name (``switch``: the line that turns it on
    #: for the node, e.g. a NIC's ``firewall=1``; ``config``: its firewall file).
    origins: tuple[tuple[str, SourceRef], ...] = field(default=())

    def origin(self, name: str) -> SourceRef | None:
        return next((ref for key, ref in self.origins if key == name), None)

    def rules_in(self, direction: Direction) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.direction is direction)

    def attribute(self, key: str, default: str = "") -> str:
        for k, v in self.attributes:
            if k == key:
                return v
        return default


#: The platform a layer kind belongs to, as its users name it.
PLATFORM_NAMES = {
    LayerKind.SECURITY_GROUP: "security group",
    LayerKind.NETWORK_ACL: "network ACL",
    LayerKind.PROXMOX: "Proxmox",
    LayerKind.PFSENSE: "pfSense",
    LayerKind.OPNSENSE: "OPNsense",
    LayerKind.TALOS_HOST: "Talos",
}


def builtin_words(rule: Rule) -> str | None:
    """What a platform's built-in rule is, in its user's words ("Talos's built-in ICMP
    accept", the collector's ``words``); None for a rule someone wrote."""
    return dict(rule.extra).get("words") or None


def rule_in_words(rule: Rule, kind: LayerKind) -> str:
    """A rule as its platform's user knows it: a built-in rule by what it is
    (:func:`builtin_words`), any other by platform, description (else its identity) and where
    it is written ("pfSense rule 'Allow LAN to any' (config.xml:123)")."""
    words = builtin_words(rule)
    if words:
        return words
    described = rule.description.strip()
    name = f"'{described}'" if described else (rule.key or rule.source.resource or "")
    where = f"{rule.source.path}:{rule.source.start_line}" if rule.source.path else ""
    text = f"{PLATFORM_NAMES.get(kind, kind.value)} rule {name}".rstrip()
    return f"{text} ({where})" if where else text
