"""Turn a parsed pfSense/OPNsense config into model segments and GATEWAY layers.

One layer per (firewall, enabled interface), FIRST_MATCH, default deny inbound, stateful.
pf evaluates every rule and the last matching one wins unless a ``quick`` rule matched
first. pfSense interface rules are always quick; floating rules only with ``<quick/>``.
Listing the quick rules in ruleset order (floating, interface groups, the interface) and
then the non-quick ones in *reverse* order gives exactly pf's decision as a first-match
list: the first quick match wins, else the last non-quick match, else the default deny.

Rules with direction ``in`` (all non-floating pfSense rules) are INGRESS rules of the layer
of the interface where the packet enters: ``peer`` = source, ``local`` = destination.
Floating/OPNsense rules with direction ``out`` filter packets leaving through an interface:
they are EGRESS rules (``peer`` = destination, ``local`` = source) of that interface's
layer, default pass (pfSense passes out everything that was let in).

Port forwards (``<nat><rule>``): with ``associated-rule-id`` ``pass`` (pf ``rdr pass``) the
forward passes without filter rules, so it becomes an ALLOW at the top of the interface's
list, to the target and local port. With a linked filter rule (``nat_…`` id) that rule is
the pass rule at its place in the list; it is reported at the ``<nat><rule>`` (the one the
user edits) and carries the filter rule's line in ``extra``. Unassociated forwards need a
manual filter rule to the target, which the filter rules already express.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.pfsense.parsed import (
    BLOCK,
    MATCH,
    PASS,
    Bucket,
    Endpoint,
    FilterRule,
    FirewallConfig,
    Interface,
    PortForward,
)
from talosaudit.collectors.pfsense.resolve import Resolved, Resolver
from talosaudit.model import ProblemKind
from talosaudit.model.addresses import ALL_ADDRESSES, ALL_V4, ALL_V6, INTERNET, AddressSet
from talosaudit.model.cluster import Segment
from talosaudit.model.collection import Collection, Problem
from talosaudit.model.firewall import (
    Action,
    Direction,
    Layer,
    LayerKind,
    Peer,
    Placement,
    Rule,
    Semantics,
    Unresolved,
)
from talosaudit.model.ports import ALL_PORTS, ICMP, ICMPV6, PORTED, TCP, UDP, PortSet
from talosaudit.model.source import SourceRef

#: Interfaces whose description names an operator network (until the config names them).
ADMIN_NAME = re.compile(r"admin|mgmt|management", re.IGNORECASE)
#: Interfaces whose description names the Kubernetes VLAN.
NODES_NAME = re.compile(r"k8s|kube|talos", re.IGNORECASE)
#: What ``<blockpriv>`` blocks as source on an interface (pfSense/OPNsense built-in rule).
PRIVATE_SOURCES = AddressSet.of(
    ["10.0.0.0/8", "127.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
)

_NAMED_PROTOCOLS = {
    "tcp": 6,
    "udp": 17,
    "icmp6": ICMPV6,
    "ipv6-icmp": ICMPV6,
    "icmpv6": ICMPV6,
    "igmp": 2,
    "ipencap": 4,
    "ipip": 4,
    "ipv6": 41,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ospf": 89,
    "etherip": 97,
    "pim": 103,
    "carp": 112,
    "l2tp": 115,
    "sctp": 132,
    "pfsync": 240,
}
_FAMILIES = {"inet": ALL_V4, "inet6": ALL_V6, "inet46": ALL_ADDRESSES}


@dataclass
class _Context:
    config: FirewallConfig
    rel: str
    resolver: Resolver
    problems: dict[str, Problem] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "pfSense" if self.config.kind == "pfsense" else "OPNsense"

    def problem(
        self, problem_kind: ProblemKind, message: str, line: int, key: str, resource: str = ""
    ) -> None:
        full_key = f"{self.rel}:{key}"
        if full_key not in self.problems:
            self.problems[full_key] = Problem(
                kind=problem_kind,
                message=message,
                source=SourceRef(self.rel, line, line, resource or key),
                key=full_key,
            )


def layer_id(kind: str, rel: str, interface: str) -> str:
    return f"{kind}:{rel}:{interface}"


def segment_id(kind: str, rel: str, interface: str) -> str:
    return f"{kind}:{rel}:{interface}/net"


def is_internet_facing(itf: Interface) -> bool:
    """WAN, and every interface with an upstream gateway (pfSense's notion of a WAN)."""
    return itf.name == "wan" or bool(itf.gateway)


#: VLAN device names: ``vtnet1.30``/``igb1.30`` (pfSense, FreeBSD) and ``igb0_vlan30``
#: (OPNsense before 23.x); anything else is looked up in ``<vlans>``.
_VLAN_DEVICE = re.compile(r"^[a-z]+\d+(?:\.|_vlan)(\d{1,4})$")


def vlan_tag(config: FirewallConfig, device: str) -> int | None:
    """The 802.1Q tag of an interface's device, when it is a VLAN."""
    for vlanif, tag in config.vlans:
        if vlanif == device:
            return tag
    found = _VLAN_DEVICE.match(device)
    return int(found.group(1)) if found else None


def modelled_interfaces(config: FirewallConfig) -> list[Interface]:
    """Enabled interfaces that traffic can enter from another host (not loopback)."""
    return [i for i in config.interfaces if i.enabled and not i.device.startswith("lo") and i.name != "lo0"]


def build_collection(
    config: FirewallConfig, rel: str, admin_interfaces: Sequence[str] = (), guess_admin: bool = True
) -> Collection:
    """Segments and layers of one firewall. ``guess_admin`` False: an interface is an admin
    network only when ``admin_interfaces`` names it, never because its description says
    "admin" or "mgmt" (the user named the admin networks, and a "MGMT" VLAN for switches and
    IPMI is not where kubectl runs)."""
    ctx = _Context(config, rel, Resolver(config))
    for p in config.problems:
        ctx.problem(p.kind, f"{ctx.label} {p.message}", p.line, p.key)
    segments: list[Segment] = []
    layers: list[Layer] = []
    admin: list[tuple[AddressSet, SourceRef | None]] = []
    node_networks: list[tuple[AddressSet, SourceRef | None]] = []
    wanted_admin = {a.lower() for a in admin_interfaces}
    for itf in modelled_interfaces(config):
        net = ctx.resolver.nets[itf.name]
        ref = SourceRef(rel, itf.line, itf.end_line, f"interfaces/{itf.name}")
        internet = is_internet_facing(itf)
        seg_addresses = (INTERNET | net.networks) if internet else net.networks
        seg_id = segment_id(config.kind, rel, itf.name)
        segments.append(
            Segment(
                seg_id,
                _title(config, rel, itf),
                seg_addresses,
                ref,
                is_internet=internet,
                vlan=vlan_tag(config, itf.device),
            )
        )
        role = "wan" if internet else ""
        if not internet and (itf.name.lower() in wanted_admin or itf.descr.lower() in wanted_admin):
            role = "admin"
            reason = "named in admin_interfaces"
        elif guess_admin and not internet and ADMIN_NAME.search(itf.descr):
            role = "admin"
            reason = f"its description {itf.descr!r} names an admin network"
        if role == "admin" and net.networks:
            admin.append((net.networks, replace(ref, resource=f"interfaces/{itf.name} (admin: {reason})")))
        if not internet and role != "admin" and NODES_NAME.search(itf.descr) and net.networks:
            role = "nodes"
            node_networks.append((net.networks, replace(ref, resource=f"interfaces/{itf.name} (nodes)")))
        layers.append(_layer(ctx, itf, seg_id, ref, role))
    return Collection(
        layers=tuple(layers),
        segments=tuple(segments),
        admin=tuple(admin),
        node_networks=tuple(node_networks),
        problems=tuple(ctx.problems.values()),
        files=(rel,),
    )


def _title(config: FirewallConfig, rel: str, itf: Interface) -> str:
    return f"{itf.descr or itf.name.upper()} ({itf.name}) on {config.hostname or rel}"


# -- rule order ------------------------------------------------------------------------------


def _effective_bucket(rule: FilterRule, groups: dict[str, tuple[str, ...]]) -> Bucket:
    if rule.bucket is Bucket.INTERFACE and rule.interfaces and rule.interfaces[0] in groups:
        return Bucket.GROUP
    return rule.bucket


def _applies(rule: FilterRule, interface: str, groups: dict[str, tuple[str, ...]]) -> bool:
    def named(name: str) -> bool:
        return name == interface or interface in groups.get(name, ())

    if rule.bucket is Bucket.FLOATING:
        if not rule.interfaces:
            return not rule.interface_not
        return any(named(n) for n in rule.interfaces) != rule.interface_not
    return any(named(n) for n in rule.interfaces)


def ordered_rules(config: FirewallConfig) -> list[FilterRule]:
    """All rules in ruleset order: by bucket, MVC (by sequence) before legacy (config order)."""
    groups = {g.name: g.members for g in config.groups}
    indexed = list(enumerate(config.rules))
    indexed.sort(
        key=lambda pair: (
            _effective_bucket(pair[1], groups),
            0 if pair[1].form == "mvc" else 1,
            pair[1].sequence if pair[1].form == "mvc" else 0,
            pair[0],
        )
    )
    return [rule for _, rule in indexed]


def _direction_matches(rule: FilterRule, direction: Direction) -> bool:
    if direction is Direction.INGRESS:
        return rule.direction in ("in", "any")
    return rule.direction in ("out", "any")


# -- one layer ---------------------------------------------------------------------------------


def _layer(ctx: _Context, itf: Interface, seg_id: str, ref: SourceRef, role: str) -> Layer:
    groups = {g.name: g.members for g in ctx.config.groups}
    nat_by_id = {
        pf.associated_rule_id: pf
        for pf in ctx.config.port_forwards
        if pf.associated_rule_id.startswith("nat_")
    }
    ordered = ordered_rules(ctx.config)
    notes: list[tuple[str, str]] = []
    rules: list[Rule] = []
    for direction in (Direction.INGRESS, Direction.EGRESS):
        candidates = [
            r
            for r in ordered
            if r.action != MATCH and _applies(r, itf.name, groups) and _direction_matches(r, direction)
        ]
        quick = [r for r in candidates if r.quick]
        later = [r for r in candidates if not r.quick][::-1]
        if direction is Direction.INGRESS:
            rules.extend(_rdr_pass_rules(ctx, itf))
            if itf.blockpriv:
                rules.append(_blockpriv_rule(ctx, itf))
        taggers = {r.tag for r in candidates if r.tag}
        for r in quick + later:
            if r.tagged and direction is Direction.INGRESS and r.tagged not in taggers:
                # pf tags a packet only when a rule with <tag> matches it on the way in;
                # no rule on this interface sets the tag, so the rule never matches here.
                notes.append(("ignored", f"{r.key}: matches only packets tagged {r.tagged}"))
                continue
            rules.extend(_model_rules(ctx, r, itf.name, direction, nat_by_id.get(r.associated_rule_id)))
    attributes = [
        ("firewall", ctx.rel),
        ("hostname", ctx.config.hostname),
        ("interface", itf.name),
        ("descr", itf.descr),
        ("device", itf.device),
        ("role", role),
        ("order", "quick rules in ruleset order, then non-quick rules last-match first, then default deny"),
        *notes,
    ]
    return Layer(
        id=layer_id(ctx.config.kind, ctx.rel, itf.name),
        kind=LayerKind.PFSENSE if ctx.config.kind == "pfsense" else LayerKind.OPNSENSE,
        name=_title(ctx.config, ctx.rel, itf),
        source=ref,
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.GATEWAY,
        rules=tuple(rules),
        default_ingress=Action.DENY,
        default_egress=Action.ALLOW,
        stateful=True,
        segments=(seg_id,),
        attributes=tuple(attributes),
    )


def _blockpriv_rule(ctx: _Context, itf: Interface) -> Rule:
    return Rule(
        action=Action.DENY,
        direction=Direction.INGRESS,
        protocol=None,
        ports=ALL_PORTS,
        peer=Peer(PRIVATE_SOURCES, description="private networks"),
        source=SourceRef(ctx.rel, itf.line, itf.end_line, f"interfaces/{itf.name}/blockpriv"),
        description=f"Block private networks from {itf.descr or itf.name.upper()}",
        key="builtin:blockpriv",
        origin="built-in rule (blockpriv)",
        extra=(
            (
                "words",
                f"{ctx.label}'s built-in 'Block private networks' rule on {itf.descr or itf.name.upper()} "
                f"({ctx.rel}:{itf.line})",
            ),
        ),
    )


# -- rule conversion ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Variant:
    protocol: int | None
    family: AddressSet
    suffix: str


def _variants(
    ctx: _Context, protocol: str, ipprotocol: str, key: str, line: int
) -> tuple[list[_Variant], list[Unresolved]]:
    family = _FAMILIES.get(ipprotocol, ALL_V4)
    if protocol in ("", "any"):
        return [_Variant(None, family, "")], []
    if protocol == "tcp/udp":
        return [_Variant(TCP, family, "/tcp"), _Variant(UDP, family, "/udp")], []
    if protocol == "icmp":
        if ipprotocol == "inet46":
            return [_Variant(ICMP, ALL_V4, "/icmp"), _Variant(ICMPV6, ALL_V6, "/icmp6")], []
        return [_Variant(ICMPV6 if ipprotocol == "inet6" else ICMP, family, "")], []
    if protocol in _NAMED_PROTOCOLS:
        return [_Variant(_NAMED_PROTOCOLS[protocol], family, "")], []
    if protocol.isdigit() and int(protocol) <= 255:
        return [_Variant(int(protocol), family, "")], []
    return [_Variant(None, family, "")], [
        Unresolved("protocol", protocol, "protocol name talosaudit does not know")
    ]


def _report_unresolved(ctx: _Context, key: str, line: int, items: Iterable[Unresolved]) -> None:
    for item in items:
        ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{ctx.label} rule {key}: {item.field} {item.expression!r} is unknown offline: {item.reason}",
            line,
            f"{key}:{item.field}:{item.expression}",
        )


