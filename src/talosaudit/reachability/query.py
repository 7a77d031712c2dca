"""Flow queries: compose the layers on a path and say exactly what gets through.

A query asks about a space of flows ``protocol x source x destination x port``. Each layer
on the path is evaluated on the whole query space on its own (a layer's decision about a
packet does not depend on other layers), so the end-to-end answer is the intersection of
the layers' answers, and every layer that refuses part of the flow is known, not only the
first one.

Rules that could not be resolved are evaluated twice: pessimistically (an unresolved allow
matches nothing, an unresolved deny matches everything its known parts allow) and
optimistically (the reverse). The two answers bound the truth; when they differ the
verdict is UNKNOWN, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from talosaudit.model import (
    ALL_ADDRESSES,
    ALL_PORTS,
    Action,
    AddressSet,
    Direction,
    IntervalSet,
    Layer,
    LayerKind,
    Model,
    Placement,
    PortSet,
    Rule,
    Semantics,
)
from talosaudit.model.firewall import rule_in_words
from talosaudit.model.ports import PORTED, flow_text
from talosaudit.reachability.endpoints import Endpoint
from talosaudit.reachability.space import (
    ALL_PROTOCOLS,
    DST,
    EMPTY_SPACE,
    PORT,
    PROTO,
    SRC,
    BoxIndex,
    Space,
    address_line,
)

#: Client ports the return traffic of a stateless layer goes to. The clients of cluster
#: flows are Talos nodes, whose Linux kernel picks source ports from 32768-60999
#: (net.ipv4.ip_local_port_range); AWS's advice to open 1024-65535 in NACLs covers it, and
#: a deny of one low port (udp/6081 inbound) does not break replies to these.
EPHEMERAL_PORTS = IntervalSet.span(32768, 60999)
_ALL_PORTS = ALL_PORTS.values
_UDP = 17
#: UDP tunnels that are peer-to-peer on a fixed port: VXLAN (IANA 4789; 8472 the Linux and
#: Cilium default), Geneve (6081), WireGuard (51820 KubeSpan, 51871 Cilium). Each node sends
#: from and to that port, so traffic in either direction is a new flow to the fixed port
#: (checked as such by the required flows of both directions), never a reply to an ephemeral
#: port: a stateless layer need not pass an ephemeral return range for them.
TUNNEL_PORTS = IntervalSet.of((p, p) for p in (4789, 6081, 8472, 51820, 51871))
#: KubeSpan's WireGuard port (fixed in Talos).
_KUBESPAN_PORT = IntervalSet.span(51820, 51820)
#: From this many boxes in the allowed flows, admitting() indexes them.
_INDEX_MIN_BOXES = 16
_PORTED = IntervalSet.of((p, p) for p in PORTED)
#: Every source, destination and port: a protocol's slice of a space is ``space & box(p, *this)``.
_EVERYWHERE = (address_line(ALL_ADDRESSES), address_line(ALL_ADDRESSES), _ALL_PORTS)


class Verdict(StrEnum):
    ALLOWED = "allowed"
    BLOCKED = "blocked"
    PARTIAL = "partial"
    UNKNOWN = "unknown"


class Side(StrEnum):
    """Where on the path a layer stands."""

    SOURCE = "source"
    NETWORK = "network"
    DESTINATION = "destination"


class _Pass(Enum):
    #: Pessimistic: unresolved or uncertain allows match nothing, denies match widely.
    MIN = "min"
    #: Optimistic: the reverse.
    MAX = "max"


# --- unresolved fields -----------------------------------------------------------------

_PORT, _PROTOCOL, _PEER, _LOCAL = "ports", "protocol", "peer", "local"
#: Unresolved fields that only make the rule's existence uncertain, not its shape.
_EXISTENCE_FIELDS = frozenset({"count", "for_each", "enabled", "enable", "disabled", "security_group_id"})
_PEER_WORDS = ("cidr", "peer", "source", "group", "prefix", "address", "self", "referenced", "ip_range")
_LOCAL_WORDS = ("local", "destination", "dest")


def _widened(rule: Rule) -> frozenset[str]:
    """Which parts of ``rule`` an unresolved value leaves open (unknown names open all)."""
    out: set[str] = set()
    for item in rule.unresolved:
        name = item.field.lower()
        if name in _EXISTENCE_FIELDS:
            continue
        if "port" in name:
            out.add(_PORT)
        elif "protocol" in name:
            out.add(_PROTOCOL)
        elif any(word in name for word in _LOCAL_WORDS):
            out.add(_LOCAL)
        elif any(word in name for word in _PEER_WORDS):
            out.add(_PEER)
        else:
            out.update((_PORT, _PROTOCOL, _PEER, _LOCAL))
    return frozenset(out)


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerDecision:
    """What one layer on the path does with the query space.

    ``admitted`` pairs each allow rule with the part of the query it admitted here,
    ``denied`` each deny rule with the part it refused; ``by_default`` is the part the
    default action refused. ``blocked`` is what this layer refuses (pessimistic),
    ``surely_blocked`` what it refuses even optimistically; ``return_blocked`` the part
    refused because the layer is stateless and drops the return traffic.
    """

    layer: Layer
    direction: Direction
    side: Side
    admitted: tuple[tuple[Rule, Space], ...] = ()
    denied: tuple[tuple[Rule, Space], ...] = ()
    by_default: Space = EMPTY_SPACE
    blocked: Space = EMPTY_SPACE
    surely_blocked: Space = EMPTY_SPACE
    return_blocked: Space = EMPTY_SPACE
    blocks_all: bool = False
    #: For a firewall whose allow rules keep no state (pfSense/OPNsense state type none):
    #: those rules, and the layers the replies must pass on their own (where they enter).
    stateless_rules: tuple[Rule, ...] = ()
    reply_layers: tuple[Layer, ...] = ()
    #: Other security groups on the same nodes: AWS unites the rules of every group an
    #: interface carries, so this layer refuses only what none of them allows (and only
    #: this one, the first of them, carries the refusal).
    alongside: tuple[str, ...] = ()

    @property
    def admitting_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule, _ in self.admitted)

    @property
    def blocks_part(self) -> bool:
        return bool(self.blocked)

    def reason(self, part: Space | None = None) -> str:
        """Why this layer refuses ``part`` (default: everything it refuses)."""
        part = self.blocked if part is None else part
        if not self.layer.enabled:
            return "the layer is disabled"
        way = self.direction.value
        reasons: list[str] = []
        returned = self.return_blocked & part if self.return_blocked else EMPTY_SPACE
        if returned and self.stateless_rules:
            reasons.append(self._stateless_reason(returned))
        elif returned:
            back = Direction.EGRESS if self.direction is Direction.INGRESS else Direction.INGRESS
            reasons.append(
                f"it is stateless and no {back.value} rule allows the return traffic "
                f"(to ports {PortSet(EPHEMERAL_PORTS)}): the requests from "
                f"{returned.sources().describe()} to {returned.destinations().describe()} pass, "
                f"the replies from {returned.destinations().describe()} back to "
                f"{returned.sources().describe()} do not"
            )
        deniers = [rule for rule, hit in self.denied if hit & part]
        if deniers:
            names = ", ".join(_rule_name(r) for r in deniers[:3])
            reasons.append(f"{way} rule {names} denies it")
        if self.by_default and self.by_default & part:
            if self.layer.semantics is Semantics.FIRST_MATCH:
                reasons.append(f"no {way} rule matches it and the default {way} action is deny")
            elif self.alongside:
                others = ", ".join(self.alongside)
                reasons.append(
                    f"no {way} rule allows it, nor does one of the other security groups on the same "
                    f"nodes ({others})"
                )
            else:
                reasons.append(f"no {way} rule allows it")
        return "; ".join(reasons) if reasons else f"no {way} rule allows it"

    def _stateless_reason(self, returned: Space) -> str:
        """Which direction of which flow a stateless firewall rule leaves unpassed."""
        kind = self.layer.kind
        rules = " and ".join(rule_in_words(r, kind) for r in self.stateless_rules[:2])
        where = ", ".join(layer.name for layer in self.reply_layers) or "the destination's interface"
        sources, destinations = returned.sources().describe(), returned.destinations().describe()
        return (
            f"{rules} passes {_flows_text(returned)} from {sources} to {destinations} with state type "
            f"none, so the firewall keeps no state for it: the requests pass, but the replies from "
            f"{destinations} back to {sources} (to ports {PortSet(EPHEMERAL_PORTS)}) enter on "
            f"{where} and no rule there passes them"
        )


def _flows_text(space: Space) -> str:
    """``tcp/6443`` style text of a space's protocols and ports."""
    texts = []
    for lo, hi in space.protocols().intervals:
        for protocol in range(lo, min(hi, lo + 3) + 1):
            part = space & Space.box(IntervalSet.span(protocol, protocol), *_EVERYWHERE)
            texts.append(flow_text(protocol, part.ports()))
    return ", ".join(texts)


