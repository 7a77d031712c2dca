"""Baselines: written from unsuppressed findings, matched by fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talosaudit.findings import (
    BaselineError,
    Finding,
    Suppression,
    SuppressionKind,
    apply_baseline,
    read_baseline,
    write_baseline,
)
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level


def sg_finding(cidr: str, line: int) -> Finding:
    return Finding(
        "TA201",
        Level.ERROR,
        f"tcp/50000 reachable from {cidr}",
        SourceRef("net/sg.tf", line, line + 5, "aws_security_group.cp"),
        identity=f"aws_security_group.cp ingress[0] tcp/50000 from {cidr}",
    )


def test_roundtrip_and_moved_lines_still_match(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    suppressed = sg_finding("1.2.3.0/24", 40).with_suppression(
        Suppression(SuppressionKind.IN_SOURCE, "ok", "net/sg.tf:39")
    )
    count = write_baseline(path, [sg_finding("203.0.113.0/24", 10), suppressed])
    assert count == 1
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["findings"] == [
        {
            "fingerprint": sg_finding("203.0.113.0/24", 10).fingerprint,
            "rule_id": "TA201",
            "path": "net/sg.tf",
            "message": "tcp/50000 reachable from 203.0.113.0/24",
        }
    ]
    known = read_baseline(path)
    moved = sg_finding("203.0.113.0/24", 25)
    widened = sg_finding("0.0.0.0/0", 10)
    kept, dropped = apply_baseline([moved, widened], known)
    assert kept == [widened]
    assert dropped == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"version": 1}', "no 'findings' list"),
        ('{"version": 7, "findings": []}', "has version 7; expected 1"),
        ('{"version": 1, "findings": [{"rule_id": "TA201"}]}', "findings[0] has no fingerprint"),
    ],
)
def test_bad_baselines(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_baseline(path)


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read baseline"):
        read_baseline(tmp_path / "absent.json")
