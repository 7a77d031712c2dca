"""Flow evaluators: required flows that are blocked (TA1xx) and forbidden flows that get
through (TA2xx, TA3xx). Both ask reachability; neither enumerates ports or addresses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model import (
    ALL_ADDRESSES,
    ALL_PORTS,
    EMPTY,
    AddressSet,
    Fact,
    Layer,
    NodeGroup,
    PortSet,
    ProblemKind,
    Role,
    Rule,
)
from talosaudit.model.addresses import DOCUMENTATION
from talosaudit.model.forwarders import Forwarder
from talosaudit.model.ports import parse_protocol
from talosaudit.model.source import SourceRef
from talosaudit.policies.context import (
    Context,
    flow_text,
    is_wide_open,
    layer_text,
    min_level,
    role_text,
    rule_key,
    rule_name,
    rule_text,
)
from talosaudit.policies.forwarding import forwarder_reach, through
from talosaudit.policies.params import (
    ForbiddenFlow,
    ForbidFlowParams,
    PublicAllowlistParams,
)
from talosaudit.policies.required import FlowEnd, blocked_checks
from talosaudit.policies.schema import Policy
from talosaudit.reachability import Endpoint, LayerDecision, Restrictor, Space, address_line
from talosaudit.reachability.endpoints import admin_endpoint, internet_endpoint, node_network_endpoint
from talosaudit.reachability.query import Reachability, Side
from talosaudit.reachability.space import ALL_PROTOCOLS

_ALL_LINE = address_line(ALL_ADDRESSES)

# --- required flows --------------------------------------------------------------------


@dataclass
class _Missing:
    """A required flow one layer blocks, gathered over every node group pair."""

    decision: LayerDecision
    spec: str
    src: FlowEnd
    dst: FlowEnd
    protocol: int | None
    level: Level
    purpose: str
    row: str
    part: Space = field(default_factory=Space)
    related: list[SourceRef] = field(default_factory=list)


def require_flow(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """One finding per (blocking layer, direction, flow, source, destination) of the checks
    ``required.py`` finds partly blocked: the same verdicts ``graph`` and ``why`` show."""
    found: dict[tuple[str, ...], _Missing] = {}
    for check in blocked_checks(ctx, policy):
        flow, spec, src, dst = check.flow, check.spec, check.src, check.dst
        level = min_level(policy.level, flow.level)
        for d in check.reported:
            part = d.surely_blocked & check.missing
            key = (d.layer.id, d.direction.value, spec, src.text, dst.text)
            entry = found.get(key)
            if entry is None:
                entry = found[key] = _Missing(
                    d, spec, src, dst, check.protocol, level, flow.purpose, flow.row
                )
            elif level.rank > entry.level.rank:
                entry.level, entry.purpose, entry.row = level, flow.purpose, flow.row
            entry.part = entry.part | part
            for other in check.decisions:
                if other.layer.id != d.layer.id and other.layer.source not in entry.related:
                    entry.related.append(other.layer.source)
    for entry in found.values():
        yield _blocked_finding(policy, entry)


def _blocked_finding(policy: Policy, m: _Missing) -> Finding:
    d = m.decision
    flow = flow_text(m.protocol, m.part.ports())
    src = m.src.text
    sources = m.part.sources()
    # A node group or the admin networks blocked only in part (an IP set that excludes one
    # admin host) names the blocked addresses: "from the admin networks" alone reads as all.
    narrowable = m.src.role is not None or m.src.endpoint.name == "the admin networks"
    if narrowable and not m.src.endpoint.approximate and sources != m.src.endpoint.addresses:
        src = f"{src} at {sources.describe()}"
    message = (
        f"{flow} from {src} to {m.dst.text} is blocked by {layer_text(d.layer)}: "
        f"{d.reason(m.part)} ({m.purpose})"
    )
    properties = [
        ("flow", flow),
        ("source", m.src.text),
        ("destination", m.dst.text),
        ("layers", ", ".join([d.layer.id, *(r.resource for r in m.related if r.resource)])),
    ]
    if m.row:
        properties.append(("requirement", m.row))
    return Finding(
        rule_id=policy.id,
        level=m.level,
        message=message,
        location=d.layer.source,
        identity=f"{d.layer.id}|{d.direction.value}|{m.spec}|{_who(m.src)}->{_who(m.dst)}",
        related=(*m.related, *_applied_by(d.layer)),
        properties=tuple(properties),
    )


def _who(side: FlowEnd) -> str:
    """Stable name of a flow end for identities (role, not addresses that may change)."""
    return side.role.value if side.role else side.text.split(" (")[0]


# --- forbidden flows -------------------------------------------------------------------


@dataclass
class Exposure:
    """A forbidden flow one admitting rule lets in, gathered over node groups and sources."""

    rule: Rule
    decision: LayerDecision
    role: Role | None
    ports: dict[int | None, PortSet] = field(default_factory=dict)
    reached: AddressSet = EMPTY
    via_internet: bool = False
    #: The part of ``reached`` that came in from the internet source.
    public: AddressSet = EMPTY
    groups: set[str] = field(default_factory=set)
    nonworker: bool = False
    others: dict[str, tuple[LayerDecision, list[str]]] = field(default_factory=dict)
    #: What the flows' ``note`` facts say (a bind address and where it is set), in order.
    notes: list[str] = field(default_factory=list)
    #: Through a load balancer listener: the load balancer and the target group.
    related: tuple[SourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class _Source:
    kind: str
    endpoint: Endpoint
    role: Role | None = None


def exposures(ctx: Context, policy: Policy) -> list[Exposure]:
    """The policy's forbidden flows that get through, one entry per (admitting rule, role)."""
    result: list[Exposure] = ctx.memo(("exposures", policy.id), lambda: _exposures(ctx, policy))
    return result


