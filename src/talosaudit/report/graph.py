"""``talosaudit graph``: node groups with their roles and why, their layers, and the
required-flow matrix. The matrix is computed by the caller (reporters never run
reachability); this module only renders it as text, Mermaid or Graphviz dot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from talosaudit.report.picture import ExposureMark, FlowCell, GraphData, GroupView, MatrixEntry, ordered
from talosaudit.report.safe import guard_lines, visible

SYMBOLS = {"allowed": "✓", "blocked": "✗", "partial": "✗", "unknown": "?"}
EXPOSED = "⚠"
WIDTH = 120
CORNER = "from \\ to"


def port_token(entry: MatrixEntry) -> str:
    """``6443✓``, ``udp/6081✓``, ``icmp?``: tcp ports bare, the rest with their protocol."""
    flow = entry.flow[4:] if entry.flow.startswith("tcp/") else entry.flow
    return f"{flow}{SYMBOLS.get(entry.verdict, '?')}"


def exposure_token(mark: ExposureMark) -> str:
    flow = mark.flow.replace("tcp/", "")
    return f"{EXPOSED}{flow} {mark.rule_id}"


def _fit(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(tokens: list[str], width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = f"{current} {token}" if current else token
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = token
    if current:
        lines.append(current)
    return [_fit(line, width) for line in lines] or [""]


def matrix_lines(data: GraphData) -> list[str]:
    """The matrix as text: one block of lines per source row, cells wrapped to their column."""
    rows, columns = data.rows, data.columns
    if not rows:
        return ["  (no required flow applies)"]
    head = max(len(CORNER), *(len(r) for r in rows))
    cell_width = max(12, (WIDTH - head - 2 - 3 * len(columns)) // max(1, len(columns)))
    bar = "─" * (head + 1) + "".join("┼" + "─" * (cell_width + 2) for _ in columns)
    out = [f"{CORNER:<{head}} " + "".join(f"│ {c:<{cell_width}} " for c in columns).rstrip(), bar]
    for row in rows:
        blocks = []
        for column in columns:
            entries, marks = data.cell(row, column)
            tokens = [port_token(e) for e in entries] + [exposure_token(m) for m in marks]
            blocks.append(_wrap(tokens, cell_width) if tokens else ["·"])
        for i in range(max(len(b) for b in blocks)):
            label = row if i == 0 else ""
            cells = "".join(f"│ {(b[i] if i < len(b) else ''):<{cell_width}} " for b in blocks)
            out.append(f"{label:<{head}} {cells}".rstrip())
    return out


def note_texts(data: GraphData) -> list[str]:
    """One note per ✗ or ? flow (and per forbidden exposure): the layer and where it is;
    unwrapped, for reports that wrap by themselves (markdown, HTML)."""
    out = []
    for e in data.entries:
        if e.verdict == "allowed":
            continue
        rules = "/".join(e.rule_ids)
        head = f"{SYMBOLS[e.verdict]} {e.flow} {e.source} → {e.destination} {e.verdict} ({rules})"
        out += [f"{head}: {why}" for why in e.why or ("no layer named",)]
    out += [
        f"{EXPOSED} {m.flow} {m.source} → {m.destination} exposed ({m.rule_id}): {m.where}"
        for m in data.exposures
    ]
    return out


def note_lines(data: GraphData) -> list[str]:
    """The notes for a terminal: each over ``WIDTH`` continued on an indented second line."""
    return [line for text in note_texts(data) for line in _wrap_words(text)]


def _wrap_words(text: str) -> list[str]:
    """A note over ``WIDTH``: continued on indented lines, cut at spaces where there are."""
    lines: list[str] = []
    while len(text) > WIDTH:
        cut = text.rfind(" ", 0, WIDTH)
        cut = cut if cut > WIDTH // 2 else WIDTH
        lines.append(text[:cut])
        text = "    " + text[cut:].lstrip()
    return [*lines, text]


def render_graph_text(data: GraphData, color: bool = False) -> str:
    out = ["Node groups"]
    if not data.views:
        out.append("  (none found)")
    label_width = max((len(v.label) for v in data.views), default=0)
    for v in data.views:
        out.append(_fit(f"  {v.label:<{label_width}}  {v.resource}"))
        if v.layers:
            out.append(_fit(f"  {'':<{label_width}}  behind {'; '.join(v.layers)}"))
    if data.facts:
        out += _wrap(["Facts used:", *(f"{f.name}={f.value}" for f in data.facts)], WIDTH)
    out += [
        "",
        f"Required flows (✓ allowed, ✗ blocked, ? unknown; {EXPOSED} forbidden exposure that holds)",
        *matrix_lines(data),
    ]
    notes = note_lines(data)
    if notes:
        out += ["", *notes]
    # Each entry is one line: input text in it (names, reasons, paths) is made visible there.
    text = guard_lines("\n".join(visible(line) for line in out)) + "\n"
    return colorize(text) if color else text


_COLORS = {"✓": "32", "✗": "31", "?": "33", EXPOSED: "35"}


def colorize(text: str) -> str:
    """The verdict marks in colour (for a terminal)."""
    for mark, code in _COLORS.items():
        text = text.replace(mark, f"\x1b[{code}m{mark}\x1b[0m")
    return text


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


@dataclass(frozen=True, slots=True)
class Edge:
    """One drawn edge of the role-level picture: a matrix cell."""

    source: str
    destination: str
    label: str
    failing: bool  # some required flow is blocked, partial or unknown, or an exposure holds


def edges(data: GraphData) -> list[Edge]:
    out = []
    for row in data.rows:
        for column in data.columns:
            entries, marks = data.cell(row, column)
            if not entries and not marks:
                continue
            tokens = [port_token(e) for e in entries] + [exposure_token(m) for m in marks]
            failing = bool(marks) or any(e.verdict != "allowed" for e in entries)
            out.append(Edge(row, column, " ".join(tokens), failing))
    return out


def _end_label(data: GraphData, end: str) -> str:
    """A role's node: its merged groups (``control-plane ×3``); other ends as named."""
    labels = [v.label for v in data.views if v.role == end]
    return " + ".join(labels) if labels else end