def _rule_name(rule: Rule) -> str:
    return rule.key or rule.source.resource or str(rule.source)


@dataclass(frozen=True, slots=True)
class FlowResult:
    """The answer to one query.

    ``space`` is the query, ``allowed`` what is proven to pass (pessimistic), ``possible``
    what may pass (optimistic). ``decisions`` are the layers on the path in path order
    (the order a packet meets them: the source's layers innermost first, the network,
    the destination's layers outermost first; see ``Reachability._steps``).
    """

    src: Endpoint
    dst: Endpoint
    protocol: int | None
    ports: PortSet
    space: Space
    allowed: Space
    possible: Space
    decisions: tuple[LayerDecision, ...]
    verdict: Verdict

    @property
    def blocking_layer(self) -> LayerDecision | None:
        """The first layer on the path that refuses part of the query."""
        return next((d for d in self.decisions if d.blocked), None)

    @property
    def surely_blocked(self) -> Space:
        """What no resolution of the unknowns would let through."""
        return self.space - self.possible

    @property
    def uncertain(self) -> Space:
        return self.possible - self.allowed

    def allowed_sources(self) -> AddressSet:
        return self.allowed.sources()

    def allowed_destinations(self) -> AddressSet:
        return self.allowed.destinations()

    def allowed_ports(self) -> PortSet:
        return self.allowed.ports()

    def admitting(self) -> tuple[tuple[LayerDecision, tuple[tuple[Rule, Space], ...]], ...]:
        """Per layer past the source's own egress (outermost first): each allow rule with
        the part of the end-to-end allowed flow it admits."""
        out = []
        within = Restrictor(self.allowed)
        for decision in self.decisions:
            if decision.side is Side.SOURCE:
                continue
            rules = within(decision.admitted)
            if rules:
                out.append((decision, tuple(rules)))
        return tuple(out)


