"""What ``talosaudit graph`` and ``talosaudit why`` compute: the required-flow matrix and
the layer-by-layer trace of one flow. Rendering lives in ``report/graph.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from talosaudit.model import AddressSet, Model, NodeGroup, PortSet, Role
from talosaudit.model.ports import PORTED, parse_protocol
from talosaudit.policies.context import Context, EvalSettings, flow_text, layer_text
from talosaudit.policies.params import RequireFlowParams
from talosaudit.policies.registry import Catalogue
from talosaudit.reachability import (
    Endpoint,
    FlowResult,
    admin_endpoint,
    cidr_endpoint,
    internet_endpoint,
    query,
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


def endpoints(model: Model, text: str) -> list[Endpoint]:
    """A role (every node group of it), ``admin``, ``internet``, a node group name, or a CIDR."""
    ctx = Context(model, Catalogue(), EvalSettings())
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
    named = [g for g in model.node_groups if text in (g.name, g.id)]
    if named:
        return [ctx.endpoint(g) for g in named]
    try:
        return [cidr_endpoint(text, AddressSet.parse(text))]
    except ValueError as exc:
        raise ExplainError(
            f"{text!r} is not a role (control-plane, worker), admin, internet, a node group or a CIDR"
        ) from exc


@dataclass(frozen=True, slots=True)
class Trace:
    src: Endpoint
    dst: Endpoint
    result: FlowResult


def trace(model: Model, src: str, dst: str, flow: str) -> list[Trace]:
    protocol, ports = parse_flow(flow)
    out = []
    for s in endpoints(model, src):
        for d in endpoints(model, dst):
            out.append(Trace(s, d, query(model, s, d, protocol, ports)))
    return out


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
        lines.append("")
    return "\n".join(lines)


def flow_matrix(model: Model, catalogue: Catalogue) -> list[FlowCell]:
    """Every required flow (``require_flow`` policies whose conditions hold) and its verdict."""
    ctx = Context(model, catalogue, EvalSettings())
    cells: list[FlowCell] = []
    for policy in catalogue.policies:
        if policy.kind != "require_flow":
            continue
        params = ctx.params(policy, RequireFlowParams)
        if not ctx.holds(params.when, params.fact_defaults):
            continue
        for flow in params.flows:
            if not ctx.holds(flow.when, params.fact_defaults):
                continue
            protocol = parse_protocol(flow.protocol)
            ports = PortSet.parse(flow.ports) if protocol in PORTED else PortSet.all()
            for s in _side(ctx, model, flow.source):
                for d in _side(ctx, model, flow.to):
                    result = query(model, s, d, protocol, ports)
                    blocking = result.blocking_layer
                    why = f"{layer_text(blocking.layer)}: {blocking.reason()}" if blocking else ""
                    cells.append(
                        FlowCell(
                            flow=flow_text(protocol, ports),
                            source=s.name,
                            destination=d.name,
                            verdict=result.verdict.value,
                            why=why,
                            requirement=f"{policy.id} {flow.row}".strip(),
                        )
                    )
    return cells


def _side(ctx: Context, model: Model, role: str) -> list[Endpoint]:
    if role == "admin":
        return [admin_endpoint(model)] if model.admin else []
    if role == "internet":
        return [internet_endpoint(model)]
    if role == "anywhere":
        return [ctx.anywhere()]
    groups: list[NodeGroup] = ctx.groups(role)
    return [ctx.endpoint(g) for g in groups]


def graph_data(model: Model, catalogue: Catalogue) -> GraphData:
    facts = tuple(model.facts[name] for name in sorted(model.facts))
    return GraphData(model.node_groups, model.layers, facts, tuple(flow_matrix(model, catalogue)))