def _not_counted(ctx: Context, params: ForbidFlowParams) -> Space:
    """Flows from the nodes of ``allowed_sources`` (at their exact addresses): never counted."""
    allowed_exact = EMPTY
    for role in params.allowed_sources:
        allowed_exact = allowed_exact | ctx.exact_addresses(role)
    return Space.box(ALL_PROTOCOLS, address_line(allowed_exact), _ALL_LINE, ALL_PORTS.values)


def _exposures(ctx: Context, policy: Policy) -> list[Exposure]:
    params = ctx.params(policy, ForbidFlowParams)
    if not ctx.holds(params.when, params.fact_defaults):
        return []
    not_counted = _not_counted(ctx, params)
    workers = ctx.exact_addresses("worker")
    # The cluster's own nodes at their configured addresses are not "the internet", even when
    # those addresses are public: a rule that lists a node's own public address (kubelet
    # reaching the API through the node's public endpoint) opens nothing to the world.
    nodes = ctx.exact_addresses("nodes")
    itself = Space.box(ALL_PROTOCOLS, address_line(nodes), _ALL_LINE, ALL_PORTS.values)
    sources = _sources(ctx, params)
    targets = {g.id: g for role in params.to for g in ctx.groups(role)}
    found: dict[tuple[str, str, Role | None], Exposure] = {}
    paths: list[tuple[NodeGroup, Endpoint, Reachability, Forwarder | None]] = [
        (group, ctx.endpoint(group), ctx.reach, None) for group in targets.values()
    ]
    paths += forwarded_paths(ctx, targets)
    for group, dst, reach, forwarder in paths:
        for flow in params.flows:
            if flow.unless and ctx.holds(flow.unless, params.fact_defaults):
                continue
            protocol = parse_protocol(flow.protocol)
            ports = PortSet.parse(flow.ports)
            note = _note(ctx, flow)
            for source in sources:
                if forwarder is not None and source.kind != "internet":
                    continue  # a listener forwards what reaches it from the internet
                result = reach.query(source.endpoint, dst, protocol, ports)
                allowed = result.allowed
                if source.role is None and not_counted:
                    allowed = allowed - not_counted
                if source.kind == "internet" and nodes:
                    allowed = allowed - itself
                if not allowed:
                    continue
                within = Restrictor(allowed)  # each distinct hit & allowed once, indexed
                admitting = [(d, within(hits)) for d, hits in result.admitting()]
                admitting = [(d, hits) for d, hits in admitting if hits]
                outermost = _outermost(admitting)
                if outermost is None:
                    # Nothing on the path filters (every layer disabled or allowing by its
                    # default): no rule made the opening, so there is none to point at; an
                    # inactive firewall is reported by the platform rules (TA402, TA404).
                    continue
                chosen, hits = outermost
                for rule, part in hits:
                    key = (rule_key(rule), chosen.layer.id, group.role)
                    e = found.get(key)
                    if e is None:
                        e = found[key] = Exposure(rule, chosen, group.role)
                        if forwarder is not None:
                            e.related = forwarder.related
                    e.ports[protocol] = e.ports.get(protocol, PortSet()) | part.ports()
                    if note and note not in e.notes:
                        e.notes.append(note)
                    if source.role is None:
                        reached = part.sources()
                        e.reached = e.reached | reached
                        e.via_internet = e.via_internet or source.kind == "internet"
                        if source.kind == "internet":
                            e.public = e.public | reached
                        e.nonworker = e.nonworker or bool(reached - workers)
                    else:
                        e.groups.add(role_text(source.role))
                        e.nonworker = e.nonworker or source.role is not Role.WORKER
                    for d, other in admitting:
                        if d is not chosen:
                            names = e.others.setdefault(d.layer.id, (d, []))[1]
                            names.extend(n for n in (rule_name(r) for r, _ in other) if n not in names)
    return list(found.values())


