"""Evaluate the catalogue on a model: one explicit table from policy kind to evaluator."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from talosaudit.findings import Finding
from talosaudit.model import Model
from talosaudit.policies.context import Context, EvalSettings
from talosaudit.policies.disabled_rules import disabled_rule_required
from talosaudit.policies.flows import forbid_flow, public_allowlist, require_flow
from talosaudit.policies.registry import Catalogue, PolicyError
from talosaudit.policies.rule_checks import duplicate_rule, input_problem, rule_predicate, shadowed_rule
from talosaudit.policies.schema import Policy

Evaluator = Callable[[Policy, Context], Iterable[Finding]]

#: Every kind a policy file may name. No registration by import side effect: a new kind is
#: a new line here and a params model in ``params.PARAMS``.
EVALUATORS: dict[str, Evaluator] = {
    "input_problem": input_problem,
    "require_flow": require_flow,
    "forbid_flow": forbid_flow,
    "rule_predicate": rule_predicate,
    "duplicate_rule": duplicate_rule,
    "shadowed_rule": shadowed_rule,
    "disabled_rule_required": disabled_rule_required,
    "public_allowlist": public_allowlist,
}

__all__ = ["EVALUATORS", "Context", "EvalSettings", "evaluate"]


def evaluate(model: Model, catalogue: Catalogue, settings: EvalSettings | None = None) -> list[Finding]:
    """The findings of every enabled policy, deduplicated and sorted (errors first)."""
    settings = settings or EvalSettings()
    ctx = Context(model, catalogue, settings)
    findings: dict[tuple[str, str, str], Finding] = {}
    for policy in catalogue.policies:
        if not settings.is_enabled(policy.id):
            continue
        evaluator = EVALUATORS.get(policy.kind)
        if evaluator is None:
            raise PolicyError(f"rule {policy.id}: unknown kind {policy.kind!r}")
        for finding in evaluator(policy, ctx):
            key = (finding.rule_id, finding.fingerprint, finding.message)
            findings.setdefault(key, finding)
    return sorted(findings.values(), key=Finding.sort_key)
