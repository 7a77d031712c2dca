"""Evaluators for what collectors describe but do not judge: input problems (TA001-TA005),
platform firewall rules a node relies on that are not applied (TA402), a platform firewall
that lets none of a node's required ports in (TA401), a host firewall that does not block
by default (TA404), and drift between live state and code (TA503, TA504)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model import Direction, Drift, Layer, NodeGroup, PortSet, Problem, Role, SourceRef
from talosaudit.policies.context import Context, flow_text, required_ports
from talosaudit.policies.params import (
    BootstrapBlockedParams,
    DriftParams,
    FirewallNotAppliedParams,
    HostFirewallParams,
    InputProblemParams,
    RequireFlowParams,
)
from talosaudit.policies.schema import Policy

# --- collector problems and drift ------------------------------------------------------


def problem_finding(policy: Policy, problem: Problem | Drift) -> Finding:
    """The one conversion of what a collector described into a finding of ``policy``."""
    message = problem.message if isinstance(problem, Problem) else problem.description
    informational = isinstance(problem, Problem) and problem.informational
    return Finding(
        rule_id=policy.id,
        level=Level.NOTE if informational else policy.level,
        message=message,
        location=problem.source,
        identity=problem.key or message,
        related=problem.related,
    )


def input_problem(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, InputProblemParams)
    for p in ctx.model.problems:
        if p.kind is params.problem:
            yield problem_finding(policy, p)


def drift(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, DriftParams)
    for d in ctx.model.drift:
        if d.side.value == params.side:
            yield problem_finding(policy, d)


# --- a platform firewall that lets none of the required ports in -----------------------


def bootstrap_blocked(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """An active node firewall of the given kinds whose rules let none of the node's required
    ports in (from anywhere): the required-flow rules would report each port, this reports
    the one cause. Which ports are required is read from the ``required_by`` policies; whether
    the layer lets one in is asked of the reachability engine, for that layer alone."""
    params = ctx.params(policy, BootstrapBlockedParams)
    for layer, group in _node_layers(ctx, params):
        assert group.role is not None  # _node_layers yields groups with a role
        required = _required(ctx, params, group.role)
        if not required or any(_lets_in(ctx, layer, group, proto, ports) for proto, ports in required):
            continue
        yield _bootstrap_finding(policy, layer, group.role, required)


def bootstrap_blocked_layers(ctx: Context, rule_ids: Iterable[str]) -> set[str]:
    """Ids of the layers the given (enabled) ``bootstrap_blocked`` rules report: the
    required-flow rules do not report those layers again."""
    out: set[str] = set()
    for rule_id in rule_ids:
        policy = ctx.catalogue.get(rule_id)
        if policy is None or policy.kind != "bootstrap_blocked" or not ctx.settings.is_enabled(rule_id):
            continue
        out |= _reported_layers(ctx, policy)
    return out


def _reported_layers(ctx: Context, policy: Policy) -> set[str]:
    def compute() -> set[str]:
        return {v for f in bootstrap_blocked(policy, ctx) for k, v in f.properties if k == "layers"}

    found: set[str] = ctx.memo(("bootstrap-blocked", policy.id), compute)
    return found


def _node_layers(ctx: Context, params: BootstrapBlockedParams) -> Iterator[tuple[Layer, NodeGroup]]:
    """Each enabled layer of the given kinds with the first node group of a known role it
    filters (a guest's firewall sits on one node)."""
    seen: set[str] = set()
    for group in ctx.groups("nodes"):
        for layer_id in group.layers:
            layer = ctx.model.layers.get(layer_id)
            if layer is None or layer.id in seen or not layer.enabled:
                continue
            if layer.kind.value not in params.layer_kinds:
                continue
            seen.add(layer.id)
            yield layer, group


def _required(ctx: Context, params: BootstrapBlockedParams, role: Role) -> list[tuple[int | None, PortSet]]:
    """The inbound ports a node of ``role`` needs, in catalogue order, once each."""
    wanted = {"nodes", "control-plane" if role is Role.CONTROL_PLANE else "worker"}
    out: list[tuple[int | None, PortSet]] = []
    for rule_id in params.required_by:
        policy = ctx.catalogue.get(rule_id)
        if policy is None or policy.kind != "require_flow":
            continue
        flows = ctx.params(policy, RequireFlowParams)
        if not ctx.holds(flows.when, flows.fact_defaults):
            continue
        for flow in flows.flows:
            if flow.to not in wanted or not ctx.holds(flow.when, flows.fact_defaults):
                continue
            found = required_ports(ctx, flow)
            if found not in out:
                out.append(found)
    return out


def _lets_in(ctx: Context, layer: Layer, group: NodeGroup, protocol: int | None, ports: PortSet) -> bool:
    """Whether ``layer`` (alone) may let some of the flow from anywhere into the group."""
    result = ctx.reach.query(ctx.anywhere(), ctx.endpoint(group), protocol, ports)
    for d in result.decisions:
        if d.layer.id == layer.id and d.direction is Direction.INGRESS:
            return bool(result.space - d.surely_blocked)
    return True  # the layer is not on the path: it blocks nothing of it


def _bootstrap_finding(
    policy: Policy, layer: Layer, role: Role, required: list[tuple[int | None, PortSet]]
) -> Finding:
    listed = ", ".join(flow_text(proto, ports) for proto, ports in required)
    assumed = layer.attribute("datacenter").startswith("unknown")
    levels = "VM and NIC; the datacenter firewall is assumed on" if assumed else "datacenter, VM and NIC"
    guest = layer.attribute("guest") or layer.name
    nic = layer.attribute("nic")
    config = layer.origin("config")
    return Finding(
        rule_id=policy.id,
        level=policy.level,
        message=(
            f"{guest} is a {role.label} node whose Proxmox firewall on {nic} is active ({levels}) but "
            f"no IN rule accepts any of its required ports ({listed}); policy_in "
            f"{layer.attribute('policy_in', 'DROP')} drops them all: bootstrap will fail"
        ),
        location=layer.origin("switch") or layer.source,
        identity=f"{layer.id}:{policy.id.lower()}",
        related=(config,) if config is not None else (),
        properties=(("layers", layer.id), ("flow", listed)),
    )


# --- platform firewall rules a node relies on that are not applied --------------------


def firewall_not_applied(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """A guest whose firewall rules or NIC flags are left unapplied by a switch above them
    (the datacenter or VM firewall off), or whose active NIC firewall a pending change
    switches off at the next start. The collector records each switch's state on the
    guest's NIC layers; this decides and words it, once per guest."""
    params = ctx.params(policy, FirewallNotAppliedParams)
    guests: dict[str, Layer] = {}
    for layer in ctx.model.layers.values():
        if layer.kind.value in params.layer_kinds and layer.attribute("guest_id"):
            guests.setdefault(layer.attribute("guest_id"), layer)
    for guest_id, layer in guests.items():
        yield from _not_applied(policy, params, guest_id, layer)


def _switch(layer: Layer, name: str) -> tuple[str, str]:
    """A switch attribute ``"off: cluster.fw enable: 0"`` as (state, reason)."""
    state, _, reason = layer.attribute(name, "unknown").partition(": ")
    return state, reason


def _not_applied(
    policy: Policy, params: FirewallNotAppliedParams, guest_id: str, layer: Layer
) -> Iterator[Finding]:
    rules = int(layer.attribute("rules", "0") or "0")
    flagged = [n for n in layer.attribute("nics_firewall_on").split(",") if n]
    if not rules and not (flagged and (layer.attribute("role") or not params.flag_needs_role)):
        return
    guest = layer.attribute("guest") or guest_id
    datacenter, dc_reason = _switch(layer, "datacenter")
    vm, vm_reason = _switch(layer, "vm_firewall")
    off: list[tuple[str, SourceRef | None]] = []
    if datacenter == "off":
        off.append((f"the datacenter firewall is off ({dc_reason})", layer.origin("datacenter_switch")))
    if vm == "off":
        off.append((f"the VM firewall is off ({vm_reason})", layer.origin("vm_switch")))
    if not off:
        if vm == "on":
            yield from _pending_off(policy, guest_id, guest, layer)
        return
    if flagged:
        relied = f"{', '.join(flagged)} {'has' if len(flagged) == 1 else 'have'} firewall=1"
        where = layer.origin("first_firewall_nic")
        if rules:
            relied += f" and {_count(rules, 'rule')} exist"
    else:
        relied = f"{_count(rules, 'firewall rule')} exist but no NIC has firewall=1"
        where = layer.origin("first_rule")
    related = tuple(src for _, src in off if src is not None)
    config = layer.origin("datacenter_config")
    if not related and config is not None and datacenter == "off":
        related = (config,)
    yield Finding(
        rule_id=policy.id,
        level=policy.level,
        message=(
            f"{guest}: {relied}, but {' and '.join(text for text, _ in off)}: "
            "the rules the user relies on are not applied"
        ),
        location=where or layer.source,
        identity=f"proxmox:{guest_id}:inactive",
        related=related,
    )


def _pending_off(policy: Policy, guest_id: str, guest: str, layer: Layer) -> Iterator[Finding]:
    """A pending change that switches an active NIC firewall off at the next start."""
    for nic in (n for n in layer.attribute("pending_firewall_off").split(",") if n):
        yield Finding(
            rule_id=policy.id,
            level=policy.level,
            message=(
                f"{guest}: a pending change sets {nic} firewall=0; at the next start "
                "the rules the user relies on are not applied"
            ),
            location=layer.origin(f"pending:{nic}") or layer.source,
            identity=f"proxmox:{guest_id}/{nic}:pending-off",
        )


def _count(number: int, word: str) -> str:
    return f"1 {word}" if number == 1 else f"{number} {word}s"


# --- a host firewall that does not block by default ------------------------------------


def host_firewall_off(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """A complete machine config whose host firewall accepts ingress by default."""
    params = ctx.params(policy, HostFirewallParams)
    for layer in sorted(ctx.model.layers.values(), key=lambda layer: layer.id):
        if layer.kind.value not in params.layer_kinds or layer.attribute("machine_config") != "complete":
            continue
        default = layer.attribute("ingress_default")
        if default == "block":
            continue
        config_id = layer.attribute("config")
        name = layer.attribute("config_name") or layer.name
        src = layer.source
        if default == "accept":
            message = (
                f"{name}: NetworkDefaultActionConfig says ingress: accept, not block; "
                "the node relies on outer layers only (and on what its NetworkRuleConfig rules drop)"
            )
            where = SourceRef(src.path, src.start_line, src.end_line, config_id)
        else:
            message = (
                f"{name}: no NetworkDefaultActionConfig with ingress: block; "
                "the node relies on outer layers only"
            )
            where = SourceRef(src.path, src.start_line, src.start_line, config_id)
        unresolved = layer.attribute("unresolved_patch")
        if unresolved:
            message += f" (unless the unresolved patch at {unresolved} sets it)"
        yield Finding(
            rule_id=policy.id,
            level=policy.level,
            message=message,
            location=where,
            related=tuple(ref for ref in (layer.origin("applied_by"),) if ref is not None),
            identity=f"talos-host-firewall-off:{config_id}",
        )


__all__ = [
    "bootstrap_blocked",
    "bootstrap_blocked_layers",
    "drift",
    "firewall_not_applied",
    "host_firewall_off",
    "input_problem",
    "problem_finding",
]
