"""JUnit XML for the test tabs of GitLab, Jenkins and Azure DevOps.

One ``testsuite`` per rule that ran, named ``<id> <name>``. A rule without findings is one
passing test case (the tab then shows which checks ran); each counted finding is a failing
test case named ``path:line: message`` whose ``failure`` carries the level as its type; each suppressed
finding is a skipped test case with the reason. Checked against the Jenkins xUnit plugin's
``junit-10.xsd`` in the tests. Whether the job fails is still the exit code's business.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from talosaudit.findings import Finding
from talosaudit.report.base import RULE_DOC_URI, TOOL_NAME, Report


def render_junit(report: Report) -> str:
    root = ET.Element("testsuites")
    counted = _by_rule(report.findings)
    suppressed = _by_rule(report.suppressed)
    rule_ids = sorted({p.id for p in report.policies} | set(counted) | set(suppressed))
    for rule_id in rule_ids:
        root.append(_suite(report, rule_id, counted.get(rule_id, []), suppressed.get(rule_id, [])))
    root.attrib.update(
        name=TOOL_NAME,
        tests=str(sum(int(s.get("tests", "0")) for s in root)),
        failures=str(len(report.findings)),
        errors="0",
        time=f"{report.duration:.3f}",
    )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _by_rule(findings: tuple[Finding, ...]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.rule_id, []).append(f)
    return grouped


def _suite(report: Report, rule_id: str, counted: list[Finding], suppressed: list[Finding]) -> ET.Element:
    name = f"{rule_id} {report.rule_name(rule_id)}"
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(max(len(counted) + len(suppressed), 1)),
        failures=str(len(counted)),
        errors="0",
        skipped=str(len(suppressed)),
    )
    classname = f"{TOOL_NAME}.{rule_id}"
    if not counted and not suppressed:
        policy = report.policy(rule_id)
        title = policy.title if policy else rule_id
        ET.SubElement(suite, "testcase", name=f"{title}: no findings", classname=classname)
    for f in counted:
        case = ET.SubElement(suite, "testcase", name=_case_name(f), classname=classname)
        failure = ET.SubElement(case, "failure", type=f.level.value, message=f.message)
        failure.text = _details(f)
    for f in suppressed:
        case = ET.SubElement(suite, "testcase", name=_case_name(f), classname=classname)
        reason = f.suppressed.justification if f.suppressed else ""
        ET.SubElement(case, "skipped", message=f"suppressed: {reason}")
    return suite


def _case_name(f: Finding) -> str:
    # The message makes the name unique: one resource line often has several findings.
    return f"{f.location.path}:{max(f.location.start_line, 1)}: {f.message}"


def _details(f: Finding) -> str:
    lines = [
        f"{f.rule_id} ({f.level.value}) at {f.location.path}:{max(f.location.start_line, 1)}",
        f.message,
    ]
    lines += [f"see {rel.path}:{max(rel.start_line, 1)} {rel.resource}".rstrip() for rel in f.related]
    lines.append(f"rule: {RULE_DOC_URI.format(id=f.rule_id)}")
    return "\n".join(lines)
