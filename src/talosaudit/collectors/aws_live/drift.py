"""Live security groups against the Terraform that declares them: mapping and drift.

No API says which Terraform resource made a security group, so the mapping is by content:

1. groups: a live group maps to the Terraform ``aws_security_group`` whose ``name`` equals
   its GroupName, else whose ``Name`` tag equals its ``Name`` tag, else whose literal id is
   the group's ``sg-…`` id. The same code deployed in several regions maps several live
   groups to one resource.
2. rules: within a mapped group, a live rule (one source, ``sgr-…``) maps to the Terraform
   rule with the same direction, protocol and ports whose peer contains the live source
   (a CIDR inside its CIDRs, or the referenced group mapped through step 1). An exact peer
   beats a containing one, an equal description breaks ties. A Terraform rule with values
   that could not be resolved (UNRESOLVED) matches any live rule of its direction, last; the
   stand-ins for the unknown rules of a group the code only references (``sg-…``, a data
   source) match nothing.

``locate_in_terraform`` moves the locations of mapped layers and rules to the Terraform
lines; ``drift_items`` describes each live-only rule (a live rule of a mapped group that no
Terraform rule declares; located at the Terraform security group) and each code-only one (a Terraform rule, or
the part of its sources, that AWS does not have; located at the Terraform rule; a whole
Terraform security group that was not found in AWS is one code-only item at the group).
Both take the live and the Terraform Collections; collectors never see findings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from talosaudit.collectors.aws.security_groups import is_unknown_rules
from talosaudit.model import (
    EMPTY,
    AddressSet,
    Collection,
    Direction,
    Drift,
    DriftSide,
    Layer,
    LayerKind,
    Peer,
    Rule,
)
from talosaudit.model.ports import flow_text

PREFIX_LIST = "prefix-list:"
DEFAULT_SG_TYPE = "aws_default_security_group"


@dataclass
class Matching:
    """live sg id -> Terraform layer id; live sgr id -> Terraform rule (per live group)."""

    groups: dict[str, str] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    tf_layers: dict[str, Layer] = field(default_factory=dict)


def rule_flow(rule: Rule) -> str:
    """A rule as the drift messages name it: ``tcp/50001 from 10.0.0.0/16`` (the one flow notation)."""
    way = "from" if rule.direction is Direction.INGRESS else "to"
    return f"{flow_text(rule.protocol, rule.ports)} {way} {rule.peer.describe()}"


def _tag(layer: Layer, key: str) -> str:
    found = re.search(rf"(?:^|, ){re.escape(key)}=([^,]*)", layer.attribute("tags"))
    return found.group(1).strip() if found else ""


def _is_default_sg(layer: Layer) -> bool:
    return f".{DEFAULT_SG_TYPE}." in f".{layer.id}"


def _sg_layers(collection: Collection) -> list[Layer]:
    return [layer for layer in collection.layers if layer.kind is LayerKind.SECURITY_GROUP]


def _tf_groups(terraform: Collection) -> list[Layer]:
    return [layer for layer in _sg_layers(terraform) if layer.attribute("external") != "true"]


def match_groups(live: Collection, terraform: Collection) -> dict[str, str]:
    tf = _tf_groups(terraform)
    by_name = {layer.name: layer.id for layer in tf if layer.name != layer.id}
    by_tag = {t: layer.id for layer in tf if (t := _tag(layer, "Name"))}
    out: dict[str, str] = {}
    for layer in _sg_layers(live):
        group_name = layer.attribute("group_name") or layer.name
        name = _tag(layer, "Name")
        found = by_name.get(group_name) or (by_tag.get(name) if name else None)
        if found is None:
            found = next((t.id for t in _sg_layers(terraform) if t.id == layer.id), None)
        if found is not None:
            out[layer.id] = found
    # aws_default_security_group has no name in the configuration: it is the "default"
    # group of the VPC the other mapped groups live in, when that VPC is unambiguous.
    defaults = [t for t in tf if _is_default_sg(t)]
    vpcs = {layer.attribute("vpc") for layer in _sg_layers(live) if layer.id in out}
    if len(defaults) == 1 and len(vpcs) == 1:
        for layer in _sg_layers(live):
            if (layer.attribute("group_name") or layer.name) == "default" and layer.attribute("vpc") in vpcs:
                out.setdefault(layer.id, defaults[0].id)
    return out


def _live_groups(rule: Rule, groups: dict[str, str]) -> frozenset[str]:
    return frozenset(groups.get(g, g) for g in rule.peer.groups)


def _contains(tf: Peer, live: Peer, live_groups: frozenset[str]) -> tuple[bool, bool]:
    """(contains, exact): whether a Terraform peer holds a live rule's one source."""
    if live.addresses:
        inside = bool(tf.addresses) and live.addresses <= tf.addresses
        return inside, inside and tf.addresses == live.addresses and not tf.groups
    if live_groups:
        if live_groups <= tf.groups:
            return True, tf.groups == live_groups and not tf.addresses
        # A Terraform prefix list given by a data source or an unknown id: any live list.
        tf_lists = {
            g for g in tf.groups if g.startswith(PREFIX_LIST) and not g[len(PREFIX_LIST) :].startswith("pl-")
        }
        if tf_lists and all(g.startswith(PREFIX_LIST) for g in live_groups):
            return True, False
    return False, False


