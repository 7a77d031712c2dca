"""GitLab's code quality report (``artifacts:reports:codequality``): a JSON array of issues.

Fields as GitLab documents them ("Code Quality report format": ``description``,
``check_name``, ``fingerprint``, ``severity``, ``location.path``, ``location.lines.begin``);
the tests validate against a JSON schema written from that description. Only counted
findings are reported: GitLab has no notion of a suppressed issue.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.report.base import Report

#: GitLab's severities are info, minor, major, critical and blocker; ours are three.
SEVERITY = {Level.ERROR: "critical", Level.WARNING: "major", Level.NOTE: "info"}


def render_gitlab(report: Report) -> str:
    return json.dumps(gitlab_issues(report), indent=2) + "\n"


def gitlab_issues(report: Report) -> list[dict[str, Any]]:
    issues = []
    seen: set[str] = set()
    for f in report.findings:
        issues.append(_issue(report, f, _unique(f.fingerprint, seen)))
    return issues


def _unique(fingerprint: str, seen: set[str]) -> str:
    """GitLab matches issues between branches by fingerprint, so each must be unique in a report;
    two findings with one fingerprint (not expected) get the second a derived one."""
    candidate = fingerprint
    n = 1
    while candidate in seen:
        n += 1
        candidate = hashlib.sha256(f"{fingerprint}:{n}".encode()).hexdigest()[:32]
    seen.add(candidate)
    return candidate


def _issue(report: Report, f: Finding, fingerprint: str) -> dict[str, Any]:
    begin = max(f.location.start_line, 1)
    return {
        "type": "issue",
        "check_name": f"{f.rule_id} {report.rule_name(f.rule_id)}",
        "description": f"{f.rule_id}: {f.message}",
        "categories": ["Security"],
        "severity": SEVERITY[f.level],
        "fingerprint": fingerprint,
        "location": {
            "path": f.location.path,
            "lines": {"begin": begin, "end": max(f.location.end_line, begin)},
        },
    }
