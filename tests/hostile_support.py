"""Run ``talosaudit`` in a child process with a time and an address-space bound.

Hostile-input tests must show that a case ends quickly and in bounded memory, not only
that it ends: the child gets ``RLIMIT_AS`` (a run that tries to build gigabytes fails with
MemoryError instead of swapping the machine) and a wall-clock timeout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import talosaudit

SRC = str(Path(talosaudit.__file__).resolve().parent.parent)
#: The address space a normal scan needs is about 300 MB (Python, pydantic, PyYAML, lark).
DEFAULT_MEMORY = 1024 * 1024 * 1024
DEFAULT_SECONDS = 30.0


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def findings(self, rule_id: str | None = None) -> list[tuple[str, str, int, str]]:
        """(rule id, path, start line, message) of every finding, optionally of one rule."""
        return [
            (f["rule_id"], f["location"]["path"], f["location"]["start_line"], f["message"])
            for f in self.report()["findings"]
            if rule_id is None or f["rule_id"] == rule_id
        ]


def run_cli(
    args: list[str],
    cwd: Path,
    *,
    seconds: float = DEFAULT_SECONDS,
    memory: int = DEFAULT_MEMORY,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> Run:
    """``python -m talosaudit ARGS`` in ``cwd``; fails the test if it outlives ``seconds``.
    ``env`` adds to (or, with an empty value, removes from) the child's environment."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    child_env = {**os.environ, "PYTHONPATH": SRC, "NO_COLOR": "1"}
    child_env.pop("GITHUB_ACTIONS", None)
    child_env.pop("GITHUB_STEP_SUMMARY", None)
    for name, value in (env or {}).items():
        if value:
            child_env[name] = value
        else:
            child_env.pop(name, None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "talosaudit", *args],
        cwd=cwd,
        env=child_env,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        timeout=seconds,
        preexec_fn=limit,
        check=False,
    )
    return Run(done.returncode, done.stdout or "", done.stderr, time.monotonic() - started)


def scan_json(
    paths: list[str], cwd: Path, *extra: str, seconds: float = DEFAULT_SECONDS, memory: int = DEFAULT_MEMORY
) -> Run:
    """``talosaudit scan PATHS --format json --no-cache``; asserts it did not crash."""
    run = run_cli(
        ["scan", *paths, "--no-cache", "--format", "json", *extra], cwd, seconds=seconds, memory=memory
    )
    assert run.code in (0, 1), f"exit {run.code}: {run.stderr[-2000:]}"
    assert "internal error" not in run.stderr, run.stderr
    return run
