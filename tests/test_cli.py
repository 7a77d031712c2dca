"""The command line end to end: exit codes, outputs, suppressions, baselines, fingerprints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from talosaudit.cli import cli, exit_code
from talosaudit.findings import Finding, Suppression, SuppressionKind
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level
from test_sarif import github_profile_problems, schema_errors

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "aws-talos"

SG_TF = """\
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_security_group" "controlplane" {
  name        = "talos-controlplane"
  description = "control plane"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "talos_api" {
  security_group_id = aws_security_group.controlplane.id
  description       = "talosctl from the office"
  cidr_ipv4         = "CIDR"
  from_port         = 50000
  to_port           = 50000
  ip_protocol       = "tcp"
}
"""
RULE_LINE = 11  # the line of `resource "aws_vpc_security_group_ingress_rule"`


def write_tf(root: Path, cidr: str = "145.40.0.0/16", above: str = "") -> Path:
    infra = root / "infra"
    infra.mkdir(exist_ok=True)
    path = infra / "main.tf"
    path.write_text(above + SG_TF.replace("CIDR", cidr))
    return infra


def run(root: Path, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, [args[0], "--root", str(root), "--no-cache", *args[1:]], catch_exceptions=False)


def sarif_results(result: Result) -> list[dict[str, Any]]:
    doc = json.loads(result.stdout)
    assert schema_errors(doc) == []
    assert github_profile_problems(doc) == []
    results: list[dict[str, Any]] = doc["runs"][0]["results"]
    return results


def ta201(results: list[dict[str, Any]]) -> dict[str, Any]:
    [hit] = [r for r in results if r["ruleId"] == "TA201"]
    return hit


# --- exit_code -------------------------------------------------------------------------


def f(level: Level, suppressed: bool = False) -> Finding:
    finding = Finding("TA201", level, "m", SourceRef("a.tf", 1), "i")
    return finding.with_suppression(Suppression(SuppressionKind.IN_SOURCE, "")) if suppressed else finding


@pytest.mark.parametrize(
    ("findings", "fail_on", "problems", "expected"),
    [
        ([], "error", [], 0),
        ([f(Level.WARNING)], "error", [], 0),
        ([f(Level.WARNING)], "warning", [], 1),
        ([f(Level.NOTE)], "note", [], 1),
        ([f(Level.ERROR)], "error", [], 1),
        ([f(Level.ERROR, suppressed=True)], "note", [], 0),
        ([f(Level.ERROR)], "never", [], 0),
        ([], "never", ["no inputs"], 2),
        ([f(Level.ERROR)], "error", ["bad config"], 2),
    ],
)
def test_exit_code(findings: list[Finding], fail_on: str, problems: list[str], expected: int) -> None:
    assert exit_code(findings, fail_on, problems) == expected


# --- exit codes through the CLI --------------------------------------------------------


def test_findings_exit_1_and_text(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    result = run(tmp_path, "scan", str(infra))
    assert result.exit_code == 1, result.output
    assert "\x1b[" not in result.stdout
    assert f"TA201 talos-api-public error  infra/main.tf:{RULE_LINE}" in result.stdout
    assert "cni = flannel [default]: Talos-managed Flannel, the default CNI" in result.stdout


def test_fail_on_never_and_clean_fixture_exit_0(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    assert run(tmp_path, "scan", str(infra), "--fail-on", "never").exit_code == 0
    clean = run(REPO, "scan", str(FIXTURE), "--tunnel", "geneve")
    assert clean.exit_code == 0, clean.output
    assert "tunnel = geneve [command line]: --tunnel geneve on the command line" in clean.stdout


def test_no_inputs_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("nothing to scan")
    result = run(tmp_path, "scan", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert "Error: no inputs found in" in result.stderr
    assert "Traceback" not in result.output


def test_bad_config_exit_2(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    (infra / ".talosaudit.yaml").write_text("admin_network: [10.0.0.0/8]\n")
    result = run(tmp_path, "scan", str(infra))
    assert result.exit_code == 2
    assert "admin_network: unknown setting" in result.stderr


def test_bad_policy_dir_exit_2(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "TA901-mine.yaml").write_text("id: TA901\nname: mine\nbogus: 1\n")
    result = run(tmp_path, "scan", str(infra), "--policy-dir", str(pol))
    assert result.exit_code == 2
    assert "TA901" in result.stderr
    assert "Traceback" not in result.output


def test_unreadable_baseline_and_usage_errors_exit_2(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    bad = tmp_path / "b.json"
    bad.write_text("{")
    result = run(tmp_path, "scan", str(infra), "--baseline", str(bad))
    assert result.exit_code == 2
    assert "is not valid JSON" in result.stderr
    assert run(tmp_path, "scan", str(infra), "--format", "xml").exit_code == 2
    assert run(tmp_path, "scan", str(infra), "-o", "pdf=x.pdf").exit_code == 2
    assert run(tmp_path, "scan", str(infra), "--check", "TA9").exit_code == 2


# --- selection, levels, config, var files ------------------------------------------------


def _ids(result: Result) -> list[tuple[str, str]]:
    return sorted({(x["rule_id"], x["level"]) for x in json.loads(result.stdout)["findings"]})


def test_selection_levels_var_file_and_config_in_the_scanned_dir(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    main = infra / "main.tf"
    main.write_text(main.read_text().replace('"145.40.0.0/16"', "var.office") + 'variable "office" {}\n')
    tfvars = tmp_path / "office.tfvars"
    tfvars.write_text('office = "145.40.0.0/16"\n')
    scan = ("scan", str(infra), "--format", "json", "--min-level", "note")
    # Without the var file the CIDR is unknown: TA002, never a guessed TA201.
    unknown = run(tmp_path, *scan, "--skip-check", "TA1")
    assert _ids(unknown) == [("TA002", "warning")]
    assert unknown.exit_code == 0
    # The group has no egress rule, so the required flows fail (TA10x errors, TA109 warnings).
    every = _ids(run(tmp_path, *scan, "--var-file", str(tfvars)))
    assert ("TA201", "error") in every and ("TA109", "warning") in every and ("TA104", "error") in every
    # --skip-check takes prefixes; --check narrows to ids and prefixes; --min-level hides.
    skipped = run(tmp_path, *scan, "--var-file", str(tfvars), "--skip-check", "TA1")
    assert _ids(skipped) == [("TA201", "error")]
    assert skipped.exit_code == 1
    checked = run(tmp_path, *scan, "--var-file", str(tfvars), "--check", "TA109,TA2", "--min-level", "error")
    assert _ids(checked) == [("TA201", "error")]
    warned = run(tmp_path, *scan, "--var-file", str(tfvars), "--check", "TA109", "--fail-on", "warning")
    assert (_ids(warned), warned.exit_code) == ([("TA109", "warning")], 1)
    assert run(tmp_path, *scan, "--var-file", str(tfvars), "--check", "TA109").exit_code == 0
    # A narrower office (a /24) is an undeclared allowlist: a TA208 note, not TA201.
    tfvars.write_text('office = "145.40.7.0/24"\n')
    narrow = run(tmp_path, *scan, "--var-file", str(tfvars), "--check", "TA2")
    assert (_ids(narrow), narrow.exit_code) == ([("TA208", "note")], 0)
    # .talosaudit.yaml in the scanned directory: an admin network, a level override, fail_on.
    (infra / ".talosaudit.yaml").write_text(
        "admin_networks: [145.40.7.0/24]\nrules:\n  TA109: {level: error}\nfail_on: never\n"
    )
    configured = run(tmp_path, *scan, "--var-file", str(tfvars), "--check", "TA109,TA2")
    assert _ids(configured) == [("TA109", "error")]  # the declared admin /24 is not even a note
    assert configured.exit_code == 0


# --- outputs ---------------------------------------------------------------------------


def test_several_outputs_at_once(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    a, b = tmp_path / "a.json", tmp_path / "b.sarif"
    result = run(tmp_path, "scan", str(infra), "-o", f"json={a}", "-o", f"sarif={b}")
    assert result.exit_code == 1
    doc = json.loads(a.read_text())
    assert doc["version"] == 1
    assert "TA201" in [x["rule_id"] for x in doc["findings"]]
    sarif = json.loads(b.read_text())
    assert schema_errors(sarif) == []
    assert github_profile_problems(sarif) == []
    assert "errors" in result.stdout  # the text summary
    quiet = run(tmp_path, "scan", str(infra), "-o", f"json={a}", "--quiet")
    assert quiet.stdout == ""


def test_sarif_fingerprint_survives_inserted_lines(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    before = ta201(sarif_results(run(tmp_path, "scan", str(infra), "--format", "sarif")))
    write_tf(tmp_path, above="# a comment\n\nlocals {\n  x = 1\n}\n\n")
    after = ta201(sarif_results(run(tmp_path, "scan", str(infra), "--format", "sarif")))
    region_before = before["locations"][0]["physicalLocation"]["region"]["startLine"]
    region_after = after["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert (region_before, region_after) == (RULE_LINE, RULE_LINE + 6)
    assert before["partialFingerprints"] == after["partialFingerprints"]
    assert before["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "infra/main.tf",
        "uriBaseId": "%SRCROOT%",
    }


# --- suppressions and baselines ---------------------------------------------------------


def test_inline_suppression_end_to_end(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    text = (infra / "main.tf").read_text()
    text = text.replace(
        'resource "aws_vpc_security_group_ingress_rule"',
        '# talosaudit:ignore TA201 office range, reviewed\nresource "aws_vpc_security_group_ingress_rule"',
    )
    (infra / "main.tf").write_text(text)
    result = run(tmp_path, "scan", str(infra), "--format", "json", "--fail-on", "never")
    doc = json.loads(result.stdout)
    [hit] = [x for x in doc["findings"] if x["rule_id"] == "TA201"]
    assert hit["suppressed"] == {
        "reason": "office range, reviewed",
        "kind": "inSource",
        "where": f"infra/main.tf:{RULE_LINE}",
    }
    text_out = run(tmp_path, "scan", str(infra))
    assert "TA201" not in text_out.stdout
    shown = run(tmp_path, "scan", str(infra), "--show-suppressed", "--format", "sarif")
    assert ta201(sarif_results(shown))["suppressions"][0]["justification"] == "office range, reviewed"


def test_expired_config_ignore_no_longer_suppresses(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "ignore:\n"
        "  - {id: TA201, path: 'infra/*.tf', reason: old exception, until: 2020-01-01}\n"
        "  - {id: TA501, reason: descriptions later}\n"
    )
    result = run(tmp_path, "scan", str(infra), "--config", str(config), "--format", "json")
    doc = json.loads(result.stdout)
    [hit] = [x for x in doc["findings"] if x["rule_id"] == "TA201"]
    assert hit["suppressed"] is None
    assert any("ignore of TA201 for infra/*.tf" in n and "expired on 2020-01-01" in n for n in doc["notices"])
    assert result.exit_code == 1


def test_baseline_create_apply_and_widening_is_new(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    baseline = tmp_path / "baseline.json"
    created = run(tmp_path, "scan", str(infra), "--create-baseline", str(baseline))
    assert created.exit_code == 0
    entries = json.loads(baseline.read_text())["findings"]
    assert "TA201" in [e["rule_id"] for e in entries]
    applied = run(tmp_path, "scan", str(infra), "--baseline", str(baseline), "--format", "json")
    assert applied.exit_code == 0
    doc = json.loads(applied.stdout)
    assert [x for x in doc["findings"] if x["suppressed"] is None] == []
    assert doc["summary"]["baseline_matched"] == len(entries)
    write_tf(tmp_path, cidr="0.0.0.0/0")
    widened = run(tmp_path, "scan", str(infra), "--baseline", str(baseline), "--format", "json")
    assert widened.exit_code == 1
    assert "TA201" in [x["rule_id"] for x in json.loads(widened.stdout)["findings"]]


# --- a real process ----------------------------------------------------------------------


def test_python_dash_m_subprocess(tmp_path: Path) -> None:
    infra = write_tf(tmp_path)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "talosaudit", "scan", str(infra), "--root", str(tmp_path), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "TA201" in proc.stdout
    assert "\x1b[" not in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "talosaudit", "scan", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr
