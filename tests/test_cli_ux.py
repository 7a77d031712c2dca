"""The command line a checkov/trivy user expects: help texts, aliases, env vars, output modes,
input checks and the notices that keep "nothing to check" from passing as "clean"."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from talosaudit.cli import cli
from talosaudit.cli_options import FORMAT_NAMES, color_wanted, env_name
from talosaudit.report import FORMATS

REPO = Path(__file__).resolve().parents[1]
CASE = REPO / "tests" / "cases" / "suppression-not-understood"
SEED = REPO / "fixtures" / "aws-talos"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of a golden case: TA005 notes (lines 24, 33, 42, 51) and TA202 warnings."""
    shutil.copy(CASE / "main.tf", tmp_path / "main.tf")
    return tmp_path


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, [args[0], "--root", str(root), "--no-cache", *args[1:]], env=env, catch_exceptions=False
    )


def findings(result: Result) -> list[tuple[str, str, int]]:
    doc: dict[str, Any] = json.loads(result.stdout)
    return [(f["rule_id"], f["location"]["path"], f["location"]["start_line"]) for f in doc["findings"]]


def all_commands(group: click.Group) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        out.append((name, command))
        if isinstance(command, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in all_commands(command)]
    return out


# --- help -------------------------------------------------------------------------------


def test_every_option_of_every_command_has_help_and_an_env_var() -> None:
    missing = [
        f"{name} {'/'.join(p.opts)}"
        for name, command in all_commands(cli)
        for p in command.params
        if isinstance(p, click.Option) and p.expose_value and not (p.help and p.help.strip())
    ]
    assert missing == []
    fail_on = next(p for p in cli.commands["scan"].params if p.name == "fail_on")
    assert isinstance(fail_on, click.Option) and fail_on.envvar == "TALOSAUDIT_FAIL_ON"


def test_the_command_list_is_not_cut_off() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands
    for name in ("graph", "live", "policies", "scan", "why"):
        assert f"  {name} " in commands


def test_format_names_agree_with_the_reporters() -> None:
    assert tuple(FORMATS) == FORMAT_NAMES


# --- exit code and output options ---------------------------------------------------------


def test_soft_fail_is_fail_on_never(project: Path) -> None:
    assert run(project, "scan", str(project), "--fail-on", "warning").exit_code == 1
    assert run(project, "scan", str(project), "--fail-on", "warning", "--soft-fail").exit_code == 0


def test_options_are_read_from_talosaudit_env_vars(project: Path) -> None:
    env = {"TALOSAUDIT_FAIL_ON": "warning"}
    assert run(project, "scan", str(project), env=env).exit_code == 1
    env["TALOSAUDIT_SOFT_FAIL"] = "1"
    assert run(project, "scan", str(project), env=env).exit_code == 0
    assert env_name(next(p for p in cli.commands["scan"].params if p.name == "skip_paths")) == (  # type: ignore[arg-type]
        "TALOSAUDIT_SKIP_PATH"
    )


def test_quiet_shows_only_failing_findings_on_every_output(project: Path) -> None:
    args = ("scan", str(project), "--min-level", "note", "--fail-on", "warning")
    loud = run(project, *args, "--format", "json")
    assert ("TA005", "main.tf", 24) in findings(loud)
    quiet = run(project, *args, "--format", "json", "--quiet", "-o", f"sarif={project / 'out.sarif'}")
    assert quiet.exit_code == 1
    assert sorted(findings(quiet)) == [("TA202", "main.tf", line) for line in (25, 34, 43, 52, 61)]
    sarif = json.loads((project / "out.sarif").read_text())
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["TA202"] * 5
    text = run(project, *args, "--quiet")
    assert "TA005" not in text.stdout and "Facts used" not in text.stdout and "notice:" not in text.stdout
    assert "TA202 kube-apiserver-public warning  main.tf:25" in text.stdout


def test_compact_drops_related_locations(project: Path) -> None:
    full = run(project, "scan", str(project), "--format", "sarif")
    related = [r for r in json.loads(full.stdout)["runs"][0]["results"] if r.get("relatedLocations")]
    assert related, "the case has findings with related locations"
    compact = run(project, "scan", str(project), "--format", "sarif", "--compact")
    assert [r for r in json.loads(compact.stdout)["runs"][0]["results"] if r.get("relatedLocations")] == []
    text = run(project, "scan", str(project), "--compact")
    assert "      see " not in text.stdout
    assert "TA202 kube-apiserver-public warning  main.tf:25" in text.stdout


def test_skip_path_skips_matching_files(tmp_path: Path) -> None:
    for name in ("live", "examples/old"):
        (tmp_path / name).mkdir(parents=True)
        shutil.copy(CASE / "main.tf", tmp_path / name / "main.tf")
    both = {path for _, path, _ in findings(run(tmp_path, "scan", str(tmp_path), "--format", "json"))}
    assert both == {"live/main.tf", "examples/old/main.tf"}
    for glob in ("examples/*", "examples", "*/old/main.tf"):
        result = run(tmp_path, "scan", str(tmp_path), "--format", "json", "--skip-path", glob)
        assert {path for _, path, _ in findings(result)} == {"live/main.tf"}, glob
    skipped_all = run(tmp_path, "scan", str(tmp_path), "--skip-path", "examples", "--skip-path", "live/*.tf")
    assert skipped_all.exit_code == 2
    assert "no inputs found" in skipped_all.stderr


