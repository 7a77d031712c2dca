"""What ``talosaudit graph`` and ``talosaudit why`` compute: the required-flow matrix and
the layer-by-layer trace of one flow. Rendering lives in ``report/graph.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from talosaudit.model import AddressSet, Model, PortSet, Role
from talosaudit.model.ports import PORTED, flow_text, parse_protocol
from talosaudit.policies.context import Context, EvalSettings, layer_text
from talosaudit.policies.registry import Catalogue
from talosaudit.policies.required import RequiredCheck, all_required_checks
from talosaudit.reachability import (
    Endpoint,
    FlowResult,
    admin_endpoint,
    cidr_endpoint,
    internet_endpoint,
)
from talosaudit.report.graph import FlowCell, GraphData

ROLE_WORDS = {
    "control-plane": Role.CONTROL_PLANE,
    "controlplane": Role.CONTROL_PLANE,
    "cp": Role.CONTROL_PLANE,
    "worker": Role.WORKER,
    "workers": Role.WORKER,
}


class ExplainError(Exception):
    """A ``--from``/``--to``/``--port`` value that names nothing in the model."""


def parse_flow(text: str) -> tuple[int | None, PortSet]:
    """``50001/tcp``, ``tcp/50001``, ``udp/4789``, ``tcp/2379-2380``, ``icmp``, ``all``."""
    value = text.strip().lower()
    if value in ("all", "any"):
        return None, PortSet.all()
    left, sep, right = value.partition("/")
    if not sep:
        proto_text, ports_text = left, "all"
    elif left[:1].isdigit():
        ports_text, proto_text = left, right
    else:
        proto_text, ports_text = left, right
    try:
        protocol = parse_protocol(proto_text)
        ports = PortSet.parse(ports_text)
    except ValueError as exc:
        raise ExplainError(f"--port {text!r}: {exc} (write it as 50001/tcp or tcp/50001)") from exc
    return protocol, ports if protocol in PORTED else PortSet.all()


def endpoints(ctx: Context, text: str) -> list[Endpoint]:
    """A role (every node group of it), ``nodes``, ``admin``, ``internet``, ``anywhere``, a node
    group name, or a CIDR."""
    model = ctx.model
    word = text.strip().lower()
    if word in ROLE_WORDS:
        role = ROLE_WORDS[word]
        groups = [g for g in model.node_groups if g.role is role]
        if not groups:
            raise ExplainError(f"no {role.label} node group found (see `talosaudit graph`)")
        return [ctx.endpoint(g) for g in groups]
    if word in ("nodes", "all-nodes"):
        return [ctx.endpoint(g) for g in model.node_groups if g.role is not None]
    if word == "admin":
        if not model.admin:
            raise ExplainError("no admin network known (use --admin-cidr or admin_networks)")
        return [admin_endpoint(model)]
    if word == "internet":
        return [internet_endpoint(model)]
    if word == "anywhere":
        return [ctx.anywhere()]
    named = [g for g in model.node_groups if text in (g.name, g.id)]
    if named:
        return [ctx.endpoint(g) for g in named]
    try:
        return [cidr_endpoint(text, AddressSet.parse(text))]
    except ValueError as exc:
        raise ExplainError(
            f"{text!r} is not a role (control-plane, worker, nodes), admin, internet, anywhere, "
            "a node group or a CIDR"
        ) from exc


@dataclass(frozen=True, slots=True)
class Trace:
    src: Endpoint
    dst: Endpoint
    result: FlowResult
    #: The required flows (``require_flow`` policies) this trace falls under, as ``scan`` and
    #: ``graph`` judge them: the same verdicts, with self-flows, either-direction and
    #: ``require: any`` applied.
    required: tuple[RequiredCheck, ...] = ()


def trace(model: Model, src: str, dst: str, flow: str, catalogue: Catalogue | None = None) -> list[Trace]:
    protocol, ports = parse_flow(flow)
    ctx = Context(model, catalogue or Catalogue(), EvalSettings())
    checks = all_required_checks(ctx)
    out = []
    for s in endpoints(ctx, src):
        for d in endpoints(ctx, dst):
            under = tuple(c for c in checks if _falls_under(c, s, d, protocol, ports))
            out.append(Trace(s, d, ctx.reach.query(s, d, protocol, ports), under))
    return out


def _falls_under(
    check: RequiredCheck, src: Endpoint, dst: Endpoint, protocol: int | None, ports: PortSet
) -> bool:
    """The traced flow is (part of) this required flow between the same two ends."""
    if check.src.endpoint.name != src.name or check.dst.endpoint.name != dst.name:
        return False
    if protocol is not None and check.protocol != protocol:
        return False
    return protocol not in PORTED or bool(check.ports & ports)


def render_trace(traces: list[Trace]) -> str:
    lines: list[str] = []
    for t in traces:
        r = t.result
        lines.append(f"{flow_text(r.protocol, r.ports)} from {t.src.name} to {t.dst.name}: {r.verdict.value}")
        if not r.decisions:
            lines.append("  no filtering layer on the path")
        for d in r.decisions:
            side = d.side.value
            lines.append(f"  [{side} {d.direction.value}] {layer_text(d.layer)} ({d.layer.source})")
            for rule, _ in d.admitted:
                lines.append(f"      allows: {rule.describe()}  ({rule.source})")
            if d.blocked:
                lines.append(f"      blocks: {d.reason()}")
            elif not d.admitted:
                lines.append("      passes")
        for check in t.required:
            why = check_reason(check)
            lines.append(
                f"  required: {check.requirement} {check.spec}: {check.verdict.value}"
                + (f" ({why})" if why else "")
            )
        lines.append("")
    return "\n".join(lines)


def check_reason(check: RequiredCheck) -> str:
    """Why a required flow has its verdict: the layers that refuse it, or the note."""
    if check.note:
        return check.note
    return "; ".join(
        f"{layer_text(d.layer)}: {d.reason(d.surely_blocked & check.missing)}" for d in check.blockers
    )


def flow_matrix(model: Model, catalogue: Catalogue) -> list[FlowCell]:
    """Every required flow (``require_flow`` policies whose conditions hold) and its verdict,
    from the same checks the require_flow rules of ``scan`` report."""
    ctx = Context(model, catalogue, EvalSettings())
    return [
        FlowCell(
            flow=check.spec,
            source=check.src.endpoint.name,
            destination=check.dst.endpoint.name,
            verdict=check.verdict.value,
            why=check_reason(check),
            requirement=check.requirement,
            rule_id=check.policy.id,
            source_text=check.src.text,
            destination_text=check.dst.text,
            reported_by=tuple(d.layer.id for d in check.reported),
        )
        for check in all_required_checks(ctx)
    ]


def graph_data(model: Model, catalogue: Catalogue) -> GraphData:
    facts = tuple(model.facts[name] for name in sorted(model.facts))
    return GraphData(model.node_groups, model.layers, facts, tuple(flow_matrix(model, catalogue)))
