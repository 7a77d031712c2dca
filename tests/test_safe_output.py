"""Issue 12 section 4: input text never reaches an output raw.

One injection corpus (tests/hostile_corpus.py: a Terraform description, a file name with a
newline and ESC, a pfSense descr, a Proxmox comment) goes through every format of ``scan`` and
``graph``; no output may hold a raw escape sequence or a line a GitHub runner would execute
(the runner trims leading blanks, then reads a line starting with ``::`` as a command).
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import hostile_corpus as corpus
from talosaudit.cli import cli
from talosaudit.findings import Finding
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level
from talosaudit.report.base import Report
from talosaudit.report.github import render_github
from talosaudit.report.markdown import render_markdown
from talosaudit.report.safe import md_cell, visible
from talosaudit.report.text import render_text

SCAN_FORMATS = ("text", "json", "sarif", "github", "markdown")
GRAPH_FORMATS = ("text", "mermaid", "dot")
#: Our own annotations: the command, its properties, then the data (no raw newline anywhere).
ANNOTATION = re.compile(r"::(error|warning|notice) file=[^\n:]*,line=\d+,endLine=\d+,title=[^\n:]*::[^\n]*")
ARGS = {
    "terraform": ["--cni", "cilium", "--tunnel", "geneve"],
    "pfsense": ["--admin-cidr", "192.168.20.0/24"],
    "proxmox": ["--admin-cidr", "10.0.10.0/24"],
}
MAX_SECONDS = 30
MAX_BYTES = 200 * 1024 * 1024


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def assert_safe(out: str, *, annotations: bool = False) -> None:
    for control in corpus.RAW_CONTROLS:
        assert control not in out, f"raw {control!r} in output"
    for line in out.split("\n"):
        if line.lstrip().startswith("::"):
            assert annotations and ANNOTATION.fullmatch(line), f"workflow command line: {line!r}"
            for command in corpus.COMMANDS:
                assert not line.startswith(command), line


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus.build(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("fmt", SCAN_FORMATS)
@pytest.mark.parametrize("kind", sorted(ARGS))
def test_scan_output_holds_nothing_raw(roots: dict[str, Path], kind: str, fmt: str) -> None:
    root = roots[kind]
    tracemalloc.start()
    started = time.monotonic()
    result = _invoke(["scan", str(root), "--root", str(root), "--no-cache", "--format", fmt, *ARGS[kind]])
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.exit_code in (0, 1), result.output
    assert elapsed < MAX_SECONDS and peak < MAX_BYTES
    assert_safe(result.output, annotations=fmt == "github")
    assert_safe(result.stderr)
    if fmt in ("json", "sarif"):
        json.loads(result.output)  # JSON escapes control characters itself
        return
    # The hostile text is shown, escaped, not dropped.
    shown = {
        "terraform": "::add-mask::hunter2",
        "pfsense": "::warning::pfsense",
        "proxmox": "::error file=main.tf::pve",
    }[kind]
    assert shown in result.output


def test_the_hostile_description_is_shown_escaped_on_the_finding_line(roots: dict[str, Path]) -> None:
    root = roots["terraform"]
    out = _invoke(["scan", str(root), "--root", str(root), "--no-cache", *ARGS["terraform"]]).output
    lines = out.splitlines()
    assert "  TA001 input-unparseable error  evil\\n::error file=x::name\\x1b[31m.tf:2" in lines
    message = next(line for line in lines if "cp_k8s_api_nodes (" in line)
    assert message.startswith(
        "      rule aws_vpc_security_group_ingress_rule.cp_k8s_api_nodes (x\\n::add-mask"
    )
    assert "\\x1b]52;c;aHVudGVyMg==\\x07\\x1b]8;;https://evil.example/\\x1b\\link\\x9b31m)" in message


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
@pytest.mark.parametrize("kind", sorted(ARGS))
def test_graph_output_holds_nothing_raw(roots: dict[str, Path], kind: str, fmt: str) -> None:
    root = roots[kind]
    result = _invoke(["graph", str(root), "--root", str(root), "--format", fmt, *ARGS[kind]])
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert_safe(result.stderr)


def test_graph_renderers_escape_hostile_names() -> None:
    from talosaudit.model import NodeGroup
    from talosaudit.report.graph import GRAPH_FORMATS as RENDERERS
    from talosaudit.report.graph import FlowCell, GraphData

    name = "cp\n::add-mask::x\x1b]52;c;eA==\x07<img src=x onerror=alert(1)>"
    group = NodeGroup("g", name, None, "::error::reason\n::x", SourceRef("main.tf\n::error::f", 1))
    flow = FlowCell("tcp/50000", name, "admin\x9b2J", "blocked", why="::error::why")
    data = GraphData(groups=(group,), layers={}, flows=(flow,))
    for fmt, render in RENDERERS.items():
        out = render(data)
        assert_safe(out)
        if fmt == "mermaid":
            assert "<img" not in out


def test_config_parse_error_is_printed_escaped(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "x" {}\n', encoding="utf-8")
    (tmp_path / ".talosaudit.yaml").write_text(
        "fail_on: [\n::add-mask::x \x1b]52;c;eA==\x07\n::error::y\n", encoding="utf-8"
    )
    result = _invoke(["scan", str(tmp_path), "--root", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert_safe(result.stderr)
    assert result.stderr.count("\n") == 1


def test_visible_escapes_controls_and_keeps_text() -> None:
    assert visible("a\nb\r\tc\x1b[2J\x07\x9b\x7f\u202e") == "a\\nb\\r\\tc\\x1b[2J\\x07\\x9b\\x7f\\u202e"
    assert visible("plain: ü, 日本, 🔴") == "plain: ü, 日本, 🔴"
    assert md_cell("a|b `c` [x](javascript:y) <img src=x>") == (
        "a\\|b \\`c\\` \\[x\\](javascript:y) &lt;img src=x&gt;"
    )


def test_a_message_or_path_starting_with_a_command_is_defused(tmp_path: Path) -> None:
    bad = Finding("TA207", Level.WARNING, "::error::fake", SourceRef("::warning::x.tf", 2), "fp", related=())
    report = Report(findings=(bad,), policies=(), root=tmp_path, notices=("::add-mask::n",))
    assert_safe(render_text(report))
    assert "      \\x3a:error::fake" in render_text(report).splitlines()
    assert_safe(render_markdown(report))
    assert_safe(render_github(report), annotations=True)


def test_why_shows_a_hostile_file_name_escaped(tmp_path: Path) -> None:
    """``why`` prints layer sources (file names), layer ids and rule texts from the inputs."""
    import shutil

    root = tmp_path / "tf"
    shutil.copytree(corpus.CASES / "duplicate-rule", root)
    hostile = "main\n::error file=main.tf::why\x1b]52;c;eA==\x07\x9b2J.tf"
    (root / "main.tf").rename(root / hostile)
    result = _invoke(
        [
            "why",
            str(root),
            "--root",
            str(root),
            "--from",
            "worker",
            "--to",
            "control-plane",
            "--port",
            "6443/tcp",
            *ARGS["terraform"],
        ]
    )
    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert_safe(result.stderr)
    escaped = "main\\n::error file=main.tf::why\\x1b]52;c;eA==\\x07\\x9b2J.tf"
    assert f"  [destination ingress] security group aws_security_group.control_plane ({escaped}:32)" in (
        result.output.splitlines()
    )
