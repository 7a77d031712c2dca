"""Evaluate the catalogue on a model: one explicit table from policy kind to its params
model and evaluator."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel

from talosaudit.findings import Finding
from talosaudit.model import Model
from talosaudit.policies.context import Context, EvalSettings
from talosaudit.policies.disabled_rules import disabled_rule_required
from talosaudit.policies.flows import forbid_flow, require_flow
from talosaudit.policies.params import PARAMS
from talosaudit.policies.platform import bootstrap_blocked, drift, host_firewall_off, input_problem
from talosaudit.policies.rule_checks import duplicate_rule, rule_predicate, shadowed_rule
from talosaudit.policies.schema import Catalogue, Policy, PolicyError

Evaluator = Callable[[Policy, Context], Iterable[Finding]]

#: The evaluator of every kind a policy file may name; its params model is in params.PARAMS
#: (which the catalogue loader uses without importing the evaluators).
_EVALUATORS: dict[str, Evaluator] = {
    "input_problem": input_problem,
    "require_flow": require_flow,
    "forbid_flow": forbid_flow,
    "rule_predicate": rule_predicate,
    "duplicate_rule": duplicate_rule,
    "shadowed_rule": shadowed_rule,
    "disabled_rule_required": disabled_rule_required,
    "bootstrap_blocked": bootstrap_blocked,
    "host_firewall_off": host_firewall_off,
    "drift": drift,
}
assert set(_EVALUATORS) == set(PARAMS), "every kind has a params model and an evaluator"

#: Every kind a policy file may name, with the model its ``params`` are parsed by and the
#: evaluator that runs it. No registration by import side effect: a new kind is a new line
#: here and in params.PARAMS.
KINDS: dict[str, tuple[type[BaseModel], Evaluator]] = {
    kind: (PARAMS[kind], evaluator) for kind, evaluator in _EVALUATORS.items()
}

__all__ = ["KINDS", "Context", "EvalSettings", "evaluate"]


def evaluate(model: Model, catalogue: Catalogue, settings: EvalSettings | None = None) -> list[Finding]:
    """The findings of every enabled policy, deduplicated and sorted (errors first)."""
    settings = settings or EvalSettings()
    ctx = Context(model, catalogue, settings)
    findings: dict[tuple[str, str, str], Finding] = {}
    for policy in catalogue.policies:
        if not settings.is_enabled(policy.id):
            continue
        entry = KINDS.get(policy.kind)
        if entry is None:
            raise PolicyError(f"rule {policy.id}: unknown kind {policy.kind!r}")
        for finding in entry[1](policy, ctx):
            key = (finding.rule_id, finding.fingerprint, finding.message)
            findings.setdefault(key, finding)
    return sorted(findings.values(), key=Finding.sort_key)
