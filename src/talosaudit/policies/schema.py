"""The policy file format: one YAML file per rule, validated strictly."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: ``Level`` lives below policies and findings; it stays importable from here.
from talosaudit.levels import Level


class Policy(BaseModel):
    """A rule of the catalogue. ``kind`` names an evaluator; ``params`` is its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2,}[0-9]{3}$")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    level: Level
    security_severity: float = Field(ge=0.0, le=10.0)
    kind: str
    tags: tuple[str, ...] = ()
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)


__all__ = ["Level", "Policy"]
