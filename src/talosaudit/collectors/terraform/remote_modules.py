"""Which unread remote modules matter: those whose outputs reach a resource a mapper reads.

A remote module that is not in a ``.terraform/modules`` cache (and is no modelled registry
module) evaluates to unknown outputs (``Unknown("module.ecr.repository_url", ...)``). Its
problem is worth a finding only when one of those unknowns ends up in a resource the
platform mappers read (security groups and their rules, instances, subnets, Talos
configurations...): then a node, a rule or an address is not fully known because of it. An
ECR repository or a Helm release whose outputs feed nothing mapped is only worth a line
in the notices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from talosaudit.collectors.terraform.modules import UnreadableModule
from talosaudit.collectors.terraform.values import (
    Block,
    ResourceInstance,
    TerraformConfig,
    TerraformProblem,
    Unknown,
)

#: ``extra`` key of a TerraformConfig: the problem keys (``module:<address>``) of its unread
#: remote modules (set by the engine).
REMOTE_MODULES = "remote_modules"


@dataclass(frozen=True)
class RemoteModules:
    #: The problems to report: every other problem, and the remote modules that feed the model.
    problems: tuple[TerraformProblem, ...]
    #: One notice for the remote modules left unread because nothing mapped uses them.
    notice: str | None


def split_remote_modules(config: TerraformConfig, reads: Callable[[str, str], bool]) -> RemoteModules:
    """Keep the problem of each unread remote module whose outputs feed an attribute (or
    nested block) that ``reads(resource type, name)`` says a mapper reads; the others become
    one notice."""
    remote = set(config.extra.get(REMOTE_MODULES, ()))
    if not remote:
        return RemoteModules(config.problems, None)
    used = _unknown_expressions(config.resources, reads)
    kept: list[TerraformProblem] = []
    dropped: list[str] = []
    for p in config.problems:
        if p.key in remote and not _feeds(p.key.removeprefix("module:"), p.message, used):
            dropped.append(p.key.removeprefix("module:"))
            continue
        kept.append(p)
    if not dropped:
        return RemoteModules(tuple(kept), None)
    names = ", ".join(sorted(dict.fromkeys(dropped)))
    count = len(set(dropped))
    where = f" in {config.root}" if config.root not in ("", ".") else ""
    notice = (
        f"{count} remote module{'s' if count != 1 else ''} not read{where} ({names}); "
        "none feeds security groups, nodes or Talos configurations"
    )
    return RemoteModules(tuple(kept), notice)


def _feeds(address: str, message: str, used: set[tuple[str, str]]) -> bool:
    for expression, reason in used:
        if reason == message:
            return True
        if expression == address or expression.startswith((f"{address}.", f"{address}[")):
            return True
    return False


def _unknown_expressions(
    resources: Iterable[ResourceInstance], reads: Callable[[str, str], bool]
) -> set[tuple[str, str]]:
    """(expression, reason) of every unknown in what the mappers read, with the origin too."""
    found: set[tuple[str, str]] = set()
    for r in resources:
        if not reads(r.type, ""):
            continue
        read = [v for k, v in r.body.attrs.items() if reads(r.type, k)]
        read += [b for b in r.body.blocks if reads(r.type, b.type)]
        for u in _unknowns([*read, r.expansion_unknown]):
            found.add((u.expression, u.reason))
            if u.origin:
                found.add((u.origin, u.reason))
    return found


def _unknowns(values: Iterable[Any]) -> Iterator[Unknown]:
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Unknown):
            yield value
        elif isinstance(value, UnreadableModule):
            yield Unknown(value.address, value.reason)
        elif isinstance(value, Block):
            stack.extend(value.attrs.values())
            stack.extend(value.blocks)
            stack.append(value.expansion_unknown)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
