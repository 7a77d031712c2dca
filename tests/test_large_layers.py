"""Large first-match layers stay near-linear (issue 12, section 2): the five inputs of
benchmarks/large_layers.py, each scanned through the CLI with a time and memory bound.

The targets are 5 s and 500 MB on an idle core (benchmarks/README.md); the bounds here are
20 s and a 500 MB address space so that a loaded 2-core CI machine does not flake, while a
quadratic algorithm (minutes at these sizes) still fails. Each case asserts its exact
findings, so a faster algorithm that answers differently fails too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import hostile_generate
from hostile_support import Run, scan_json

SECONDS = 20.0
MEMORY = 500 * 1024 * 1024
PFSENSE_ADMIN = ("--admin-cidr", "192.168.20.0/24")
PROXMOX_ADMIN = ("--admin-cidr", "10.0.10.0/24")


def _scan(tree: Path, *extra: str) -> Run:
    run = scan_json([tree.name], tree.parent, *extra, seconds=SECONDS, memory=MEMORY)
    assert run.seconds < SECONDS
    return run


def _wan_exposures(run: Run, tree: Path) -> None:
    """The pfSense base case's own finding: the WAN rule opens the Talos API to everyone."""
    line = hostile_generate.wan_rule_line(tree)
    ta201 = run.findings("TA201")
    assert [f[1:3] for f in ta201] == [(f"{tree.name}/config.xml", line)] * 2
    for role, finding in zip(("control-plane", "worker"), ta201, strict=True):
        prefix = f"tcp/50000 (the Talos API) on {role} nodes is reachable from the internet (0.0.0.0/0)"
        assert finding[3].startswith(prefix)
    assert [f for f in run.findings() if f[0] in ("TA001", "TA002", "TA403")] == []


#: The line of the first rule in the generated Proxmox firewalls: the one that shadows.
FIRST = hostile_generate.PROXMOX_FIRST_RULE_LINE


def _shadowed(run: Run, tree: Path, *, line: int, rule: str, what: str, by: str) -> None:
    """Exactly one finding: TA403 for ``rule`` at ``line`` of VM 101's firewall."""
    assert run.findings() == [
        (
            "TA403",
            f"{tree.name}/firewall/101.fw",
            line,
            f"rule guest:101:rule/{rule} in Proxmox firewall proxmox:{tree.name}/101/net0 ({what}) "
            f"never matches: {by} comes before it and covers all of it",
        )
    ]


def test_proxmox_2000_rules(tmp_path: Path) -> None:
    tree = hostile_generate.proxmox_many_rules(tmp_path / "tree", 2000)
    run = _scan(tree, *PROXMOX_ADMIN)
    line = hostile_generate.PROXMOX_FIRST_RULE_LINE + 2000
    _shadowed(
        run,
        tree,
        line=line,
        rule="2000 (block 0 again)",
        what="deny tcp/1024 from 11.0.0.0 (11.0.0.0/32)",
        by=f"Proxmox rule 'block 0' ({tree.name}/firewall/101.fw:{FIRST})",
    )


def test_proxmox_ipset_of_50000_entries(tmp_path: Path) -> None:
    tree = hostile_generate.proxmox_big_ipset(tmp_path / "tree", 50_000)
    run = _scan(tree, *PROXMOX_ADMIN)
    line = hostile_generate.PROXMOX_FIRST_RULE_LINE + 1
    _shadowed(
        run,
        tree,
        line=line,
        rule="1 (one of them)",
        what="deny all from 11.0.97.168 (11.0.97.168/32)",
        by=f"Proxmox rule 'the block list' ({tree.name}/firewall/101.fw:{FIRST})",
    )


@pytest.mark.parametrize(
    ("make", "size"),
    [("pfsense_many_rules", 20_000), ("pfsense_big_alias", 100_000), ("pfsense_alias_dag", 30)],
)
def test_pfsense_large_layers(tmp_path: Path, make: str, size: int) -> None:
    tree = getattr(hostile_generate, make)(tmp_path / "tree", size)
    _wan_exposures(_scan(tree, *PFSENSE_ADMIN), tree)