class Restrictor:
    """The part of each rule's hit inside one space (``hit & space``), for many hits.

    Rules of one group share their hit object: each distinct hit is intersected once. When
    the space has many boxes they are indexed, so that n hits do not cost n x boxes.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self.index = BoxIndex(space) if len(space.boxes) > _INDEX_MIN_BOXES else None
        self.parts: dict[int, tuple[Space, Space]] = {}

    def part(self, hit: Space) -> Space:
        found = self.parts.get(id(hit))
        if found is None:
            inside = self.index.intersect(hit) if self.index is not None else hit & self.space
            found = self.parts[id(hit)] = (hit, inside)  # the hit is kept: its id stays its own
        return found[1]

    def __call__(self, hits: Iterable[tuple[Rule, Space]]) -> list[tuple[Rule, Space]]:
        """Each (rule, part) whose part is not empty, in order."""
        out = []
        for rule, hit in hits:
            inside = self.part(hit)
            if inside:
                out.append((rule, inside))
        return out


# --- the engine ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    """Part of an endpoint that sits in one segment."""

    endpoint: Endpoint
    line: IntervalSet
    segment: str | None


@dataclass(frozen=True, slots=True)
class _Leg:
    """One stretch of a query: a source piece, a destination piece and their flow space."""

    q: Space
    sp: _Piece
    dp: _Piece
    protocol: int | None
    #: ``q & region`` of a rule group, shared by the pessimistic and optimistic passes.
    hits: dict[tuple[object, ...], Space] = field(default_factory=dict, compare=False)

    def reversed(self, q: Space) -> _Leg:
        return _Leg(q, self.dp, self.sp, self.protocol)


@dataclass(slots=True)
class _LayerPass:
    allowed: Space
    admitted: list[tuple[Rule, Space]] = field(default_factory=list)
    denied: list[tuple[Rule, Space]] = field(default_factory=list)
    by_default: Space = EMPTY_SPACE


_Signature = tuple[object, ...]
#: The (protocols, ports) pairs of a query space's boxes.
_QueryShape = tuple[tuple[IntervalSet, IntervalSet], ...]


@dataclass(frozen=True, slots=True)
class _Group:
    """Rules of one layer direction that match exactly the same flows.

    They differ only in identity (key, source, description), so the flows they match are
    computed once for all of them. ``footprint`` is every (protocols, ports) pair any
    resolution of the rules may match: a query outside it cannot touch them.
    """

    rule: Rule
    positions: tuple[int, ...]
    footprint: tuple[tuple[IntervalSet, IntervalSet], ...]
    unresolved: bool


@dataclass(frozen=True, slots=True)
class _Index:
    """A layer direction's enabled rules for one query protocol, grouped by what they match."""

    key: tuple[str, Direction, int | None]
    rules: tuple[Rule, ...]
    groups: tuple[_Group, ...]
    group_of: tuple[int, ...]


def _signature(rule: Rule) -> _Signature:
    """Everything ``_region`` reads of a rule: equal signatures match equal flows."""
    opened = _widened(rule) if rule.unresolved else frozenset()
    peer = rule.peer
    return (
        rule.action,
        rule.protocol,
        rule.ports,
        peer.addresses,
        peer.groups,
        rule.local,
        bool(rule.unresolved),
        opened,
    )


def _build_index(key: tuple[str, Direction, int | None], rules: tuple[Rule, ...]) -> _Index:
    by_signature: dict[_Signature, int] = {}
    positions: list[list[int]] = []
    group_of: list[int] = []
    for pos, rule in enumerate(rules):
        sig = _signature(rule)
        g = by_signature.get(sig)
        if g is None:
            g = by_signature[sig] = len(positions)
            positions.append([])
        positions[g].append(pos)
        group_of.append(g)
    groups = []
    for members in positions:
        rule = rules[members[0]]
        opened = _widened(rule) if rule.unresolved else frozenset()
        footprint = tuple(_proto_ports(rule, _PROTOCOL in opened, _PORT in opened))
        groups.append(_Group(rule, tuple(members), footprint, bool(rule.unresolved)))
    return _Index(key, rules, tuple(groups), tuple(group_of))


def _touches(group: _Group, shape: _QueryShape) -> bool:
    return any(
        protos.overlaps(qp) and ports.overlaps(qt) for protos, ports in group.footprint for qp, qt in shape
    )


