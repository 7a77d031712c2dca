"""Text, JSON, GitHub and markdown reporters on hand-made findings."""

from __future__ import annotations

import json
from pathlib import Path

from talosaudit.findings import Finding, Suppression, SuppressionKind
from talosaudit.model.cluster import Fact, FactOrigin
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level, Policy
from talosaudit.report import FORMATS
from talosaudit.report.base import Report
from talosaudit.report.github import escape_data, escape_property, render_github
from talosaudit.report.json_report import render_json
from talosaudit.report.markdown import render_markdown
from talosaudit.report.text import render_text


def policy(rule_id: str, name: str, level: Level) -> Policy:
    return Policy(
        id=rule_id,
        name=name,
        title=name,
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
FACTS = (
    Fact("cni", "flannel", "Talos-managed Flannel, the default CNI", FactOrigin.DEFAULT),
    Fact("tunnel", "geneve", "--tunnel", FactOrigin.COMMAND_LINE),
)
ERR = Finding(
    "TA201",
    Level.ERROR,
    "tcp/50000 on control-plane reachable from 0.0.0.0/0",
    SourceRef("net/sg.tf", 12, 18, "aws_security_group.cp"),
    "i1",
    related=(SourceRef("net/nacl.tf", 4, 4, "aws_network_acl.main"),),
)
WARN = Finding(
    "TA207",
    Level.WARNING,
    "tcp/6443 open to 10.0.0.0/8, beyond 10.0.0.0/16",
    SourceRef("net/sg.tf", 30),
    "i2",
)
SUPP = Finding("TA501", Level.NOTE, "no description", SourceRef("net/sg.tf", 40), "i3").with_suppression(
    Suppression(SuppressionKind.EXTERNAL, "legacy", ".talosaudit.yaml ignore[0]")
)


def report(tmp_path: Path, **kw: object) -> Report:
    return Report(
        findings=(ERR, WARN),
        policies=POLICIES,
        root=tmp_path,
        suppressed=(SUPP,),
        facts=FACTS,
        files=("net/sg.tf", "net/nacl.tf"),
        duration=0.4321,
        baseline_dropped=2,
        **kw,  # type: ignore[arg-type]
    )


def test_format_table() -> None:
    assert sorted(FORMATS) == ["github", "gitlab", "html", "json", "junitxml", "markdown", "sarif", "text"]


def test_text_plain(tmp_path: Path) -> None:
    out = render_text(report(tmp_path))
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == "ERROR (1)"
    assert lines[1] == "  TA201 talos-api-public error  net/sg.tf:12"
    assert lines[2] == "      tcp/50000 on control-plane reachable from 0.0.0.0/0"
    assert lines[3] == "      see net/nacl.tf:4 (aws_network_acl.main)"
    assert "WARNING (1)" in lines
    assert "no description" not in out  # suppressed, not shown by default
    assert "  cni = flannel [default]: Talos-managed Flannel, the default CNI" in lines
    assert "  tunnel = geneve [command line]: --tunnel" in lines
    assert lines[-2] == "1 error, 1 warning, 0 notes in 2 files (3 policies) in 0.43 s"
    assert lines[-1] == "(1 suppressed, 2 in baseline; not counted)"


def test_text_show_suppressed_and_color(tmp_path: Path) -> None:
    out = render_text(report(tmp_path, show_suppressed=True))
    assert "SUPPRESSED (1)" in out
    assert "      suppressed (.talosaudit.yaml ignore[0]): legacy" in out
    colored = render_text(report(tmp_path), color=True)
    assert "\x1b[" in colored


def test_json_schema(tmp_path: Path) -> None:
    doc = json.loads(render_json(report(tmp_path)))
    assert doc["version"] == 1
    assert doc["tool"]["name"] == "talosaudit"
    assert doc["summary"] == {
        "errors": 1,
        "warnings": 1,
        "notes": 0,
        "suppressed": 1,
        "baseline_matched": 2,
        "files": 2,
        "policies": 3,
        "duration_seconds": 0.432,
        "root": str(tmp_path),
    }
    assert doc["facts"][0] == {
        "name": "cni",
        "value": "flannel",
        "reason": "Talos-managed Flannel, the default CNI",
        "origin": "default",
        "source": None,
    }
    first = doc["findings"][0]
    assert first == {
        "rule_id": "TA201",
        "name": "talos-api-public",
        "level": "error",
        "message": "tcp/50000 on control-plane reachable from 0.0.0.0/0",
        "location": {
            "path": "net/sg.tf",
            "start_line": 12,
            "end_line": 18,
            "resource": "aws_security_group.cp",
        },
        "related": [
            {"path": "net/nacl.tf", "start_line": 4, "end_line": 4, "resource": "aws_network_acl.main"}
        ],
        "fingerprint": ERR.fingerprint,
        "properties": {},
        "suppressed": None,
    }
    assert doc["findings"][2]["suppressed"] == {
        "reason": "legacy",
        "kind": "external",
        "where": ".talosaudit.yaml ignore[0]",
    }


def test_github_escaping() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_github_commands(tmp_path: Path) -> None:
    odd = Finding("TA207", Level.NOTE, "line one\nline two 100%", SourceRef("dir,x/a:b.tf", 3, 5), "i4")
    r = Report(findings=(ERR, odd), policies=POLICIES, root=tmp_path)
    lines = render_github(r).splitlines()
    assert lines[0] == (
        "::error file=net/sg.tf,line=12,endLine=18,title=TA201 talos-api-public::"
        "tcp/50000 on control-plane reachable from 0.0.0.0/0"
    )
    assert lines[1] == (
        "::notice file=dir%2Cx/a%3Ab.tf,line=3,endLine=5,title=TA207 overly-broad-cidr::"
        "line one%0Aline two 100%25"
    )
    assert lines[2] == "1 error, 0 warnings, 1 note in 0 files (3 policies) in 0.00 s"


def test_markdown(tmp_path: Path) -> None:
    pipe = Finding("TA207", Level.WARNING, "a | b", SourceRef("x.tf", 2), "i5")
    out = render_markdown(Report(findings=(ERR, pipe), policies=POLICIES, root=tmp_path, suppressed=(SUPP,)))
    lines = out.splitlines()
    assert "| Level | Rule | Location | Message |" in lines
    assert (
        "| 🔴 error | [TA201](https://github.com/talosaudit/talosaudit/blob/main/docs/rules/TA201.md) "
        "talos-api-public | `net/sg.tf:12` | tcp/50000 on control-plane reachable from 0.0.0.0/0 |"
    ) in lines
    assert any(line.endswith("| a \\| b |") for line in lines)
    assert any(line.endswith("| no description | legacy |") for line in lines)
