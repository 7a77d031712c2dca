"""Findings of several Terraform root modules, each evaluated alone, as one list.

Each root's findings say which root they belong to (a ``root`` property and ``[root
envs/staging]`` at the end of the message). A finding two roots make at one place (a module
they share, a Talos config every root reads) is reported once when it is the same in both
(``[roots envs/prod, envs/staging]``); when the roots see it differently (another message,
level or location) each variant is kept, and the roots join its identity so that their
fingerprints differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from talosaudit.findings import Finding, fingerprint


def merge_root_findings(per_root: Sequence[tuple[str, Iterable[Finding]]]) -> list[Finding]:
    """One list of the findings of every root: identical ones once, labelled with their roots."""
    by_print: dict[str, dict[tuple[object, ...], tuple[Finding, list[str]]]] = {}
    for root, findings in per_root:
        for f in findings:
            variants = by_print.setdefault(f.fingerprint, {})
            seen = variants.setdefault(_variant(f), (f, []))
            if root not in seen[1]:
                seen[1].append(root)
    out: list[Finding] = []
    for variants in by_print.values():
        distinct = len(variants) > 1
        for f, roots in variants.values():
            out.append(_labelled(f, roots, distinct=distinct))
    return out


def _variant(f: Finding) -> tuple[object, ...]:
    """What two findings of one fingerprint must share to be the same finding."""
    return (f.level, f.message, f.location, f.related, f.properties)


def _labelled(f: Finding, roots: list[str], *, distinct: bool) -> Finding:
    shown = ", ".join(sorted(roots))
    word = "roots" if len(roots) > 1 else "root"
    identity = f"{f.identity} [{word} {shown}]" if distinct else f.identity
    return replace(
        f,
        message=f"{f.message} [{word} {shown}]",
        identity=identity,
        properties=(*f.properties, ("root", shown)),
        fingerprint=fingerprint(f.rule_id, f.location.path, identity),
    )


__all__ = ["merge_root_findings"]
