"""Findings: frozen values with a fingerprint that survives line moves.

Also what decides whether a finding is shown: inline suppressions
(``# talosaudit:ignore TA201 reason``), ignores from ``.talosaudit.yaml`` and baselines.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from talosaudit.inline import InlineIgnore, parse_inline_ignores
from talosaudit.levels import Level
from talosaudit.model.source import SourceRef
from talosaudit.regular_files import read_bytes, read_text

NO_REASON = "no reason given"
#: How a notice about a run that checked nothing starts (reporters make it loud: "nothing to
#: check" is not "clean").
NOTHING_TO_CHECK = "nothing to check"


class SuppressionKind(StrEnum):
    """SARIF's suppression kinds: a comment next to the code, or a setting elsewhere."""

    IN_SOURCE = "inSource"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding is not counted: the reason as written and where it was written."""

    kind: SuppressionKind
    reason: str
    #: ``path:line`` of the comment, or ``.talosaudit.yaml ignore[2]``.
    where: str = ""

    @property
    def justification(self) -> str:
        return self.reason or NO_REASON


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
    #: Set when an inline comment or a configured ignore matched; the finding is then kept
    #: for reports but not counted for the exit code.
    suppressed: Suppression | None = None
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", fingerprint(self.rule_id, self.location.path, self.identity)
            )

    def with_level(self, level: Level) -> Finding:
        return replace(self, level=level)

    def with_suppression(self, suppression: Suppression) -> Finding:
        return replace(self, suppressed=suppression)

    def sort_key(self) -> tuple[int, str, int, str, str]:
        return (-self.level.rank, self.location.path, self.location.start_line, self.rule_id, self.message)


def fingerprint(rule_id: str, path: str, identity: str) -> str:
    blob = json.dumps([rule_id, path, identity], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# --- inline suppressions ---------------------------------------------------------------

#: Inline suppression comments are looked for in the first 10 MiB of a file (the size limit
#: of every input reader).
_MAX_INLINE_BYTES = 10 * 1024 * 1024


def comment_text(path: Path) -> str | None:
    """A file's text as suppression comments are looked for in it, or None when unreadable.

    Bytes + replace: a comment must not make a file with odd encoding unreadable. Bounded:
    an oversized input (itself a TA001) is never read whole for its comments.
    """
    try:
        return read_bytes(path, _MAX_INLINE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


class InlineIndex:
    """Reads each source file at most once, and only when a finding points into it.

    ``known``: the ignores of files already read (by path relative to ``root``), so that
    the scan's own read of every input for its comments is not repeated here.
    """

    def __init__(self, root: Path, known: Mapping[str, tuple[InlineIgnore, ...]] | None = None) -> None:
        self._root = root
        self._cache: dict[str, tuple[InlineIgnore, ...]] = dict(known or {})

    def ignores(self, path: str) -> tuple[InlineIgnore, ...]:
        if path not in self._cache:
            self._cache[path] = self._read(path)
        return self._cache[path]

    def _read(self, path: str) -> tuple[InlineIgnore, ...]:
        if not path or "://" in path:
            return ()
        text = comment_text(self._root / path)
        return () if text is None else parse_inline_ignores(text)

    def match(self, finding: Finding, today: dt.date) -> tuple[Suppression | None, InlineIgnore | None]:
        """The comment that covers the finding (inside its span or on the line above it): a
        suppression, or, when its ``until:`` has passed, the expired comment."""
        loc = finding.location
        expired: InlineIgnore | None = None
        for ignore in self.ignores(loc.path):
            if finding.rule_id not in ignore.ids:
                continue
            if loc.start_line - 1 <= ignore.line <= loc.end_line:
                if ignore.expired(today):
                    expired = expired or ignore
                    continue
                where = f"{loc.path}:{ignore.line}"
                return Suppression(SuppressionKind.IN_SOURCE, ignore.reason, where), None
        return None, expired


def apply_inline_suppressions(
    findings: Iterable[Finding],
    root: Path,
    today: dt.date,
    known: Mapping[str, tuple[InlineIgnore, ...]] | None = None,
) -> tuple[list[Finding], list[str]]:
    """Suppress what inline comments ignore; an expired comment no longer does, and says so.

    ``known``: the ignores of files already read (see ``InlineIndex``). Returns the findings
    and human-readable notices about expired comments.
    """
    index = InlineIndex(root, known)
    out: list[Finding] = []
    expired: dict[tuple[str, int], tuple[InlineIgnore, int]] = {}
    for f in findings:
        hit, old = index.match(f, today) if f.suppressed is None else (None, None)
        if old is not None:
            key = (f.location.path, old.line)
            expired[key] = (old, expired.get(key, (old, 0))[1] + 1)
        out.append(f if hit is None else f.with_suppression(hit))
    notices = [
        f"ignore of {','.join(sorted(ignore.ids))} ({path}:{line}) expired on {ignore.until}: "
        f"it no longer suppresses ({hits} finding{'s' if hits != 1 else ''} affected)"
        for (path, line), (ignore, hits) in sorted(expired.items())
    ]
    return out, notices


# --- configured ignores ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """One ``ignore:`` item of ``.talosaudit.yaml``; ``path`` is a glob on the finding's path."""

    rule_id: str
    reason: str
    path: str | None = None
    until: dt.date | None = None
    #: Where the entry was written, for messages (``.talosaudit.yaml ignore[0]``).
    where: str = ""

    def matches(self, finding: Finding) -> bool:
        if finding.rule_id != self.rule_id:
            return False
        return self.path is None or fnmatch.fnmatchcase(finding.location.path, self.path)

    def expired(self, today: dt.date) -> bool:
        return self.until is not None and self.until < today


