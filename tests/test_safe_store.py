"""Issue 12 section 4: what the tool writes (reports, the parse cache) is safe to store."""

from __future__ import annotations

import json
from pathlib import Path

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
