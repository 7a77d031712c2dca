"""Several Terraform root modules: the markdown and HTML reports of ``scan`` draw one matrix
per root, each from its own model (as ``graph`` does), never one matrix of the merged roots
(where prod's allowed trustd flow would hide staging's blocked one)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from click.testing import CliRunner

from talosaudit.cli import cli
from test_cases import load_case

CASE = Path(__file__).resolve().parent / "cases" / "roots-prod-staging-trustd-missing"


def _scan(argv: list[str]) -> tuple[int, str]:
    c = load_case(CASE)
    with contextlib.chdir(c.directory):
        result = CliRunner().invoke(
            cli, ["scan", *c.paths, "--root", ".", "--no-cache", *c.args, *argv], catch_exceptions=False
        )
    return result.exit_code, result.stdout


def test_markdown_has_one_reachability_section_per_root() -> None:
    code, out = _scan(["--format", "markdown"])
    assert code == 1
    headings = [line for line in out.splitlines() if line.startswith("## Reachability")]
    assert headings == ["## Reachability (root envs/prod)", "## Reachability (root envs/staging)"]
    prod, staging = (part.split("\n## Facts", 1)[0] for part in out.split("## Reachability (root ")[1:])
    assert '  n1 -->|"6443✓ 50001✓ 10250✓ udp/6081✓ 4240✓ icmp✓"| n0' in prod and "✗" not in prod
    assert '  n1 -.->|"6443✓ 50001✗ 10250✓ udp/6081✓ 4240✓ icmp✓"| n0' in staging
    assert (
        "- ✗ tcp/50001 worker → control-plane blocked (TA103): "
        "security group aws_security_group.control_plane at "
        "envs/staging/modules/network/security_groups.tf:6: no ingress rule allows it"
    ) in staging.splitlines()


def test_html_has_one_matrix_per_root(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    code, _ = _scan(["-o", f"html={report}"])
    assert code == 1
    page = report.read_text(encoding="utf-8")
    assert re.findall(r"<h2>Reachability[^<]*</h2>", page) == [
        "<h2>Reachability (root envs/prod)</h2>",
        "<h2>Reachability (root envs/staging)</h2>",
    ]
    assert re.findall(r'<table id="(matrix[^"]*)"', page) == ["matrix", "matrix-1"]
    prod, staging = page.split("<h2>Reachability (root envs/staging)</h2>")
    assert '<span class="ok">50001✓</span>' in prod and "50001✗" not in prod
    assert '<span class="bad">50001✗</span>' in staging
    # Unique trace ids across the matrices, and one trace panel for all of them.
    ids = re.findall(r'<pre hidden id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and page.count('<div id="trace"') == 1
    assert (
        "<h2>Facts used (root envs/prod)</h2>" in page and "<h2>Facts used (root envs/staging)</h2>" in page
    )