def _model_rules(
    ctx: _Context, rule: FilterRule, interface: str, direction: Direction, nat: PortForward | None
) -> list[Rule]:
    resolver = ctx.resolver
    src = resolver.endpoint(rule.source, "source", rule.ipprotocol)
    dst = resolver.endpoint(rule.destination, "destination", rule.ipprotocol)
    dst_ports = resolver.ports(rule.destination.port, "destination port")
    src_ports = resolver.ports(rule.source.port, "source port")
    missing = src.missing or dst.missing or dst_ports.missing or src_ports.missing
    if missing:
        ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{ctx.label} rule {rule.key}: {missing}; the firewall does not load such a rule: ignored",
            rule.line,
            f"{rule.key}:missing",
        )
        return []
    variants, unresolved = _variants(ctx, rule.protocol, rule.ipprotocol, rule.key, rule.line)
    unresolved += [*src.unresolved, *dst.unresolved, *dst_ports.unresolved, *src_ports.unresolved]
    if not src_ports.ports.is_all():
        unresolved.append(
            Unresolved(
                "source port",
                rule.source.port,
                "flows are checked without source ports; the rule matches only connections from these ports",
            )
        )
    # Conditions that decide whether the rule applies at all, not its shape: reachability
    # treats an unresolved "enabled" as "the rule may or may not exist".
    if rule.schedule:
        unresolved.append(
            Unresolved(
                "enabled", f"schedule {rule.schedule}", "the rule applies only while its schedule is active"
            )
        )
    if rule.tagged:
        unresolved.append(
            Unresolved(
                "enabled", f"tagged {rule.tagged}", "the rule matches only packets another rule tagged"
            )
        )
    if rule.icmptype and not {"any", "echoreq", "8", "128"} & set(rule.icmptype.split(",")):
        unresolved.append(
            Unresolved("enabled", f"icmptype {rule.icmptype}", "the rule matches only these ICMP types")
        )
    _report_unresolved(ctx, rule.key, rule.line, unresolved)
    source = SourceRef(ctx.rel, rule.line, rule.end_line, rule.key)
    origin = {Bucket.FLOATING: "floating rule", Bucket.GROUP: "interface group rule"}.get(
        _effective_bucket(rule, {g.name: g.members for g in ctx.config.groups}), "interface rule"
    )
    extra: list[tuple[str, str]] = [
        ("interface", interface),
        ("form", rule.form),
        ("quick", "yes" if rule.quick else "no"),
        ("rule_line", str(rule.line)),
    ]
    enabled = not rule.disabled
    if nat is not None:
        source = SourceRef(ctx.rel, nat.line, nat.end_line, nat.key)
        origin = "nat port forward"
        extra.append(("nat", nat.key))
        enabled = enabled and not nat.disabled
    if rule.action == PASS:
        action = Action.ALLOW
        if rule.stateless:
            # State type none: the flows it passes get no state, so their replies are
            # filtered like new packets where they enter (reachability checks them).
            extra.append(("state", "none"))
    else:
        action = Action.DENY
        extra.append(("type", rule.action if rule.action in (BLOCK, "reject") else BLOCK))
    peer_ep, local_ep = (src, dst) if direction is Direction.INGRESS else (dst, src)
    local_any = (rule.destination if direction is Direction.INGRESS else rule.source).any
    result = []
    for v in variants:
        local = None if local_any and v.family == ALL_ADDRESSES else local_ep.addresses & v.family
        result.append(
            Rule(
                action=action,
                direction=direction,
                protocol=v.protocol,
                ports=dst_ports.ports if v.protocol in PORTED else ALL_PORTS,
                peer=Peer(peer_ep.addresses & v.family, description=_describe(peer_ep, v.family)),
                source=source,
                description=rule.description,
                local=local,
                enabled=enabled,
                unresolved=tuple(dict.fromkeys(unresolved)),
                key=rule.key + v.suffix,
                origin=origin,
                extra=tuple(extra),
            )
        )
    return result


