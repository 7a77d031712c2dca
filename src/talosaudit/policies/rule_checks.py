"""Evaluators that look at rules themselves: all traffic allowed (TA206), broad CIDRs (TA207),
missing descriptions (TA501), duplicates
(TA502) and shadowed rules of first-match lists (TA403)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from talosaudit.findings import Finding
from talosaudit.model import (
    ALL_ADDRESSES,
    EMPTY,
    PRIVATE,
    Action,
    AddressSet,
    Direction,
    IntervalSet,
    Layer,
    Placement,
    PortSet,
    Rule,
    Semantics,
    SourceRef,
)
from talosaudit.model.ports import PORTED, parse_protocol
from talosaudit.policies.context import (
    Context,
    cidrs_text,
    flow_text,
    layer_text,
    rule_key,
    rule_text,
)
from talosaudit.policies.flows import reported_ports
from talosaudit.policies.params import BroadCidrParams, LayerRuleParams
from talosaudit.policies.schema import Policy
from talosaudit.policies.shadow_text import shadow_message
from talosaudit.reachability import Space, address_line
from talosaudit.reachability.space import ALL_PROTOCOLS, V6_OFFSET, SpaceIndex

_ALL_PORTS = IntervalSet.span(0, 65535)
_PORTED = IntervalSet.of((p, p) for p in PORTED)


def _layers(ctx: Context) -> list[Layer]:
    return sorted(ctx.model.layers.values(), key=lambda layer: layer.id)


# --- predicates ------------------------------------------------------------------------


def _candidates(ctx: Context, params: LayerRuleParams, effective: bool) -> Iterator[tuple[Layer, Rule]]:
    for layer in _layers(ctx):
        if layer.kind.value in params.skip_layer_kinds or (effective and not layer.enabled):
            continue
        live = _live_rules(ctx, layer) if effective else None
        for rule in layer.rules:
            if rule.enabled and (live is None or id(rule) in live):
                yield layer, rule


def _live_rules(ctx: Context, layer: Layer) -> set[int] | None:
    """For a first-match layer, the rules (by ``id``) that can match some traffic to the
    cluster: earlier rules do not cover all of it, and for a firewall between networks
    (pfSense) its destination reaches the cluster's addresses. None: every rule counts.

    "Admin VLAN to anywhere" below "block anything to the Kubernetes VLAN" opens nothing in
    the cluster, and a pass rule below "block everything" opens nothing at all.
    """
    if layer.semantics is not Semantics.FIRST_MATCH:
        return None

    def compute() -> set[int]:
        rules = [r for r in layer.rules if r.enabled]
        labels = sorted({g for r in rules for g in r.peer.groups})
        beyond_line = IntervalSet.span(0, _GROUP_BASE + len(labels))
        scope = Space.box(ALL_PROTOCOLS, beyond_line, beyond_line, _ALL_PORTS)
        if layer.placement is not Placement.NODE:
            scope = Space.box(ALL_PROTOCOLS, beyond_line, address_line(ctx.node_scope()), _ALL_PORTS)
        live: set[int] = set()
        for direction in (Direction.INGRESS, Direction.EGRESS):
            ordered = [r for r in rules if r.direction is direction]
            regions = [_abstract_region(rule, labels) for rule in ordered]
            # earlier resolved rules only: an unresolved rule covers nothing for sure
            index = SpaceIndex(
                [Space() if r.unresolved else reg for r, reg in zip(ordered, regions, strict=True)]
            )
            for position, (rule, region) in enumerate(zip(ordered, regions, strict=True)):
                if rule.unresolved or not index.covers(region & scope, position):
                    live.add(id(rule))
        return live

    result: set[int] = ctx.memo(("live-rules", layer.id), compute)
    return result


def _opens_ingress(rule: Rule) -> bool:
    """A resolved ingress allow (an unresolved one is TA002's, never guessed here)."""
    return rule.direction is Direction.INGRESS and rule.action is Action.ALLOW and not rule.unresolved


def all_traffic(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """Resolved ingress allows of every protocol or every port from beyond the node network."""
    params = ctx.params(policy, LayerRuleParams)
    # Sources inside the cluster: the node network and the pod/service CIDRs (pod traffic is
    # the cluster's own). node_scope() alone stays the *destination* scope of live_rules().
    scope = ctx.node_scope() | ctx.pod_service()
    for layer, rule in _candidates(ctx, params, effective=True):
        if not _opens_ingress(rule):
            continue
        # A range from port 1 (``1-65535``, a common way to write "every port") is all ports.
        every_port = rule.ports.is_every_port()
        stated = "" if rule.ports.is_all() else f" ({rule.ports})"
        if rule.protocol is None:
            what = f"all traffic{stated}" if every_port else f"all protocols on ports {rule.ports}"
        elif rule.protocol in PORTED and every_port:
            what = f"all {flow_text(rule.protocol, rule.ports).split('/')[0]} ports{stated}"
        else:
            continue
        beyond = rule.peer.addresses - scope
        if not beyond:
            continue
        cidrs = cidrs_text(rule.peer.addresses)
        yield _rule_finding(
            policy,
            layer,
            rule,
            f"{rule_text(rule)} in {layer_text(layer)} allows {what} from {cidrs}, "
            f"which reaches beyond the node network ({_scope_text(ctx)})",
            identity=f"{rule_key(rule)}|{what}|{cidrs}",
            properties=(("flow", flow_text(rule.protocol, rule.ports)), ("source", cidrs)),
        )


def _rule_finding(
    policy: Policy,
    layer: Layer,
    rule: Rule,
    message: str,
    *,
    identity: str,
    properties: tuple[tuple[str, str], ...] = (),
    related: tuple[SourceRef, ...] | None = None,
) -> Finding:
    """A finding about one rule of ``layer``: at the rule, related to the layer (or to the
    rules that explain it)."""
    return Finding(
        rule_id=policy.id,
        level=policy.level,
        message=message,
        location=rule.source,
        identity=identity,
        related=(layer.source,) if related is None else related,
        properties=(*properties, ("layers", layer.id)),
    )


def _scope_text(ctx: Context) -> str:
    return ctx.model.node_network.describe() if ctx.model.node_network else "not known"


def missing_description(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """Enabled rules whose description is empty."""
    params = ctx.params(policy, LayerRuleParams)
    for layer, rule in _candidates(ctx, params, effective=False):
        if rule.description.strip():
            continue
        yield _rule_finding(
            policy,
            layer,
            rule,
            f"rule {rule_key(rule)} in {layer_text(layer)} ({rule.describe()}) has no description",
            identity=rule_key(rule),
        )


def broad_cidr(policy: Policy, ctx: Context) -> Iterator[Finding]:
    """Ingress allows that open cluster ports to sources wider than the cluster needs."""
    params = ctx.params(policy, BroadCidrParams)
    trusted = ctx.node_scope() | ctx.pod_service() | ctx.trusted_admin()
    cluster: dict[int | None, PortSet] = {}
    for spec in params.cluster_ports:
        if not ctx.holds(spec.when, params.fact_defaults):
            continue
        proto = parse_protocol(spec.protocol)
        ports = ctx.tunnel_ports(PortSet.parse(spec.ports), spec.tunnel_port)
        cluster[proto] = cluster.get(proto, PortSet()) | ports
    already = reported_ports(ctx, params.not_reported_by)
    all_traffic = _all_traffic_keys(ctx, params.not_reported_by)
    for layer, rule in _candidates(ctx, params, effective=True):
        if not _opens_ingress(rule) or not rule.peer.addresses:
            continue
        if rule_key(rule) in all_traffic:
            continue
        wide = _wide_public(rule.peer.addresses, params)
        broad = (rule.peer.addresses - trusted) | wide
        if not broad:
            continue
        done = already.get(rule_key(rule), {})
        opened: list[str] = []
        for proto, ports in cluster.items():
            if rule.protocol is not None and rule.protocol != proto:
                continue
            hit = (ports & rule.ports) - done.get(proto, PortSet()) - done.get(None, PortSet())
            if hit:
                opened.append(flow_text(proto, hit))
        if not opened:
            continue
        cidrs = ", ".join(c for c in rule.peer.addresses.cidrs() if AddressSet.parse(c).overlaps(broad))
        why = []
        if rule.peer.addresses - trusted:
            why.append("reaches beyond the node network and the admin networks")
        if wide:
            why.append(f"is a public CIDR wider than /{params.min_public_prefix}")
        flows = ", ".join(opened)
        yield _rule_finding(
            policy,
            layer,
            rule,
            f"{rule_text(rule)} in {layer_text(layer)} opens cluster ports {flows} to {cidrs}, "
            f"which {' and '.join(why)}",
            identity=f"{rule_key(rule)}|{flows}|{cidrs}",
            properties=(("flow", flows), ("source", cidrs)),
        )


def _all_traffic_keys(ctx: Context, rule_ids: list[str]) -> set[str]:
    """Rules that the listed all-traffic predicates (TA206) already report."""
    keys: set[str] = set()
    for rule_id in rule_ids:
        policy = ctx.catalogue.get(rule_id)
        if policy is not None and policy.kind == "all_traffic":
            keys.update(f.identity.split("|", 1)[0] for f in all_traffic(policy, ctx))
    return keys


def _wide_public(addresses: AddressSet, params: BroadCidrParams) -> AddressSet:
    out = EMPTY
    for cidr in addresses.cidrs():
        net = ipaddress.ip_network(cidr)
        limit = params.min_public_prefix if net.version == 4 else params.min_public_prefix_v6
        piece = AddressSet.parse(cidr)
        if net.prefixlen < limit and piece - PRIVATE:
            out = out | (piece - PRIVATE)
    return out


# --- duplicates and shadows ------------------------------------------------------------


def duplicate_rule(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, LayerRuleParams)
    for layer in _layers(ctx):
        if layer.semantics is not Semantics.UNION_OF_ALLOWS or layer.kind.value in params.skip_layer_kinds:
            continue
        first: dict[tuple[object, ...], Rule] = {}
        for rule in layer.rules:
            if not rule.enabled or rule.unresolved or rule.action is not Action.ALLOW:
                continue
            # Address sets are normal forms: 0.0.0.0/1 + 128.0.0.0/1 equals 0.0.0.0/0.
            peer = rule.peer
            key = (rule.direction, rule.protocol, rule.ports, peer.addresses, peer.groups, rule.local)
            earlier = first.setdefault(key, rule)
            if earlier is rule:
                continue
            yield _rule_finding(
                policy,
                layer,
                rule,
                f"{rule_text(rule)} in {layer_text(layer)} allows exactly the same traffic as "
                f"rule {rule_key(earlier)} ({rule.describe()})",
                identity=f"{layer.id}|{rule_key(rule)}|{rule_key(earlier)}",
                related=(earlier.source,),
            )


def shadowed_rule(policy: Policy, ctx: Context) -> Iterator[Finding]:
    params = ctx.params(policy, LayerRuleParams)
    # One rule line can sit in several layers (a Proxmox guest's rules apply to each of its
    # NICs; a pfSense floating rule to each of its interfaces and both directions): it never
    # matches only when every place it sits in shadows it, and is reported once, at the first.
    first: dict[tuple[str, str], Finding] = {}
    live: set[tuple[str, str]] = set()
    for layer in sorted(_layers(ctx), key=lambda layer: not layer.enabled):
        if layer.semantics is not Semantics.FIRST_MATCH or layer.kind.value in params.skip_layer_kinds:
            continue
        labels = sorted({g for r in layer.rules for g in r.peer.groups})
        for direction in (Direction.INGRESS, Direction.EGRESS):
            ordered = [rule for rule in layer.rules_in(direction) if rule.enabled]
            regions = [_abstract_region(rule, labels) for rule in ordered]
            # the earlier rules that count are the resolved ones (an unresolved rule is TA002's)
            index = SpaceIndex(
                [Space() if r.unresolved else reg for r, reg in zip(ordered, regions, strict=True)]
            )
            any_earlier = False
            for position, (rule, region) in enumerate(zip(ordered, regions, strict=True)):
                once = (rule_key(rule), str(rule.source))
                if rule.unresolved or not any_earlier or not index.covers(region, position):
                    live.add(once)
                    if rule.unresolved:
                        continue
                elif once not in first:
                    by = [ordered[k] for k in index.meeting(region, position)]
                    first[once] = _rule_finding(
                        policy,
                        layer,
                        rule,
                        shadow_message(rule, layer, by),
                        identity=f"{layer.id}|{rule_key(rule)}",
                        related=tuple(r.source for r in by),
                    )
                any_earlier = True
    yield from (finding for once, finding in first.items() if once not in live)


#: Group labels sit on the address line above every IPv6 address: a group's members have
#: unknown addresses, so only a rule for the whole address space covers a group peer.
_GROUP_BASE = V6_OFFSET + (1 << 128)


def _abstract_region(rule: Rule, labels: list[str]) -> Space:
    """A rule's match as (protocol, peer, local, port), independent of any endpoint."""
    peer = address_line(rule.peer.addresses)
    peer = peer | IntervalSet.of((_GROUP_BASE + labels.index(g),) * 2 for g in rule.peer.groups)
    every_group = IntervalSet.span(_GROUP_BASE, _GROUP_BASE + len(labels) - 1)
    if rule.peer.addresses == ALL_ADDRESSES:
        peer = peer | every_group
    local = address_line(ALL_ADDRESSES) | every_group if rule.local is None else address_line(rule.local)
    if rule.protocol is None:
        if rule.ports.is_all():
            return Space.box(ALL_PROTOCOLS, peer, local, _ALL_PORTS)
        return Space.box(_PORTED, peer, local, rule.ports.values) | Space.box(
            ALL_PROTOCOLS - _PORTED, peer, local, _ALL_PORTS
        )
    ports = rule.ports.values if rule.protocol in PORTED else _ALL_PORTS
    return Space.box(IntervalSet.span(rule.protocol, rule.protocol), peer, local, ports)
