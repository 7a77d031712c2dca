"""``talosaudit graph``: node groups with their roles and why, their layers, and the
required-flow matrix. The matrix is computed by the caller (reporters never run
reachability); this module only renders it as text, Mermaid or Graphviz dot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from talosaudit.model import Fact, Layer, NodeGroup
from talosaudit.report.base import describe_fact
from talosaudit.report.safe import guard_lines, visible


@dataclass(frozen=True, slots=True)
class FlowCell:
    """One required flow between two endpoints and whether it gets through."""

    flow: str  # ``tcp/50001``
    source: str  # endpoint label: a node group name, ``admin``, ``internet``
    destination: str
    verdict: str  # ``allowed``, ``blocked``, ``partial``, ``unknown``
    why: str = ""  # e.g. the blocking layer
    requirement: str = ""  # the policy and its row of the port matrix (docs/ports.md), e.g. ``TA103 R3``
    rule_id: str = ""
    #: The ends as findings name them (``worker nodes``, ``the admin networks (…)``).
    source_text: str = ""
    destination_text: str = ""
    #: The blocking layers the rule's ``scan`` findings are located at (empty when it holds,
    #: is unknown, or only a platform rule such as TA401 reports the layer).
    reported_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphData:
    groups: tuple[NodeGroup, ...]
    layers: Mapping[str, Layer]
    facts: tuple[Fact, ...] = ()
    flows: tuple[FlowCell, ...] = ()


def _role(group: NodeGroup) -> str:
    return group.role.label if group.role is not None else "unknown role"


def render_graph_text(data: GraphData) -> str:
    out = ["Node groups"]
    if not data.groups:
        out.append("  (none found)")
    for g in data.groups:
        out.append(f"  {g.name} [{_role(g)}]  {g.source}")
        out.append(f"      role: {g.role_reason or 'not decided'}")
        if g.addresses:
            reason = f" ({g.address_reason})" if g.address_reason else ""
            out.append(f"      addresses: {g.addresses.describe()}{reason}")
        if g.segment:
            out.append(f"      segment: {g.segment}")
        for layer_id in g.layers:
            layer = data.layers.get(layer_id)
            kind = f"{layer.kind.value}, {len(layer.rules)} rules" if layer else "not found"
            out.append(f"      layer: {layer_id} ({kind})")
    if data.facts:
        out += ["", "Facts used"] + [f"  {describe_fact(f)}" for f in data.facts]
    if data.flows:
        out += ["", "Required flows"]
        width = max(len(c.flow) for c in data.flows)
        for c in data.flows:
            why = f"  ({c.why})" if c.why else ""
            out.append(f"  {c.flow:<{width}}  {c.source} -> {c.destination}: {c.verdict}{why}")
    # Each entry is one line: input text in it (names, reasons, paths) is made visible there.
    return guard_lines("\n".join(visible(line) for line in out)) + "\n"


def _node_id(name: str, ids: dict[str, str]) -> str:
    if name not in ids:
        ids[name] = f"n{len(ids)}"
    return ids[name]


def _quote(text: str) -> str:
    """A quoted dot label: one line, no quote from the input."""
    return visible(text).replace("\\", "\\\\").replace('"', "'")


def _mermaid_quote(text: str) -> str:
    """A quoted Mermaid label: as for dot, and no HTML from the input (Mermaid renders it)."""
    return _quote(text).replace("<", "#60;").replace(">", "#62;")


def render_graph_mermaid(data: GraphData) -> str:
    ids: dict[str, str] = {}
    out = ["flowchart LR"]
    for g in data.groups:
        out.append(f'  {_node_id(g.name, ids)}["{_mermaid_quote(g.name)}<br/>{_role(g)}"]')
    for c in data.flows:
        for endpoint in (c.source, c.destination):
            if endpoint not in ids:
                out.append(f'  {_node_id(endpoint, ids)}["{_mermaid_quote(endpoint)}"]')
        arrow = "-->" if c.verdict == "allowed" else "-.->"
        label = _mermaid_quote(f"{c.flow} {c.verdict}")
        out.append(f'  {ids[c.source]} {arrow}|"{label}"| {ids[c.destination]}')
    return "\n".join(out) + "\n"


_DOT_COLOR = {"allowed": "darkgreen", "blocked": "red", "partial": "orange", "unknown": "gray"}


def render_graph_dot(data: GraphData) -> str:
    ids: dict[str, str] = {}
    out = ["digraph talosaudit {", "  rankdir=LR;", "  node [shape=box];"]
    for g in data.groups:
        out.append(f'  {_node_id(g.name, ids)} [label="{_quote(g.name)}\\n{_role(g)}"];')
    for c in data.flows:
        for endpoint in (c.source, c.destination):
            if endpoint not in ids:
                out.append(f'  {_node_id(endpoint, ids)} [label="{_quote(endpoint)}", shape=ellipse];')
        color = _DOT_COLOR.get(c.verdict, "black")
        label = _quote(f"{c.flow} {c.verdict}")
        out.append(f'  {ids[c.source]} -> {ids[c.destination]} [label="{label}", color={color}];')
    out.append("}")
    return "\n".join(out) + "\n"


def render_graph_json(data: GraphData) -> str:
    """The graph for scripts (and for the test that holds ``graph`` to ``scan``)."""
    document = {
        "node_groups": [
            {
                "name": g.name,
                "role": g.role.value if g.role is not None else None,
                "role_reason": g.role_reason,
                "addresses": g.addresses.describe() if g.addresses else "",
                "layers": list(g.layers),
            }
            for g in data.groups
        ],
        "facts": [{"name": f.name, "value": f.value, "reason": f.reason} for f in data.facts],
        "flows": [
            {
                "flow": c.flow,
                "source": c.source,
                "destination": c.destination,
                "verdict": c.verdict,
                "why": c.why,
                "rule_id": c.rule_id,
                "requirement": c.requirement,
                "source_text": c.source_text,
                "destination_text": c.destination_text,
                "reported_by": list(c.reported_by),
            }
            for c in data.flows
        ],
    }
    return json.dumps(document, indent=2) + "\n"


GRAPH_FORMATS: dict[str, Callable[[GraphData], str]] = {
    "text": render_graph_text,
    "json": render_graph_json,
    "mermaid": render_graph_mermaid,
    "dot": render_graph_dot,
}
