"""What a collector returns and what the whole scan builds from all collectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.cluster import Fact, NodeGroup, Role, Segment
from talosaudit.model.firewall import Layer, LayerKind
from talosaudit.model.source import SourceRef


@dataclass(frozen=True, slots=True)
class Problem:
    """An input problem a collector found: becomes a TA0xx (or other) finding.

    ``rule_id`` is TA001 (unparseable), TA002 (unresolved value), TA003 (role unknown), or
    a platform rule that only the collector can see (e.g. TA402 for Proxmox).
    ``key`` identifies the problem stably (for fingerprints) independent of line numbers.
    """

    rule_id: str
    message: str
    source: SourceRef
    key: str = ""
    related: tuple[SourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A NODE layer that applies to node groups found by *any* collector.

    A Talos host firewall (controlplane.yaml) applies to every control-plane node group, be
    it from Terraform, Proxmox or nowhere else; a Proxmox VM firewall applies to the nodes at
    the VM's addresses. ``merge()`` adds ``layer_id`` to every node group whose role equals
    ``role`` (when set) and whose addresses overlap ``addresses`` (when non-empty). When no
    node group matches, ``fallback`` (a node group that already lists the layer) is used.
    """

    layer_id: str
    role: Role | None
    addresses: AddressSet
    reason: str
    fallback: NodeGroup | None = None


@dataclass(frozen=True, slots=True)
class Collection:
    """Everything one collector found in its inputs."""

    node_groups: tuple[NodeGroup, ...] = ()
    layers: tuple[Layer, ...] = ()
    segments: tuple[Segment, ...] = ()
    facts: tuple[Fact, ...] = ()
    #: Operator networks (allowed_admin_cidrs, admin VLAN), with where they were found.
    admin: tuple[tuple[AddressSet, SourceRef | None], ...] = ()
    #: The networks the nodes live in (VPC CIDRs, the Kubernetes VLAN).
    node_networks: tuple[tuple[AddressSet, SourceRef | None], ...] = ()
    problems: tuple[Problem, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: The input files this collector read (for the report header), relative paths.
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """The merged inventory of one scan: the input of reachability and policies."""

    node_groups: tuple[NodeGroup, ...] = ()
    layers: dict[str, Layer] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    admin: AddressSet = EMPTY
    admin_sources: tuple[SourceRef, ...] = ()
    node_network: AddressSet = EMPTY
    problems: tuple[Problem, ...] = ()
    files: tuple[str, ...] = ()

    def fact(self, name: str, default: str = "") -> str:
        found = self.facts.get(name)
        return found.value if found else default


def merge(collections: Iterable[Collection], extra_facts: Iterable[Fact] = ()) -> Model:
    """Combine collections; for each fact name the claim with the lowest origin wins."""
    groups: list[NodeGroup] = []
    layers: dict[str, Layer] = {}
    segments: dict[str, Segment] = {}
    facts: dict[str, Fact] = {}
    admin = EMPTY
    admin_sources: list[SourceRef] = []
    node_network = EMPTY
    problems: list[Problem] = []
    files: list[str] = []
    all_facts: list[Fact] = list(extra_facts)
    attachments: list[Attachment] = []
    for c in collections:
        attachments.extend(c.attachments)
        groups.extend(c.node_groups)
        for layer in c.layers:
            layers[layer.id] = layer
        for seg in c.segments:
            segments[seg.id] = seg
        all_facts.extend(c.facts)
        for addrs, src in c.admin:
            admin = admin | addrs
            if src is not None:
                admin_sources.append(src)
        for addrs, _ in c.node_networks:
            node_network = node_network | addrs
        problems.extend(c.problems)
        files.extend(c.files)
    groups = _attach(groups, attachments, layers)
    groups = [_with_segment(g, segments) for g in groups]
    for fact in all_facts:
        current = facts.get(fact.name)
        if current is None or fact.origin < current.origin:
            facts[fact.name] = fact
    return Model(
        node_groups=tuple(groups),
        layers=layers,
        segments=segments,
        facts=facts,
        admin=admin,
        admin_sources=tuple(admin_sources),
        node_network=node_network,
        problems=tuple(problems),
        files=tuple(sorted(set(files))),
    )


#: Order of NODE layers on a node's interface, outermost first.
_NODE_LAYER_ORDER = {
    LayerKind.SECURITY_GROUP: 0,
    LayerKind.PROXMOX: 1,
    LayerKind.TALOS_HOST: 2,
}


def _attach(
    groups: list[NodeGroup], attachments: list[Attachment], layers: dict[str, Layer]
) -> list[NodeGroup]:
    def order(layer_id: str) -> int:
        layer = layers.get(layer_id)
        return _NODE_LAYER_ORDER.get(layer.kind, 5) if layer else 5

    result = list(groups)
    # Address-keyed attachments first (a Proxmox VM's firewall, a per-node Talos file): their
    # fallback node groups must exist before role-keyed attachments (a controlplane.yaml
    # host firewall) look for the groups of their role.
    for att in sorted(attachments, key=lambda a: not a.addresses):
        matched = False
        for i, g in enumerate(result):
            if att.role is not None and g.role is not att.role:
                continue
            if att.addresses and not g.addresses.overlaps(att.addresses):
                continue
            if att.layer_id in g.layers:
                matched = True
                continue
            if att.fallback is not None and g is att.fallback:
                continue
            matched = True
            result[i] = replace(g, layers=tuple(sorted((*g.layers, att.layer_id), key=order)))
        if not matched and att.fallback is not None:
            result.append(att.fallback)
    return result


def _with_segment(group: NodeGroup, segments: dict[str, Segment]) -> NodeGroup:
    """Place a group without a segment into the narrowest segment that holds its addresses."""
    if group.segment is not None or not group.addresses:
        return group
    best: Segment | None = None
    for seg in segments.values():
        if seg.is_internet or not group.addresses <= seg.addresses:
            continue
        if best is None or seg.addresses <= best.addresses:
            best = seg
    return replace(group, segment=best.id) if best else group
