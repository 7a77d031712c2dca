"""Reporters: pure functions of a Report (findings + rules that ran + run facts) to text.

The table below is the only place that maps a ``--format`` name to a reporter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from talosaudit.report.base import Report

Renderer = Callable[[Report], str]

#: ``format -> (module, function)``. ``text`` is rendered without colour through FORMATS; the
#: CLI calls ``render_text(report, color=...)``.
_RENDERERS: dict[str, tuple[str, str]] = {
    "text": ("talosaudit.report.text", "render_text"),
    "json": ("talosaudit.report.json_report", "render_json"),
    "sarif": ("talosaudit.report.sarif", "render_sarif"),
    "github": ("talosaudit.report.github", "render_github"),
    "markdown": ("talosaudit.report.markdown", "render_markdown"),
    "junitxml": ("talosaudit.report.junit", "render_junit"),
    "gitlab": ("talosaudit.report.gitlab", "render_gitlab"),
    "html": ("talosaudit.report.html", "render_html"),
}


class _Formats(Mapping[str, Renderer]):
    """The reporters by format name, each imported when it is first asked for: a scan that
    writes JSON does not load the SARIF object model, ElementTree or the HTML report."""

    def __getitem__(self, name: str) -> Renderer:
        module, function = _RENDERERS[name]
        renderer: Renderer = getattr(importlib.import_module(module), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(_RENDERERS)

    def __len__(self) -> int:
        return len(_RENDERERS)


FORMATS: Mapping[str, Renderer] = _Formats()

__all__ = ["FORMATS", "Renderer", "Report"]