class Reachability:
    """Queries on one model, with per-layer rule lists cached."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._rules: dict[tuple[str, Direction, int | None], tuple[Rule, ...]] = {}
        self._indexes: dict[tuple[str, Direction, int | None], _Index] = {}
        #: Per index and query shape: the groups the query can touch, and their rules'
        #: positions in layer order.
        self._relevant: dict[tuple[object, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._segment_layers: dict[tuple[str, Placement], list[Layer]] = {}
        for layer in sorted(model.layers.values(), key=lambda layer: layer.id):
            if layer.placement is Placement.NODE:
                continue
            for seg in layer.segments:
                key = (model.joined_segment(seg) or seg, layer.placement)
                self._segment_layers.setdefault(key, []).append(layer)
        segs = [s for s in model.segments.values() if not s.is_internet and s.addresses]
        # Narrowest first, so an address lands in the innermost segment that holds it.
        self._segments = sorted(segs, key=lambda s: (address_line(s.addresses).size(), s.id))
        internet = sorted(s.id for s in model.segments.values() if s.is_internet)
        self._internet_segment = internet[0] if internet else None

    # --- public ------------------------------------------------------------------------

    def query(self, src: Endpoint, dst: Endpoint, protocol: int | None, ports: PortSet) -> FlowResult:
        protos = ALL_PROTOCOLS if protocol is None else IntervalSet.span(protocol, protocol)
        port_values = ports.values if protocol is None or protocol in PORTED else _ALL_PORTS
        space = EMPTY_SPACE
        allowed = EMPTY_SPACE
        possible = EMPTY_SPACE
        merged: dict[tuple[str, Direction, Side], LayerDecision] = {}
        order: list[tuple[str, Direction, Side]] = []
        for sp in self._pieces(src):
            for dp in self._pieces(dst):
                whole = Space.box(protos, sp.line, dp.line, port_values)
                if not whole:
                    continue
                space = Space(space.boxes + whole.boxes)
                for q, inner in self._tunnelled(whole, sp, dp):
                    lo, hi, steps = self._path(q, sp, dp, protocol, inner)
                    allowed = Space(allowed.boxes + lo.boxes)
                    possible = Space(possible.boxes + hi.boxes)
                    for d in steps:
                        key = (d.layer.id, d.direction, d.side)
                        if key not in merged:
                            order.append(key)
                            merged[key] = d
                        else:
                            merged[key] = _merge(merged[key], d)
        rank = {Side.SOURCE: 0, Side.NETWORK: 1, Side.DESTINATION: 2}
        keys = sorted(order, key=lambda k: rank[k[2]])  # stable: path order within a side
        decisions = tuple(_finish(merged[k], space) for k in keys)
        return FlowResult(
            src, dst, protocol, ports, space, allowed, possible, decisions, _verdict(space, allowed, possible)
        )

    def egress_filtered(self, src: Endpoint) -> bool:
        """Whether the source's own NODE layers refuse some egress (proven, pessimistic)."""
        if src.node_group is None:
            return False
        sp = _Piece(src, address_line(src.addresses), src.segment)
        dp = _Piece(Endpoint("anywhere", ALL_ADDRESSES), address_line(ALL_ADDRESSES), None)
        leg = _Leg(Space.box(ALL_PROTOCOLS, sp.line, dp.line, _ALL_PORTS), sp, dp, None)
        layers = [self.model.layers[lid] for lid in src.node_group.layers if lid in self.model.layers]
        steps = [(layer, Direction.EGRESS, Side.SOURCE) for layer in layers]
        for run in _united(steps):
            allowed = Space.union_of(
                self._layer(layer, Direction.EGRESS, leg, _Pass.MIN).allowed for layer, _, _ in run
            )
            if not leg.q <= allowed:
                return True
        return False

    # --- paths -------------------------------------------------------------------------

    def _pieces(self, ep: Endpoint) -> Iterator[_Piece]:
        line = address_line(ep.addresses)
        if ep.segment is not None or ep.approximate:
            yield _Piece(ep, line, self.model.joined_segment(ep.segment))
            return
        rest = line
        for seg in self._segments:
            part = rest & address_line(seg.addresses)
            if part:
                yield _Piece(ep, part, self.model.joined_segment(seg.id))
                rest = rest - part
        if rest:
            # Addresses in no known segment: beyond the firewall's WAN side if there is one;
            # a node group's stray addresses stay unplaced.
            yield _Piece(ep, rest, None if ep.node_group else self._internet_segment)

    def _kubespan(self, ep: Endpoint) -> bool:
        """Whether the endpoint's nodes run KubeSpan (their Talos layer says so)."""
        group = ep.node_group
        if group is None:
            return False
        layers = (self.model.layers.get(lid) for lid in group.layers)
        return any(layer is not None and layer.attribute("kubespan") == "on" for layer in layers)

    def _tunnelled(self, q: Space, sp: _Piece, dp: _Piece) -> list[tuple[Space, bool]]:
        """The query split into what runs on the wire and what runs inside KubeSpan.

        Between two KubeSpan nodes every node-to-node packet travels inside WireGuard: the
        outer layers (security groups, Proxmox, pfSense, network ACLs) see only udp/51820
        between the nodes (a required flow of its own), and the inner packets meet only the
        Talos host firewalls. The WireGuard port itself stays on the wire."""
        if not (self._kubespan(sp.endpoint) and self._kubespan(dp.endpoint)):
            return [(q, False)]
        wire = q & Space.box(IntervalSet.span(_UDP, _UDP), sp.line, dp.line, _KUBESPAN_PORT)
        inner = q - wire
        return [(part, tunnelled) for part, tunnelled in ((wire, False), (inner, True)) if part]

    def _steps(self, sp: _Piece, dp: _Piece, inner: bool = False) -> list[tuple[Layer, Direction, Side]]:
        """The layers a packet from ``sp`` to ``dp`` meets, in the order it meets them: the
        source's own layers innermost first (Talos egress, then the Proxmox VM's "out"
        rules, then its security groups), then the network (a network ACL where it leaves
        the source subnet, the gateway's rules on the interface it enters, the gateway's
        outbound rules on the interface it leaves, the destination subnet's ACL), then the
        destination's layers outermost first (Proxmox VM "in", then Talos ingress). Two
        pieces on one (joined) segment never cross the gateway. ``inner``: the packet runs
        inside KubeSpan and meets only the Talos host firewalls at both ends."""
        if inner:
            return [
                step
                for step in self._steps(
                    _Piece(sp.endpoint, sp.line, None), _Piece(dp.endpoint, dp.line, None)
                )
                if step[0].kind is LayerKind.TALOS_HOST
            ]
        steps: list[tuple[Layer, Direction, Side]] = []
        if sp.endpoint.node_group is not None:
            for lid in reversed(sp.endpoint.node_group.layers):
                layer = self.model.layers.get(lid)
                if layer is not None:
                    steps.append((layer, Direction.EGRESS, Side.SOURCE))
        if sp.segment != dp.segment:
            if sp.segment is not None:
                for layer in self._segment_layers.get((sp.segment, Placement.SEGMENT), []):
                    steps.append((layer, Direction.EGRESS, Side.NETWORK))
                for layer in self._segment_layers.get((sp.segment, Placement.GATEWAY), []):
                    steps.append((layer, Direction.INGRESS, Side.NETWORK))
            if dp.segment is not None:
                for layer in self._segment_layers.get((dp.segment, Placement.SEGMENT), []):
                    steps.append((layer, Direction.INGRESS, Side.NETWORK))
                # A firewall also filters the packet where it leaves (pfSense/OPNsense floating
                # rules with direction out or any on the destination's interface).
                for layer in self._segment_layers.get((dp.segment, Placement.GATEWAY), []):
                    steps.append((layer, Direction.EGRESS, Side.NETWORK))
        if dp.endpoint.node_group is not None:
            for lid in dp.endpoint.node_group.layers:
                layer = self.model.layers.get(lid)
                if layer is not None:
                    steps.append((layer, Direction.INGRESS, Side.DESTINATION))
        return steps

    def _path(
        self, q: Space, sp: _Piece, dp: _Piece, protocol: int | None, inner: bool = False
    ) -> tuple[Space, Space, list[LayerDecision]]:
        lo, hi = q, q
        decisions: list[LayerDecision] = []
        leg = _Leg(q, sp, dp, protocol)
        for run in _united(self._steps(sp, dp, inner)):
            if len(run) > 1:
                lo, hi = self._united_groups(run, leg, lo, hi, decisions)
                continue
            ((layer, direction, side),) = run
            low = self._layer(layer, direction, leg, _Pass.MIN)
            high = self._layer(layer, direction, leg, _Pass.MAX)
            ret = EMPTY_SPACE
            stateless: tuple[Rule, ...] = ()
            reply_layers: tuple[Layer, ...] = ()
            if not layer.stateful and layer.enabled and layer.placement is not Placement.GATEWAY:
                ret = self._return_blocked(layer, direction, leg, _Pass.MIN)
                ret_hi = self._return_blocked(layer, direction, leg, _Pass.MAX)
                low.allowed = low.allowed - ret
                high.allowed = high.allowed - ret_hi
            elif layer.placement is Placement.GATEWAY and layer.enabled:
                reply_layers = self._reply_layers(sp, dp)
                ret, stateless = self._stateless_dropped(low, reply_layers, leg, _Pass.MIN)
                ret_hi, _ = self._stateless_dropped(high, reply_layers, leg, _Pass.MAX)
                low.allowed = low.allowed - ret
                high.allowed = high.allowed - ret_hi
            blocked = q - low.allowed
            lo = lo - blocked
            hi = hi - (q - high.allowed)
            decisions.append(
                LayerDecision(
                    layer=layer,
                    direction=direction,
                    side=side,
                    admitted=tuple(low.admitted),
                    denied=tuple(low.denied),
                    by_default=low.by_default,
                    blocked=blocked,
                    surely_blocked=q - high.allowed,
                    return_blocked=ret,
                    stateless_rules=tuple(
                        r for r in stateless if any(hit & ret for h, hit in low.admitted if h is r)
                    ),
                    reply_layers=reply_layers if ret else (),
                )
            )
        return lo, hi, decisions

    def _united_groups(
        self,
        run: list[tuple[Layer, Direction, Side]],
        leg: _Leg,
        lo: Space,
        hi: Space,
        decisions: list[LayerDecision],
    ) -> tuple[Space, Space]:
        """Several security groups on the same nodes act as one: a flow passes if any of
        them allows it. The refusal is carried by one of them (the first with a role, else
        the first), which names the others; each keeps the rules that admitted flows."""
        q = leg.q
        lows = [self._layer(layer, direction, leg, _Pass.MIN) for layer, direction, _ in run]
        highs = [self._layer(layer, direction, leg, _Pass.MAX) for layer, direction, _ in run]
        blocked = q - Space.union_of(low.allowed for low in lows)
        surely = q - Space.union_of(high.allowed for high in highs)
        lo, hi = lo - blocked, hi - surely
        roles = [i for i, (layer, _, _) in enumerate(run) if layer.attribute("role")]
        primary = roles[0] if roles else 0
        for i, ((layer, direction, side), low) in enumerate(zip(run, lows, strict=True)):
            carries = i == primary
            decisions.append(
                LayerDecision(
                    layer=layer,
                    direction=direction,
                    side=side,
                    admitted=tuple(low.admitted),
                    denied=tuple(low.denied),
                    by_default=blocked if carries else EMPTY_SPACE,
                    blocked=blocked if carries else EMPTY_SPACE,
                    surely_blocked=surely if carries else EMPTY_SPACE,
                    alongside=tuple(other.id for j, (other, _, _) in enumerate(run) if j != i)
                    if carries
                    else (),
                )
            )
        return lo, hi

    def _return_blocked(self, layer: Layer, direction: Direction, leg: _Leg, mode: _Pass) -> Space:
        """Forward flows of the leg whose replies (dst -> src, to ephemeral ports) the layer drops."""
        back = leg.q.swap(SRC, DST).with_dim(PORT, EPHEMERAL_PORTS)
        opposite = Direction.EGRESS if direction is Direction.INGRESS else Direction.INGRESS
        replies = self._layer(layer, opposite, leg.reversed(back), mode)
        dropped = back - replies.allowed
        return _broken_requests(dropped, leg.q, leg)

    def _reply_layers(self, sp: _Piece, dp: _Piece) -> tuple[Layer, ...]:
        """The firewall layers a reply from ``dp`` to ``sp`` enters (none inside one segment)."""
        if dp.segment is None or sp.segment == dp.segment:
            return ()
        return tuple(self._segment_layers.get((dp.segment, Placement.GATEWAY), []))

    def _stateless_dropped(
        self, result: _LayerPass, reply_layers: tuple[Layer, ...], leg: _Leg, mode: _Pass
    ) -> tuple[Space, tuple[Rule, ...]]:
        """Flows a firewall passes only by rules with state type none whose replies no rule
        passes: the reply enters the firewall on the destination's interface, where it is
        filtered like a new packet (any pass rule there lets it through). UDP tunnels are
        exempt: both of their directions are new flows to the fixed port."""
        stateless = [(rule, hit) for rule, hit in result.admitted if dict(rule.extra).get("state") == "none"]
        if not stateless or not reply_layers:
            return EMPTY_SPACE, ()
        part = Space.union_of(hit for _, hit in stateless)
        back = part.swap(SRC, DST).with_dim(PORT, EPHEMERAL_PORTS)
        replies = leg.reversed(back)
        passed = back
        for layer in reply_layers:
            passed = passed & self._layer(layer, Direction.INGRESS, replies, mode).allowed
        broken = _broken_requests(back - passed, part, leg)
        return broken, tuple(dict.fromkeys(rule for rule, _ in stateless)) if broken else ()

    # --- one layer ---------------------------------------------------------------------

    def _rules_of(self, layer: Layer, direction: Direction, protocol: int | None) -> tuple[Rule, ...]:
        key = (layer.id, direction, protocol)
        found = self._rules.get(key)
        if found is None:
            found = tuple(
                r
                for r in layer.rules
                if r.enabled
                and r.direction is direction
                and (protocol is None or r.protocol is None or r.protocol == protocol or r.unresolved)
            )
            self._rules[key] = found
        return found

    def _index(self, layer: Layer, direction: Direction, protocol: int | None) -> _Index:
        key = (layer.id, direction, protocol)
        found = self._indexes.get(key)
        if found is None:
            found = self._indexes[key] = _build_index(key, self._rules_of(layer, direction, protocol))
        return found

    def _relevant_groups(self, index: _Index, q: Space) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The groups whose protocols and ports overlap the query's, and their rules'
        positions in layer order (rules outside can match nothing of the query)."""
        shape: _QueryShape = tuple(dict.fromkeys((box[PROTO], box[PORT]) for box in q.boxes))
        key = (index.key, shape)
        found = self._relevant.get(key)
        if found is None:
            groups = tuple(g for g, group in enumerate(index.groups) if _touches(group, shape))
            positions = tuple(sorted(p for g in groups for p in index.groups[g].positions))
            found = self._relevant[key] = (groups, positions)
        return found

    def _hit(self, index: _Index, g: int, direction: Direction, leg: _Leg, mode: _Pass) -> Space:
        """``q & region`` of group ``g``, computed once per leg for both passes when the
        pass cannot change it (no unresolved value, no approximate endpoint)."""
        group = index.groups[g]
        wide: bool | None = (group.rule.action is Action.DENY) == (mode is _Pass.MIN)
        if not (group.unresolved or leg.sp.endpoint.approximate or leg.dp.endpoint.approximate):
            wide = None
        key = (index.key, g, wide)
        hit = leg.hits.get(key)
        if hit is None:
            hit = leg.hits[key] = leg.q & _region(group.rule, direction, leg.sp, leg.dp, mode)
        return hit

    def _layer(self, layer: Layer, direction: Direction, leg: _Leg, mode: _Pass) -> _LayerPass:
        q = leg.q
        if not layer.enabled:
            return _LayerPass(q)
        default = layer.default_ingress if direction is Direction.INGRESS else layer.default_egress
        index = self._index(layer, direction, leg.protocol)
        relevant, positions = self._relevant_groups(index, q)
        rules, group_of = index.rules, index.group_of
        result = _LayerPass(EMPTY_SPACE)
        if layer.semantics is Semantics.FIRST_MATCH:
            remaining = q
            for pos in positions:
                if not remaining:
                    break
                matched = self._hit(index, group_of[pos], direction, leg, mode)
                if not matched:
                    continue
                # remaining is part of q, so remaining & (q & region) = remaining & region
                hit = remaining & matched
                if not hit:
                    continue
                rule = rules[pos]
                if rule.action is Action.ALLOW:
                    result.allowed = Space(result.allowed.boxes + hit.boxes)
                    result.admitted.append((rule, hit))
                else:
                    result.denied.append((rule, hit))
                remaining = remaining - hit
            if default is Action.ALLOW:
                result.allowed = Space(result.allowed.boxes + remaining.boxes)
            else:
                result.by_default = remaining
            return result
        # Union of allows: the order of rules does not matter, so each group's flows are
        # computed once and the groups' hits united in one merge.
        hits: dict[int, Space] = {}
        for g in relevant:
            hit = self._hit(index, g, direction, leg, mode)
            if hit:
                hits[g] = hit
        groups = index.groups
        allow_hits = [hit for g, hit in hits.items() if groups[g].rule.action is Action.ALLOW]
        deny_hits = [hit for g, hit in hits.items() if groups[g].rule.action is not Action.ALLOW]
        allows = Space.union_of([q, *allow_hits] if default is Action.ALLOW else allow_hits)
        denied = Space.union_of(deny_hits)
        if len(hits) < len(relevant):
            positions = tuple(p for p in positions if group_of[p] in hits)
        for pos in positions:
            rule = rules[pos]
            pair = (rule, hits[group_of[pos]])
            if rule.action is Action.ALLOW:
                result.admitted.append(pair)
            else:
                result.denied.append(pair)
        result.allowed = allows - denied
        result.by_default = q - allows
        return result


def _region(rule: Rule, direction: Direction, sp: _Piece, dp: _Piece, mode: _Pass) -> Space:
    """The flows ``rule`` matches, in (protocol, source, destination, port) coordinates."""
    wide = (rule.action is Action.DENY) == (mode is _Pass.MIN)
    if rule.unresolved and not wide:
        return EMPTY_SPACE
    opened = _widened(rule) if rule.unresolved else frozenset()
    ingress = direction is Direction.INGRESS
    peer_piece, local_piece = (sp, dp) if ingress else (dp, sp)
    peer_line = _peer_match(rule, peer_piece, wide, _PEER in opened)
    if not peer_line:
        return EMPTY_SPACE
    if rule.local is None or _LOCAL in opened:
        local_line = local_piece.line
    else:
        local_line = _address_match(rule.local, local_piece, wide)
    if not local_line:
        return EMPTY_SPACE
    src, dst = (peer_line, local_line) if ingress else (local_line, peer_line)
    boxes: list[tuple[IntervalSet, ...]] = []
    for protos, ports in _proto_ports(rule, _PROTOCOL in opened, _PORT in opened):
        boxes.extend(Space.box(protos, src, dst, ports).boxes)
    return Space(tuple(boxes))


def _peer_match(rule: Rule, piece: _Piece, wide: bool, opened: bool) -> IntervalSet:
    if opened or (rule.peer.groups & piece.endpoint.labels):
        return piece.line
    return _address_match(rule.peer.addresses, piece, wide)


def _address_match(addresses: AddressSet, piece: _Piece, wide: bool) -> IntervalSet:
    """Which of the piece's addresses ``addresses`` matches.

    For an approximate endpoint the nodes are somewhere unknown in the region: a CIDR that
    covers only part of it is uncertain, matching all of it when wide and nothing when not.
    """
    line = address_line(addresses) & piece.line
    if not piece.endpoint.approximate or not line or line == piece.line:
        return line
    return piece.line if wide else IntervalSet()


def _proto_ports(rule: Rule, any_protocol: bool, any_port: bool) -> list[tuple[IntervalSet, IntervalSet]]:
    ports = _ALL_PORTS if any_port else rule.ports.values
    if any_protocol or rule.protocol is None:
        if ports == _ALL_PORTS:
            return [(ALL_PROTOCOLS, _ALL_PORTS)]
        # Ports only restrict the protocols that have ports.
        return [(_PORTED, ports), (ALL_PROTOCOLS - _PORTED, _ALL_PORTS)]
    proto = IntervalSet.span(rule.protocol, rule.protocol)
    return [(proto, ports if rule.protocol in PORTED else _ALL_PORTS)]


_Hits = tuple[tuple[Rule, Space], ...]


def _broken_requests(dropped: Space, requests: Space, leg: _Leg) -> Space:
    """The ``requests`` whose replies fall in ``dropped`` (one dropped reply port is enough
    to break some connections of that address pair), less the UDP tunnels between the
    leg's pieces: both of their directions are new flows to the fixed port."""
    broken = dropped.swap(SRC, DST).with_dim(PORT, _ALL_PORTS) & requests
    if not broken:
        return broken
    return broken - Space.box(IntervalSet.span(_UDP, _UDP), leg.sp.line, leg.dp.line, TUNNEL_PORTS)


