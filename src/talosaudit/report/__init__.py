"""Reporters: pure functions of a Report (findings + rules that ran + run facts) to text.

The table below is the only place that maps a ``--format`` name to a reporter.
"""

from __future__ import annotations

from collections.abc import Callable

from talosaudit.report.base import Report
from talosaudit.report.github import render_github
from talosaudit.report.gitlab import render_gitlab
from talosaudit.report.html import render_html
from talosaudit.report.json_report import render_json
from talosaudit.report.junit import render_junit
from talosaudit.report.markdown import render_markdown
from talosaudit.report.sarif import render_sarif
from talosaudit.report.text import render_text

Renderer = Callable[[Report], str]

#: ``text`` is rendered without colour here; the CLI calls ``render_text(report, color=...)``.
FORMATS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
    "markdown": render_markdown,
    "junitxml": render_junit,
    "gitlab": render_gitlab,
    "html": render_html,
}

__all__ = ["FORMATS", "Renderer", "Report"]
