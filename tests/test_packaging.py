"""The wheel ships every subpackage, the built-in policy pack and the licence; the built wheel runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_build_sdist_and_wheel_then_run_the_installed_wheel(tmp_path: Path) -> None:
    source, dist = tmp_path / "source", tmp_path / "dist"
    copy_tracked_files(source)
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist), str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [sdist] = dist.glob("talosaudit-0.1.0.tar.gz")
    [wheel] = dist.glob("talosaudit-0.1.0-py3-none-any.whl")
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

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    proc = subprocess.run(
        [str(venv / "bin" / "talosaudit"), "scan", "fixtures/aws-talos", "--tunnel", "geneve", "--no-cache"],
        cwd=source, capture_output=True, text=True, check=False, timeout=300,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout
    # The wheel reads its own policy pack, not the source tree's policies/.
    listing = subprocess.run(
        [str(venv / "bin" / "talosaudit"), "policies", "list"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "TA201  error    talos-api-public" in listing
