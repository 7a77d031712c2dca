"""The pre-commit hook, run by `pre-commit try-repo` against a temporary git repository: one
scan of the repository per commit (not one per staged file), failing on error findings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def test_hook_definition() -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "talosaudit"
    assert (hook["pass_filenames"], hook["require_serial"], hook["language"]) == (False, True, "python")
    assert hook["entry"] == "talosaudit scan" and hook["args"] == ["."]


@pytest.mark.slow
def test_try_repo_scans_the_repository_once_and_fails_on_errors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    # Two Terraform roots, several files: the hook must still run one scan.
    shutil.copytree(
        CASES / "all-traffic-from-world", repo / "prod", ignore=shutil.ignore_patterns("case.yaml")
    )
    shutil.copytree(CASES / "broad-private-cidr", repo / "lab", ignore=shutil.ignore_patterns("case.yaml"))
    (repo / ".talosaudit.yaml").write_text("cni: cilium\ntunnel: geneve\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    pre_commit = Path(sysconfig.get_path("scripts")) / "pre-commit"
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "XDG_CACHE_HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [str(pre_commit), "try-repo", str(ROOT), "talosaudit", "--all-files", "--verbose"],
        cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "talosaudit (Talos cluster network exposure)" in out and "Failed" in out
    # One scan: one summary line, covering the files of both roots.
    summaries = [line for line in out.splitlines() if " policies) in " in line]
    assert len(summaries) == 1, out
    assert "TA206" in out and "prod/main.tf:200" in out
    assert "TA207" in out and "lab/main.tf:147" in out
