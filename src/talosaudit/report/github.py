"""GitHub Actions workflow commands: one annotation per finding (no GHAS needed).

GitHub shows at most 10 annotations per level per step, so findings come most severe first
and the CLI also writes the full list as markdown to ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.report.base import Report
from talosaudit.report.safe import guard_lines, visible

_COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def escape_data(text: str) -> str:
    """actions/toolkit ``escapeData``, after every control character but CR/LF is made visible
    (the runner log is a terminal too); CR/LF become ``%0D``/``%0A``, which the runner reads as
    data, never as a new command line."""
    return visible(text, keep="\r\n").replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """actions/toolkit ``escapeProperty``: data escaping plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(report: Report, f: Finding) -> str:
    loc = f.location
    start = max(loc.start_line, 1)
    props = ",".join(
        [
            f"file={escape_property(loc.path)}",
            f"line={start}",
            f"endLine={max(loc.end_line, start)}",
            f"title={escape_property(f'{f.rule_id} {report.rule_name(f.rule_id)}')}",
        ]
    )
    return f"::{_COMMAND[f.level]} {props}::{escape_data(f.message)}"


def render_github(report: Report) -> str:
    own = [annotation(report, f) for f in report.findings]
    lines = [*own, escape_data(report.summary_line())]
    return guard_lines("\n".join(lines), own=set(own)) + "\n"