def forwarded_paths(
    ctx: Context, targets: dict[str, NodeGroup]
) -> list[tuple[NodeGroup, Endpoint, Reachability, Forwarder]]:
    """The target node groups as an internet-facing listener reaches them (forwarding.py)."""
    out: list[tuple[NodeGroup, Endpoint, Reachability, Forwarder]] = []
    for f in ctx.model.forwarders:
        if not f.internet_facing:
            continue
        for target in f.targets:
            group = targets.get(target)
            if group is not None:
                seen, endpoint = through(ctx, group, f)
                out.append((seen, endpoint, forwarder_reach(ctx), f))
    return out


def _note(ctx: Context, flow: ForbiddenFlow) -> str:
    if flow.note is None:
        return ""
    fact = ctx.model.facts.get(flow.note.fact)
    if fact is None:
        return flow.note.unknown
    return flow.note.known.format(value=fact.value, reason=fact.reason)


def _sources(ctx: Context, params: ForbidFlowParams) -> list[_Source]:
    out: list[_Source] = []
    for kind in params.sources:
        if kind == "internet":
            out.append(_Source(kind, internet_endpoint(ctx.model, ctx.not_internet())))
        elif kind == "anywhere":
            out.append(_Source(kind, ctx.anywhere()))
        elif kind == "outside":
            out.append(_Source(kind, ctx.outside()))
        elif kind == "node-network" and ctx.model.node_network:
            out.append(_Source(kind, node_network_endpoint(ctx.model)))
        elif kind == "admin" and ctx.model.admin:
            out.append(_Source(kind, admin_endpoint(ctx.model)))
        elif kind in ("worker", "control-plane") and kind not in params.allowed_sources:
            out.extend(_Source(kind, ctx.endpoint(g), g.role) for g in ctx.groups(kind))
    return out


def _outermost(
    admitting: list[tuple[LayerDecision, list[tuple[Rule, Space]]]],
) -> tuple[LayerDecision, list[tuple[Rule, Space]]] | None:
    """The outermost layer whose admitting rules are specific to the flow.

    A layer that lets the flow in only through "everything from everywhere" rules (an AWS
    default network ACL) is not where the opening was made; when every layer is like that,
    the innermost one (the node's own filter) is reported. None when no rule admits the
    flow at all (no layer, or only disabled ones, on the path).
    """
    for d, hits in admitting:
        if d.side is not Side.SOURCE and any(not is_wide_open(r) for r, _ in hits):
            return d, hits
    return admitting[-1] if admitting else None