def _merge(a: LayerDecision, b: LayerDecision) -> LayerDecision:
    def pairs(x: _Hits, y: _Hits) -> _Hits:
        out: dict[int, tuple[Rule, Space]] = {}
        # Rules that shared a hit on both pieces share the joined hit too.
        joined: dict[tuple[int, int], Space] = {}
        for rule, hit in (*x, *y):
            key = id(rule)
            if key in out:
                before = out[key][1]
                both = joined.get((id(before), id(hit)))
                if both is None:
                    both = joined[(id(before), id(hit))] = Space(before.boxes + hit.boxes)
                out[key] = (rule, both)
            else:
                out[key] = (rule, hit)
        return tuple(out.values())

    return LayerDecision(
        layer=a.layer,
        direction=a.direction,
        side=a.side,
        admitted=pairs(a.admitted, b.admitted),
        denied=pairs(a.denied, b.denied),
        by_default=Space(a.by_default.boxes + b.by_default.boxes),
        blocked=Space(a.blocked.boxes + b.blocked.boxes),
        surely_blocked=Space(a.surely_blocked.boxes + b.surely_blocked.boxes),
        return_blocked=Space(a.return_blocked.boxes + b.return_blocked.boxes),
        stateless_rules=tuple(dict.fromkeys((*a.stateless_rules, *b.stateless_rules))),
        reply_layers=tuple(dict.fromkeys((*a.reply_layers, *b.reply_layers))),
        alongside=tuple(dict.fromkeys((*a.alongside, *b.alongside))),
    )


