"""Which required flows hold: one verdict per (``require_flow`` policy, flow, source, destination).

This is the one answer ``scan`` (the TA1xx findings and TA405), ``graph`` (the required-flow
matrix) and ``why`` (the requirement a traced flow falls under) share, so they cannot disagree:
self-flows of one-node groups, ``either_direction``, ``require: any``, the ``tunnel_port`` fact
and ``egress_filtered_only`` are decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from talosaudit.model import TCP, PortSet, Role
from talosaudit.model.ports import flow_text
from talosaudit.policies.context import Context, required_ports, role_text
from talosaudit.policies.forwarding import forwarder_reach, through
from talosaudit.policies.params import RequiredFlow, RequireFlowParams
from talosaudit.policies.platform import bootstrap_blocked_layers
from talosaudit.policies.schema import Policy
from talosaudit.reachability import Endpoint, LayerDecision, Space, Verdict
from talosaudit.reachability.endpoints import admin_endpoint, internet_endpoint
from talosaudit.reachability.space import DST, SRC

#: Why a one-node group's flow to itself holds whatever its layers say.
SAME_NODE = "a node reaching its own address never leaves it"


@dataclass(frozen=True, slots=True)
class FlowEnd:
    """One end of a required flow: the endpoint and how messages name it."""

    endpoint: Endpoint
    text: str  # "worker nodes", "the admin networks (10.0.0.0/24)"
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class RequiredCheck:
    """One required flow between two concrete ends and whether it holds.

    ``verdict``: ``allowed`` (every part passes; for ``require: any`` some part does),
    ``blocked`` (all of it is surely refused), ``partial`` (part of it is surely refused),
    ``unknown`` (nothing is surely refused, but unresolved values may refuse some).
    ``missing`` is the surely refused part, ``blockers`` the layers that refuse it.
    """

    policy: Policy
    flow: RequiredFlow
    protocol: int | None
    ports: PortSet
    spec: str  # ``udp/4789``
    src: FlowEnd
    dst: FlowEnd
    verdict: Verdict
    missing: Space
    decisions: tuple[LayerDecision, ...]
    blockers: tuple[LayerDecision, ...]
    #: The blockers the require_flow rule reports: not the layers a platform rule named in
    #: ``not_reported_by`` reports whole (TA401: an active Proxmox firewall that lets none of
    #: the node's ports in is one finding there, not ten here).
    reported: tuple[LayerDecision, ...] = ()
    #: Why the verdict needs no layer (``SAME_NODE``), else "".
    note: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.policy.id} {self.flow.row}".strip()


def required_checks(ctx: Context, policy: Policy) -> tuple[RequiredCheck, ...]:
    """Every required flow of a ``require_flow`` policy whose conditions hold, per end pair."""
    checks: tuple[RequiredCheck, ...] = ctx.memo(("required", policy.id), lambda: tuple(_checks(ctx, policy)))
    return checks


def all_required_checks(ctx: Context) -> list[RequiredCheck]:
    """The required-flow checks of every ``require_flow`` policy of the catalogue."""
    out: list[RequiredCheck] = []
    for policy in ctx.catalogue.policies:
        if policy.kind == "require_flow":
            out.extend(required_checks(ctx, policy))
    return out


def blocked_checks(ctx: Context, policy: Policy) -> Iterator[RequiredCheck]:
    """The checks of which some part is surely refused (what the TA1xx rules report)."""
    return (c for c in required_checks(ctx, policy) if c.missing)


def _checks(ctx: Context, policy: Policy) -> Iterator[RequiredCheck]:
    params = ctx.params(policy, RequireFlowParams)
    if not ctx.holds(params.when, params.fact_defaults):
        return
    reported_whole = bootstrap_blocked_layers(ctx, params.not_reported_by)
    for flow in params.flows:
        if not ctx.holds(flow.when, params.fact_defaults):
            continue
        what = required_ports(ctx, flow)
        for src in flow_ends(ctx, flow.source, params.egress_filtered_only):
            for dst in flow_ends(ctx, flow.to, False):
                yield _check(ctx, policy, flow, what, (src, dst), reported_whole=reported_whole)


def _check(
    ctx: Context,
    policy: Policy,
    flow: RequiredFlow,
    what: tuple[int | None, PortSet],
    ends: tuple[FlowEnd, FlowEnd],
    *,
    reported_whole: set[str],
) -> RequiredCheck:
    protocol, ports = what
    src, dst = ends
    spec = flow_text(protocol, ports)
    if _same_node(src, dst):
        return RequiredCheck(
            policy, flow, protocol, ports, spec, src, dst, Verdict.ALLOWED, Space(), (), (), note=SAME_NODE
        )
    result = ctx.reach.query(src.endpoint, dst.endpoint, protocol, ports)
    if flow.require == "any":
        missing = Space() if result.possible else result.space
        held = result.space if result.allowed else result.allowed
    else:
        missing = result.surely_blocked
        held = result.allowed
    if flow.either_direction and not result.space <= held:
        back = ctx.reach.query(dst.endpoint, src.endpoint, protocol, ports)
        missing = missing & back.surely_blocked.swap(SRC, DST)
        held = held | back.allowed.swap(SRC, DST)
    note = ""
    if missing and flow.require != "any":
        missing, held, note = _through_listeners(ctx, (src, dst), (protocol, ports), missing, held)
    if missing:
        verdict = Verdict.BLOCKED if result.space <= missing else Verdict.PARTIAL
    else:
        verdict = Verdict.ALLOWED if result.space <= held else Verdict.UNKNOWN
    blockers = tuple(_blockers(result.decisions, missing, flow.require == "any"))
    reported = tuple(d for d in blockers if d.layer.id not in reported_whole)
    return RequiredCheck(
        policy,
        flow,
        protocol,
        ports,
        spec,
        src,
        dst,
        verdict,
        missing,
        result.decisions,
        blockers,
        reported,
        note=note,
    )


def _through_listeners(
    ctx: Context, ends: tuple[FlowEnd, FlowEnd], what: tuple[int | None, PortSet], missing: Space, held: Space
) -> tuple[Space, Space, str]:
    """A flow the direct path refuses may go through a load balancer listener that forwards
    to the destination's port (the API through the NLB that is the cluster endpoint): nodes
    through internal listeners, other sources (admin networks) through internet-facing
    ones. What a listener's path lets through is not missing."""
    src, dst = ends
    protocol, ports = what
    group = dst.endpoint.node_group
    if group is None or protocol != TCP:
        return missing, held, ""
    via: list[str] = []
    for forwarder in ctx.model.forwarders:
        if group.id not in forwarder.targets or forwarder.internet_facing == (src.role is not None):
            continue
        if not ports <= PortSet.single(forwarder.target_port):
            continue
        _, endpoint = through(ctx, group, forwarder)
        result = forwarder_reach(ctx).query(src.endpoint, endpoint, protocol, ports)
        if result.allowed:
            missing = missing - result.allowed
            held = held | result.allowed
            via.append(forwarder.name)
    return missing, held, f"through {', '.join(via)}" if via else ""