def _describe(resolved: Resolved, family: AddressSet) -> str:
    if family == ALL_V4 and resolved.text == "any":
        return "any (IPv4)"
    if family == ALL_V6 and resolved.text == "any":
        return "any (IPv6)"
    return resolved.text


def _rdr_pass_rules(ctx: _Context, itf: Interface) -> list[Rule]:
    """Port forwards with ``associated-rule-id`` ``pass``: pf ``rdr pass`` skips the filter."""
    result: list[Rule] = []
    for pf in ctx.config.port_forwards:
        if pf.associated_rule_id != "pass" or pf.nordr or itf.name not in pf.interfaces or not pf.target:
            continue
        result.extend(port_forward_rules(ctx, pf))
    return result


def port_forward_rules(ctx: _Context, pf: PortForward) -> list[Rule]:
    resolver = ctx.resolver
    src = resolver.endpoint(pf.source, "source", pf.ipprotocol)
    # The target is the local side of the resulting rule: label it "destination".
    target = resolver.endpoint(Endpoint(any=False, kind="address", values=(pf.target,)), "destination")
    external = resolver.ports(pf.destination.port, "destination port")
    missing = src.missing or target.missing or external.missing
    if missing:
        ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{ctx.label} port forward {pf.key}: {missing}; it is ignored",
            pf.line,
            f"{pf.key}:missing",
        )
        return []
    local_ports = _local_ports(ctx, pf, external.ports)
    variants, unresolved = _variants(ctx, pf.protocol, pf.ipprotocol, pf.key, pf.line)
    unresolved += [*src.unresolved, *target.unresolved, *external.unresolved, *local_ports.unresolved]
    _report_unresolved(ctx, pf.key, pf.line, unresolved)
    return [
        Rule(
            action=Action.ALLOW,
            direction=Direction.INGRESS,
            protocol=v.protocol,
            ports=local_ports.ports if v.protocol in PORTED else ALL_PORTS,
            peer=Peer(src.addresses & v.family, description=_describe(src, v.family)),
            source=SourceRef(ctx.rel, pf.line, pf.end_line, pf.key),
            description=pf.description,
            local=target.addresses & v.family,
            enabled=not pf.disabled,
            unresolved=tuple(dict.fromkeys(unresolved)),
            key=pf.key + v.suffix,
            origin="nat port forward",
            extra=(("nat", pf.key), ("associated-rule-id", "pass")),
        )
        for v in variants
    ]


