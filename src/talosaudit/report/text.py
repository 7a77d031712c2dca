"""The terminal report: findings grouped by level, the facts used, one summary line."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from talosaudit.findings import NOTHING_TO_CHECK, Finding
from talosaudit.levels import Level
from talosaudit.report.base import Report, describe_fact
from talosaudit.report.safe import guard_lines, visible

_STYLE = {Level.ERROR: "bold red", Level.WARNING: "yellow", Level.NOTE: "cyan"}
_ORDER = (Level.ERROR, Level.WARNING, Level.NOTE)


def render_text(report: Report, *, color: bool = False, width: int = 100) -> str:
    """Plain text unless ``color``: no ANSI codes reach a file, a pipe or NO_COLOR users.

    Every input-derived string goes through ``visible()`` (no escape sequence, no line break of
    its own) and no line may pass for a GitHub workflow command (``guard_lines()``)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        width=width,
        highlight=False,
        soft_wrap=True,
    )
    for level in _ORDER:
        group = [f for f in report.findings if f.level is level]
        if group:
            console.print(Text(f"{level.value.upper()} ({len(group)})", style=_STYLE[level]))
            for f in group:
                _print_finding(console, report, f)
            console.print()
    if report.show_suppressed and report.suppressed:
        console.print(Text(f"SUPPRESSED ({len(report.suppressed)})", style="dim"))
        for f in report.suppressed:
            _print_finding(console, report, f)
        console.print()
    for root, facts in report.fact_sections():
        title = f"Facts used (root {visible(root)})" if root else "Facts used"
        console.print(Text(title, style="bold"))
        for fact in facts:
            console.print(f"  {escape(visible(describe_fact(fact)))}")
        console.print()
    for notice in report.notices:
        if notice.startswith(NOTHING_TO_CHECK):
            console.print(Text(f"WARNING: {visible(notice)}", style="bold yellow"))
        else:
            console.print(Text(f"notice: {visible(notice)}", style="magenta"))
    console.print(Text(report.summary_line(), style="bold"))
    extra = report.extra_line()
    if extra:
        console.print(f"({escape(extra)}; not counted)")
    return guard_lines(buf.getvalue())


def _print_finding(console: Console, report: Report, f: Finding) -> None:
    line = Text("  ")
    line.append(f.rule_id, style="bold")
    line.append(f" {visible(report.rule_name(f.rule_id))} ")
    line.append(f.level.value, style=_STYLE[f.level])
    line.append(f"  {visible(f.location.path)}:{f.location.start_line}", style="underline")
    console.print(line)
    console.print(Text(f"      {visible(f.message)}"))
    for rel in f.related:
        what = f" ({visible(rel.resource)})" if rel.resource else ""
        console.print(Text(f"      see {visible(rel.path)}:{rel.start_line}{what}", style="dim"))
    if f.suppressed is not None:
        where = visible(f.suppressed.where or f.suppressed.kind)
        console.print(Text(f"      suppressed ({where}): {visible(f.suppressed.justification)}"))