def forbid_flow(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, ForbidFlowParams)
    if any(p.kind is ProblemKind.NOT_EVALUATED for p in ctx.model.problems):
        # A firewall that is not read stands in front of the nodes: it may block any
        # exposure, so none is claimed (its own note says so).
        return
    for e in exposures(ctx, policy):
        if public_scope(ctx, e):
            continue  # an allowlist or a placeholder, not the internet: TA208 says so
        yield _exposure_finding(policy, params, e)
    for bind in unfiltered_binds(ctx, policy):
        yield _bind_finding(policy, params, bind)


# --- services bound beyond localhost with nothing filtering ------------------------------

_LOCALHOST = frozenset({"127.0.0.1", "localhost", "::1"})


def binds_beyond_localhost(value: str) -> bool:
    """``0.0.0.0``, ``10.0.0.5``, ``http://0.0.0.0:2381`` (one or several, comma-separated):
    True when any listen address is not the loopback."""
    for item in value.split(","):
        text = item.strip()
        if not text:
            continue
        host = text.split("://", 1)[-1].split("/", 1)[0]
        if host.startswith("["):
            host = host[1:].split("]", 1)[0]
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        if host.lower() not in _LOCALHOST:
            return True
    return False


@dataclass
class UnfilteredBind:
    """A service a config binds beyond localhost, reachable through no firewall at all."""

    fact: Fact
    location: SourceRef
    role: Role | None
    ports: dict[int | None, PortSet] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def unfiltered_binds(ctx: Context, policy: Policy) -> list[UnfilteredBind]:
    """Flows with a ``bind_fact`` that get through with no rule admitting them (no security
    group, no active Proxmox firewall, no Talos ``ingress: block`` on the path): there is no
    rule to point at, and the configured bind is what opened the port."""
    params = ctx.params(policy, ForbidFlowParams)
    if not ctx.holds(params.when, params.fact_defaults):
        return []
    not_counted = _not_counted(ctx, params)
    found: dict[tuple[str, Role | None], UnfilteredBind] = {}
    for group in {g.id: g for role in params.to for g in ctx.groups(role)}.values():
        dst = ctx.endpoint(group)
        for flow in params.flows:
            fact = ctx.model.facts.get(flow.bind_fact) if flow.bind_fact else None
            if fact is None or fact.source is None or not binds_beyond_localhost(fact.value):
                continue
            protocol = parse_protocol(flow.protocol)
            ports = PortSet.parse(flow.ports)
            for source in _sources(ctx, params):
                result = ctx.reach.query(source.endpoint, dst, protocol, ports)
                allowed = result.allowed - not_counted if source.role is None else result.allowed
                if not allowed or _outermost([(d, list(hits)) for d, hits in result.admitting()]) is not None:
                    continue
                key = (fact.name, group.role)
                entry = found.setdefault(key, UnfilteredBind(fact, fact.source, group.role))
                entry.ports[protocol] = entry.ports.get(protocol, PortSet()) | allowed.ports()
                who = role_text(source.role) if source.role else _unfiltered_source(source)
                if who not in entry.sources:
                    entry.sources.append(who)
                note = _note(ctx, flow)
                if note and note not in entry.notes:
                    entry.notes.append(note)
    return list(found.values())


def _unfiltered_source(source: _Source) -> str:
    return {"anywhere": "any address", "internet": "the internet"}.get(source.kind, source.endpoint.name)


def _bind_finding(policy: Policy, params: ForbidFlowParams, b: UnfilteredBind) -> Finding:
    flows = flows_text(b.ports)
    # "any address" already holds the worker nodes: naming both reads as two sources.
    sources = [s for s in b.sources if s == "any address"] or b.sources
    message = (
        f"{flows} ({params.service}) on {role_text(b.role)} is reachable from {' and '.join(sources)}: "
        f"no firewall filters these nodes (no security group, no active Proxmox firewall, no Talos "
        f"ingress: block), and the configuration binds the service beyond localhost"
    )
    for note in b.notes:
        message += f"; {note}"
    return Finding(
        rule_id=policy.id,
        level=policy.level,
        message=message,
        location=b.location,
        identity=f"{b.fact.name}|{flows}|{role_text(b.role)}",
        properties=(
            ("flow", flows),
            ("source", " and ".join(sources)),
            ("destination", role_text(b.role)),
            ("layers", ""),
        ),
    )


