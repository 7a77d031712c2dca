"""The HTML report in a real browser: headless Chromium (Debian's package, installed by
.ci/run) driven by Playwright's Python API with that Chromium as the executable. The matrix
renders, a cell opens its layer-by-layer trace, and the page logs no console error. Plus, in
plain Python: the file is self-contained and input text cannot inject markup.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from talosaudit.cli import cli
from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model.source import SourceRef
from talosaudit.report.base import Report
from talosaudit.report.html import render_html

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "aws-talos"
#: Where README's picture of the bundled example's report lives (refreshed when
#: TALOSAUDIT_SCREENSHOT=1 is set).
SCREENSHOT = REPO / "docs" / "report.png"


def _bundled_report(tmp_path: Path) -> Path:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli,
        ["scan", str(FIXTURE), "--tunnel", "geneve", "--no-cache", "-o", f"html={out}"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out


def test_scan_writes_a_self_contained_html_report(tmp_path: Path) -> None:
    text = _bundled_report(tmp_path).read_text(encoding="utf-8")
    assert "default-src 'none'" in text  # the browser may load nothing
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # no CDN, no remote asset
    assert '<table id="matrix">' in text
    assert "<th>control-plane</th>" in text and "<th>worker</th>" in text
    assert "50001✓" in text
    assert "cni = cilium" in text  # facts used


def test_graph_format_html_is_the_same_report() -> None:
    result = CliRunner().invoke(cli, ["graph", str(FIXTURE), "--tunnel", "geneve", "--format", "html"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "tcp/50001 worker → control-plane: allowed on all 6 paths" in result.stdout


def test_hostile_input_is_escaped() -> None:
    hostile = 'sg "x"><script>alert(1)</script><img src=x onerror=alert(2)>'
    finding = Finding(
        rule_id="TA501",
        level=Level.NOTE,
        message=f"rule {hostile} has no description",
        location=SourceRef(path="<b>main.tf", start_line=3),
        identity="x",
    )
    page = render_html(Report(findings=(finding,), policies=(), root=REPO))
    assert "<script>alert" not in page and "<img" not in page and "<b>main.tf" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # ours only


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    executable = _chromium()
    # .ci/run sets "required" once chromium is installed: then no skip may hide a failure.
    required = os.environ.get("TALOSAUDIT_BROWSER_TEST") == "required"
    if executable is None:
        reason = "no Chromium on this machine (.ci/run installs Debian's chromium; apt-get install chromium)"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    # A test dependency (pyproject's `test` extra): missing it is an install error, not a skip.
    from playwright import sync_api

    report = _bundled_report(tmp_path)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        matrix = page.locator("#matrix")
        assert matrix.is_visible()
        assert [h.strip() for h in matrix.locator("thead th").all_inner_texts()][1:3] == [
            "control-plane",
            "worker",
        ]
        assert page.locator("#trace").is_hidden()
        cell = page.locator('td.cell button[data-title="worker → control-plane"]')
        cell.click()
        assert page.locator("#trace").is_visible()
        assert page.locator("#trace-title").inner_text() == "worker → control-plane"
        body = page.locator("#trace-body").inner_text()
        assert "tcp/50001 worker → control-plane: allowed on all 6 paths" in body
        assert "required: TA103 R5 tcp/50001: allowed" in body
        # Short names: role and resource, one line for the five other pairs; no module paths.
        assert (
            "tcp/50001 from worker aws_instance.worker@private[0] to "
            "control-plane aws_instance.control_plane@private[0]: allowed"
        ) in body
        assert (
            "  same path for 5 more pairs: worker aws_instance.worker@private[0..1] → "
            "control-plane aws_instance.control_plane@private[0..2]"
        ) in body
        assert (
            "module.compute." not in body
            and "module.network.aws_security_group" not in body.split("allows:")[0]
        )
        if os.environ.get("TALOSAUDIT_SCREENSHOT"):
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert errors == []
