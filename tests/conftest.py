"""Shared pytest setup: the moto server fixtures of tests/live_support.py are a plugin, loaded
here once so that pytest rewrites its asserts before any test module imports it.

The slow tests (action, packaging) share what is expensive to make: one copy of the
checkout, one sdist + wheel built from it, and one virtual environment with that wheel's
dependencies installed. Each test still does the part it proves itself (the action's own
install step installs the checkout from its path into that environment; the packaging test
installs the wheel again and runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ("live_support",)

ROOT = Path(__file__).resolve().parents[1]


def copy_tracked_files(dest: Path) -> None:
    """The files a checkout has (tracked or new, not ignored): no build/ or venv leftovers."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


@dataclass(frozen=True)
class Built:
    source: Path  # the checkout copy the distributions were built from
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files as a user's clone (or the action's checkout) has them."""
    dest = tmp_path_factory.mktemp("checkout")
    copy_tracked_files(dest)
    return dest


@pytest.fixture(scope="session")
def built(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`python -m build`: the sdist, and the wheel built from that sdist, once per session."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(checkout)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [sdist] = dist.glob("talosaudit-0.1.0.tar.gz")
    [wheel] = dist.glob("talosaudit-0.1.0-py3-none-any.whl")
    return Built(checkout, sdist, wheel)


@pytest.fixture(scope="session")
def installed_venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One virtual environment with the built wheel and its dependencies, once per session.

    It is at ``<runner temp>/talosaudit-venv``, where the action's install step puts its own,
    so the action's step reuses it (its dependencies are already there)."""
    venv = tmp_path_factory.mktemp("runner_temp") / "talosaudit-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(built.wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return venv


def installed_from(venv: Path) -> str:
    """Where pip installed talosaudit in ``venv`` from (PEP 610 ``direct_url.json``): the
    wheel's or the directory's ``file://`` URL."""
    code = (
        "import importlib.metadata as m; d = m.distribution('talosaudit');"
        "print(d.read_text('direct_url.json') or d._path)"
    )
    text = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=venv, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert text.startswith("{"), text
    url: str = json.loads(text)["url"]
    return url
