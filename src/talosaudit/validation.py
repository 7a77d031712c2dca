"""Pydantic validation errors in words: where each one is and what it says, for the
messages of ``.talosaudit.yaml`` and of the policy files."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError


def error_places(exc: ValidationError, top: str, unknown: str | None = None) -> Iterator[tuple[str, str]]:
    """``(dotted location, message)`` per error; ``top`` names the document itself;
    ``unknown``, when given, replaces pydantic's words for a key the model does not know."""
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or top
        yield where, unknown if unknown and err["type"] == "extra_forbidden" else err["msg"]
