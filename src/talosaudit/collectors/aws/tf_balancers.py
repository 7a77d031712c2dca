"""Load balancers in front of nodes: listeners as forwarders (model/forwarders.py).

Read: ``aws_lb``/``aws_alb`` (type, ``internal``, ``security_groups``, ``subnets``),
``aws_lb_listener`` (``port``, ``default_action`` forward to a target group, also through a
``forward`` block), ``aws_lb_target_group`` (``port``), its targets from
``aws_lb_target_group_attachment`` (``target_id``), an auto scaling group's
``target_group_arns`` and ``aws_autoscaling_attachment``; the classic ``aws_elb`` with its
``listener`` blocks (``lb_port`` -> ``instance_port``), ``instances`` and an auto scaling
group's ``load_balancers``.

Listeners become forwarders toward node groups (internal ones too: required flows may take
them; exposure rules look only at internet-facing ones). Who the
listener admits is what the load balancer's security groups admit on the listener port
(anyone when it has none: an NLB without groups). An ALB or classic ELB connects to the
targets from itself: a forwarder exists only when the targets' groups admit the load
balancer on the target port (its group, or an address range that covers its subnets); an
NLB keeps the client's address, so the targets' groups stay on the path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from talosaudit.collectors.aws.tf_common import Context, known_str, listify
from talosaudit.collectors.aws.tf_groups import SG_TYPES, SecurityGroups
from talosaudit.collectors.aws.tf_network import Network
from talosaudit.collectors.terraform.mapping import as_bool, as_int, source
from talosaudit.collectors.terraform.values import Block, ResourceInstance
from talosaudit.model import (
    ALL_ADDRESSES,
    EMPTY,
    Action,
    AddressSet,
    Direction,
    Layer,
    LayerKind,
    NodeGroup,
    Peer,
    Placement,
    PortSet,
    Rule,
    Semantics,
    SourceRef,
)
from talosaudit.model.forwarders import Forwarder

_TCP = 6
LB_TYPES = ("aws_lb", "aws_alb")
LISTENER_TYPES = ("aws_lb_listener", "aws_alb_listener")
TARGET_GROUP_TYPES = ("aws_lb_target_group", "aws_alb_target_group")


@dataclass
class _Balancer:
    address: str
    source: SourceRef
    network: bool
    internet_facing: bool
    groups: list[str]
    subnets: list[str]


@dataclass
class _TargetGroup:
    address: str
    source: SourceRef
    port: int | None
    members: set[str] = field(default_factory=set)


def map_balancers(
    ctx: Context, sgs: SecurityGroups, net: Network, owner: dict[str, str], groups: list[NodeGroup]
) -> list[Forwarder]:
    """``owner``: member address (instance, auto scaling group) -> node group id."""
    by_id = {g.id: g for g in groups}
    balancers = {r.address: _balancer(ctx, r) for r in ctx.managed(*LB_TYPES, "aws_elb")}
    target_groups = {
        r.address: _TargetGroup(r.address, source(r.lines, r.address), as_int(r.body.attrs.get("port")))
        for r in ctx.managed(*TARGET_GROUP_TYPES)
    }
    _targets(ctx, target_groups)
    out: list[Forwarder] = []
    for r in ctx.managed(*LISTENER_TYPES):
        lb_res = ctx.target(r.body.attrs.get("load_balancer_arn"))
        lb = balancers.get(lb_res.address) if lb_res is not None else None
        port = as_int(r.body.attrs.get("port"))
        if lb is None or port is None:
            continue
        for tg_ref in _forwarded(r.body):
            tg_res = ctx.target(tg_ref)
            tg = target_groups.get(tg_res.address) if tg_res is not None else None
            if tg is None or tg.port is None:
                continue
            nodes = sorted({owner[m] for m in tg.members if m in owner})
            listener = _Listener(r.address, source(r.lines, r.address), port, tg.port)
            fw = _forwarder(sgs, net, by_id, lb, listener=listener, nodes=nodes)
            if fw is not None:
                out.append(replace(fw, related=(lb.source, tg.source)))
    out += _classic(ctx, sgs=sgs, net=net, by_id=by_id, balancers=balancers, owner=owner)
    return out


def balancer_groups(ctx: Context) -> set[str]:
    """The security groups of load balancers: they filter the load balancer, not nodes."""
    return {g for r in ctx.managed(*LB_TYPES, "aws_elb") for g in _balancer(ctx, r).groups}


def _balancer(ctx: Context, r: ResourceInstance) -> _Balancer:
    attrs = r.body.attrs
    kind = known_str(attrs.get("load_balancer_type")) or "application"
    internal = as_bool(attrs.get("internal"))
    groups = [
        t.address
        for t in map(ctx.target, listify(attrs.get("security_groups")))
        if t is not None and _is_sg(t)
    ]
    subnets = [
        t.address
        for t in map(ctx.target, listify(attrs.get("subnets")))
        if t is not None and t.type == "aws_subnet"
    ]
    for mapping in r.body.blocks_of("subnet_mapping"):
        t = ctx.target(mapping.attrs.get("subnet_id"))
        if t is not None and t.type == "aws_subnet":
            subnets.append(t.address)
    return _Balancer(
        address=r.address,
        source=source(r.lines, r.address),
        network=r.type != "aws_elb" and kind == "network",
        # Unknown ``internal``: no exposure is claimed through it.
        internet_facing=internal is False or (internal is None and "internal" not in attrs),
        groups=groups,
        subnets=subnets,
    )


def _is_sg(r: ResourceInstance | None) -> bool:
    return r is not None and r.type in SG_TYPES


def _targets(ctx: Context, target_groups: dict[str, _TargetGroup]) -> None:
    def add(tg_value: Any, member: ResourceInstance | None) -> None:
        tg_res = ctx.target(tg_value)
        if tg_res is not None and tg_res.address in target_groups and member is not None:
            target_groups[tg_res.address].members.add(member.address)

    for r in ctx.managed("aws_lb_target_group_attachment", "aws_alb_target_group_attachment"):
        add(r.body.attrs.get("target_group_arn"), ctx.target(r.body.attrs.get("target_id")))
    for r in ctx.managed("aws_autoscaling_group"):
        for tg in listify(r.body.attrs.get("target_group_arns")):
            add(tg, r)
    for r in ctx.managed("aws_autoscaling_attachment"):
        asg = ctx.target(r.body.attrs.get("autoscaling_group_name"))
        add(r.body.attrs.get("lb_target_group_arn") or r.body.attrs.get("alb_target_group_arn"), asg)


def _forwarded(listener: Block) -> list[Any]:
    """The target groups a listener's default actions forward to."""
    out: list[Any] = []
    for action in listener.blocks_of("default_action"):
        if known_str(action.attrs.get("type")) not in (None, "forward"):
            continue
        if action.attrs.get("target_group_arn") is not None:
            out.append(action.attrs["target_group_arn"])
        for forward in action.blocks_of("forward"):
            out += [tg.attrs.get("arn") for tg in forward.blocks_of("target_group")]
    return out


