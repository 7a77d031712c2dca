"""Evaluate the catalogue on a model: one explicit table from policy kind to its params
model and evaluator."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel

from talosaudit.findings import Finding
from talosaudit.model import Model
from talosaudit.policies.context import Context, EvalSettings
from talosaudit.policies.disabled_rules import disabled_rule_required
from talosaudit.policies.flows import forbid_flow, public_allowlist, require_flow
from talosaudit.policies.params import (
    BootstrapBlockedParams,
    BroadCidrParams,
    DisabledRuleParams,
    DriftParams,
    FirewallNotAppliedParams,
    ForbidFlowParams,
    HostFirewallParams,
    InputProblemParams,
    LayerRuleParams,
    PublicAllowlistParams,
    RequireFlowParams,
)
from talosaudit.policies.platform import (
    bootstrap_blocked,
    drift,
    firewall_not_applied,
    host_firewall_off,
    input_problem,
)
from talosaudit.policies.rule_checks import (
    all_traffic,
    broad_cidr,
    duplicate_rule,
    missing_description,
    shadowed_rule,
)
from talosaudit.policies.schema import Catalogue, Policy, PolicyError

Evaluator = Callable[[Policy, Context], Iterable[Finding]]

#: Every kind a policy file may name, with the model its ``params`` are parsed by and the
#: evaluator that runs it. No registration by import side effect: a new kind is a new line
#: here (the catalogue loader reads the params models from this table too).
KINDS: dict[str, tuple[type[BaseModel], Evaluator]] = {
    "input_problem": (InputProblemParams, input_problem),
    "require_flow": (RequireFlowParams, require_flow),
    "forbid_flow": (ForbidFlowParams, forbid_flow),
    "all_traffic": (LayerRuleParams, all_traffic),
    "broad_cidr": (BroadCidrParams, broad_cidr),
    "missing_description": (LayerRuleParams, missing_description),
    "duplicate_rule": (LayerRuleParams, duplicate_rule),
    "shadowed_rule": (LayerRuleParams, shadowed_rule),
    "disabled_rule_required": (DisabledRuleParams, disabled_rule_required),
    "bootstrap_blocked": (BootstrapBlockedParams, bootstrap_blocked),
    "firewall_not_applied": (FirewallNotAppliedParams, firewall_not_applied),
    "host_firewall_off": (HostFirewallParams, host_firewall_off),
    "drift": (DriftParams, drift),
    "public_allowlist": (PublicAllowlistParams, public_allowlist),
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