# --- public allowlists (docs/ports.md, "from the internet") ----------------------------------

#: Path components of test fixtures: documentation addresses there are deliberate.
TEST_DIRS = frozenset({"test", "tests", "testdata", "testing", "fixtures", "__tests__"})


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    return any(p.lower() in TEST_DIRS for p in parts[:-1]) or name.startswith("test_") or "_test." in name


def public_scope(ctx: Context, e: Exposure) -> str:
    """How public sources reach an exposure: "" when it is exposed to the internet (a public
    part wider than the allowlist threshold, TA207's ``min_public_prefix``/``_v6``) or reached
    by more than public sources; "allowlist" when every public source is no wider (an
    operator's /32, an office /28: an admin network nobody declared); "placeholder" when they
    all sit in documentation ranges in a file that is not a test fixture."""
    if not e.public or e.groups or e.reached != e.public:
        return ""
    if e.public <= DOCUMENTATION and not is_test_path(e.rule.source.path):
        return "placeholder"
    trust = ctx.trust_params()
    for cidr in e.public.cidrs():
        prefix = int(cidr.rsplit("/", 1)[1])
        if prefix < (trust.min_public_prefix_v6 if ":" in cidr else trust.min_public_prefix):
            return ""
    return "allowlist"


@dataclass
class _Allowlist:
    """Allowlist exposures of one admitting rule on one role, merged over the watched rules."""

    first: Exposure
    scope: str
    services: list[str] = field(default_factory=list)
    ports: dict[int | None, PortSet] = field(default_factory=dict)
    public: AddressSet = EMPTY


def allowlist_exposures(ctx: Context, rule_ids: Iterable[str]) -> Iterator[tuple[Exposure, str, str]]:
    """(exposure, service, scope) of the listed forbid_flow rules that only an allowlist reaches."""
    for rule_id in rule_ids:
        policy = ctx.catalogue.get(rule_id)
        if policy is None or policy.kind != "forbid_flow":
            continue
        service = ctx.params(policy, ForbidFlowParams).service
        for e in exposures(ctx, policy):
            scope = public_scope(ctx, e)
            if scope:
                yield e, service, scope


def public_allowlist(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, PublicAllowlistParams)
    merged: dict[tuple[str, str, Role | None], _Allowlist] = {}
    for e, service, scope in allowlist_exposures(ctx, params.of):
        key = (rule_key(e.rule), e.decision.layer.id, e.role)
        entry = merged.setdefault(key, _Allowlist(e, scope))
        if scope != entry.scope:
            entry.scope = "allowlist"  # partly a placeholder: the plain wording is the safe one
        if service not in entry.services:
            entry.services.append(service)
        for proto, ports in e.ports.items():
            entry.ports[proto] = entry.ports.get(proto, PortSet()) | ports
        entry.public = entry.public | e.public
    for entry in merged.values():
        yield _allowlist_finding(policy, entry)


def _allowlist_finding(policy: Policy, a: _Allowlist) -> Finding:
    e = a.first
    flows = flows_text(a.ports)
    cidrs = _reached_cidrs(e.rule, a.public)
    where = (
        f"{' and '.join(a.services)} on {role_text(e.role)}, through {rule_text(e.rule)} "
        f"in {layer_text(e.decision.layer)}"
    )
    if a.scope == "placeholder":
        message = (
            f"{flows} reachable from public {cidrs}, not declared as an admin network; it is a "
            f"placeholder address (a documentation range no real network uses): replace it with "
            f"the real admin network and declare that with --admin-cidr or admin_networks ({where})"
        )
    else:
        message = (
            f"{flows} reachable from public {cidrs}, not declared as an admin network; "
            f"declare it with --admin-cidr or admin_networks ({where})"
        )
    return Finding(
        rule_id=policy.id,
        level=policy.level,
        message=message,
        location=e.rule.source,
        identity=f"{rule_key(e.rule)}|{flows}|{cidrs}|{role_text(e.role)}",
        related=(e.decision.layer.source,),
        properties=(
            ("flow", flows),
            ("source", cidrs),
            ("destination", role_text(e.role)),
            ("layers", e.decision.layer.id),
        ),
    )


