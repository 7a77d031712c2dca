"""Findings of several root modules: identical ones once, differing ones kept apart."""

from __future__ import annotations

from talosaudit.findings import Finding
from talosaudit.levels import Level
from talosaudit.model.source import SourceRef
from talosaudit.roots import merge_root_findings

AT = SourceRef("modules/cluster/main.tf", 12, 20, resource="aws_security_group.cp")


def _finding(message: str) -> Finding:
    return Finding("TA201", Level.ERROR, message, AT, "aws_security_group.cp tcp/50000 from 0.0.0.0/0")


def test_identical_findings_of_two_roots_are_one() -> None:
    f = _finding("tcp/50000 reachable from 0.0.0.0/0")
    merged = merge_root_findings([("envs/prod", [f]), ("envs/staging", [f])])
    assert [(m.message, m.properties, m.fingerprint) for m in merged] == [
        (
            "tcp/50000 reachable from 0.0.0.0/0 [roots envs/prod, envs/staging]",
            (("root", "envs/prod, envs/staging"),),
            f.fingerprint,
        )
    ]


def test_differing_findings_of_two_roots_are_kept_with_distinct_fingerprints() -> None:
    prod = _finding("tcp/50000 reachable from 0.0.0.0/0 (3 nodes)")
    staging = _finding("tcp/50000 reachable from 0.0.0.0/0 (1 node)")
    merged = merge_root_findings([("envs/prod", [prod]), ("envs/staging", [staging])])
    assert sorted(m.message for m in merged) == [
        "tcp/50000 reachable from 0.0.0.0/0 (1 node) [root envs/staging]",
        "tcp/50000 reachable from 0.0.0.0/0 (3 nodes) [root envs/prod]",
    ]
    assert len({m.fingerprint for m in merged}) == 2
    assert prod.fingerprint not in {m.fingerprint for m in merged}
