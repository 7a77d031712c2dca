"""JUnit XML and GitLab code quality reports, validated against what their consumers publish:
the Jenkins xUnit plugin's junit-10.xsd and GitLab's code quality report format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import xmlschema
from defusedxml import ElementTree as SafeET

from talosaudit.findings import Finding, Suppression, SuppressionKind
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level, Policy
from talosaudit.report import FORMATS
from talosaudit.report.base import Report

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
JUNIT_XSD = xmlschema.XMLSchema10(DATA / "junit" / "junit-10.xsd")
GITLAB_SCHEMA = json.loads((DATA / "gitlab" / "code-quality.schema.json").read_text())


def policy(rule_id: str, name: str, level: Level) -> Policy:
    return Policy(
        id=rule_id,
        name=name,
        title=f"{name} holds",
        level=level,
        security_severity=5.0,
        kind="k",
        rationale="r",
        remediation="m",
    )


POLICIES = (
    policy("TA201", "talos-api-public", Level.ERROR),
    policy("TA207", "overly-broad-cidr", Level.WARNING),
    policy("TA501", "rule-without-description", Level.NOTE),
)
ERR = Finding(
    "TA201",
    Level.ERROR,
    'tcp/50000 on control-plane reachable from 0.0.0.0/0 <"quoted" & escaped>',
    SourceRef("net/sg.tf", 12, 18, "aws_security_group.cp"),
    "i1",
    related=(SourceRef("net/nacl.tf", 4, 4, "aws_network_acl.main"),),
)
WARN = Finding("TA207", Level.WARNING, "tcp/6443 open to 10.0.0.0/8", SourceRef("net/sg.tf", 0), "i2")
SUPP = Finding("TA501", Level.NOTE, "no description", SourceRef("net/sg.tf", 40), "i3").with_suppression(
    Suppression(SuppressionKind.EXTERNAL, "legacy", ".talosaudit.yaml ignore[0]")
)


def report(**kw: object) -> Report:
    return Report(
        findings=(ERR, WARN), policies=POLICIES, root=Path("/r"), suppressed=(SUPP,), duration=1.5, **kw
    )  # type: ignore[arg-type]


def junit_errors(text: str) -> list[str]:
    return [str(e.reason) for e in JUNIT_XSD.iter_errors(text)]


def test_formats_are_registered_for_format_and_output_files() -> None:
    assert {"junitxml", "gitlab"} <= set(FORMATS)


def test_junit_validates_and_holds_one_suite_per_rule() -> None:
    text = FORMATS["junitxml"](report())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert junit_errors(text) == []
    root = SafeET.fromstring(text)
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("time")) == (
        "testsuites",
        "3",
        "2",
        "1.500",
    )
    suites = {s.get("name"): s for s in root}
    assert list(suites) == [
        "TA201 talos-api-public",
        "TA207 overly-broad-cidr",
        "TA501 rule-without-description",
    ]
    [case] = suites["TA201 talos-api-public"]
    assert case.get("classname") == "talosaudit.TA201"
    assert case.get("name") == f"net/sg.tf:12: {ERR.message}"
    [failure] = case
    assert (failure.tag, failure.get("type"), failure.get("message")) == ("failure", "error", ERR.message)
    assert failure.text is not None
    assert "see net/nacl.tf:4 aws_network_acl.main" in failure.text.splitlines()
    # A line 0 (file-level finding) is shown as line 1, as in SARIF.
    [warn_case] = suites["TA207 overly-broad-cidr"]
    assert warn_case.get("name") == "net/sg.tf:1: tcp/6443 open to 10.0.0.0/8"
    assert warn_case[0].get("type") == "warning"
    skipped_suite = suites["TA501 rule-without-description"]
    assert (skipped_suite.get("failures"), skipped_suite.get("skipped")) == ("0", "1")
    assert skipped_suite[0][0].tag == "skipped"
    assert skipped_suite[0][0].get("message") == "suppressed: legacy"


def test_junit_rule_without_findings_is_a_passing_case() -> None:
    text = FORMATS["junitxml"](Report(findings=(), policies=POLICIES[:1], root=Path("/r")))
    assert junit_errors(text) == []
    root = SafeET.fromstring(text)
    [suite] = root
    [case] = suite
    assert (suite.get("tests"), suite.get("failures"), case.get("name"), list(case)) == (
        "1",
        "0",
        "talos-api-public holds: no findings",
        [],
    )


def test_junit_schema_rejects_a_broken_report() -> None:
    # The XSD is not a rubber stamp: a testsuite without its required counters is refused.
    assert junit_errors('<testsuites><testsuite name="x"/></testsuites>') != []


def test_gitlab_validates_and_maps_levels() -> None:
    issues = json.loads(FORMATS["gitlab"](report()))
    jsonschema.Draft202012Validator(GITLAB_SCHEMA).validate(issues)
    assert issues == [
        {
            "type": "issue",
            "check_name": "TA201 talos-api-public",
            "description": f"TA201: {ERR.message}",
            "categories": ["Security"],
            "severity": "critical",
            "fingerprint": ERR.fingerprint,
            "location": {"path": "net/sg.tf", "lines": {"begin": 12, "end": 18}},
        },
        {
            "type": "issue",
            "check_name": "TA207 overly-broad-cidr",
            "description": "TA207: tcp/6443 open to 10.0.0.0/8",
            "categories": ["Security"],
            "severity": "major",
            "fingerprint": WARN.fingerprint,
            "location": {"path": "net/sg.tf", "lines": {"begin": 1, "end": 1}},
        },
    ]


def test_gitlab_fingerprints_are_unique_within_a_report() -> None:
    twin = Finding("TA201", Level.NOTE, "other", ERR.location, "i1")
    assert twin.fingerprint == ERR.fingerprint
    issues = json.loads(FORMATS["gitlab"](Report(findings=(ERR, twin), policies=POLICIES, root=Path("/r"))))
    assert issues[0]["fingerprint"] == ERR.fingerprint
    assert issues[1]["fingerprint"] not in {ERR.fingerprint, ""}
    assert issues[1]["severity"] == "info"


def test_gitlab_schema_rejects_an_absolute_path() -> None:
    bad = [{"description": "d", "check_name": "c", "fingerprint": "f", "severity": "major",
            "location": {"path": "/abs/x.tf", "lines": {"begin": 1}}}]  # fmt: skip
    assert list(jsonschema.Draft202012Validator(GITLAB_SCHEMA).iter_errors(bad)) != []


def test_scan_writes_both_reports_with_o(tmp_path: Path) -> None:
    case = ROOT / "tests" / "cases" / "nacl-blocks-geneve"
    junit, gitlab = tmp_path / "junit.xml", tmp_path / "gl-code-quality.json"
    proc = subprocess.run(
        [sys.executable, "-m", "talosaudit", "scan", str(case), "--no-cache", "--quiet",
         "-o", f"junitxml={junit}", "-o", f"gitlab={gitlab}", "--root", str(case)],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert junit_errors(junit.read_text()) == []
    issues = json.loads(gitlab.read_text())
    jsonschema.Draft202012Validator(GITLAB_SCHEMA).validate(issues)
    assert {(i["check_name"], i["location"]["path"], i["location"]["lines"]["begin"]) for i in issues} == {
        ("TA106 cni-overlay-blocked", "main.tf", 32),
        ("TA106 cni-overlay-blocked", "main.tf", 41),
    }
    failures = [f for f in SafeET.fromstring(junit.read_text()).iter("failure")]
    assert {(f.get("type"), f.get("message", "").split(" is blocked")[0]) for f in failures} == {
        ("error", "udp/8472 from control-plane nodes to control-plane nodes"),
        ("error", "udp/8472 from worker nodes to control-plane nodes"),
        ("error", "udp/8472 from control-plane nodes to worker nodes"),
        ("error", "udp/8472 from worker nodes to worker nodes"),
    }
