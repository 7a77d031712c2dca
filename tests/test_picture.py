"""What people read: ``graph`` as a matrix that fits a terminal, ``mermaid`` as a small
picture, and ``why`` that answers first with the right exit code.

Golden files (tests/data/picture/) pin the text and Mermaid output of an AWS case, a
homelab pfSense + Talos case and the three-layer homelab stack (pfSense + Proxmox + Talos),
each with a blocked flow; TALOSAUDIT_REGOLD=1 rewrites them.
"""

from __future__ import annotations

import contextlib
import os
import re
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


def test_why_partial_names_the_ipv6_part() -> None:
    # 6443 is open to 0.0.0.0/0 only: from anywhere, the IPv6 half is the part refused.
    code, lines = _why("inline-self-and-world", "anywhere", "control-plane", "tcp/6443")
    assert code == 1
    assert lines[0] == (
        "tcp/6443 anywhere → control-plane: partly blocked on 1 of 1 paths (the IPv6 part (::/0) blocked) "
        "by security group aws_security_group.control_plane at main.tf:32"
    )
    assert "  blocked part: the IPv6 part (::/0)" in lines
    # The internet's IPv6 is ::/0 minus the private ranges (147 CIDRs): said in words.
    code, lines = _why("inline-self-and-world", "internet", "control-plane", "tcp/6443")
    assert code == 1
    assert "(the IPv6 part (all IPv6 addresses of the internet) blocked)" in lines[0]


def _reachability_section(markdown: str) -> str:
    return markdown.split("## Reachability\n", 1)[1].split("\n## ", 1)[0]


MARKDOWN_NOTE = (
    "- ✗ tcp/50001 worker → control-plane blocked (TA103): security group "
    "aws_security_group.control_plane at modules/network/security_groups.tf:6: no ingress rule allows it"
)


def test_markdown_report_draws_the_matrix_in_mermaid() -> None:
    c = load_case(CASES / "seed-trustd-removed")
    code, out = _run(
        c.directory, ["scan", *c.paths, "--root", ".", "--no-cache", "--format", "markdown", *c.args]
    )
    assert code == 1
    section = _reachability_section(out)
    # The same picture as `graph --format mermaid`, fenced for GitHub to render.
    assert section.startswith(
        "\n```mermaid\n" + _graph("seed-trustd-removed", "mermaid").rstrip() + "\n```\n"
    )
    # One bullet per note, never cut in two.
    assert MARKDOWN_NOTE in section.splitlines()


def test_github_step_summary_has_the_reachability_section(tmp_path: Path) -> None:
    c = load_case(CASES / "seed-trustd-removed")
    summary = tmp_path / "step_summary.md"
    with contextlib.chdir(c.directory):
        result = CliRunner(env={"GITHUB_STEP_SUMMARY": str(summary)}).invoke(
            cli, ["scan", *c.paths, "--root", ".", "--no-cache", "--format", "github", *c.args]
        )
    assert result.exit_code == 1, result.output
    assert "::error file=modules/network/security_groups.tf" in result.stdout
    section = _reachability_section(summary.read_text(encoding="utf-8"))
    assert "```mermaid\nflowchart LR\n" in section
    assert '  n1 -.->|"6443✓ 50001✗ 10250✓ udp/6081✓ 4240✓ icmp✓"| n0' in section
    assert MARKDOWN_NOTE in section.splitlines()


def test_graph_in_colour_on_a_terminal_or_with_force_color() -> None:
    import pty
    import subprocess
    import sys

    argv = [sys.executable, "-m", "talosaudit", "graph", "fixtures/aws-talos", "--tunnel", "geneve"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = str(REPO / "src")
    # A terminal: stdout is a pseudo-terminal.
    leader, follower = pty.openpty()
    subprocess.run(argv, cwd=REPO, env=env, stdout=follower, check=True)
    os.close(follower)
    tty = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 65536):
            tty += chunk
    os.close(leader)
    assert "\x1b[32m✓\x1b[0m" in tty.decode()
    # A pipe: plain, unless FORCE_COLOR asks for colour (a CI log); NO_COLOR wins.
    piped = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    assert "\x1b[" not in piped
    forced = subprocess.run(
        argv, cwd=REPO, env={**env, "FORCE_COLOR": "1"}, capture_output=True, text=True, check=True
    )
    assert "worker        │ 6443\x1b[32m✓\x1b[0m 50001\x1b[32m✓\x1b[0m" in forced.stdout
    assert re.sub("\x1b\\[[0-9]+m", "", forced.stdout) == piped
    off = subprocess.run(
        argv,
        cwd=REPO,
        env={**env, "FORCE_COLOR": "1", "NO_COLOR": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert off.stdout == piped


def _trustd_source_unresolved(tmp_path: Path) -> Path:
    """seed-clean with the trustd rule's source a variable nobody sets: tcp/50001 unknown."""
    import shutil

    case = tmp_path / "case"
    shutil.copytree(CASES / "seed-clean", case)
    tf = case / "modules" / "network" / "security_groups.tf"
    text = tf.read_text(encoding="utf-8")
    rule = (
        '  ip_protocol                  = "tcp"\n'
        + "  referenced_security_group_id = aws_security_group.worker.id"
    )
    assert text.count(rule) >= 1
    start = text.index("control_plane_talos_trustd")
    end = text.index(rule, start) + len(rule)
    text = (
        text[:start]
        + text[start:end].replace(
            "referenced_security_group_id = aws_security_group.worker.id",
            "cidr_ipv4                    = var.trustd_source",
        )
        + text[end:]
    )
    tf.write_text(text + '\nvariable "trustd_source" {\n  type = string\n}\n', encoding="utf-8")
    return case


def test_unknown_cell_names_the_unresolved_value(tmp_path: Path) -> None:
    case = _trustd_source_unresolved(tmp_path)
    code, text = _run(case, ["graph", ".", "--root", ".", "--tunnel", "geneve"])
    assert code == 0 and "6443✓ 50001? 10250✓" in text
    assert (
        "? tcp/50001 worker → control-plane unknown (TA103): "
        "security group aws_security_group.control_plane at\n"
        "    modules/network/security_groups.tf:6: not resolved: "
        "cidr_ipv4 = var.trustd_source (variable has no value) at\n"
        "    modules/network/security_groups.tf:49"
    ) in text
    code, lines = _why_in(case, "worker", "control-plane", "tcp/50001", ["--tunnel", "geneve"])
    assert code == 1
    assert (
        "      unresolved: cidr_ipv4 = var.trustd_source (variable has no value) "
        "at modules/network/security_groups.tf:49" in lines
    )
    code, page = _run(case, ["graph", ".", "--root", ".", "--tunnel", "geneve", "--format", "html"])
    # The note under the matrix and the cell's trace both name the value.
    assert page.count("not resolved: cidr_ipv4 = var.trustd_source (variable has no value)") == 1
    assert "      unresolved: cidr_ipv4 = var.trustd_source (variable has no value)" in page


def test_unknown_from_an_end_without_addresses_says_so() -> None:
    text = _graph("talos-patch-tree-roles", "text")
    assert (
        "? tcp/2379-2380 control-plane → control-plane unknown (TA104): Talos host firewall cp-01.yaml at\n"
        "    talos/patches/common.yaml:10: "
        "the addresses of patches in talos/lab/ (assumed control-plane) are not known"
    ) in text


def _why_in(
    directory: Path, source: str, destination: str, port: str, args: list[str]
) -> tuple[int, list[str]]:
    argv = ["why", ".", "--root", ".", "--from", source, "--to", destination, "--port", port, *args]
    code, out = _run(directory, argv)
    return code, out.splitlines()