def _candidates(rule: Rule, tf_layer: Layer, groups: dict[str, str]) -> list[tuple[int, int, Rule]]:
    live_groups = _live_groups(rule, groups)
    out: list[tuple[int, int, Rule]] = []
    for i, t in enumerate(tf_layer.rules):
        if t.direction is not rule.direction or is_unknown_rules(t):
            continue  # a stand-in for rules the code does not hold declares nothing
        if t.unresolved:
            out.append((0, i, t))
            continue
        if t.protocol != rule.protocol or t.ports != rule.ports:
            continue
        contains, exact = _contains(t.peer, rule.peer, live_groups)
        if not contains:
            continue
        score = 2 + (2 if exact else 0) + (1 if t.description.strip() == rule.description.strip() else 0)
        out.append((score, i, t))
    return sorted(out, key=lambda c: (-c[0], c[1]))


def match(live: Collection, terraform: Collection) -> Matching:
    groups = match_groups(live, terraform)
    tf_layers = {layer.id: layer for layer in terraform.layers}
    rules: dict[str, Rule] = {}
    for layer in _sg_layers(live):
        tf_layer = tf_layers.get(groups.get(layer.id, ""))
        if tf_layer is None:
            continue
        for rule in layer.rules:
            found = _candidates(rule, tf_layer, groups)
            if found:
                rules[rule.key] = found[0][2]
    return Matching(groups, rules, tf_layers)


def locate_in_terraform(
    live: Collection, terraform: Collection, matching: Matching | None = None
) -> Collection:
    """The live collection with mapped layers and rules located at their Terraform lines."""
    m = matching or match(live, terraform)
    layers: list[Layer] = []
    for layer in live.layers:
        tf_layer = m.tf_layers.get(m.groups.get(layer.id, ""))
        if tf_layer is None:
            layers.append(layer)
            continue
        rules = tuple(
            replace(r, source=m.rules[r.key].source) if r.key in m.rules else r for r in layer.rules
        )
        attributes = (*layer.attributes, ("terraform", tf_layer.id))
        layers.append(replace(layer, source=tf_layer.source, rules=rules, attributes=attributes))
    return replace(live, layers=tuple(layers))


def _where(layer: Layer) -> str:
    account, region = layer.attribute("account"), layer.attribute("region")
    return f"account {account}, {region}" if account else region or "AWS"