def _classic(
    ctx: Context,
    *,
    sgs: SecurityGroups,
    net: Network,
    by_id: dict[str, NodeGroup],
    balancers: dict[str, _Balancer],
    owner: dict[str, str],
) -> list[Forwarder]:
    members: dict[str, set[str]] = defaultdict(set)
    for r in ctx.managed("aws_elb"):
        for item in listify(r.body.attrs.get("instances")):
            t = ctx.target(item)
            if t is not None:
                members[r.address].add(t.address)
    for r in ctx.managed("aws_autoscaling_group"):
        for item in listify(r.body.attrs.get("load_balancers")):
            t = ctx.target(item)
            if t is not None and t.type == "aws_elb":
                members[t.address].add(r.address)
    out: list[Forwarder] = []
    for r in ctx.managed("aws_elb"):
        lb = balancers[r.address]
        nodes = sorted({owner[m] for m in members[r.address] if m in owner})
        for block in r.body.blocks_of("listener"):
            port, target_port = as_int(block.attrs.get("lb_port")), as_int(block.attrs.get("instance_port"))
            if port is None or target_port is None:
                continue
            at = source(block.lines, f"{r.address}/listener:{port}")
            listener = _Listener(f"{r.address}/listener:{port}", at, port, target_port)
            fw = _forwarder(sgs, net, by_id, lb, listener=listener, nodes=nodes)
            if fw is not None:
                out.append(replace(fw, related=(lb.source,)))
    return out


