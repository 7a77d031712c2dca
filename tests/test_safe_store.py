"""Issue 12 section 4: what the tool writes (reports, the parse cache) is safe to store."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from talosaudit.cli import cli

TF = """\
resource "aws_security_group" "cp" {
  name = "talos-cp"
  tags = { Role = "control-plane" }
}

resource "aws_vpc_security_group_ingress_rule" "talos_api" {
  security_group_id = aws_security_group.cp.id
  description       = "talosctl from anywhere"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 50000
  to_port           = 50000
  ip_protocol       = "tcp"
}
"""


def _scan(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["scan", str(root), "--root", str(root), *args], catch_exceptions=False)


def test_output_over_a_scanned_input_is_refused(tmp_path: Path) -> None:
    main = tmp_path / "main.tf"
    main.write_text(TF, encoding="utf-8")
    result = _scan(tmp_path, "--no-cache", "-o", f"json={main}")
    assert result.exit_code == 2
    assert "would overwrite a scanned input" in result.stderr
    assert main.read_text(encoding="utf-8") == TF


def test_output_creates_missing_parent_folders(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(TF, encoding="utf-8")
    out = tmp_path / "reports" / "deep" / "scan.json"
    result = _scan(tmp_path, "--no-cache", "-o", f"json={out}")
    assert result.exit_code == 1, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    found = {(f["rule_id"], f["location"]["path"], f["location"]["start_line"]) for f in doc["findings"]}
    assert ("TA201", "main.tf", 6) in found


# --- the parse cache ---------------------------------------------------------------------

CACHE_TF = 'variable "c" { default = "1.2.3.4/32" }\nresource "r" "a" { cidr = var.c }\n'


def _cached_scan(root: Path, cache: Path) -> Result:
    return CliRunner(env={"XDG_CACHE_HOME": str(cache)}).invoke(
        cli, ["scan", str(root), "--root", str(root), "--format", "json"], catch_exceptions=False
    )


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "talosaudit" / "terraform-ast").glob("*.json"))


def test_cache_folder_is_private_and_entries_are_json(tmp_path: Path) -> None:
    root, cache = tmp_path / "src", tmp_path / "cache"
    root.mkdir()
    (root / "main.tf").write_text(CACHE_TF, encoding="utf-8")
    _cached_scan(root, cache)
    folder = cache / "talosaudit" / "terraform-ast"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    [entry] = _entries(cache)
    doc = json.loads(entry.read_text(encoding="utf-8"))
    assert doc["key"] == entry.name.removesuffix(".json")
    assert doc["tree"]["b"][0]["t"] == "variable"


class _Planted:
    """A pickle payload: loading it with pickle would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_planted_corrupt_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    root, cache = tmp_path / "src", tmp_path / "cache"
    root.mkdir()
    (root / "main.tf").write_text(TF, encoding="utf-8")
    (root / "other.tf").write_text('resource "r" "b" { cidr = "5.6.7.8/32" }\n', encoding="utf-8")
    clean = json.loads(_cached_scan(root, cache).output)
    first, second = _entries(cache)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    # a pickle planted under the entry's name, its old .pickle name, and a foreign entry (the
    # other file's tree under this file's key)
    first.write_bytes(payload)
    first.with_suffix(".pickle").write_bytes(payload)
    foreign = json.loads(second.read_text(encoding="utf-8"))
    foreign["key"] = "someone-else"
    second.write_text(json.dumps(foreign), encoding="utf-8")
    again = json.loads(_cached_scan(root, cache).output)
    assert not marker.exists()
    assert clean["findings"] and again["findings"] == clean["findings"]
    assert json.loads(first.read_text(encoding="utf-8"))["key"] == first.name.removesuffix(".json")
    assert json.loads(second.read_text(encoding="utf-8"))["key"] == second.name.removesuffix(".json")


def test_a_cache_folder_others_can_write_is_not_used(tmp_path: Path) -> None:
    root, cache = tmp_path / "src", tmp_path / "cache"
    root.mkdir()
    (root / "main.tf").write_text(TF, encoding="utf-8")
    clean = json.loads(_cached_scan(root, cache).output)
    folder = cache / "talosaudit" / "terraform-ast"
    [entry] = _entries(cache)
    doc = json.loads(entry.read_text(encoding="utf-8"))
    doc["tree"]["b"] = []  # a planted tree: no variable, no resource
    entry.write_text(json.dumps(doc), encoding="utf-8")
    os.chmod(folder, 0o777)
    again = json.loads(_cached_scan(root, cache).output)
    assert clean["findings"] and again["findings"] == clean["findings"]
    # the folder is ours: it is made private again and the entry rewritten
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads(entry.read_text(encoding="utf-8"))["tree"]["b"] != []