def _applied_by(layer: Layer) -> tuple[SourceRef, ...]:
    """Where a Talos config is applied, when that is not where it is written (a Terraform
    ``talos_machine_configuration_apply``): a related location of findings about it."""
    ref = layer.origin("applied_by")
    return (ref,) if ref is not None else ()


def flows_text(ports: dict[int | None, PortSet]) -> str:
    """Ports gathered per protocol, as one text (protocol order; "any protocol" first)."""
    return ", ".join(flow_text(p, ports[p]) for p in sorted(ports, key=lambda p: -1 if p is None else p))


def _exposure_finding(policy: Policy, params: ForbidFlowParams, e: Exposure) -> Finding:
    flows = flows_text(e.ports)
    who_parts: list[str] = []
    cidrs = ""
    if e.reached:
        cidrs = _reached_cidrs(e.rule, e.reached)
        who_parts.append(f"the internet ({cidrs})" if e.via_internet else cidrs)
    who_parts.extend(sorted(e.groups))
    who = " and ".join(who_parts)
    level = policy.level
    message = (
        f"{flows} ({params.service}) on {role_text(e.role)} is reachable from {who} "
        f"through {rule_text(e.rule)} in {layer_text(e.decision.layer)}"
    )
    if params.workers_only_level is not None and not e.nonworker:
        level = params.workers_only_level
        message += "; the only sources beyond the allowed nodes are the cluster's worker nodes"
    for note in e.notes:
        message += f"; {note}"
    if e.others:
        others = "; ".join(f"{layer_text(d.layer)} ({', '.join(names)})" for d, names in e.others.values())
        message += f"; other layers on the path also allow it: {others}"
    related = [
        e.decision.layer.source,
        *e.related,
        *(d.layer.source for d, _ in e.others.values()),
        *_applied_by(e.decision.layer),
    ]
    return Finding(
        rule_id=policy.id,
        level=level,
        message=message,
        location=e.rule.source,
        identity=f"{rule_key(e.rule)}|{flows}|{cidrs or ','.join(sorted(e.groups))}|{role_text(e.role)}",
        related=tuple(dict.fromkeys(related)),
        properties=(
            ("flow", flows),
            ("source", who),
            ("destination", role_text(e.role)),
            ("layers", ", ".join([e.decision.layer.id, *e.others])),
        ),
    )


def _reached_cidrs(rule: Rule, reached: AddressSet) -> str:
    """The rule's own CIDRs that reach (as the rule states them), else the reached set."""
    mine = [c for c in rule.peer.addresses.cidrs() if AddressSet.parse(c).overlaps(reached)]
    return ", ".join(mine) if mine else reached.describe()


def reported_ports(ctx: Context, rule_ids: Iterable[str]) -> dict[str, dict[int | None, PortSet]]:
    """Per admitting rule key, the ports the given forbid_flow rules report (TA207 skips them)."""
    out: dict[str, dict[int | None, PortSet]] = {}
    for rule_id in rule_ids:
        policy = ctx.catalogue.get(rule_id)
        if policy is None:
            continue
        if policy.kind == "forbid_flow":
            found = [e for e in exposures(ctx, policy) if not public_scope(ctx, e)]
        elif policy.kind == "public_allowlist":
            watched = ctx.params(policy, PublicAllowlistParams).of
            found = [e for e, _, _ in allowlist_exposures(ctx, watched)]
        else:
            continue
        for e in found:
            per = out.setdefault(rule_key(e.rule), {})
            for proto, ports in e.ports.items():
                per[proto] = per.get(proto, PortSet()) | ports
    return out


__all__ = [
    "Exposure",
    "binds_beyond_localhost",
    "exposures",
    "forbid_flow",
    "public_allowlist",
    "public_scope",
    "reported_ports",
    "require_flow",
    "unfiltered_binds",
]