@dataclass(frozen=True, slots=True)
class _Ports:
    ports: PortSet
    unresolved: tuple[Unresolved, ...] = ()


def _local_ports(ctx: _Context, pf: PortForward, external: PortSet) -> _Ports:
    """``local-port`` is the first port of the internal range the external range maps to."""
    if not pf.local_port:
        return _Ports(external)
    if pf.local_port.isdigit() and len(external.values) == 1 and not external.is_all():
        lo, hi = external.values.intervals[0]
        start = int(pf.local_port)
        return _Ports(PortSet.range(start, start + (hi - lo)))
    resolved = ctx.resolver.ports(pf.local_port, "local port")
    if resolved.missing:
        return _Ports(ALL_PORTS, (Unresolved("local port", pf.local_port, resolved.missing),))
    return _Ports(resolved.ports, resolved.unresolved)


def collection_of(config: FirewallConfig, rel: str, options: CollectOptions | None = None) -> Collection:
    """``build_collection`` with the admin interfaces the options name (when they do)."""
    names: Sequence[str] = options.admin_interfaces if options is not None else ()
    guess = options is None or not options.admin_named
    return build_collection(config, rel, tuple(str(n) for n in names), guess_admin=guess)


__all__ = ["build_collection", "collection_of", "layer_id", "ordered_rules", "segment_id"]
