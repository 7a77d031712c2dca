"""What people read: ``graph`` as a matrix that fits a terminal, ``mermaid`` as a small
picture, and ``why`` that answers first with the right exit code.

Golden files (tests/data/picture/) pin the text and Mermaid output of an AWS case, a
homelab pfSense + Talos case and the three-layer homelab stack (pfSense + Proxmox + Talos),
each with a blocked flow; TALOSAUDIT_REGOLD=1 rewrites them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from talosaudit.cli import cli
from test_cases import load_case

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "cases"
GOLDEN = REPO / "tests" / "data" / "picture"
MAX_LINES, MAX_WIDTH, MAX_EDGES = 40, 120, 20


def _run(directory: Path, argv: list[str]) -> tuple[int, str]:
    with contextlib.chdir(directory):
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stdout


def _graph(case: str, fmt: str) -> str:
    c = load_case(CASES / case)
    code, out = _run(c.directory, ["graph", *c.paths, "--root", ".", "--format", fmt, *c.args])
    assert code == 0, out
    return out


def _edges(mermaid: str) -> list[str]:
    return [line for line in mermaid.splitlines() if "-->" in line or "-.->" in line]


def test_bundled_example_fits() -> None:
    code, text = _run(REPO, ["graph", "fixtures/aws-talos", "--tunnel", "geneve"])
    assert code == 0
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES and max(len(line) for line in lines) <= MAX_WIDTH
    assert "\x1b[" not in text  # piped: no colour
    assert "control-plane ×3  aws_instance.control_plane — subnets private[0..2]" in text
    code, mermaid = _run(REPO, ["graph", "fixtures/aws-talos", "--tunnel", "geneve", "--format", "mermaid"])
    assert len(_edges(mermaid)) <= MAX_EDGES


@pytest.mark.parametrize(
    "case", ["seed-trustd-removed", "pfsense-admin-no-50000", "homelab-stack-pfsense-trustd-wrong-tab"]
)
@pytest.mark.parametrize("fmt", ["text", "mermaid"])
def test_golden_picture(case: str, fmt: str) -> None:
    out = _graph(case, fmt)
    lines = out.splitlines()
    if fmt == "text":
        assert len(lines) <= MAX_LINES and max(len(line) for line in lines) <= MAX_WIDTH
    else:
        assert len(_edges(out)) <= MAX_EDGES
        assert any("-.->" in e for e in _edges(out)) and "stroke:red" in out  # the blocked edge is red
    golden = GOLDEN / f"{case}.{'txt' if fmt == 'text' else 'mmd'}"
    if os.environ.get("TALOSAUDIT_REGOLD"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


def test_blocked_cell_names_layer_and_place() -> None:
    text = _graph("seed-trustd-removed", "text")
    assert "6443✓ 50001✗ 10250✓" in text
    assert (
        "✗ tcp/50001 worker → control-plane blocked (TA103): "
        "security group aws_security_group.control_plane at\n"
        "    modules/network/security_groups.tf:6: no ingress rule allows it"
    ) in text


def test_three_layer_stack_names_the_pfsense_tab_that_blocks() -> None:
    text = _graph("homelab-stack-pfsense-trustd-wrong-tab", "text")
    assert "worker        │ 6443✓ 50001✗ 10250✓ udp/4789✓" in text
    assert (
        "✗ tcp/50001 worker → control-plane blocked (TA103): "
        "pfSense rules config.xml:opt3 at pfsense/config.xml:34"
    ) in text


def test_dot_draws_the_matrix_with_red_blocked_edges() -> None:
    dot = _graph("pfsense-admin-no-50000", "dot")
    edges = [line for line in dot.splitlines() if "->" in line]
    assert len(edges) <= MAX_EDGES
    blocked = [e for e in edges if "50000✗" in e]
    assert len(blocked) == 1 and "color=red" in blocked[0]


def _why(case: str, source: str, destination: str, port: str) -> tuple[int, list[str]]:
    c = load_case(CASES / case)
    argv = ["why", *c.paths, "--root", ".", "--from", source, "--to", destination, "--port", port, *c.args]
    code, out = _run(c.directory, argv)
    return code, out.splitlines()


def test_why_allowed() -> None:
    code, lines = _why("seed-clean", "worker", "control-plane", "tcp/50001")
    assert (code, lines[0]) == (0, "tcp/50001 worker → control-plane: allowed on all 6 paths")
    # Six paths with the same layers: one block, the other five named under it.
    assert sum(line.startswith("tcp/50001 from ") for line in lines) == 1
    assert sum(line.startswith("  same path for: ") for line in lines) == 5


def test_why_blocked() -> None:
    code, lines = _why("seed-trustd-removed", "worker", "control-plane", "50001/tcp")
    assert code == 1
    assert lines[0] == (
        "tcp/50001 worker → control-plane: blocked on 6 of 6 paths by security group "
        "module.network.aws_security_group.control_plane at modules/network/security_groups.tf:6"
    )


def test_why_partial_names_the_blocked_part() -> None:
    code, lines = _why("proxmox-ipset-exclusion", "admin", "control-plane", "tcp/6443")
    assert code == 1
    assert lines[0] == (
        "tcp/6443 admin → control-plane: partly blocked on 1 of 1 paths (sources 192.168.1.50/32 blocked) "
        "by Proxmox firewall proxmox:etc/pve/201/net0 at etc/pve/firewall/201.fw:4"
    )
    assert "  blocked part: sources 192.168.1.50/32" in lines
    code, lines = _why("etcd-partially-blocked", "control-plane", "control-plane", "tcp/2379-2380")
    assert code == 1 and "(ports 2380 blocked)" in lines[0]


def test_why_accepts_an_address_and_exits_2_on_usage_errors() -> None:
    code, lines = _why("proxmox-ipset-exclusion", "192.168.1.50", "control-plane", "tcp/6443")
    assert code == 1 and lines[0].startswith("tcp/6443 192.168.1.50 → control-plane: blocked on 1 of 1 paths")
    assert _why("proxmox-ipset-exclusion", "bogus", "control-plane", "tcp/6443")[0] == 2
    assert _why("proxmox-ipset-exclusion", "admin", "control-plane", "tcp/notaport")[0] == 2


def test_why_help_names_every_kind_of_end() -> None:
    code, out = _run(REPO, ["why", "--help"])
    assert code == 0
    for word in ("control-plane", "admin", "internet", "CIDR", "address"):
        assert word in out