@pytest.mark.parametrize(
    ("env", "isatty", "expected"),
    [
        ({}, False, False),
        ({}, True, True),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "0"}, False, False),
        ({"NO_COLOR": "", "FORCE_COLOR": "1"}, True, False),
        ({"NO_COLOR": "1"}, True, False),
    ],
)
def test_force_color_and_no_color(env: dict[str, str], isatty: bool, expected: bool) -> None:
    assert color_wanted(env, isatty) is expected


def test_force_color_colours_a_pipe(project: Path) -> None:
    coloured = run(project, "scan", str(project), env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    plain = run(project, "scan", str(project), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout


def test_output_file_in_a_missing_folder_is_created(project: Path) -> None:
    target = project / "reports" / "deep" / "talosaudit.sarif"
    result = run(project, "scan", str(project), "-o", f"sarif={target}", "--quiet")
    assert result.exit_code == 0
    assert json.loads(target.read_text())["version"] == "2.1.0"


# --- policies ---------------------------------------------------------------------------


def test_policies_show_by_id_or_name() -> None:
    by_id = CliRunner().invoke(cli, ["policies", "show", "TA201"])
    by_name = CliRunner().invoke(cli, ["policies", "show", "talos-api-public"])
    assert by_id.exit_code == by_name.exit_code == 0
    assert by_id.stdout == by_name.stdout
    assert by_id.stdout.startswith("TA201 talos-api-public (error")
    unknown = CliRunner().invoke(cli, ["policies", "show", "no-such-rule"])
    assert unknown.exit_code == 2 and "no rule 'no-such-rule'" in unknown.stderr


def test_policies_list_as_json() -> None:
    result = CliRunner().invoke(cli, ["policies", "list", "--format", "json"])
    rows = json.loads(result.stdout)
    ta005 = next(r for r in rows if r["id"] == "TA005")
    assert ta005 == {
        "id": "TA005",
        "name": "suppression-not-understood",
        "level": "note",
        "security_severity": 1.0,
        "title": "Every suppression comment is one talosaudit understands",
        "kind": "input_problem",
        "tags": ["security", "input", "suppression"],
    }
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_nothing_cites_files_outside_the_repository() -> None:
    """Rule docs, policy files and SARIF help are self-contained (docs/ports.md is ours)."""
    cited = [
        str(path.relative_to(REPO))
        for folder in ("src", "policies", "docs")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".yaml", ".md")
        and ("PORTS.md" in path.read_text() or "RULES.md" in path.read_text())
    ]
    assert cited == []


# --- inputs -----------------------------------------------------------------------------


def test_a_broken_var_file_is_a_usage_error(project: Path) -> None:
    bad = project / "bad.tfvars"
    bad.write_text('cidr = "10.0.0.0/16"\nports = [\n')
    result = run(project, "scan", str(project), "--var-file", str(bad))
    assert result.exit_code == 2
    assert "--var-file" in result.stderr and f"{bad}:" in result.stderr
    missing = run(project, "scan", str(project), "--var-file", str(project / "nope.tfvars"))
    assert missing.exit_code == 2 and "--var-file" in missing.stderr


@pytest.mark.parametrize("stdin", ["-", "/dev/stdin"])
def test_standard_input_is_refused(project: Path, stdin: str) -> None:
    result = run(project, "scan", stdin)
    assert result.exit_code == 2
    assert "reading from standard input is not supported" in result.stderr


def test_a_single_file_is_evaluated_with_its_module_and_limits_findings(tmp_path: Path) -> None:
    shutil.copytree(REPO / "tests" / "cases" / "malformed-file", tmp_path / "infra")
    infra = tmp_path / "infra"
    whole = run(tmp_path, "scan", str(infra), "--format", "json")
    assert {path for _, path, _ in findings(whole)} == {"infra/broken.tf", "infra/main.tf", "infra/public.tf"}
    with contextlib.chdir(infra):
        one = CliRunner().invoke(
            cli, ["scan", "public.tf", "--root", str(tmp_path), "--no-cache", "--format", "json"]
        )
    assert findings(one) == [("TA201", "infra/public.tf", 1)]
    assert (
        "public.tf is part of the module in ./: the module is evaluated, findings are limited to "
        "the given file" in one.stderr
    )


def test_nothing_to_check_is_said_loudly(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "region" {\n  default = "eu-west-1"\n}\n')
    text = run(tmp_path, "scan", str(tmp_path))
    assert text.exit_code == 0
    assert "WARNING: nothing to check: no node group was found in the inputs" in text.stdout
    sarif = json.loads(run(tmp_path, "scan", str(tmp_path), "--format", "sarif", "--quiet").stdout)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["message"]["text"].startswith("nothing to check: no node group") for n in notes)
    no_rules = run(SEED, "scan", str(SEED), "--skip-check", "TA")
    assert "WARNING: nothing to check: 0 policies ran" in no_rules.stdout
