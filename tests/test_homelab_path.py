"""``why`` on the homelab stack cases shows every layer of the path, in path order.

A packet from a worker on VLAN 31 to a control plane on VLAN 30 leaves through the worker's
Talos host firewall, then its Proxmox VM firewall ("out"), enters pfSense on the workers'
interface (opt3), leaves it on the control planes' interface (opt2, floating/out rules), then
meets the control plane's Proxmox VM firewall ("in") and its Talos host firewall. Two nodes on
one VLAN never cross pfSense. The order is asserted on the trace data (``explain.trace``) and
on the text ``why`` prints (each layer's id appears once, in this order); the layer that
blocks prints its reason right under it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from talosaudit.explain import trace
from talosaudit.model import Direction, Model
from talosaudit.reachability.query import Side
from talosaudit.scan import ScanRequest, build_model
from talosaudit.settings import CommandLine
from test_cases import _command

CASES = Path(__file__).resolve().parent / "cases"
PFSENSE_IN = "pfsense:pfsense/config.xml:opt3"
PFSENSE_OUT = "pfsense:pfsense/config.xml:opt2"
WORKER_TALOS, WORKER_VM = "talos:talos/worker.yaml", "proxmox:proxmox/211/net0"
CP_VM, CP_TALOS = "proxmox:proxmox/201/net0", "talos:talos/controlplane.yaml"
TWO_VLANS = [
    (WORKER_TALOS, Side.SOURCE, Direction.EGRESS),
    (WORKER_VM, Side.SOURCE, Direction.EGRESS),
    (PFSENSE_IN, Side.NETWORK, Direction.INGRESS),
    (PFSENSE_OUT, Side.NETWORK, Direction.EGRESS),
    (CP_VM, Side.DESTINATION, Direction.INGRESS),
    (CP_TALOS, Side.DESTINATION, Direction.INGRESS),
]
ONE_VLAN = [step for step in TWO_VLANS if not step[0].startswith("pfsense:")]

#: case -> (the path of tcp/50001 from the worker to the control plane, the layer that blocks it)
PATHS = {
    "homelab-stack-clean": (TWO_VLANS, None),
    "homelab-stack-pfsense-trustd-wrong-tab": (TWO_VLANS, PFSENSE_IN),
    "homelab-stack-proxmox-trustd-missing": (TWO_VLANS, CP_VM),
    "homelab-stack-talos-trustd-missing": (TWO_VLANS, CP_TALOS),
    "homelab-stack-flat-vlan": (ONE_VLAN, None),
}
ARGS = ["--admin-cidr", "192.168.10.0/24"]
SCANNED = ["pfsense/", "proxmox/", "talos/"]


def _model(directory: Path) -> Model:
    with contextlib.chdir(directory):
        request = ScanRequest(
            paths=tuple(Path(p) for p in SCANNED),
            root=directory,
            cli=CommandLine(admin_cidrs=("192.168.10.0/24",)),
        )
        model, _ = build_model(request)
    return model


@pytest.mark.parametrize("name", sorted(PATHS))
def test_trace_lists_layers_in_path_order(name: str) -> None:
    expected, blocker = PATHS[name]
    model = _model(CASES / name)
    (result,) = (t.result for t in trace(model, "worker", "control-plane", "50001/tcp"))
    steps = [(d.layer.id, d.side, d.direction) for d in result.decisions]
    assert steps == expected
    blocking = [d.layer.id for d in result.decisions if d.blocked]
    assert blocking == ([blocker] if blocker else [])


@pytest.mark.parametrize("name", sorted(PATHS))
def test_why_prints_layers_in_path_order(name: str) -> None:
    expected, blocker = PATHS[name]
    directory = CASES / name
    argv = ["why", *SCANNED, "--root", str(directory), "--from", "worker", "--to", "control-plane"]
    with contextlib.chdir(directory):
        result = CliRunner().invoke(_command(), [*argv, "--port", "50001/tcp", *ARGS], catch_exceptions=False)
    lines = result.stdout.splitlines()
    # Layer lines read "[source egress] <layer> <id> (file:line)"; the summary line above
    # them may name the blocking layer too.
    layer_lines = [
        i
        for i, line in enumerate(lines)
        if line.lstrip().startswith("[") and any(f" {lid} " in f"{line} " for lid, _, _ in expected)
    ]
    printed = [next(lid for lid, _, _ in expected if f" {lid} " in f"{lines[i]} ") for i in layer_lines]
    assert printed == [lid for lid, _, _ in expected], result.stdout
    ends = [*layer_lines[1:], len(lines)]
    for at, end, lid in zip(layer_lines, ends, printed, strict=True):
        following = lines[at + 1 : end]
        blocks = any(line.strip().startswith("blocks:") for line in following)
        assert blocks == (lid == blocker), f"{lid}:\n{result.stdout}"
