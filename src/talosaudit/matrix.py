"""The role-level picture ``graph`` draws: node groups merged as people see them, and the
matrix of required flows and forbidden exposures between roles, the admin networks and the
internet. Verdicts come from ``policies/required.py`` (the ones ``scan`` reports) and
exposures from ``policies/flows.exposures`` (the ones the forbid_flow rules report).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from talosaudit.model import Layer, Model, NodeGroup, PortSet
from talosaudit.model.ports import PORTED, flow_text
from talosaudit.policies.context import Context, layer_text
from talosaudit.policies.flows import exposures
from talosaudit.policies.required import RequiredCheck
from talosaudit.reachability import LayerDecision
from talosaudit.report.graph import ExposureMark, GroupView, MatrixEntry

#: Matrix keys of the ends a required flow names that are not node roles.
_END_KEYS = {"the admin networks": "admin", "the internet": "internet", "anywhere": "anywhere"}
#: Worst first: how several verdicts of one cell flow combine.
_VERDICT_ORDER = ("blocked", "partial", "unknown", "allowed")
_INDEX = re.compile(r"^(?P<stem>.*)\[(?P<index>\d+)\]$")


def end_key(check_end_name: str, role_label: str | None) -> str:
    """The matrix row/column of a flow end: its role, ``admin``, ``internet`` or ``anywhere``."""
    if role_label:
        return role_label
    return _END_KEYS.get(check_end_name, check_end_name)


def short_name(name: str) -> str:
    """A node group or segment name people recognise: a file's base name, a Terraform
    address without its module path (``aws_instance.control_plane``), else the name."""
    if "/" in name:
        return name.rstrip("/").rsplit("/", 1)[-1]
    parts = name.split(".")
    if parts[0] == "module" and len(parts) > 2:
        return ".".join(parts[-2:])
    return name


def compress_indexes(names: Iterable[str]) -> list[str]:
    """``private[0]``, ``private[1]``, ``private[2]`` -> ``private[0..2]`` (runs only)."""
    runs: dict[str, list[int]] = {}
    plain: list[str] = []
    for name in names:
        m = _INDEX.match(name)
        if m:
            runs.setdefault(m["stem"], []).append(int(m["index"]))
        elif name not in plain:
            plain.append(name)
    out = list(plain)
    for stem, found in runs.items():
        indexes = sorted(set(found))
        if indexes == list(range(indexes[0], indexes[-1] + 1)) and len(indexes) > 1:
            out.append(f"{stem}[{indexes[0]}..{indexes[-1]}]")
        else:
            out.append(f"{stem}[{','.join(map(str, indexes))}]")
    return out


def _group_layers(model: Model, group: NodeGroup) -> tuple[str, ...]:
    """The node's own layers and the segment/gateway layers standing on its segment."""
    on_segment = [
        layer_id
        for layer_id, layer in sorted(model.layers.items())
        if group.segment is not None and group.segment in layer.segments
    ]
    return (*group.layers, *on_segment)


def group_views(model: Model) -> list[GroupView]:
    """Node groups with the same role and the same layers, shown as one."""
    merged: dict[tuple[str, tuple[str, ...]], list[NodeGroup]] = {}
    for g in model.node_groups:
        role = g.role.label if g.role is not None else "unknown role"
        merged.setdefault((role, _group_layers(model, g)), []).append(g)
    views = []
    for (role, layers), groups in merged.items():
        hosts = compress_indexes(short_name(g.name.split("@")[0]) for g in groups)
        segments = compress_indexes(g.name.split("@")[1].rsplit(".", 1)[-1] for g in groups if "@" in g.name)
        count = sum(g.count or 1 for g in groups)
        label = f"{role} ×{count}" if count > 1 else role
        what = ", ".join(hosts)
        if segments:
            what += f" — {'subnets' if len(segments) > 1 or '..' in segments[0] else 'subnet'} " + ", ".join(
                segments
            )
        views.append(
            GroupView(
                label=label,
                role=role,
                resource=what,
                members=tuple(g.name for g in groups),
                layers=tuple(_layer_name(model.layers.get(i), i) for i in layers),
            )
        )
    return views


def _layer_name(layer: Layer | None, layer_id: str) -> str:
    return short_layer(layer) if layer is not None else f"{layer_id} (not found)"


