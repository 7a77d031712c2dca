"""SARIF 2.1.0 for GitHub code scanning, built from sarif-om's object model (see DESIGN.md
"SARIF contract").

The objects are sarif-om's classes; the JSON comes from ``sarif_json`` below, not from the
stock ``jschema_to_python`` serializer, which drops every value equal to its schema default
(an explicit ``level: warning`` disappears, and GitHub then reads the rule default instead).
Here every value passed to a constructor is written, in the order it was passed, and nothing
else. Suppressed findings are included only when ``Report.show_suppressed`` is set: GitHub
does not honour SARIF ``suppressions`` and would open alerts for them. ``automationDetails``
is written only when the user gave a category: code scanning's upload applies its own
``category`` only when the field is absent.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import quote

import attr
import sarif_om as om

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
#: Where ``build`` records which fields were given explicitly (attrs classes without slots).
_EXPLICIT = "_talosaudit_explicit"

T = TypeVar("T")


def build(cls: type[T], **fields: Any) -> T:
    """``cls(**fields)``, remembering which fields were given and in which order.

    sarif-om was generated from a 2.1.0 release candidate; a property the final schema added
    (``suppression.status``) is not a field of its class, so it is kept beside the object
    under its JSON name and written in its place.
    """
    known = {f.name for f in attr.fields(cls)}  # type: ignore[arg-type]
    obj = cls(**{name: value for name, value in fields.items() if name in known})
    setattr(obj, _EXPLICIT, tuple(fields.items()))
    return obj


def sarif_json(value: Any) -> Any:
    """JSON data of a sarif-om object tree: explicit fields only, defaults never dropped."""
    if attr.has(type(value)):
        names = {f.name: f.metadata["schema_property_name"] for f in attr.fields(type(value))}
        explicit: tuple[tuple[str, Any], ...] = getattr(value, _EXPLICIT, ())
        return {
            names.get(name, name): sarif_json(getattr(value, name) if name in names else extra)
            for name, extra in explicit
        }
    if isinstance(value, dict):
        return {key: sarif_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sarif_json(item) for item in value]
    return value


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_document(report), indent=2) + "\n"


def sarif_document(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = sarif_json(sarif_log(report))
    return document


def sarif_log(report: Report) -> om.SarifLog:
    results_of = list(report.findings) + (list(report.suppressed) if report.show_suppressed else [])
    rules = _rules(report, results_of)
    index = {rule.id: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": build(
            om.Tool,
            driver=build(
                om.ToolComponent,
                name=TOOL_NAME,
                semantic_version=report.version,
                information_uri=INFORMATION_URI,
                rules=rules,
            ),
        )
    }
    if report.category:
        run["automation_details"] = build(om.RunAutomationDetails, id=report.category)
    run |= {
        "original_uri_base_ids": {SRCROOT: build(om.ArtifactLocation, uri=_root_uri(report))},
        "invocations": [_invocation(report)],
        "results": [_result(report, f, index[f.rule_id]) for f in results_of],
        "column_kind": "utf16CodeUnits",
    }
    if report.facts:
        # The facts the findings rest on (CNI, admin networks and where each came from), as
        # the text and JSON reports list them.
        run["properties"] = {"facts": [fact_record(f) for f in report.facts]}
    return build(om.SarifLog, schema_uri=SCHEMA_URI, version="2.1.0", runs=[build(om.Run, **run)])


def _root_uri(report: Report) -> str:
    uri = report.root.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _text(text: str) -> om.Message:
    return build(om.Message, text=text)


def _invocation(report: Report) -> om.Invocation:
    if not report.notices:
        return build(om.Invocation, execution_successful=True)
    notifications = [
        build(om.Notification, level="warning", message=_text(notice)) for notice in report.notices
    ]
    return build(om.Invocation, execution_successful=True, tool_execution_notifications=notifications)


def _rules(report: Report, findings: list[Finding]) -> list[om.ReportingDescriptor]:
    """Every policy that ran, plus any rule id a finding names that no policy file covers."""
    policies = sorted(report.policies, key=lambda p: p.id)
    rules = [_rule(p) for p in policies]
    known = {p.id for p in policies}
    for rule_id in sorted({f.rule_id for f in findings} - known):
        rules.append(_bare_rule(rule_id, next(f for f in findings if f.rule_id == rule_id)))
    return rules


def _rule(policy: Policy) -> om.ReportingDescriptor:
    tags = list(dict.fromkeys(("security", *policy.tags)))[:MAX_TAGS]
    return build(
        om.ReportingDescriptor,
        id=policy.id,
        name=policy.name,
        short_description=build(om.MultiformatMessageString, text=policy.title),
        full_description=build(om.MultiformatMessageString, text=policy.rationale.strip()),
        help=build(om.MultiformatMessageString, text=_help_text(policy), markdown=_help_markdown(policy)),
        help_uri=RULE_DOC_URI.format(id=policy.id),
        default_configuration=build(om.ReportingConfiguration, level=policy.level.value),
        properties={
            "security-severity": f"{max(policy.security_severity, MIN_SECURITY_SEVERITY):.1f}",
            "tags": tags,
            "precision": "high",  # every rule reports what reachability proved
        },
    )


def _bare_rule(rule_id: str, example: Finding) -> om.ReportingDescriptor:
    """A rule without a policy file (should not happen; keeps ruleIndex valid if it does)."""
    text = f"{rule_id}: see {RULE_DOC_URI.format(id=rule_id)}"
    return build(
        om.ReportingDescriptor,
        id=rule_id,
        name=rule_id.lower(),
        short_description=build(om.MultiformatMessageString, text=rule_id),
        full_description=build(om.MultiformatMessageString, text=text),
        help=build(om.MultiformatMessageString, text=text, markdown=text),
        help_uri=RULE_DOC_URI.format(id=rule_id),
        default_configuration=build(om.ReportingConfiguration, level=example.level.value),
        properties={"security-severity": "5.0", "tags": ["security"], "precision": "medium"},
    )


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


def _physical(ref: SourceRef) -> om.PhysicalLocation:
    start = max(ref.start_line, 1)
    return build(
        om.PhysicalLocation,
        artifact_location=build(
            om.ArtifactLocation, uri=quote(ref.path, safe="/", errors="surrogateescape"), uri_base_id=SRCROOT
        ),
        region=build(om.Region, start_line=start, end_line=max(ref.end_line, start)),
    )


def _result(report: Report, f: Finding, rule_index: int) -> om.Result:
    # GitHub needs the level even when it equals the rule's default or SARIF's ("warning").
    fields: dict[str, Any] = {
        "rule_id": f.rule_id,
        "rule_index": rule_index,
        "level": f.level.value,
        "message": _text(f.message),
        "locations": [build(om.Location, physical_location=_physical(f.location))],
        "partial_fingerprints": {"primaryLocationLineHash": f.fingerprint},
    }
    if f.related:
        fields["related_locations"] = [
            build(
                om.Location,
                id=i,
                message=_text(rel.resource or f"{rel.path}:{rel.start_line}"),
                physical_location=_physical(rel),
            )
            for i, rel in enumerate(f.related, start=1)
        ]
    props = dict(f.properties)
    if f.location.resource:
        props.setdefault("resource", f.location.resource)
    if props:
        fields["properties"] = props
    if f.suppressed is not None:
        fields["suppressions"] = [
            build(
                om.Suppression,
                kind=f.suppressed.kind.value,
                status="accepted",
                justification=f.suppressed.justification,
            )
        ]
    return build(om.Result, **fields)
