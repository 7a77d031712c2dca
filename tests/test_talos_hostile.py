"""Hostile Talos inputs through ``talosaudit scan``: each is TA001 at once, in bounded memory,
and the rest of the scan goes on (the good config beside them is still audited)."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from talosaudit.cli import cli

GOOD = """\
version: v1alpha1
machine:
  type: controlplane
  network:
    interfaces:
      - interface: eth0
        addresses:
          - 10.0.1.10/24
cluster:
  controlPlane:
    endpoint: https://10.0.1.10:6443
---
apiVersion: v1alpha1
kind: NetworkDefaultActionConfig
ingress: block
---
apiVersion: v1alpha1
kind: NetworkRuleConfig
name: apid-ingress
portSelector:
  ports: [50000]
  protocol: tcp
ingress:
  - subnet: 0.0.0.0/0
"""

MALFORMED = """\
version: v1alpha1
machine:
  type: controlplane
  network: [unclosed
cluster: {}
"""

#: Nine levels of ten aliases each: 10^9 nodes if expanded.
BOMB = "\n".join(
    [
        "version: v1alpha1",
        "machine:",
        "  type: controlplane",
        'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)),
        "cluster:",
        "  bomb: *a9",
    ]
)


def _inputs(tmp_path: Path) -> Path:
    root = tmp_path / "scan"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    (root / "malformed.yaml").write_text(MALFORMED)
    (root / "bomb.yaml").write_text(BOMB)
    with (root / "huge.yaml").open("w") as fh:
        fh.write("version: v1alpha1\nmachine:\n  type: worker\n")
        line = "# " + "x" * 1021 + "\n"
        for _ in range(50 * 1024):  # 50 MiB of comment lines
            fh.write(line)
    (root / "binary.yaml").write_bytes(b"machine:\n\x00\x01\x02\xff" * 1000)
    return root


def _scan(root: Path) -> tuple[int, dict[str, Any], float, int]:
    runner = CliRunner()
    tracemalloc.start()
    started = time.monotonic()
    result = runner.invoke(
        cli,
        ["scan", str(root), "--root", str(root), "--no-cache", "--format", "json", "--min-level", "note"],
        catch_exceptions=False,
    )
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result.exit_code, json.loads(result.output), elapsed, peak


def test_hostile_files_are_ta001_and_the_good_config_is_still_audited(tmp_path: Path) -> None:
    root = _inputs(tmp_path)
    code, report, elapsed, peak = _scan(root)
    found = sorted(
        (f["rule_id"], f["location"]["path"], f["location"]["start_line"], f["message"])
        for f in report["findings"]
    )
    assert found == [
        (
            "TA001",
            "binary.yaml",
            1,
            "file is binary (it contains NUL bytes), not text",
        ),
        (
            "TA001",
            "bomb.yaml",
            8,  # a4: 10^5 nodes, the first alias line over the limit
            "Talos config cannot be read: aliases expand to more than 100000 YAML nodes (an alias bomb?)",
        ),
        (
            "TA001",
            "huge.yaml",
            1,
            "file is 50.0 MiB, over the 10 MiB limit",
        ),
        (
            "TA001",
            "malformed.yaml",
            5,
            "Talos config cannot be read: not valid YAML: while parsing a flow sequence "
            "did not find expected ',' or ']'",
        ),
        (
            "TA201",
            "good.yaml",
            24,
            "tcp/50000 (the Talos API) on control-plane nodes is reachable from the internet (0.0.0.0/0) "
            "through rule NetworkRuleConfig/apid-ingress/ingress[0] (NetworkRuleConfig apid-ingress) in "
            "Talos host firewall talos:good.yaml",
        ),
    ]
    assert code == 1
    assert elapsed < 5.0
    assert peak < 64 * 1024 * 1024  # the 50 MiB file is never read whole, the bomb never expanded
