"""The words of a TA403 finding: which earlier rules leave a rule nothing to decide.

The earlier rules are named as their platform's user knows them (``rule_in_words``), not by
internal ids. A pfSense/OPNsense non-quick rule is described in the GUI's order: pf applies
the *last* matching non-quick rule, so the non-quick rules that take its flows sit *below*
it in the GUI list (the evaluated list holds them reversed, which must not leak into words),
while quick rules decide first wherever they sit.
"""

from __future__ import annotations

from talosaudit.model import Layer, Rule
from talosaudit.model.firewall import rule_in_words
from talosaudit.policies.context import layer_text, rule_text


def _non_quick(rule: Rule) -> bool:
    return dict(rule.extra).get("quick") == "no"


def _names(rules: list[Rule], layer: Layer) -> str:
    return ", ".join(rule_in_words(r, layer.kind) for r in rules)


def shadow_message(rule: Rule, layer: Layer, by: list[Rule]) -> str:
    """Why ``rule`` of ``layer`` never decides, given the earlier rules ``by`` that cover it."""
    head = f"{rule_text(rule)} in {layer_text(layer)} ({rule.describe()}) never matches"
    if not _non_quick(rule):
        verbs = "comes before it and covers" if len(by) == 1 else "come before it and cover"
        return f"{head}: {_names(by, layer)} {verbs} all of it"
    quick = [r for r in by if not _non_quick(r)]
    later = [r for r in by if _non_quick(r)]
    parts = []
    if quick:
        parts.append(
            f"{_names(quick, layer)} {_verb(quick, 'has', 'have')} quick set and "
            f"{_verb(quick, 'decides', 'decide')} first"
        )
    if later:
        parts.append(
            f"{_names(later, layer)} below it in the GUI list {_verb(later, 'matches', 'match')} the rest, "
            "and pf applies the last matching non-quick rule"
        )
    return f"{head} (it is not quick: it decides only when no rule below it matches): " + "; ".join(parts)


def _verb(rules: list[Rule], one: str, many: str) -> str:
    return one if len(rules) == 1 else many
