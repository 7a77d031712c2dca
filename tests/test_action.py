"""The GitHub Action and workflows, checked like code: schema-valid (check-jsonschema's
built-in GitHub schemas), zizmor-clean at medium severity and above, and the action's `run:`
steps executed as a runner would, in a temporary git repository, for every `fail-on`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import installed_from

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(sysconfig.get_path("scripts"))
WORKFLOWS = sorted([*(ROOT / ".github").rglob("*.yml"), *(ROOT / "docs" / "examples").glob("*.yml")])
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
CASE = ROOT / "tests" / "cases" / "broad-private-cidr"  # one TA207 warning at main.tf:147


def tool(name: str) -> str:
    found = SCRIPTS / name
    return str(found) if found.exists() else name


def test_workflow_files_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in WORKFLOWS}
    assert {".github/workflows/ci.yml", "docs/examples/code-scanning.yml"} <= names


def test_check_jsonschema_accepts_the_action_and_every_workflow() -> None:
    action = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert action.returncode == 0, action.stdout + action.stderr
    workflows = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr


def test_zizmor_finds_nothing_of_medium_or_higher_severity() -> None:
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--config", str(ROOT / "zizmor.yml"), "--format", "json",
         str(ROOT / "action.yml"), *map(str, WORKFLOWS)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    findings = json.loads(proc.stdout)
    serious = [
        (f["ident"], f["determinations"]["severity"], f["locations"][0]["symbolic"]["key"])
        for f in findings
        if f["determinations"]["severity"] not in ("Informational", "Low", "Unknown")
    ]
    assert serious == []


def test_no_input_expression_inside_run() -> None:
    # Template injection: inputs reach the shell through env only.
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("id")


def test_pinned_actions_and_documented_permissions() -> None:
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    readme = (ROOT / "README.md").read_text()
    for permission in ("security-events: write", "contents: read", "actions: read"):
        assert permission in readme
        assert permission in (ROOT / "docs" / "examples" / "code-scanning.yml").read_text()


# --- the action's steps, run as a runner runs them -------------------------------------


EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """Just enough of a GitHub runner to execute a composite action's `run:` steps."""

    action_path: Path
    workspace: Path
    temp: Path
    inputs: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    uses: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    failed_with: int = 0

    def value(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs":
            return self.inputs.get(parts[1], ACTION["inputs"][parts[1]].get("default", ""))
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        if expression == "runner.os":
            return "Linux"
        if expression == "github.action_path":
            return str(self.action_path)
        raise AssertionError(f"expression the test runner does not know: {expression}")

    def substitute(self, text: str) -> str:
        return EXPR.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, text: str) -> bool:
        """`a == 'x' && b != ''`: the only form the action uses."""
        result = True
        for clause in EXPR.sub(r"\1", text).split("&&"):
            left, op, right = re.fullmatch(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*", clause).groups()  # type: ignore[union-attr]
            result &= (self.value(left) == right) == (op == "==")
        return result

    def environment(self) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(self.temp)),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(self.action_path),
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
            "GITHUB_STEP_SUMMARY": str(self.temp / "step_summary.md"),
        }

    def run(self, *, only: set[str] | None = None) -> None:
        for step in ACTION["runs"]["steps"]:
            step_id = step.get("id", "")
            if only is not None and step_id not in only:
                continue
            if "if" in step and not self.condition(step["if"]):
                continue
            if "uses" in step:
                self.uses.append(
                    (step["uses"], {k: self.substitute(v) for k, v in step.get("with", {}).items()})
                )
                if step["uses"].startswith("actions/setup-python@"):
                    self.outputs[step_id] = {"python-path": sys.executable}
                continue
            output_file = self.temp / f"output-{step_id or len(self.uses)}"
            output_file.write_text("")
            env = self.environment() | {k: self.substitute(v) for k, v in step.get("env", {}).items()}
            env["GITHUB_OUTPUT"] = str(output_file)
            cwd = self.workspace / self.substitute(step.get("working-directory", "."))
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300,
            )  # fmt: skip
            self.outputs[step_id] = dict(
                line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
            )
            if proc.returncode != 0:
                self.failed_with = proc.returncode
                return

    @property
    def summary(self) -> str:
        path = self.temp / "step_summary.md"
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module")
def installed(checkout: Path, installed_venv: Path) -> Iterator[tuple[Path, Path]]:
    """The action checked out (the session's copy of the tracked files) and installed by its
    own steps, once. Its runner temp is the one that holds the session's environment, which
    already has the dependencies: the install step still creates the environment and
    installs the checkout from the action's path, only without fetching them again."""
    temp = installed_venv.parent
    runner = Runner(checkout, temp, temp, {})
    runner.run(only={"python", "pip-cache", "install"})
    assert runner.failed_with == 0
    assert (temp / "talosaudit-venv" / "bin" / "talosaudit").exists()
    assert installed_from(installed_venv) == checkout.as_uri()  # installed from the action's path
    yield checkout, temp