def render_graph_mermaid(data: GraphData) -> str:
    return "\n".join(["flowchart LR", *_mermaid_body(data, "", 0)[0]]) + "\n"


def _mermaid_body(data: GraphData, prefix: str, first_edge: int) -> tuple[list[str], int]:
    """The nodes and edges of one matrix (ids prefixed per root section); ``first_edge`` is
    the index Mermaid gives the first edge here (``linkStyle`` counts over the whole chart)."""
    ids: dict[str, str] = {}
    out: list[str] = []
    drawn = edges(data)
    for end in ordered({e.source for e in drawn} | {e.destination for e in drawn}):
        out.append(f'  {prefix}{_node_id(end, ids)}["{_mermaid_quote(_end_label(data, end))}"]')
    red = []
    for i, e in enumerate(drawn):
        arrow = "-.->" if e.failing else "-->"
        out.append(
            f'  {prefix}{ids[e.source]} {arrow}|"{_mermaid_quote(e.label)}"| {prefix}{ids[e.destination]}'
        )
        if e.failing:
            red.append(str(first_edge + i))
    if red:
        out.append(f"  linkStyle {','.join(red)} stroke:red,color:red")
    return out, first_edge + len(drawn)


def render_graph_dot(data: GraphData) -> str:
    out = ["digraph talosaudit {", "  rankdir=LR;", "  node [shape=box];", *_dot_body(data, ""), "}"]
    return "\n".join(out) + "\n"


def _dot_body(data: GraphData, prefix: str) -> list[str]:
    ids: dict[str, str] = {}
    out: list[str] = []
    drawn = edges(data)
    for end in ordered({e.source for e in drawn} | {e.destination for e in drawn}):
        shape = "box" if any(v.role == end for v in data.views) else "ellipse"
        out.append(
            f'  {prefix}{_node_id(end, ids)} [label="{_quote(_end_label(data, end))}", shape={shape}];'
        )
    for e in drawn:
        style = "color=red, fontcolor=red, style=dashed" if e.failing else "color=darkgreen"
        out.append(
            f'  {prefix}{ids[e.source]} -> {prefix}{ids[e.destination]} [label="{_quote(e.label)}", {style}];'
        )
    return out


def render_rooted_graph(fmt: str, sections: Sequence[tuple[str, GraphData]], color: bool = False) -> str:
    """The graphs of several Terraform root modules, one section per root: text headings, a
    JSON list under ``roots``, a Mermaid subgraph or a dot cluster per root."""
    if fmt == "text":
        return "\n".join(
            f"== root {visible(root)} ==\n{render_graph_text(data, color=color)}" for root, data in sections
        )
    if fmt == "json":
        roots = [{"root": root, **json.loads(render_graph_json(data))} for root, data in sections]
        return json.dumps({"roots": roots}, indent=2) + "\n"
    if fmt == "mermaid":
        out = ["flowchart LR"]
        edge = 0
        for i, (root, data) in enumerate(sections):
            body, edge = _mermaid_body(data, f"r{i}", edge)
            out += [f'  subgraph r{i}["root {_mermaid_quote(root)}"]', *body, "  end"]
        return "\n".join(out) + "\n"
    out = ["digraph talosaudit {", "  rankdir=LR;", "  node [shape=box];"]
    for i, (root, data) in enumerate(sections):
        out += [
            f"  subgraph cluster_r{i} {{",
            f'  label="root {_quote(root)}";',
            *_dot_body(data, f"r{i}"),
            "  }",
        ]
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
        "groups": [
            {
                "label": v.label,
                "role": v.role,
                "resource": v.resource,
                "members": list(v.members),
                "layers": list(v.layers),
            }
            for v in data.views
        ],
        "facts": [{"name": f.name, "value": f.value, "reason": f.reason} for f in data.facts],
        "matrix": [
            {
                "source": e.source,
                "destination": e.destination,
                "flow": e.flow,
                "verdict": e.verdict,
                "rule_ids": list(e.rule_ids),
                "why": list(e.why),
                "pairs": [list(p) for p in e.pairs],
            }
            for e in data.entries
        ],
        "exposures": [
            {
                "source": x.source,
                "destination": x.destination,
                "flow": x.flow,
                "rule_id": x.rule_id,
                "where": x.where,
            }
            for x in data.exposures
        ],
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


__all__ = ["GRAPH_FORMATS", "ExposureMark", "FlowCell", "GraphData", "GroupView", "MatrixEntry"]
