"""A markdown report (pull-request comments, ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from talosaudit.findings import Finding
from talosaudit.report.base import RULE_DOC_URI, Report, describe_fact
from talosaudit.report.graph import note_texts, render_graph_mermaid
from talosaudit.report.safe import guard_lines, md_cell, md_code

_ICON = {"error": "🔴 error", "warning": "🟠 warning", "note": "🔵 note"}


def cell(text: str) -> str:
    """Table-cell safe (see ``safe.md_cell``): one line, pipes, backticks, brackets, HTML escaped."""
    return md_cell(text)


def _row(report: Report, f: Finding, with_reason: bool = False) -> str:
    rule_id = md_cell(f.rule_id)
    rule = f"[{rule_id}]({RULE_DOC_URI.format(id=rule_id)}) {md_cell(report.rule_name(f.rule_id))}"
    loc = md_code(f"{f.location.path}:{f.location.start_line}")
    cells = [_ICON[f.level.value], rule, loc, cell(f.message)]
    if with_reason and f.suppressed is not None:
        cells.append(cell(f.suppressed.justification))
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: Report) -> str:
    out = ["# talosaudit report", "", f"**{report.summary_line()}**"]
    extra = report.extra_line()
    if extra:
        out.append(f"\n_{extra}; not counted._")
    out.append("")
    if report.findings:
        out += ["| Level | Rule | Location | Message |", "|---|---|---|---|"]
        out += [_row(report, f) for f in report.findings]
    else:
        out.append("No findings.")
    out.append("")
    if report.suppressed:
        out += [
            "<details><summary>Suppressed findings</summary>",
            "",
            "| Level | Rule | Location | Message | Reason |",
            "|---|---|---|---|---|",
        ]
        out += [_row(report, f, with_reason=True) for f in report.suppressed]
        out += ["", "</details>", ""]
    for root, graph in report.graphs:
        if not graph.rows:
            continue
        out += [f"## Reachability (root {cell(root)})" if root else "## Reachability", ""]
        out += ["```mermaid", render_graph_mermaid(graph).rstrip(), "```", ""]
        out += [f"- {cell(n)}" for n in note_texts(graph)]
        out.append("")
    for root, facts in report.fact_sections():
        out += [f"## Facts used (root {cell(root)})" if root else "## Facts used", ""]
        out += [f"- {cell(describe_fact(fact))}" for fact in facts]
        out.append("")
    if report.notices:
        out += ["## Notices", ""]
        out += [f"- {cell(n)}" for n in report.notices]
        out.append("")
    return guard_lines("\n".join(out))
