"""How serious a finding is. Below both ``findings`` and ``policies``: a policy file declares
its level, a finding carries one, and neither module has to import the other for it."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"note": 1, "warning": 2, "error": 3}[self.value]


__all__ = ["Level"]
