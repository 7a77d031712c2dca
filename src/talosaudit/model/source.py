"""Where a thing was defined: the location every finding points at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A file and line span (1-based, inclusive), plus the identity of the object there.

    ``path`` is relative to the scan root (POSIX separators) so SARIF can use it as a
    repository-relative URI. ``resource`` is a stable identity that does not change when
    lines move (a Terraform address, ``sg-…`` id, VM id, rule name); fingerprints use it.
    """

    path: str
    start_line: int = 1
    end_line: int = 0
    resource: str = ""

    def __post_init__(self) -> None:
        if self.end_line < self.start_line:
            object.__setattr__(self, "end_line", self.start_line)

    def __str__(self) -> str:
        return f"{self.path}:{self.start_line}"
