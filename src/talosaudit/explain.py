"""What ``talosaudit graph`` and ``talosaudit why`` compute: the required-flow matrix and
the layer-by-layer trace of one flow. Rendering lives in ``report/graph.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from talosaudit.matrix import (
    blocker_lines,
    compress_indexes,
    exposure_marks,
    group_views,
    matrix_entries,
    short_layer,
    short_name,
    unresolved_values,
)
from talosaudit.model import AddressSet, Layer, Model, PortSet, Role
from talosaudit.model.intervals import IntervalSet
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
from talosaudit.report.safe import guard_lines, visible

ROLE_WORDS = {
    "control-plane": Role.CONTROL_PLANE,
    "controlplane": Role.CONTROL_PLANE,
    "cp": Role.CONTROL_PLANE,
    "worker": Role.WORKER,
    "workers": Role.WORKER,
}


#: Beyond this many CIDRs an address list stops being an answer one reads at a glance.
_READABLE_CIDRS = 4


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


def trace(
    model: Model,
    src: str,
    dst: str,
    flow: str,
    catalogue: Catalogue | None = None,
    *,
    ctx: Context | None = None,
) -> list[Trace]:
    """``ctx``: an evaluation of the same model and catalogue to reuse (its checks are memoised)."""
    protocol, ports = parse_flow(flow)
    ctx = ctx or Context(model, catalogue or Catalogue(), EvalSettings())
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


def _layer_name(layer: Layer, short: bool) -> str:
    """The full layer text (``why``), or its kind and short name (the HTML report's trace)."""
    return short_layer(layer) if short else layer_text(layer)


def _end_name(end: Endpoint, short: bool) -> str:
    """A path end: its full name (``why``), or, for a node group in the HTML report's trace,
    its role and short name (``worker aws_instance.worker@private[0]``); JSON keeps the full."""
    group = end.node_group
    if not short or group is None:
        return end.name
    host, _, segment = group.name.partition("@")
    name = short_name(host) + (f"@{short_name(segment).rsplit('.', 1)[-1]}" if segment else "")
    return f"{group.role.label} {name}" if group.role is not None else name


def _path_lines(t: Trace, short: bool = False) -> list[str]:
    """The layer-by-layer body of one path (without its header)."""
    r = t.result
    lines: list[str] = []
    if not r.decisions:
        lines.append("  no filtering layer on the path")
    for d in r.decisions:
        lines.append(
            f"  [{d.side.value} {d.direction.value}] {_layer_name(d.layer, short)} ({d.layer.source})"
        )
        for rule, _ in d.admitted:
            lines.append(f"      allows: {rule.describe()}  ({rule.source})")
        if d.blocked:
            lines.append(f"      blocks: {d.reason()}")
        if d.blocked and not d.surely_blocked:
            # What makes it unknown: the values of this layer's rules left unresolved.
            lines.extend(f"      unresolved: {v}" for v in unresolved_values(d, r.protocol, r.ports))
        elif not d.admitted:
            lines.append("      passes")
    for check in t.required:
        why = check_reason(check)
        lines.append(
            f"  required: {check.requirement} {check.spec}: {check.verdict.value}"
            + (f" ({why})" if why else "")
        )
    return lines


def _ends_text(traces: list[Trace]) -> tuple[str, str]:
    """The ends as the user named them: one name when every path shares it."""
    sources = sorted({t.src.name for t in traces})
    destinations = sorted({t.dst.name for t in traces})
    return (sources[0] if len(sources) == 1 else f"{len(sources)} sources"), (
        destinations[0] if len(destinations) == 1 else f"{len(destinations)} destinations"
    )


def _family_part(part: AddressSet, whole_family: IntervalSet, source: str, family: int) -> str:
    """The CIDRs of a blocked address family; when it is all of the source's addresses of
    that family and too many CIDRs to read (the internet's IPv6: ::/0 minus the private
    ranges), say so in words."""
    if len(part.cidrs()) > _READABLE_CIDRS and (part.v6 if family == 6 else part.v4) == whole_family:
        return f"all IPv{family} addresses of {source}"
    return part.describe(limit=_READABLE_CIDRS)


def blocked_part(t: Trace) -> str:
    """Which part of the traced source or port space is refused, in words: "the IPv6 part
    (::/0)", "sources 10.0.11.0/24", "ports 2380"; "" when all of it is."""
    r = t.result
    part = r.surely_blocked or (r.space - r.allowed)
    words = []
    sources = part.sources()
    if sources and sources != t.src.addresses:
        if not sources.v4 and t.src.addresses.v4:
            words.append(f"the IPv6 part ({_family_part(sources, t.src.addresses.v6, t.src.name, 6)})")
        elif not sources.v6 and t.src.addresses.v6:
            words.append(f"the IPv4 part ({_family_part(sources, t.src.addresses.v4, t.src.name, 4)})")
        else:
            words.append(f"sources {sources.describe()}")
    ports = part.ports()
    if r.protocol in PORTED and ports and ports != r.ports:
        words.append(f"ports {ports}")
    return " and ".join(words)


def _layers_of(traces: list[Trace], *, surely: bool, short: bool = False) -> str:
    seen: list[str] = []
    for t in traces:
        for d in t.result.decisions:
            hit = d.surely_blocked if surely else (d.blocked and not d.surely_blocked)
            text = f"{_layer_name(d.layer, short)} at {d.layer.source}"
            if hit and text not in seen:
                seen.append(text)
    return ", ".join(seen) if seen else "no single layer"


def summary_line(traces: list[Trace], ends: tuple[str, str] | None = None, short: bool = False) -> str:
    """The answer first: "tcp/50001 worker → control-plane: allowed on all 6 paths", or how
    many paths are blocked, partly blocked or unknown and by which layer."""
    if not traces:
        return "no path"
    r0 = traces[0].result
    src, dst = ends or _ends_text(traces)
    head = f"{flow_text(r0.protocol, r0.ports)} {src} → {dst}"
    n = len(traces)
    by_verdict: dict[str, list[Trace]] = {}
    for t in traces:
        by_verdict.setdefault(t.result.verdict.value, []).append(t)
    if set(by_verdict) == {"allowed"}:
        return f"{head}: allowed on {'the only path' if n == 1 else f'all {n} paths'}"
    parts = []
    if "blocked" in by_verdict:
        hit = by_verdict["blocked"]
        parts.append(f"blocked on {len(hit)} of {n} paths by {_layers_of(hit, surely=True, short=short)}")
    if "partial" in by_verdict:
        hit = by_verdict["partial"]
        which = sorted({blocked_part(t) for t in hit} - {""})
        what = f" ({'; '.join(which)} blocked)" if which else ""
        parts.append(
            f"partly blocked on {len(hit)} of {n} paths{what} by {_layers_of(hit, surely=True, short=short)}"
        )
    if "unknown" in by_verdict:
        hit = by_verdict["unknown"]
        unsure = _layers_of(hit, surely=False, short=short)
        parts.append(f"unknown on {len(hit)} of {n} paths (unresolved values in {unsure})")
    return f"{head}: " + "; ".join(parts)


def all_allowed(traces: list[Trace]) -> bool:
    return bool(traces) and all(t.result.verdict.value == "allowed" for t in traces)


def render_why(traces: list[Trace], ends: tuple[str, str] | None = None, *, short: bool = False) -> str:
    """The summary line (``ends``: the source and destination as the user named them), then
    each distinct path once (the other paths with the same layers and verdicts each on a
    ``same path for:`` line under it). ``short``: node groups by role and short name, layers
    by kind and short name (the HTML report, where the full names made each trace long)."""
    lines = [summary_line(traces, ends, short), ""]
    blocks: dict[tuple[str, ...], list[Trace]] = {}
    for t in traces:
        body = (t.result.verdict.value, *_path_lines(t, short))
        blocks.setdefault(body, []).append(t)
    for body, same in blocks.items():
        first = same[0]
        r = first.result
        src, dst = _end_name(first.src, short), _end_name(first.dst, short)
        lines.append(f"{flow_text(r.protocol, r.ports)} from {src} to {dst}: {body[0]}")
        if short and len(same) > 2:
            # One line for the others: their sources and destinations, index runs joined.
            others = same[1:]
            froms = ", ".join(compress_indexes(_end_name(t.src, short) for t in others))
            tos = ", ".join(compress_indexes(_end_name(t.dst, short) for t in others))
            lines.append(f"  same path for {len(others)} more pairs: {froms} → {tos}")
        else:
            lines.extend(
                f"  same path for: {_end_name(t.src, short)} → {_end_name(t.dst, short)}" for t in same[1:]
            )
        if r.verdict.value == "partial":
            part = blocked_part(first)
            if part:
                lines.append(f"  blocked part: {part}")
        lines.extend(body[1:])
        lines.append("")
    # Names, layer ids, file names and rule texts come from the inputs: each line is made
    # visible (no escape sequence, no line break of its own) and none passes for a workflow
    # command.
    return guard_lines("\n".join(visible(line) for line in lines))


def check_reason(check: RequiredCheck) -> str:
    """Why a required flow has its verdict: the layers that refuse it, or the note."""
    if check.note:
        return check.note
    return "; ".join(
        f"{layer_text(d.layer)}: {d.reason(d.surely_blocked & check.missing)}" for d in check.blockers
    )


def flow_matrix(model: Model, catalogue: Catalogue, ctx: Context | None = None) -> list[FlowCell]:
    """Every required flow (``require_flow`` policies whose conditions hold) and its verdict,
    from the same checks the require_flow rules of ``scan`` report."""
    ctx = ctx or Context(model, catalogue, EvalSettings())
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


def graph_data(model: Model, catalogue: Catalogue, *, with_traces: bool = False) -> GraphData:
    """Everything ``graph`` shows; ``with_traces`` adds each matrix cell's ``why`` trace
    (for the HTML report, where a cell opens it)."""
    ctx = Context(model, catalogue, EvalSettings())
    facts = tuple(model.facts[name] for name in sorted(model.facts))
    checks = all_required_checks(ctx)
    entries = matrix_entries(
        checks, {id(c): blocker_lines(c) for c in checks if c.verdict.value != "allowed"}
    )
    data = GraphData(
        model.node_groups,
        model.layers,
        facts,
        tuple(flow_matrix(model, catalogue, ctx)),
        views=tuple(group_views(model)),
        entries=tuple(entries),
        exposures=tuple(exposure_marks(ctx)),
    )
    if not with_traces:
        return data
    traces = {}
    for row in data.rows:
        for column in data.columns:
            cell, _ = data.cell(row, column)
            traces[(row, column)] = cell_trace(model, catalogue, row, column, [e.flow for e in cell], ctx=ctx)
    return replace(data, traces=traces)


def cell_trace(
    model: Model,
    catalogue: Catalogue,
    source: str,
    destination: str,
    flows: list[str],
    *,
    ctx: Context | None = None,
) -> str:
    """The ``why`` answer of each required flow of one matrix cell, one after another."""
    parts = []
    for flow in flows:
        try:
            parts.append(
                render_why(
                    trace(model, source, destination, flow, catalogue, ctx=ctx),
                    (source, destination),
                    short=True,
                )
            )
        except ExplainError as exc:
            parts.append(f"{flow}: {exc}\n")
    return "\n".join(parts) if parts else "no required flow here\n"
