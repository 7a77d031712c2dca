"""The wheel ships every subpackage, the built-in policy pack and the licence; the built wheel runs."""

from __future__ import annotations

import os
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import Built, installed_from

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    src = ROOT / "src"
    found = {".".join(init.parent.relative_to(src).parts) for init in src.rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found == {"talosaudit.builtin_policies"}


def test_policy_pack_is_mapped_into_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["package-dir"]["talosaudit.builtin_policies"] == "policies"
    assert sorted(p.name for p in (ROOT / "policies").glob("TA*.yaml")), "policies/ is empty"


def test_information_uri_is_the_declared_homepage() -> None:
    from talosaudit.report.base import INFORMATION_URI, RULE_DOC_URI

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Homepage"] == INFORMATION_URI
    assert RULE_DOC_URI.startswith(INFORMATION_URI + "/")


@pytest.mark.slow
def test_build_sdist_and_wheel_then_run_the_installed_wheel(
    built: Built, installed_venv: Path, tmp_path: Path
) -> None:
    # `built` ran `python -m build --sdist --wheel` on a copy of the tracked files (conftest).
    sdist, wheel, source = built.sdist, built.wheel, built.source
    with tarfile.open(sdist) as tar:
        in_sdist = {Path(n).relative_to("talosaudit-0.1.0").as_posix() for n in tar.getnames()}
    assert {"LICENSE", "README.md", "pyproject.toml", "policies/TA201-talos-api-public.yaml"} <= in_sdist
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read("talosaudit-0.1.0.dist-info/METADATA").decode()
    assert "talosaudit-0.1.0.dist-info/licenses/LICENSE" in names
    assert {"talosaudit/py.typed", "talosaudit/builtin_policies/TA201-talos-api-public.yaml"} <= names
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Homepage, https://github.com/talosaudit/talosaudit" in metadata
    assert "Classifier: Topic :: Security" in metadata

    # The shared environment has the wheel's dependencies; install the wheel itself again so
    # that what runs is the wheel, whatever another test installed there before.
    python = installed_venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    assert installed_from(installed_venv) == wheel.as_uri()
    talosaudit = str(installed_venv / "bin" / "talosaudit")
    proc = subprocess.run(
        [talosaudit, "scan", "fixtures/aws-talos", "--tunnel", "geneve", "--no-cache"],
        cwd=source, capture_output=True, text=True, check=False, timeout=300,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout
    # The wheel reads its own policy pack, not the source tree's policies/.
    listing = subprocess.run(
        [talosaudit, "policies", "list"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "TA201  error    talos-api-public" in listing
