"""SARIF 2.1.0 for GitHub code scanning, built as plain dicts (see DESIGN.md "SARIF contract").

Every value GitHub reads is written explicitly (a result's ``level`` even when it equals
the rule default), because GitHub and the schema disagree on what is required.
Suppressed findings are included only when ``Report.show_suppressed`` is set: GitHub does
not honour SARIF ``suppressions`` and would open alerts for them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from talosaudit.findings import Finding
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Policy
from talosaudit.report.base import INFORMATION_URI, RULE_DOC_URI, TOOL_NAME, Report
from talosaudit.report.json_report import fact_record

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
#: GitHub reads security-severity as "0.1" to "10.0"; 0.0 would drop the rule from the
#: security view, so the lowest value written is 0.1.
MIN_SECURITY_SEVERITY = 0.1
MAX_TAGS = 20


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_document(report), indent=2) + "\n"


def sarif_document(report: Report) -> dict[str, Any]:
    results_of = list(report.findings) + (list(report.suppressed) if report.show_suppressed else [])
    rules = _rules(report, results_of)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "semanticVersion": report.version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {"id": report.category},
        "originalUriBaseIds": {SRCROOT: {"uri": _root_uri(report)}},
        "invocations": [_invocation(report)],
        "results": [_result(report, f, index[f.rule_id]) for f in results_of],
        "columnKind": "utf16CodeUnits",
    }
    if report.facts:
        # The facts the findings rest on (CNI, admin networks and where each came from), as
        # the text and JSON reports list them.
        run["properties"] = {"facts": [fact_record(f) for f in report.facts]}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _root_uri(report: Report) -> str:
    uri = report.root.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.notices:
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": notice}} for notice in report.notices
        ]
    return invocation


def _rules(report: Report, findings: list[Finding]) -> list[dict[str, Any]]:
    """Every policy that ran, plus any rule id a finding names that no policy file covers."""
    policies = sorted(report.policies, key=lambda p: p.id)
    rules = [_rule(p) for p in policies]
    known = {p.id for p in policies}
    for rule_id in sorted({f.rule_id for f in findings} - known):
        rules.append(_bare_rule(rule_id, next(f for f in findings if f.rule_id == rule_id)))
    return rules


def _rule(policy: Policy) -> dict[str, Any]:
    tags = list(dict.fromkeys(("security", *policy.tags)))[:MAX_TAGS]
    return {
        "id": policy.id,
        "name": policy.name,
        "shortDescription": {"text": policy.title},
        "fullDescription": {"text": policy.rationale.strip()},
        "help": {"text": _help_text(policy), "markdown": _help_markdown(policy)},
        "helpUri": RULE_DOC_URI.format(id=policy.id),
        "defaultConfiguration": {"level": policy.level.value},
        "properties": {
            "security-severity": f"{max(policy.security_severity, MIN_SECURITY_SEVERITY):.1f}",
            "tags": tags,
            "precision": str(policy.params.get("precision", "high")),
        },
    }


def _bare_rule(rule_id: str, example: Finding) -> dict[str, Any]:
    """A rule without a policy file (should not happen; keeps ruleIndex valid if it does)."""
    text = f"{rule_id}: see {RULE_DOC_URI.format(id=rule_id)}"
    return {
        "id": rule_id,
        "name": rule_id.lower(),
        "shortDescription": {"text": rule_id},
        "fullDescription": {"text": text},
        "help": {"text": text, "markdown": text},
        "helpUri": RULE_DOC_URI.format(id=rule_id),
        "defaultConfiguration": {"level": example.level.value},
        "properties": {"security-severity": "5.0", "tags": ["security"], "precision": "medium"},
    }


def _help_text(policy: Policy) -> str:
    parts = [policy.rationale.strip(), "Remediation:\n" + policy.remediation.strip()]
    if policy.references:
        parts.append("References:\n" + "\n".join(f"- {r}" for r in policy.references))
    return "\n\n".join(parts)


def _help_markdown(policy: Policy) -> str:
    parts = [
        f"**{policy.title}**",
        policy.rationale.strip(),
        "## Remediation\n\n" + policy.remediation.strip(),
    ]
    if policy.references:
        parts.append("## References\n\n" + "\n".join(f"- <{r}>" for r in policy.references))
    return "\n\n".join(parts)


def _physical(ref: SourceRef) -> dict[str, Any]:
    start = max(ref.start_line, 1)
    return {
        "artifactLocation": {"uri": quote(ref.path, safe="/"), "uriBaseId": SRCROOT},
        "region": {"startLine": start, "endLine": max(ref.end_line, start)},
    }


def _result(report: Report, f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": f.level.value,
        "message": {"text": f.message},
        "locations": [{"physicalLocation": _physical(f.location)}],
        "partialFingerprints": {"primaryLocationLineHash": f.fingerprint},
    }
    if f.related:
        result["relatedLocations"] = [
            {
                "id": i,
                "message": {"text": rel.resource or f"{rel.path}:{rel.start_line}"},
                "physicalLocation": _physical(rel),
            }
            for i, rel in enumerate(f.related, start=1)
        ]
    props = dict(f.properties)
    if f.location.resource:
        props.setdefault("resource", f.location.resource)
    if props:
        result["properties"] = props
    if f.suppressed is not None:
        result["suppressions"] = [
            {
                "kind": f.suppressed.kind.value,
                "status": "accepted",
                "justification": f.suppressed.justification,
            }
        ]
    return result
