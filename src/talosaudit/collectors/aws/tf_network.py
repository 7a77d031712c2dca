"""VPCs, subnets and network ACLs.

Subnets become segments, VPC CIDRs the node networks, and each network ACL a stateless
first-match SEGMENT layer whose rules are ordered by rule number with the implicit ``*``
deny as default. A subnet that no ACL in the configuration claims keeps AWS's default ACL,
which allows everything: no layer is made for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.aws.network_acls import acl_attributes, network_acl_layer
from talosaudit.collectors.aws.tf_common import (
    Context,
    Pending,
    addresses_of,
    known_str,
    listify,
    protocol_and_ports,
    tags_of,
)
from talosaudit.collectors.terraform.mapping import as_bool, as_int, nested_blocks, source
from talosaudit.collectors.terraform.values import Block, Ref, ResourceInstance, Unknown
from talosaudit.model import (
    EMPTY,
    Action,
    AddressSet,
    Direction,
    Layer,
    Peer,
    ProblemKind,
    Rule,
    Segment,
    SourceRef,
)

#: Rules whose number is unknown are placed after every numbered rule.
_UNKNOWN_NUMBER = 1 << 20


@dataclass
class Network:
    segments: list[Segment] = field(default_factory=list)
    #: VPC address (or literal id) -> its CIDRs.
    vpcs: dict[str, AddressSet] = field(default_factory=dict)
    node_networks: list[tuple[AddressSet, SourceRef | None]] = field(default_factory=list)
    subnet_vpc: dict[str, str] = field(default_factory=dict)
    subnet_addresses: dict[str, AddressSet] = field(default_factory=dict)
    acls: list[Layer] = field(default_factory=list)

    def all_vpc_addresses(self) -> AddressSet:
        result = EMPTY
        for addrs in self.vpcs.values():
            result = result | addrs
        return result


def reference(ctx: Context, value: Any) -> str | None:
    """The identity of a referenced resource: its address, or a literal id; None if unknown."""
    target = ctx.target(value)
    if target is not None:
        return target.address
    if isinstance(value, Ref):
        return value.address
    if isinstance(value, str) and value:
        return value
    return None


def _name(r: ResourceInstance) -> str:
    for k, v in tags_of(r.body.attrs.get("tags")):
        if k.lower() == "name":
            return v
    return r.address


def map_network(ctx: Context) -> Network:
    net = Network()
    _vpcs(ctx, net)
    _subnets(ctx, net)
    _acls(ctx, net)
    return net


def _vpcs(ctx: Context, net: Network) -> None:
    for r in ctx.managed("aws_vpc"):
        pending = Pending(ctx, r.address, r.address)
        found, _ = addresses_of(
            pending, "cidr_block", r.body.attrs.get("cidr_block"), r.body.line_of("cidr_block"), ctx
        )
        six = r.body.attrs.get("ipv6_cidr_block")
        if isinstance(six, str):
            found = (
                found
                | addresses_of(pending, "ipv6_cidr_block", six, r.body.line_of("ipv6_cidr_block"), ctx)[0]
            )
        net.vpcs[r.address] = net.vpcs.get(r.address, EMPTY) | found
        if found:
            net.node_networks.append((found, source(r.lines, r.address)))
    for kind, attr in (
        ("aws_vpc_ipv4_cidr_block_association", "cidr_block"),
        ("aws_vpc_ipv6_cidr_block_association", "ipv6_cidr_block"),
    ):
        for r in ctx.managed(kind):
            value = r.body.attrs.get(attr)
            if kind.endswith("ipv6_cidr_block_association") and not isinstance(value, str):
                continue  # an Amazon-provided IPv6 block: address known only after apply
            pending = Pending(ctx, r.address, r.address)
            found, _ = addresses_of(pending, attr, value, r.body.line_of(attr), ctx)
            vpc = reference(ctx, r.body.attrs.get("vpc_id"))
            if vpc is not None:
                net.vpcs[vpc] = net.vpcs.get(vpc, EMPTY) | found
            if found:
                net.node_networks.append((found, source(r.lines, r.address)))


def _subnets(ctx: Context, net: Network) -> None:
    for r in ctx.managed("aws_subnet"):
        pending = Pending(ctx, r.address, r.address)
        addresses = EMPTY
        for attr in ("cidr_block", "ipv6_cidr_block"):
            value = r.body.attrs.get(attr)
            if value is None or (attr == "ipv6_cidr_block" and not isinstance(value, str | Unknown)):
                continue
            addresses = addresses | addresses_of(pending, attr, value, r.body.line_of(attr), ctx)[0]
        vpc = reference(ctx, r.body.attrs.get("vpc_id"))
        if vpc is not None:
            net.subnet_vpc[r.address] = vpc
        net.subnet_addresses[r.address] = addresses
        net.segments.append(Segment(r.address, _name(r), addresses, source(r.lines, r.address)))


@dataclass
class _AclDraft:
    id: str
    name: str
    source: SourceRef
    resource: ResourceInstance | None
    vpc: str = ""
    subnets: list[str] = field(default_factory=list)
    rules: list[tuple[int, int, Rule]] = field(default_factory=list)
    default: bool = False
    tags: tuple[tuple[str, str], ...] = ()


def _acls(ctx: Context, net: Network) -> None:
    drafts: dict[str, _AclDraft] = {}
    default_by_vpc: dict[str, str] = {}
    claimed: set[str] = set()

    def subnets_of(r: ResourceInstance, attr: str) -> list[str]:
        value = r.body.attrs.get(attr)
        pending = Pending(ctx, r.address, r.address)
        if isinstance(value, Unknown):
            pending.unknown(attr, value, r.body.line_of(attr))
            return []
        out: list[str] = []
        for item in listify(value):
            ident = reference(ctx, item)
            if ident is None:
                pending.unknown(attr, item, r.body.line_of(attr))
            else:
                out.append(ident)
        return out

    for r in ctx.managed("aws_network_acl", "aws_default_network_acl"):
        is_default = r.type == "aws_default_network_acl"
        vpc = reference(ctx, r.body.attrs.get("default_network_acl_id" if is_default else "vpc_id")) or ""
        draft = _AclDraft(
            r.address,
            _name(r),
            source(r.lines, r.address),
            r,
            vpc=vpc,
            subnets=subnets_of(r, "subnet_ids"),
            default=is_default,
            tags=tags_of(r.body.attrs.get("tags")),
        )
        drafts[r.address] = draft
        claimed.update(draft.subnets)
        if is_default and vpc:
            default_by_vpc[vpc] = r.address
        for direction in Direction:
            for i, block in enumerate(nested_blocks(r.body, direction.value)):
                number = as_int(block.attrs.get("rule_no"))
                key = (
                    f"{r.address}/{direction.value}/{number}"
                    if number is not None
                    else (f"{r.address}/{direction.value}[{i}]")
                )
                draft.rules += _rule(
                    ctx,
                    r,
                    block,
                    direction,
                    key=key,
                    number=("rule_no", "action"),
                    origin=f"inline {direction.value} block",
                )

    for r in ctx.managed("aws_network_acl_association"):
        acl = _acl_for(ctx, r, drafts, default_by_vpc)
        for subnet in subnets_of(r, "subnet_id"):
            acl.subnets.append(subnet)
            claimed.add(subnet)

    for r in ctx.managed("aws_network_acl_rule"):
        acl = _acl_for(ctx, r, drafts, default_by_vpc)
        egress = r.body.attrs.get("egress", False)
        flag = as_bool(egress)
        pending_dir: list[Direction]
        if flag is None:
            Pending(ctx, r.address, r.address).unknown("egress", egress, r.body.line_of("egress"))
            pending_dir = list(Direction)
        else:
            pending_dir = [Direction.EGRESS if flag else Direction.INGRESS]
        for direction in pending_dir:
            acl.rules += _rule(
                ctx, r, r.body, direction, key=r.address, number=("rule_number", "rule_action"), origin=r.type
            )

    for vpc, acl_id in default_by_vpc.items():
        # The default ACL holds every subnet of its VPC that no other ACL claims.
        for subnet, subnet_vpc in net.subnet_vpc.items():
            if subnet_vpc == vpc and subnet not in claimed:
                drafts[acl_id].subnets.append(subnet)

    for d in drafts.values():
        ordered = tuple(rule for _, _, rule in sorted(d.rules, key=lambda t: (t[0], t[1])))
        attributes = acl_attributes(d.vpc, d.tags, d.default)
        if d.resource is None:
            attributes.append(("external", "true"))
        net.acls.append(
            network_acl_layer(
                d.id,
                name=d.name,
                source=d.source,
                rules=ordered,
                subnets=dict.fromkeys(d.subnets),
                attributes=attributes,
            )
        )


def _acl_for(
    ctx: Context, r: ResourceInstance, drafts: dict[str, _AclDraft], default_by_vpc: dict[str, str]
) -> _AclDraft:
    """The ACL a rule or association names; one outside the configuration gets a draft."""
    value = r.body.attrs.get("network_acl_id")
    target = ctx.target(value)
    if target is not None and target.address in drafts:
        return drafts[target.address]
    if (
        isinstance(value, Ref)
        and value.attribute == "default_network_acl_id"
        and value.address in default_by_vpc
    ):
        return drafts[default_by_vpc[value.address]]
    ident = reference(ctx, value)
    if ident is None:
        pending = Pending(ctx, r.address, r.address)
        pending.unknown("network_acl_id", value, r.body.line_of("network_acl_id"))
        ident = f"unresolved:{pending.items[0].expression}"
    if isinstance(value, Ref) and value.attribute == "default_network_acl_id":
        ident = f"{value.address}.default_network_acl_id"
    if ident not in drafts:
        drafts[ident] = _AclDraft(ident, ident, source(r.lines, r.address), None)
    return drafts[ident]


def _rule(
    ctx: Context,
    r: ResourceInstance,
    body: Block,
    direction: Direction,
    *,
    key: str,
    number: tuple[str, str],
    origin: str,
) -> list[tuple[int, int, Rule]]:
    """One ACL entry; ``number`` names the rule-number and action attributes."""
    number_attr, action_attr = number
    pending = Pending(ctx, r.address, key)
    pending.expansion(r)
    pending.dynamic(body)
    rule_no = as_int(body.attrs.get(number_attr))
    if rule_no is None:
        pending.unknown(number_attr, body.attrs.get(number_attr), body.line_of(number_attr))
    raw_action = body.attrs.get(action_attr)
    action = Action.ALLOW
    if isinstance(raw_action, str) and raw_action.strip().lower() in ("allow", "deny"):
        action = Action(raw_action.strip().lower())
    else:
        reason = "" if isinstance(raw_action, Unknown | Ref) else "not allow or deny"
        pending.unknown(action_attr, raw_action, body.line_of(action_attr), reason)
    protocol, ports = protocol_and_ports(pending, body, "protocol")
    addresses = EMPTY
    for attr in ("cidr_block", "ipv6_cidr_block"):
        value = body.attrs.get(attr)
        if value is not None and value != "":
            addresses = addresses | addresses_of(pending, attr, value, body.line_of(attr), ctx)[0]
    if not addresses and not pending.items:
        ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{key}: no cidr_block or ipv6_cidr_block: the rule matches nothing",
            source(body.lines, key),
            key=f"{key}:peer",
        )
    rule = Rule(
        action,
        direction,
        protocol,
        ports,
        Peer(addresses=addresses),
        source(body.lines, key),
        description=known_str(body.attrs.get("description")) or "",
        unresolved=pending.snapshot(),
        key=key,
        origin=origin,
        extra=(("rule_number", str(rule_no)),) if rule_no is not None else (),
    )
    order = rule_no if rule_no is not None else _UNKNOWN_NUMBER
    return [(order, 0 if direction is Direction.INGRESS else 1, rule)]