def short_layer(layer: Layer) -> str:
    """``security group aws_security_group.worker``: the kind and a short name (the JSON and
    ``why`` keep the full id)."""
    return layer_text(layer).removesuffix(layer.id) + short_name(layer.id)


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for a cell's flow over its group pairs: all blocked is blocked, some
    blocked is partial, else the worst of unknown and allowed."""
    seen = set(verdicts)
    if seen == {"blocked"}:
        return "blocked"
    if seen & {"blocked", "partial"}:
        return "partial"
    return "unknown" if "unknown" in seen else "allowed"


def matrix_entries(checks: list[RequiredCheck], reasons: dict[int, tuple[str, ...]]) -> list[MatrixEntry]:
    """One entry per distinct (source, destination, flow): the verdicts of every group pair
    and requirement under it, combined; ``reasons`` maps ``id(check)`` to its why-lines."""
    grouped: dict[tuple[str, str, str], list[RequiredCheck]] = {}
    for c in checks:
        src = end_key(c.src.endpoint.name, c.src.role.label if c.src.role else None)
        dst = end_key(c.dst.endpoint.name, c.dst.role.label if c.dst.role else None)
        grouped.setdefault((src, dst, c.spec), []).append(c)
    out = []
    for (src, dst, spec), group in grouped.items():
        why: list[str] = []
        for c in group:
            why.extend(r for r in reasons.get(id(c), ()) if r not in why)
        out.append(
            MatrixEntry(
                source=src,
                destination=dst,
                flow=spec,
                verdict=combine(c.verdict.value for c in group),
                rule_ids=tuple(sorted({c.policy.id for c in group})),
                why=tuple(why),
                pairs=tuple((c.src.endpoint.name, c.dst.endpoint.name, c.verdict.value) for c in group),
            )
        )
    return out


def blocker_lines(check: RequiredCheck) -> tuple[str, ...]:
    """Per refusing (or unresolved) layer: what it is, where it is defined, and why."""
    if check.note:
        return (check.note,)
    if check.blockers:
        return tuple(
            f"{short_layer(d.layer)} at {d.layer.source}: {d.reason(d.surely_blocked & check.missing)}"
            for d in check.blockers
        )
    if check.verdict.value == "unknown":
        unsure = [d for d in check.decisions if d.blocked and not d.surely_blocked]
        return tuple(
            f"{short_layer(d.layer)} at {d.layer.source}: {unknown_reason(d, check)}" for d in unsure
        )
    return ()


def unresolved_values(decision: LayerDecision, protocol: int | None, ports: PortSet) -> list[str]:
    """The unresolved values of the rules of a layer that may or may not match the flow (the
    ones that make its verdict unknown): ``field = expression (why) at file:line``."""
    out: list[str] = []
    for rule in decision.layer.rules:
        if not rule.unresolved or rule.direction is not decision.direction:
            continue
        open_fields = {u.field for u in rule.unresolved}
        if (
            "protocol" not in open_fields
            and None not in (rule.protocol, protocol)
            and rule.protocol != protocol
        ):
            continue
        if (
            protocol in PORTED
            and rule.protocol in PORTED
            and "ports" not in open_fields
            and not (rule.ports & ports)
        ):
            continue
        for u in rule.unresolved:
            why = f" ({u.reason})" if u.reason else ""
            text = f"{u.field} = {u.expression}{why} at {rule.source}"
            if text not in out:
                out.append(text)
    return out


def unknown_reason(decision: LayerDecision, check: RequiredCheck) -> str:
    """Why a layer leaves a required flow unknown: the values it could not resolve, or the
    end whose addresses are not known."""
    values = unresolved_values(decision, check.protocol, check.ports)
    if values:
        return "not resolved: " + "; ".join(values)
    vague = [end.endpoint.name for end in (check.src, check.dst) if end.endpoint.approximate]
    if vague:
        return f"the addresses of {' and '.join(vague)} are not known"
    return "a value is not resolved"


def exposure_marks(ctx: Context) -> list[ExposureMark]:
    """The forbidden flows that get through, by (source, destination role), per rule."""
    marks: dict[tuple[str, str, str, str], ExposureMark] = {}
    admin = ctx.model.admin
    for policy in ctx.catalogue.policies:
        if policy.kind != "forbid_flow":
            continue
        for e in exposures(ctx, policy):
            dst = e.role.label if e.role is not None else "unknown role"
            sources = [g.replace(" nodes", "") for g in sorted(e.groups)]
            if e.via_internet:
                sources.append("internet")
            elif e.reached and admin and e.reached <= admin:
                sources.append("admin")
            elif e.reached:
                sources.append("other networks")
            flow = ", ".join(
                flow_text(proto, ports) for proto, ports in sorted(e.ports.items(), key=lambda kv: kv[0] or 0)
            )
            where = f"{short_layer(e.decision.layer)} rule at {e.rule.source}"
            for src in sources:
                key = (src, dst, flow, policy.id)
                marks.setdefault(key, ExposureMark(src, dst, flow, policy.id, where))
    return list(marks.values())