@dataclass(frozen=True)
class _Listener:
    ident: str
    at: SourceRef
    port: int
    target_port: int


def _forwarder(
    sgs: SecurityGroups,
    net: Network,
    by_id: dict[str, NodeGroup],
    lb: _Balancer,
    *,
    listener: _Listener,
    nodes: list[str],
) -> Forwarder | None:
    ident, at, port, target_port = listener.ident, listener.at, listener.port, listener.target_port
    if not lb.network:
        # The targets see the load balancer: keep the node groups that admit it.
        nodes = [n for n in nodes if n in by_id and _admits_balancer(sgs, net, by_id[n], lb, target_port)]
    if not nodes:
        return None
    rules = _listener_rules(sgs, lb, port=port, target_port=target_port, at=at, ident=ident)
    layer = Layer(
        id=f"{lb.address} listener {port}",
        kind=LayerKind.LOAD_BALANCER,
        name=f"listener {port} of {lb.address}",
        source=lb.source,
        semantics=Semantics.UNION_OF_ALLOWS,
        placement=Placement.NODE,
        rules=tuple(rules),
        default_ingress=Action.DENY,
        default_egress=Action.ALLOW,
        stateful=True,
        attributes=(("load_balancer", lb.address), ("listener_port", str(port))),
    )
    return Forwarder(
        id=layer.id,
        name=f"listener {port} of {lb.address} (to port {target_port})",
        source=at,
        layer=layer,
        targets=tuple(nodes),
        target_port=target_port,
        preserves_client=lb.network,
        internet_facing=lb.internet_facing,
    )


def _listener_rules(
    sgs: SecurityGroups, lb: _Balancer, *, port: int, target_port: int, at: SourceRef, ident: str
) -> list[Rule]:
    """Who reaches the listener, as rules for the target port located at the listener."""
    forwarded = PortSet.single(target_port)
    if not lb.groups:
        return [
            Rule(
                Action.ALLOW,
                Direction.INGRESS,
                _TCP,
                forwarded,
                Peer(ALL_ADDRESSES),
                at,
                description=f"listener {port} (no security group on {lb.address})",
                key=ident,
                origin="load balancer listener",
            )
        ]
    out: list[Rule] = []
    for group in lb.groups:
        draft = sgs.drafts.get(group)
        if draft is None:
            continue
        for rule in sgs.layer_rules(draft):
            if rule.direction is not Direction.INGRESS or rule.action is not Action.ALLOW:
                continue
            if rule.protocol not in (None, _TCP) or not (PortSet.single(port) <= rule.ports):
                continue
            out.append(
                replace(
                    rule,
                    protocol=_TCP,
                    ports=forwarded,
                    source=at,
                    description=f"listener {port}, admitted by {rule.key or group}",
                    key=f"{ident}<-{rule.key or group}",
                    origin="load balancer listener",
                )
            )
    return out


def _admits_balancer(sgs: SecurityGroups, net: Network, group: NodeGroup, lb: _Balancer, port: int) -> bool:
    """Whether a node group's security groups let the load balancer in on ``port``."""
    lb_addresses: AddressSet = EMPTY
    for subnet in lb.subnets:
        lb_addresses = lb_addresses | net.subnet_addresses.get(subnet, EMPTY)
    for layer_id in group.layers:
        draft = sgs.drafts.get(layer_id)
        if draft is None:
            return True  # unknown groups: the load balancer may be let in
        for rule in sgs.layer_rules(draft):
            if rule.direction is not Direction.INGRESS or rule.action is not Action.ALLOW:
                continue
            if rule.protocol not in (None, _TCP) or not (PortSet.single(port) <= rule.ports):
                continue
            if rule.unresolved or rule.peer.groups & set(lb.groups):
                return True
            if rule.peer.addresses and (not lb_addresses or rule.peer.addresses.overlaps(lb_addresses)):
                return True
    return False
