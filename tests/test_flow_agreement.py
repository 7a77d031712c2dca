"""``graph``, ``why`` and ``scan`` agree on every golden case.

All three read ``policies/required.py``; this test holds them to it through the real CLI, with
each case's own arguments (``--cni``, ``--tunnel``, ``--admin-cidr``, ``--config``):

- every blocked or partial cell of ``graph --format json`` is a require_flow finding of ``scan``
  at each layer the cell names (or, when a platform rule covers the layer, a TA401 finding),
  and every require_flow finding of ``scan`` is such a cell;
- cells that hold or are unknown name no layer;
- ``why`` prints, for every cell, the same verdict on its ``required:`` line.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from test_cases import Case, _command, case_dirs, load_case

#: The ends ``why`` is asked about, by the words a require_flow policy's ``from``/``to`` use.
_WHY_ENDS = {"the admin networks": "admin", "the internet": "internet", "anywhere": "anywhere"}
_REQUIRED_LINE = re.compile(r"^  required: (?P<req>\S+(?: \S+)?) (?P<spec>\S+): (?P<verdict>\w+)")
_HEADER = re.compile(r"^\S+ from (?P<src>.+) to (?P<dst>.+): \w+$")
#: ``why`` prints each distinct path once; the other paths it stands for follow its header.
_SAME = re.compile(r"^  same path for: (?P<src>.+) → (?P<dst>.+)$")


def _run(case: Case, argv: list[str]) -> tuple[int, str]:
    with contextlib.chdir(case.directory):
        result = CliRunner().invoke(_command(), argv, catch_exceptions=False)
    return result.exit_code, result.stdout


def _scan(case: Case) -> list[dict[str, Any]]:
    argv = ["scan", *case.paths, "--root", str(case.directory), "--format", "json", "--no-cache"]
    argv += ["--min-level", "note", "--show-suppressed", *case.args]
    code, out = _run(case, argv)
    assert code in (0, 1), f"{case.name}: scan exit {code}"
    findings: list[dict[str, Any]] = json.loads(out)["findings"]
    return findings


def _graph(case: Case) -> list[dict[str, Any]]:
    code, out = _run(
        case, ["graph", *case.paths, "--root", str(case.directory), "--format", "json", *case.args]
    )
    assert code == 0, f"{case.name}: graph exit {code}: {out[:500]}"
    document = json.loads(out)
    # Several Terraform root modules: one graph per root, under "roots".
    sections = document.get("roots", [document])
    cells: list[dict[str, Any]] = [c for section in sections for c in section["flows"]]
    return cells


def _why(case: Case, source: str, destination: str) -> list[tuple[str, str, str, str, str]]:
    """(source, destination, requirement, flow, verdict) of every ``required:`` line."""
    argv = ["why", *case.paths, "--root", str(case.directory), "--from", source, "--to", destination]
    code, out = _run(case, [*argv, "--port", "all", *case.args])
    assert code in (0, 1), f"{case.name}: why --from {source} --to {destination} exit {code}: {out[:500]}"
    seen: list[tuple[str, str, str, str, str]] = []
    ends: list[tuple[str, str]] = []
    for line in out.splitlines():
        header = _HEADER.match(line)
        if header:
            ends = [(header["src"], header["dst"])]
        same = _SAME.match(line)
        if same:
            ends.append((same["src"], same["dst"]))
        required = _REQUIRED_LINE.match(line)
        if required:
            seen.extend((*end, required["req"], required["spec"], required["verdict"]) for end in ends)
    return seen


def _finding_key(f: dict[str, Any]) -> tuple[str, str, str, str, str]:
    p = f["properties"]
    return (f["rule_id"], p["layers"].split(", ")[0], p["source"], p["destination"], p["flow"].split("/")[0])


def _cell_keys(cell: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    protocol = cell["flow"].split("/")[0]
    return [
        (cell["rule_id"], layer, cell["source_text"], cell["destination_text"], protocol)
        for layer in cell["reported_by"]
    ]


@pytest.mark.parametrize("case_dir", case_dirs(), ids=lambda p: p.name)
def test_graph_why_and_scan_agree(case_dir: Path) -> None:
    case = load_case(case_dir)
    cells = _graph(case)
    findings = _scan(case)
    required_rules = {c["rule_id"] for c in cells}
    problems: list[str] = []

    cell_keys = {k for c in cells for k in _cell_keys(c)}
    for c in cells:
        failing = c["verdict"] in ("blocked", "partial")
        if failing and not c["reported_by"] and not any(f["rule_id"] == "TA401" for f in findings):
            problems.append(f"graph: {c} is {c['verdict']}, but scan reports neither it nor TA401")
        if not failing and c["reported_by"]:
            problems.append(f"graph: {c} is {c['verdict']} yet names blocking layers")
    # Each required flow's findings: a rule that reports in this case also appears in the graph.
    flow_findings = [f for f in findings if f["rule_id"] in required_rules or f["rule_id"].startswith("TA1")]
    finding_keys = {_finding_key(f) for f in flow_findings}
    for key in sorted(cell_keys - finding_keys):
        problems.append(f"graph shows {key} blocked, scan has no such finding")
    for key in sorted(finding_keys - cell_keys):
        problems.append(f"scan reports {key}, graph has no blocked cell for it")

    wanted = Counter(
        (c["source"], c["destination"], c["requirement"], c["flow"], c["verdict"]) for c in cells
    )
    asked: set[tuple[str, str]] = set()
    for c in cells:
        asked.add((_WHY_ENDS.get(c["source"], "nodes"), _WHY_ENDS.get(c["destination"], "nodes")))
    answered: Counter[tuple[str, str, str, str, str]] = Counter()
    for source, destination in sorted(asked):
        answered.update(_why(case, source, destination))
    if answered != wanted:
        problems.append(
            f"why disagrees with graph: only in graph {wanted - answered}, only in why {answered - wanted}"
        )
    assert not problems, f"{case.name}:\n" + "\n".join(problems)


def test_flannel_self_flow_is_not_blocked() -> None:
    """The bug that started it: one-node groups' flows to themselves were "blocked" in the graph."""
    case = load_case(next(d for d in case_dirs() if d.name == "talos-flannel-vxlan-8472"))
    cells = {(c["source"], c["destination"]): c for c in _graph(case) if c["flow"] == "udp/4789"}
    assert cells[("controlplane.yaml", "controlplane.yaml")]["verdict"] == "allowed"
    assert (
        cells[("controlplane.yaml", "controlplane.yaml")]["why"]
        == "a node reaching its own address never leaves it"
    )
    assert cells[("worker.yaml", "worker.yaml")]["verdict"] == "allowed"
    blocked = cells[("worker.yaml", "controlplane.yaml")]
    assert blocked["verdict"] == "blocked"
    assert blocked["reported_by"] == ["talos:controlplane.yaml"]
    assert blocked["source_text"] == "worker nodes"
    assert blocked["destination_text"] == "control-plane nodes"
