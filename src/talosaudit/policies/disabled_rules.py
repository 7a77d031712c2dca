"""Disabled rules that would let a blocked required flow through (TA405).

pfSense and OPNsense keep a disabled rule in the rule list, greyed out: it is often the
rule someone switched off while debugging and forgot. For each required flow that a layer
of the listed kinds blocks, the layer is evaluated again with its disabled allow rules
switched on (in place, so first-match order still applies), by the same reachability
engine; a disabled rule that then admits part of what was blocked is reported at its line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from talosaudit.findings import Finding
from talosaudit.model import Action, Layer, Rule
from talosaudit.model.source import SourceRef
from talosaudit.policies.context import Context, layer_text, rule_key, rule_text
from talosaudit.policies.params import DisabledRuleParams
from talosaudit.policies.required import blocked_checks
from talosaudit.policies.schema import Policy
from talosaudit.reachability import Reachability


@dataclass
class _Revival:
    """What one disabled rule would let through, gathered over required flows."""

    rule: Rule
    layer: Layer
    flows: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def disabled_rule_required(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, DisabledRuleParams)
    revived: dict[str, tuple[Layer, dict[int, Rule]]] = {}
    for layer in ctx.model.layers.values():
        if layer.kind.value not in params.layer_kinds or not layer.enabled:
            continue
        originals: dict[int, Rule] = {}
        rules: list[Rule] = []
        for rule in layer.rules:
            if not rule.enabled and rule.action is Action.ALLOW:
                switched = replace(rule, enabled=True)
                originals[id(switched)] = rule
                rules.append(switched)
            else:
                rules.append(rule)
        if originals:
            revived[layer.id] = (replace(layer, rules=tuple(rules)), originals)
    if not revived:
        return
    variant = replace(ctx.model, layers={**ctx.model.layers, **{i: v[0] for i, v in revived.items()}})
    what_if = Reachability(variant)
    found: dict[str, _Revival] = {}
    for rule_id in params.required_by:
        required = ctx.catalogue.get(rule_id)
        if required is None or required.kind != "require_flow":
            continue
        for pair in blocked_checks(ctx, required):
            blockers = {d.layer.id for d in pair.decisions if d.surely_blocked & pair.missing}
            if not blockers & revived.keys():
                continue
            result = what_if.query(pair.src.endpoint, pair.dst.endpoint, pair.protocol, pair.ports)
            for d in result.decisions:
                if d.layer.id not in blockers or d.layer.id not in revived:
                    continue
                originals = revived[d.layer.id][1]
                for rule, hit in d.admitted:
                    original = originals.get(id(rule))
                    if original is None or not hit & pair.missing:
                        continue
                    entry = found.setdefault(
                        f"{d.layer.id}|{rule_key(original)}", _Revival(original, ctx.model.layers[d.layer.id])
                    )
                    text = f"{pair.spec} from {pair.src.text} to {pair.dst.text} ({pair.flow.purpose})"
                    if text not in entry.flows:
                        entry.flows.append(text)
                    if rule_id not in entry.rules:
                        entry.rules.append(rule_id)
    for identity, entry in found.items():
        yield _finding(policy, identity, entry)


def _finding(policy: Policy, identity: str, e: _Revival) -> Finding:
    flows = "; ".join(e.flows)
    related: tuple[SourceRef, ...] = (e.layer.source,)
    return Finding(
        rule_id=policy.id,
        level=policy.level,
        message=(
            f"{rule_text(e.rule)} in {layer_text(e.layer)} is disabled; enabled, it would let through "
            f"required flows that are now blocked ({', '.join(e.rules)}): {flows}"
        ),
        location=e.rule.source,
        identity=identity,
        related=related,
        properties=(("layers", e.layer.id), ("required_by", ", ".join(e.rules))),
    )


__all__ = ["disabled_rule_required"]
