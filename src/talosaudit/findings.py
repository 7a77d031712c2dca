"""Findings: frozen values with a fingerprint that survives line moves."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level


@dataclass(frozen=True, slots=True)
class Finding:
    """One result.

    ``identity`` is what makes the finding this finding, independent of line numbers:
    the offending object (e.g. a rule's stable key) plus the flow (e.g. ``tcp/50000 from
    0.0.0.0/0``). A rule that widens changes the identity, so the fingerprint changes too.
    """

    rule_id: str
    level: Level
    message: str
    location: SourceRef
    identity: str
    related: tuple[SourceRef, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    suppressed: str = ""  # the reason, when an ignore matched
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", fingerprint(self.rule_id, self.location.path, self.identity)
            )

    def with_level(self, level: Level) -> Finding:
        return replace(self, level=level)

    def sort_key(self) -> tuple[int, str, int, str, str]:
        return (-self.level.rank, self.location.path, self.location.start_line, self.rule_id, self.message)


def fingerprint(rule_id: str, path: str, identity: str) -> str:
    blob = json.dumps([rule_id, path, identity], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]