def _finish(d: LayerDecision, space: Space) -> LayerDecision:
    """Set ``blocks_all`` against the whole query (a layer may sit on only some pieces)."""
    return LayerDecision(
        layer=d.layer,
        direction=d.direction,
        side=d.side,
        admitted=d.admitted,
        denied=d.denied,
        by_default=d.by_default,
        blocked=d.blocked,
        surely_blocked=d.surely_blocked,
        return_blocked=d.return_blocked,
        blocks_all=bool(space) and space <= d.blocked,
        stateless_rules=d.stateless_rules,
        reply_layers=d.reply_layers,
        alongside=d.alongside,
    )


def _united(steps: list[tuple[Layer, Direction, Side]]) -> list[list[tuple[Layer, Direction, Side]]]:
    """The steps of a path in runs: consecutive security groups of one node (same side and
    direction) form one run, evaluated as the union AWS makes of them; any other layer is a
    run of its own, in series with the rest."""
    runs: list[list[tuple[Layer, Direction, Side]]] = []
    for step in steps:
        if runs and _unites(step) and _unites(runs[-1][-1]) and runs[-1][-1][1:] == step[1:]:
            runs[-1].append(step)
        else:
            runs.append([step])
    return runs


def _unites(step: tuple[Layer, Direction, Side]) -> bool:
    layer, _, side = step
    return (
        layer.kind is LayerKind.SECURITY_GROUP
        and layer.placement is Placement.NODE
        and layer.enabled
        and side is not Side.NETWORK
    )


def _verdict(space: Space, allowed: Space, possible: Space) -> Verdict:
    if space and space <= allowed:
        return Verdict.ALLOWED
    if not possible:
        return Verdict.BLOCKED
    if possible <= allowed:
        return Verdict.PARTIAL
    return Verdict.UNKNOWN


_LAST: list[Reachability] = []


def reachability(model: Model) -> Reachability:
    """The query engine for ``model`` (the last one is kept, so repeated queries share caches)."""
    if _LAST and _LAST[0].model is model:
        return _LAST[0]
    engine = Reachability(model)
    _LAST[:] = [engine]
    return engine


def query(model: Model, src: Endpoint, dst: Endpoint, protocol: int | None, ports: PortSet) -> FlowResult:
    """What of ``protocol``/``ports`` from ``src`` to ``dst`` gets through every layer."""
    return reachability(model).query(src, dst, protocol, ports)