def apply_config_ignores(
    findings: Iterable[Finding], ignores: Sequence[IgnoreEntry], today: dt.date
) -> tuple[list[Finding], list[str]]:
    """Suppress what the configuration ignores; an expired ignore no longer does, and says so.

    Returns the findings and human-readable notices about expired ignores.
    """
    out: list[Finding] = []
    expired_hits: dict[int, int] = {}
    for f in findings:
        hit: Suppression | None = None
        for i, entry in enumerate(ignores if f.suppressed is None else ()):
            if not entry.matches(f):
                continue
            if entry.expired(today):
                expired_hits[i] = expired_hits.get(i, 0) + 1
                continue
            hit = Suppression(SuppressionKind.EXTERNAL, entry.reason, entry.where)
            break
        out.append(f if hit is None else f.with_suppression(hit))
    notices: list[str] = []
    for i, entry in enumerate(ignores):
        if entry.expired(today):
            scope = f" for {entry.path}" if entry.path else ""
            hits = expired_hits.get(i, 0)
            notices.append(
                f"ignore of {entry.rule_id}{scope} ({entry.where or 'config'}) expired on {entry.until}: "
                f"it no longer suppresses ({hits} finding{'s' if hits != 1 else ''} affected)"
            )
    return out, notices


# --- baselines -------------------------------------------------------------------------

BASELINE_VERSION = 1


class BaselineError(Exception):
    """A baseline file that cannot be read or is not a talosaudit baseline."""


def baseline_document(findings: Iterable[Finding]) -> dict[str, Any]:
    """The baseline JSON: fingerprints, plus rule id, path and message for the humans who review it."""
    entries = sorted(
        (
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "path": f.location.path,
                "message": f.message,
            }
            for f in findings
            if f.suppressed is None
        ),
        key=lambda e: (e["path"], e["rule_id"], e["fingerprint"]),
    )
    return {"version": BASELINE_VERSION, "tool": "talosaudit", "findings": entries}


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    doc = baseline_document(findings)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return len(doc["findings"])


def read_baseline(path: Path) -> frozenset[str]:
    """The fingerprints of a baseline file. Raises BaselineError with a readable message."""
    try:
        doc = json.loads(read_text(path))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BaselineError(f"baseline {path} is nested too deeply to be a talosaudit baseline") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"baseline {path} is not a talosaudit baseline (no 'findings' list)")
    if doc.get("version") != BASELINE_VERSION:
        found = doc.get("version")
        raise BaselineError(f"baseline {path} has version {found!r}; expected {BASELINE_VERSION}")
    prints: set[str] = set()
    for i, entry in enumerate(doc["findings"]):
        value = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise BaselineError(f"baseline {path}: findings[{i}] has no fingerprint")
        prints.add(value)
    return frozenset(prints)


def apply_baseline(findings: Sequence[Finding], known: frozenset[str]) -> tuple[list[Finding], int]:
    """Drop findings the baseline knows; returns the rest and how many were dropped."""
    kept = [f for f in findings if f.fingerprint not in known]
    return kept, len(findings) - len(kept)
