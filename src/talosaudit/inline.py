"""The grammar of inline suppression comments, in one place.

Understood: ``# talosaudit:ignore TA201 reason`` (also ``//``, ``;`` and ``<!-- -->`` comments),
several ids separated by commas, and an optional ``until: YYYY-MM-DD`` token anywhere after
the ids, after which the comment no longer suppresses.

Everything else that *looks* like a suppression (``#talosaudit:ignore:TA202``,
``# talosaudit:skip=TA201``, an id that is no rule, a malformed ``until``) is returned as
``NotUnderstood`` so that the scan can say so (TA005) instead of leaving the finding to fire
with no explanation, or worse, letting the user believe it is suppressed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

#: The form every message about a comment that is not understood shows.
ACCEPTED_FORM = "# talosaudit:ignore TA201[,TA202] [until: YYYY-MM-DD] reason"

#: A comment that mentions a talosaudit directive at all: the candidates.
_LOOKS_LIKE = re.compile(
    r"(?:#|//|;|<!--)\s*talosaudit\s*[:=_-]?\s*(?:ignore|skip|disable|suppress|noqa|nosec)",
    re.IGNORECASE,
)
#: The understood directive: lower-case ``talosaudit:ignore``, whitespace, then the ids.
_DIRECTIVE = re.compile(r"(?:#|//|;|<!--)\s*talosaudit:ignore\s+(?P<rest>.*)$")
_IDS = re.compile(r"(?P<ids>[^\s,]+(?:\s*,\s*[^\s,]+)*)(?P<reason>.*)$")
_ID = re.compile(r"^[A-Z]{2,}[0-9]{3}$")
_UNTIL = re.compile(r"\buntil\s*:\s*(?P<value>\S*)")
#: Comment closers and separators that are not part of a reason.
_REASON_STRIP = ":-—,"


@dataclass(frozen=True, slots=True)
class InlineIgnore:
    line: int
    ids: frozenset[str]
    reason: str
    until: dt.date | None = None

    def expired(self, today: dt.date) -> bool:
        return self.until is not None and self.until < today


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """A comment that looks like a suppression but is not applied, and why."""

    line: int
    #: The comment as written (trimmed), for the message.
    text: str
    why: str


@dataclass(frozen=True, slots=True)
class Comments:
    ignores: tuple[InlineIgnore, ...]
    not_understood: tuple[NotUnderstood, ...]


def parse_comments(text: str, known_ids: Collection[str] | None = None) -> Comments:
    """Every suppression-like comment of a file, with its 1-based line.

    ``known_ids``: the rule ids of the catalogue; an id outside it makes the whole comment
    not understood (None: every well-formed id is accepted).
    """
    ignores: list[InlineIgnore] = []
    odd: list[NotUnderstood] = []
    if "talosaudit" not in text.lower():
        return Comments((), ())
    for number, line in enumerate(text.splitlines(), start=1):
        looks = _LOOKS_LIKE.search(line)
        if looks is None:
            continue
        written = line[looks.start() :].strip().removesuffix("-->").strip()
        result = _parse_one(line, number, known_ids)
        if isinstance(result, str):
            odd.append(NotUnderstood(number, written, result))
        else:
            ignores.append(result)
    return Comments(tuple(ignores), tuple(odd))


def parse_inline_ignores(text: str) -> tuple[InlineIgnore, ...]:
    """The understood ``talosaudit:ignore`` comments of a file."""
    return parse_comments(text).ignores


def _parse_one(line: str, number: int, known_ids: Collection[str] | None) -> InlineIgnore | str:
    """The ignore on ``line``, or why it is not one."""
    directive = _DIRECTIVE.search(line)
    if directive is None:
        return "the directive is not `talosaudit:ignore` followed by a space and rule ids"
    rest = directive["rest"].removesuffix("-->").rstrip()
    parts = _IDS.match(rest)
    if parts is None:
        return "no rule id after `talosaudit:ignore`"
    ids = [part.strip() for part in parts["ids"].split(",")]
    for rule_id in ids:
        if not _ID.match(rule_id):
            return f"{rule_id!r} is not a rule id (two or more capital letters and three digits)"
        if known_ids is not None and rule_id not in known_ids:
            return f"{rule_id} is no known rule (see `talosaudit policies list`)"
    reason = parts["reason"]
    until: dt.date | None = None
    until_match = _UNTIL.search(reason)
    if until_match is not None:
        value = until_match["value"]
        try:
            until = dt.date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
        except ValueError:
            until = None
        if until is None:
            return f"`until: {value}` is not a date of the form YYYY-MM-DD"
        reason = reason[: until_match.start()] + reason[until_match.end() :]
    reason = " ".join(reason.split()).lstrip(_REASON_STRIP + " ")
    return InlineIgnore(number, frozenset(ids), reason, until)


__all__ = [
    "ACCEPTED_FORM",
    "Comments",
    "InlineIgnore",
    "NotUnderstood",
    "parse_comments",
    "parse_inline_ignores",
]