def drift_items(
    live: Collection, terraform: Collection, matching: Matching | None = None
) -> tuple[Drift, ...]:
    """Live rules no Terraform declares, and Terraform rules AWS lacks."""
    m = matching or match(live, terraform)
    problems: list[Drift] = []
    live_layers = _sg_layers(live)
    for layer in live_layers:
        tf_layer = m.tf_layers.get(m.groups.get(layer.id, ""))
        if tf_layer is None:
            continue
        problems += _live_only(layer, tf_layer, m)
        problems += _code_only(layer, tf_layer, m)
    mapped = set(m.groups.values())
    regions = sorted({_where(layer) for layer in live_layers})
    for tf_layer in _tf_groups(terraform):
        if tf_layer.id in mapped or not tf_layer.rules:
            continue
        shown = f" ({tf_layer.name})" if tf_layer.name != tf_layer.id else ""
        count = len({r.key for r in tf_layer.rules})
        problems.append(
            Drift(
                DriftSide.CODE_ONLY,
                f"security group {tf_layer.id}{shown} and its {count} rule{'s' if count != 1 else ''} are "
                f"declared in Terraform but no security group of that name or Name tag was found in AWS "
                f"({'; '.join(regions) or 'no region read'})",
                tf_layer.source,
                key=f"drift:{tf_layer.id}",
            )
        )
    return tuple(problems)


def _live_only(layer: Layer, tf_layer: Layer, m: Matching) -> list[Drift]:
    out: list[Drift] = []
    for rule in layer.rules:
        if rule.key in m.rules:
            continue
        described = f" ({rule.description})" if rule.description else ""
        out.append(
            Drift(
                DriftSide.LIVE_ONLY,
                f"rule {rule.key}{described} of security group {layer.id} ({layer.name}, {_where(layer)}) "
                f"allows {rule_flow(rule)} but no Terraform rule of {tf_layer.id} declares it",
                tf_layer.source,
                key=f"drift:{layer.id}:{rule.key}",
                related=(rule.source,),
            )
        )
    return out


def _code_only(layer: Layer, tf_layer: Layer, m: Matching) -> list[Drift]:
    covered: dict[str, tuple[AddressSet, set[str], bool]] = {}
    for rule in layer.rules:
        t = m.rules.get(rule.key)
        if t is None:
            continue
        addrs, labels, any_list = covered.get(t.key, (EMPTY, set(), False))
        live_groups = {m.groups.get(g, g) for g in rule.peer.groups}
        covered[t.key] = (
            addrs | rule.peer.addresses,
            labels | live_groups,
            any_list or any(g.startswith(PREFIX_LIST) for g in live_groups),
        )
    out: list[Drift] = []
    seen: set[tuple[str, str]] = set()
    for t in tf_layer.rules:
        # Unresolved rules, the stand-ins of unknown rules among them, are never reported missing.
        if t.unresolved or not t.peer:
            continue
        addrs, labels, any_list = covered.get(t.key, (EMPTY, set(), False))
        missing_addrs = t.peer.addresses - addrs
        missing_groups = {
            g
            for g in t.peer.groups - labels
            if not (any_list and g.startswith(PREFIX_LIST) and not g[len(PREFIX_LIST) :].startswith("pl-"))
        }
        if not missing_addrs and not missing_groups:
            continue
        part = Peer(addresses=missing_addrs, groups=frozenset(missing_groups))
        whole = missing_addrs == t.peer.addresses and missing_groups == set(t.peer.groups)
        ident = (t.key, part.describe())
        if ident in seen:
            continue
        seen.add(ident)
        flow = rule_flow(replace(t, peer=part))
        what = "the rule" if whole else f"the part {flow}"
        out.append(
            Drift(
                DriftSide.CODE_ONLY,
                f"Terraform rule {t.key} ({rule_flow(t)}) of {tf_layer.id} is not in AWS: "
                f"security group {layer.id} ({layer.name}, {_where(layer)}) lacks {what}",
                t.source,
                key=f"drift:{layer.id}:{t.key}:{part.describe()}",
                related=(layer.source,),
            )
        )
    return out


def locate_all(
    scopes: Sequence[Collection], terraform: Collection
) -> tuple[list[Collection], tuple[Drift, ...]]:
    """Every scope located in Terraform, and the drift problems of all of them together."""
    combined = Collection(layers=tuple(layer for c in scopes for layer in c.layers))
    m = match(combined, terraform)
    located = [locate_in_terraform(c, terraform, m) for c in scopes]
    return located, drift_items(combined, terraform, m)


__all__ = [
    "Matching",
    "drift_items",
    "locate_all",
    "locate_in_terraform",
    "match",
    "match_groups",
    "rule_flow",
]