def workspace(tmp_path: Path) -> Path:
    """A user's repository: a git checkout with the Terraform under infra/."""
    repo = tmp_path / "repo"
    shutil.copytree(CASE, repo / "infra", ignore=shutil.ignore_patterns("case.yaml"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def run_action(installed: tuple[Path, Path], tmp_path: Path, **inputs: str) -> Runner:
    action_path, venv_temp = installed
    temp = tmp_path / "runner_temp"
    temp.mkdir()
    (temp / "talosaudit-venv").symlink_to(venv_temp / "talosaudit-venv")
    runner = Runner(action_path, workspace(tmp_path), temp, inputs)
    steps = {s.get("id", "") for s in ACTION["runs"]["steps"]} - {"python", "pip-cache", "install"}
    runner.outputs["install"] = {"bin": str(temp / "talosaudit-venv" / "bin")}
    runner.run(only=steps)
    return runner


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fail_on", "expected_exit"), [("error", 0), ("warning", 1), ("note", 1), ("never", 0)]
)
def test_action_steps_write_sarif_and_summary_then_fail_per_fail_on(
    installed: tuple[Path, Path], tmp_path: Path, fail_on: str, expected_exit: int
) -> None:
    runner = run_action(
        installed, tmp_path, paths="infra", args="--cni cilium --tunnel geneve --no-cache",
        **{"fail-on": fail_on, "category": "talosaudit/infra"},
    )  # fmt: skip
    assert runner.outputs["scan"]["exit-code"] == str(expected_exit)
    assert runner.failed_with == expected_exit
    sarif_file = Path(runner.outputs["scan"]["sarif-file"])
    assert sarif_file == runner.temp / "talosaudit.sarif"
    [run] = json.loads(sarif_file.read_text())["runs"]
    assert "automationDetails" not in run  # the upload's category applies
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in run["results"]
    ] == [("TA207", "warning", "infra/main.tf", 147)]  # fmt: skip
    # Uploaded also when the findings fail the job, with the category input.
    [with_] = [w for u, w in runner.uses if "upload-sarif" in u]
    assert with_ == {"sarif_file": str(sarif_file), "category": "talosaudit/infra"}
    assert "TA207" in runner.summary and "overly-broad-cidr" in runner.summary


@pytest.mark.slow
def test_action_sarif_file_input_and_no_upload(installed: tuple[Path, Path], tmp_path: Path) -> None:
    runner = run_action(
        installed, tmp_path, paths="infra", args="--cni cilium --tunnel geneve --no-cache",
        upload="false", **{"sarif-file": "reports/ta.sarif"},
    )  # fmt: skip
    assert runner.failed_with == 0
    assert runner.outputs["scan"]["sarif-file"] == str(runner.workspace / "reports" / "ta.sarif")
    assert (runner.workspace / "reports" / "ta.sarif").is_file()
    assert [u for u, _ in runner.uses if "upload-sarif" in u] == []


@pytest.mark.slow
def test_action_that_cannot_run_skips_the_upload_and_fails(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    runner = run_action(installed, tmp_path, paths="missing-dir", **{"fail-on": "never"})
    assert runner.outputs["scan"] == {"exit-code": "2", "sarif-file": ""}
    assert runner.failed_with == 2
    assert [u for u, _ in runner.uses if "upload-sarif" in u] == []
    assert "could not run (exit code 2)" in runner.summary


def test_runner_knows_every_expression_the_action_uses(tmp_path: Path) -> None:
    runner = Runner(tmp_path, tmp_path, tmp_path, {})
    text = yaml.safe_dump(ACTION["runs"])
    for expression in EXPR.findall(text):
        if "&&" not in expression and "==" not in expression and "!=" not in expression:
            runner.value(expression)
