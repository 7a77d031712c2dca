"""The policy file format: one YAML file per rule, validated strictly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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


class PolicyError(Exception):
    """A policy file is invalid; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The policies in load order (built-in pack by file name, then user directories)."""

    policies: tuple[Policy, ...] = ()

    def get(self, rule_id: str) -> Policy | None:
        return next((p for p in self.policies if p.id == rule_id), None)

    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.policies)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)
