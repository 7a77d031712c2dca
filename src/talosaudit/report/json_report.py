"""The JSON report: a stable, versioned schema documented in docs/output-formats.md."""

from __future__ import annotations

import json
from typing import Any

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model import Fact
from talosaudit.model.source import SourceRef
from talosaudit.report.base import INFORMATION_URI, ORIGIN_NAMES, TOOL_NAME, Report

SCHEMA_VERSION = 1


def render_json(report: Report) -> str:
    return json.dumps(json_document(report), indent=2, sort_keys=False) + "\n"


def json_document(report: Report) -> dict[str, Any]:
    counts = report.counts()
    findings = list(report.findings) + list(report.suppressed)
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": report.version, "information_uri": INFORMATION_URI},
        "summary": {
            "errors": counts[Level.ERROR],
            "warnings": counts[Level.WARNING],
            "notes": counts[Level.NOTE],
            "suppressed": len(report.suppressed),
            "baseline_matched": report.baseline_dropped,
            "files": len(report.files),
            "policies": len(report.policies),
            "duration_seconds": round(report.duration, 3),
            "root": str(report.root),
        },
        "files": list(report.files),
        "policies": [p.id for p in report.policies],
        "facts": [
            {**({"root": root} if root else {}), **fact_record(fact)}
            for root, facts in report.fact_sections()
            for fact in facts
        ],
        "notices": list(report.notices),
        "findings": [_finding(report, f) for f in findings],
    }


def fact_record(fact: Fact) -> dict[str, Any]:
    """A fact as JSON (also the SARIF run's ``properties.facts``)."""
    return {
        "name": fact.name,
        "value": fact.value,
        "reason": fact.reason,
        "origin": ORIGIN_NAMES.get(fact.origin, fact.origin.name),
        "source": _location(fact.source) if fact.source else None,
    }


def _location(ref: SourceRef) -> dict[str, Any]:
    return {
        "path": ref.path,
        "start_line": ref.start_line,
        "end_line": ref.end_line,
        "resource": ref.resource,
    }


def _finding(report: Report, f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "name": report.rule_name(f.rule_id),
        "level": f.level.value,
        "message": f.message,
        "location": _location(f.location),
        "related": [_location(r) for r in f.related],
        "fingerprint": f.fingerprint,
        "properties": dict(f.properties),
        "suppressed": None
        if f.suppressed is None
        else {
            "reason": f.suppressed.justification,
            "kind": f.suppressed.kind.value,
            "where": f.suppressed.where,
        },
    }