def _blockers(decisions: tuple[LayerDecision, ...], missing: Space, whole: bool) -> list[LayerDecision]:
    """Layers that surely block part of ``missing``; for an "any destination" flow, the
    layers that block all of it when there are such (the others only narrow it)."""
    if not missing:
        return []
    partial = [d for d in decisions if d.surely_blocked & missing]
    if whole:
        complete = [d for d in partial if missing <= d.surely_blocked]
        return complete or partial
    return partial


def _same_node(src: FlowEnd, dst: FlowEnd) -> bool:
    """A flow from a one-node group to itself: a node reaching its own address never leaves it
    (Linux delivers it on ``lo``, which Talos always accepts; security groups, Proxmox and
    pfSense never see it), so no layer can block it."""
    group = src.endpoint.node_group
    return group is not None and group is dst.endpoint.node_group and group.count == 1


def flow_ends(ctx: Context, name: str, egress_filtered_only: bool) -> list[FlowEnd]:
    """The ends a policy's ``from``/``to`` names: node groups of a role, the admin networks,
    the internet or anywhere."""
    if name == "admin":
        if not ctx.model.admin:
            return []
        return [FlowEnd(admin_endpoint(ctx.model), f"the admin networks ({ctx.model.admin.describe()})")]
    if name == "internet":
        return [FlowEnd(internet_endpoint(ctx.model), "the internet")]
    if name == "anywhere":
        return [FlowEnd(ctx.anywhere(), "anywhere")]
    out = []
    for group in ctx.groups(name):
        endpoint = ctx.endpoint(group)
        if egress_filtered_only and not ctx.reach.egress_filtered(endpoint):
            continue
        out.append(FlowEnd(endpoint, role_text(group.role), group.role))
    return out


__all__ = [
    "SAME_NODE",
    "FlowEnd",
    "RequiredCheck",
    "all_required_checks",
    "blocked_checks",
    "flow_ends",
    "required_checks",
]
