"""URL user-info out of what the Talos collector reports.

A control-plane endpoint, a discovery registry or a cert SAN may be written with credentials
in it (``https://user:pass@cp.example:6443``); the facts and messages built from a Talos
config quote such values, and whatever they quote ends up in every report format. The
user-info part is replaced, the rest (scheme, host, port: what the audit is about) is kept.
"""

from __future__ import annotations

import re
from dataclasses import replace

from talosaudit.model import Collection, Fact, Problem

REDACTED_USERINFO = "(redacted)"
#: ``scheme://userinfo@``: the user-info runs to the last ``@`` before the host's end (a
#: password may hold a raw ``@``). The scheme is bounded so that long text cannot make the
#: search quadratic.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://)[^/\s?#]*@")


def without_userinfo(text: str) -> str:
    """``text`` with the user-info of every URL in it replaced."""
    if "://" not in text or "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED_USERINFO}@", text)


def _fact(fact: Fact) -> Fact:
    return replace(fact, value=without_userinfo(fact.value), reason=without_userinfo(fact.reason))


def _problem(problem: Problem) -> Problem:
    return replace(problem, message=without_userinfo(problem.message), key=without_userinfo(problem.key))


def redact_collection(collection: Collection) -> Collection:
    """The facts' values and reasons and the problems' messages (and keys) without URL
    user-info."""
    return replace(
        collection,
        facts=tuple(_fact(f) for f in collection.facts),
        problems=tuple(_problem(p) for p in collection.problems),
    )
