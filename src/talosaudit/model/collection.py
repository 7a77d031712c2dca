"""What a collector returns and what the whole scan builds from all collectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.cluster import Fact, NodeGroup, Role, Segment
from talosaudit.model.firewall import Layer, LayerKind
from talosaudit.model.forwarders import Forwarder
from talosaudit.model.secrets import Secret
from talosaudit.model.segments import join_segments
from talosaudit.model.source import SourceRef


class ProblemKind(StrEnum):
    """What went wrong while reading the inputs; a policy (``kind: input_problem`` with
    ``params: {problem: <value>}``) decides whether and how it is reported."""

    #: A file (or a part of one) that looks like an input cannot be parsed or read.
    UNREADABLE = "unreadable"
    #: A value (port, protocol, CIDR, target, state) could not be resolved.
    UNRESOLVED = "unresolved"
    #: Firewall layers were found but no control-plane/worker role could be assigned.
    ROLE_UNKNOWN = "role-unknown"
    #: A firewall of a platform talosaudit does not model stands in front of the nodes:
    #: exposures it might block cannot be claimed.
    NOT_EVALUATED = "not-evaluated"
    #: A comment that looks like an inline suppression but is not one talosaudit understands.
    SUPPRESSION_NOT_UNDERSTOOD = "suppression-not-understood"


class DriftSide(StrEnum):
    """Where a rule exists when live state and code differ."""

    LIVE_ONLY = "live-only"
    CODE_ONLY = "code-only"


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between the live state and the code that should declare it.

    ``description`` says what differs in full ("rule sgr-1 (...) of security group ...
    allows tcp/22 but no Terraform rule of aws_security_group.cp declares it"); ``source``
    is the code location, ``related`` the other side.
    """

    side: DriftSide
    description: str
    source: SourceRef
    key: str
    related: tuple[SourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a collector could not read or resolve, described, never judged.

    ``kind`` says what went wrong; ``key`` identifies the problem stably (for fingerprints)
    independent of line numbers.
    """

    kind: ProblemKind
    message: str
    source: SourceRef
    key: str = ""
    related: tuple[SourceRef, ...] = ()
    #: Worth saying but not a defect of the scan (a template no scanned code renders): the
    #: policy reports it at note level whatever its own level.
    informational: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """A NODE layer that applies to node groups found by *any* collector.

    A Talos host firewall (controlplane.yaml) applies to every control-plane node group, be
    it from Terraform, Proxmox or nowhere else; a Proxmox VM firewall applies to the nodes at
    the VM's addresses. ``merge()`` adds ``layer_id`` to the node groups of ``role`` (when
    set) whose addresses overlap ``addresses`` (when non-empty); the exact rules (unknown
    addresses, several configs of one role, splitting) are in ``_attach``. When no node
    group matches, ``fallback`` (a node group that already lists the layer) is used.
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
    #: Live state against code (``live`` with Terraform).
    drift: tuple[Drift, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: The input files this collector read (for the report header), relative paths.
    files: tuple[str, ...] = ()
    #: Input files this collector read as part of its own inputs (a patch that Terraform's
    #: ``file()``/``templatefile()`` passes to the Talos provider): later collectors skip them.
    consumed: tuple[str, ...] = ()
    #: Input files the inputs read by reference (``file()``/``templatefile()`` paths): a
    #: Talos config or firewall export read so belongs to the root module that reads it.
    references: tuple[str, ...] = ()
    #: One collection per Terraform root module (its directory, relative to the scan root)
    #: when there are several: scan evaluates each alone. What this collection holds itself
    #: belongs to no root (a file that cannot be parsed).
    roots: tuple[tuple[str, Collection], ...] = ()
    #: Values the inputs mark as secret, with their source (``model/secrets.py``): outputs
    #: show the source, never the value.
    secrets: tuple[Secret, ...] = ()
    #: Load balancer listeners in front of node groups.
    forwarders: tuple[Forwarder, ...] = ()
    #: Lines for the report's notices (not findings): "2 remote modules not read; ...".
    notices: tuple[str, ...] = ()

    @classmethod
    def combine(cls, parts: Iterable[Collection]) -> Collection:
        """One collection holding everything of ``parts`` in their order; a file read by
        several parts (a module shared by two roots) is listed once."""
        collected = list(parts)
        return cls(
            node_groups=tuple(x for c in collected for x in c.node_groups),
            layers=tuple(x for c in collected for x in c.layers),
            segments=tuple(x for c in collected for x in c.segments),
            facts=tuple(x for c in collected for x in c.facts),
            admin=tuple(x for c in collected for x in c.admin),
            node_networks=tuple(x for c in collected for x in c.node_networks),
            problems=tuple(x for c in collected for x in c.problems),
            attachments=tuple(x for c in collected for x in c.attachments),
            files=tuple(dict.fromkeys(x for c in collected for x in c.files)),
            consumed=tuple(dict.fromkeys(x for c in collected for x in c.consumed)),
            references=tuple(dict.fromkeys(x for c in collected for x in c.references)),
            roots=tuple(x for c in collected for x in c.roots),
            secrets=tuple(dict.fromkeys(x for c in collected for x in c.secrets)),
            notices=tuple(dict.fromkeys(x for c in collected for x in c.notices)),
            forwarders=tuple(x for c in collected for x in c.forwarders),
        )


@dataclass(frozen=True, slots=True)
class Model:
    """The merged inventory of one scan: the input of reachability and policies."""

    node_groups: tuple[NodeGroup, ...] = ()
    layers: dict[str, Layer] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    #: Segment id -> the id of the segment it is one network with (``model/segments.py``):
    #: a Proxmox bridge/VLAN joined to the pfSense interface whose subnet it is.
    segment_joins: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    admin: AddressSet = EMPTY
    admin_sources: tuple[SourceRef, ...] = ()
    node_network: AddressSet = EMPTY
    problems: tuple[Problem, ...] = ()
    drift: tuple[Drift, ...] = ()
    files: tuple[str, ...] = ()
    #: Secret values and their sources (``model/secrets.py``), from every collection.
    secrets: tuple[Secret, ...] = ()
    #: What the collectors say that is no finding (see Collection.notices).
    notices: tuple[str, ...] = ()
    forwarders: tuple[Forwarder, ...] = ()

    def fact(self, name: str, default: str = "") -> str:
        found = self.facts.get(name)
        return found.value if found else default

    def joined_segment(self, segment: str | None) -> str | None:
        """The segment ``segment`` is one network with (itself when it joined nothing)."""
        return None if segment is None else self.segment_joins.get(segment, segment)


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
    drift: list[Drift] = []
    files: list[str] = []
    notices: list[str] = []
    forwarders: list[Forwarder] = []
    all_facts: list[Fact] = list(extra_facts)
    attachments: list[Attachment] = []
    secrets: list[Secret] = []
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
        drift.extend(c.drift)
        files.extend(c.files)
        secrets.extend(c.secrets)
        notices.extend(c.notices)
        forwarders.extend(c.forwarders)
    groups = _attach(groups, attachments, layers)
    joined = join_segments(segments, layers.values())
    segments = joined.segments
    groups = [_with_segment(g, segments) for g in groups]
    problems.extend(_unjoined_problems(joined.unjoined, groups))
    for fact in all_facts:
        current = facts.get(fact.name)
        if current is None or fact.origin < current.origin:
            facts[fact.name] = fact
    return Model(
        node_groups=tuple(groups),
        layers=layers,
        segments=segments,
        segment_joins=joined.joins,
        facts=facts,
        admin=admin,
        admin_sources=tuple(admin_sources),
        node_network=node_network,
        problems=tuple(problems),
        drift=tuple(drift),
        files=tuple(sorted(set(files))),
        secrets=tuple(dict.fromkeys(secrets)),
        notices=tuple(dict.fromkeys(notices)),
        forwarders=tuple(forwarders),
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
    """Put every attached NODE layer on the node groups it applies to.

    The rules, in order (``kind`` is the attached layer's kind):

    1. Address-keyed attachments (a Proxmox VM's firewall, a per-node Talos config) are
       placed before role-keyed ones (a ``controlplane.yaml`` for every control-plane node),
       outer layer kinds before inner ones, so that a VM's stand-in group exists before the
       Talos config of its role looks for it.
    2. Candidates are the groups of the attachment's role (any group when it has none),
       never the stand-in (fallback) group of another attachment of the same kind: a node
       runs one Talos config, so two configs of one role never stack on one group.
    3. An address-keyed attachment goes to the candidates whose addresses overlap its own
       (whole: a group's addresses are often the region its nodes sit in, such as a subnet,
       so they are not narrowed). When no candidate overlaps and the attachment's role is
       known, it goes to the candidates of that role whose addresses are unknown, and their
       ``address_reason`` says the nodes are assumed to be these.
    4. A role-keyed attachment goes to every candidate, except groups that already hold a
       layer of its kind from an address-keyed attachment (the per-node config is the more
       specific one).
    5. A group that already holds a layer of the same kind from an earlier attachment is
       split: a copy of the group as it was before gets this layer and stands for the nodes
       that run the other config (ids ``<group>@<layer>``).
    6. When no group is found, the attachment's ``fallback`` group is added.
    """

    def kind(layer_id: str) -> LayerKind | None:
        layer = layers.get(layer_id)
        return layer.kind if layer else None

    def order(layer_id: str) -> int:
        found = kind(layer_id)
        return _NODE_LAYER_ORDER.get(found, 5) if found is not None else 5

    result = list(groups)
    #: (group id, kind) -> the group before a layer of that kind was attached, and whether
    #: that attachment was address-keyed.
    held: dict[tuple[str, LayerKind | None], tuple[NodeGroup, bool]] = {}
    stand_ins: dict[str, LayerKind | None] = {}

    def with_layer(group: NodeGroup, layer_id: str, note: str = "") -> NodeGroup:
        reason = "; ".join(r for r in (group.address_reason, note) if r)
        layer_ids = tuple(sorted((*group.layers, layer_id), key=order))
        return replace(group, layers=layer_ids, address_reason=reason)

    for att in sorted(attachments, key=lambda a: (not a.addresses, order(a.layer_id))):
        k = kind(att.layer_id)
        candidates: list[int] = []
        matched = False
        for i, g in enumerate(result):
            if att.role is not None and g.role is not att.role:
                continue
            if g.id in stand_ins and stand_ins[g.id] == k:
                continue
            if att.layer_id in g.layers:
                matched = True
                continue
            candidates.append(i)
        note = ""
        if att.addresses:
            chosen = [i for i in candidates if result[i].addresses.overlaps(att.addresses)]
            if not chosen and att.role is not None:
                chosen = [i for i in candidates if not result[i].addresses]
                note = (
                    f"addresses unknown; assumed to include {att.addresses.describe()}: {att.reason} "
                    f"(no {att.role.label} node group with known addresses holds them)"
                )
        else:
            chosen = [i for i in candidates if not held.get((result[i].id, k), (None, False))[1]]
        for at in chosen:
            g = result[at]
            previous = held.get((g.id, k))
            if previous is not None:
                base = previous[0]
                copy = replace(base, id=f"{base.id}@{att.layer_id}", name=f"{base.name} ({att.layer_id})")
                held[(copy.id, k)] = (base, bool(att.addresses))
                result.append(with_layer(copy, att.layer_id, note))
            else:
                held[(g.id, k)] = (g, bool(att.addresses))
                result[at] = with_layer(g, att.layer_id, note)
            matched = True
        if not matched and att.fallback is not None:
            stand_ins[att.fallback.id] = k
            held[(att.fallback.id, k)] = (att.fallback, bool(att.addresses))
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


def _unjoined_problems(unjoined: Iterable[Segment], groups: list[NodeGroup]) -> list[Problem]:
    """One problem per segment that could not be joined to a gateway's segment but holds
    nodes: the gateway is then left off the paths of these nodes, and the reader must know."""
    out = []
    for seg in unjoined:
        names = sorted({g.name for g in groups if g.segment == seg.id})
        if not names:
            continue
        known = seg.addresses.describe() if seg.addresses else "no known subnet"
        out.append(
            Problem(
                ProblemKind.UNRESOLVED,
                f"the segment {seg.name} ({known}) of {', '.join(names)} matches no firewall "
                "interface or subnet among the inputs (no interface subnet holds its addresses"
                + ("" if seg.vlan is None else f" and none carries VLAN {seg.vlan}")
                + "): paths from and to these nodes are evaluated without the gateway's rules",
                seg.source or SourceRef("."),
                key=f"segment-unjoined:{seg.id}",
            )
        )
    return out
