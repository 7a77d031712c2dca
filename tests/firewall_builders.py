"""Small hand-built models for the reachability and policy engine tests.

The AWS layout follows the seed guide: a control-plane and a worker security group
(union of allows, stateful, NODE placement) whose rules reference each other by label,
a VPC 10.0.0.0/16, optional network ACLs (first match, stateless, SEGMENT placement).
"""

from __future__ import annotations

from collections.abc import Iterable

from talosaudit.model import (
    EMPTY,
    Action,
    AddressSet,
    Direction,
    Fact,
    FactOrigin,
    Layer,
    LayerKind,
    Model,
    NodeGroup,
    Peer,
    Placement,
    PortSet,
    Problem,
    Role,
    Rule,
    Segment,
    Semantics,
    SourceRef,
    Unresolved,
)
from talosaudit.model.ports import parse_protocol

SG_FILE = "network/security_groups.tf"
CP_SG = "module.network.aws_security_group.control_plane"
W_SG = "module.network.aws_security_group.worker"
VPC = "10.0.0.0/16"


def rule(
    key: str,
    line: int,
    proto: str = "tcp",
    ports: str = "all",
    cidrs: Iterable[str] = (),
    *,
    groups: Iterable[str] = (),
    direction: Direction = Direction.INGRESS,
    action: Action = Action.ALLOW,
    description: str = "a rule",
    unresolved: tuple[Unresolved, ...] = (),
    local: str | None = None,
    enabled: bool = True,
    path: str = SG_FILE,
) -> Rule:
    return Rule(
        action=action,
        direction=direction,
        protocol=parse_protocol(proto),
        ports=PortSet.parse(ports),
        peer=Peer(AddressSet.of(cidrs), frozenset(groups)),
        source=SourceRef(path, line, line + 6, key),
        description=description,
        local=AddressSet.of([local]) if local else None,
        enabled=enabled,
        unresolved=unresolved,
        key=key,
    )


def egress_all(key: str, line: int) -> Rule:
    return rule(key, line, "-1", cidrs=["0.0.0.0/0"], direction=Direction.EGRESS, description="all out")


def security_group(layer_id: str, line: int, rules: Iterable[Rule]) -> Layer:
    return Layer(
        id=layer_id,
        kind=LayerKind.SECURITY_GROUP,
        name=layer_id.rsplit(".", 1)[-1],
        source=SourceRef(SG_FILE, line, line + 9, layer_id),
        semantics=Semantics.UNION_OF_ALLOWS,
        placement=Placement.NODE,
        rules=tuple(rules),
    )


def network_acl(layer_id: str, line: int, segments: Iterable[str], rules: Iterable[Rule]) -> Layer:
    return Layer(
        id=layer_id,
        kind=LayerKind.NETWORK_ACL,
        name=layer_id,
        source=SourceRef("network/nacl.tf", line, line + 30, layer_id),
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.SEGMENT,
        rules=tuple(rules),
        stateful=False,
        segments=tuple(segments),
    )


def gateway(layer_id: str, segments: Iterable[str], rules: Iterable[Rule]) -> Layer:
    return Layer(
        id=layer_id,
        kind=LayerKind.PFSENSE,
        name=layer_id,
        source=SourceRef("pfsense/config.xml", 100, 100, layer_id),
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.GATEWAY,
        rules=tuple(rules),
        segments=tuple(segments),
    )


def node_group(
    group_id: str,
    role: Role | None,
    layers: Iterable[str],
    *,
    labels: Iterable[str] = (),
    addresses: str | None = None,
    segment: str | None = None,
) -> NodeGroup:
    return NodeGroup(
        id=group_id,
        name=group_id,
        role=role,
        role_reason="test",
        source=SourceRef(SG_FILE, 1, 1, group_id),
        addresses=AddressSet.of([addresses]) if addresses else EMPTY,
        labels=frozenset(labels),
        layers=tuple(layers),
        segment=segment,
    )


def segment(seg_id: str, cidr: str, internet: bool = False) -> Segment:
    return Segment(seg_id, seg_id, AddressSet.parse(cidr), is_internet=internet)


def fact(name: str, value: str) -> Fact:
    return Fact(name, value, "test", FactOrigin.COMMAND_LINE)


def seed_rules(skip: Iterable[str] = ()) -> tuple[list[Rule], list[Rule]]:
    """The seed guide's control-plane and worker rules (Cilium Geneve), minus ``skip`` keys."""
    cp = [
        rule("cp_k8s_api", 10, ports="6443", cidrs=[VPC], description="Kubernetes API server"),
        rule("cp_talos_api", 20, ports="50000", cidrs=[VPC], description="Talos API"),
        rule("cp_trustd", 30, ports="50001", groups=[W_SG], description="Talos trustd"),
        rule("cp_etcd", 40, ports="2379-2380", groups=[CP_SG], description="etcd"),
        rule("cp_kubelet_self", 50, ports="10250", groups=[CP_SG], description="kubelet"),
        rule("cp_kubelet_vpc", 60, ports="10250", cidrs=[VPC], description="kubelet admin"),
        rule("cp_geneve_cp", 70, "udp", "6081", groups=[CP_SG], description="geneve"),
        rule("cp_geneve_w", 80, "udp", "6081", groups=[W_SG], description="geneve"),
        rule("cp_health_cp", 90, ports="4240", groups=[CP_SG], description="health"),
        rule("cp_health_w", 100, ports="4240", groups=[W_SG], description="health"),
        rule("cp_icmp", 110, "icmp", cidrs=[VPC], description="ping"),
        egress_all("cp_egress_all", 120),
    ]
    w = [
        rule("wk_talos_cp", 210, ports="50000", groups=[CP_SG], description="Talos API"),
        rule("wk_kubelet_cp", 220, ports="10250", groups=[CP_SG], description="kubelet"),
        rule("wk_kubelet_self", 230, ports="10250", groups=[W_SG], description="kubelet"),
        rule("wk_geneve_cp", 240, "udp", "6081", groups=[CP_SG], description="geneve"),
        rule("wk_geneve_w", 250, "udp", "6081", groups=[W_SG], description="geneve"),
        rule("wk_health_cp", 260, ports="4240", groups=[CP_SG], description="health"),
        rule("wk_health_w", 270, ports="4240", groups=[W_SG], description="health"),
        rule("wk_icmp", 280, "icmp", cidrs=[VPC], description="ping"),
        egress_all("wk_egress_all", 290),
    ]
    skipped = set(skip)
    return [r for r in cp if r.key not in skipped], [r for r in w if r.key not in skipped]


def aws_model(
    cp_rules: Iterable[Rule] | None = None,
    w_rules: Iterable[Rule] | None = None,
    *,
    cp_addresses: str | None = None,
    w_addresses: str | None = None,
    cp_segment: str | None = None,
    w_segment: str | None = None,
    extra_layers: Iterable[Layer] = (),
    segments: Iterable[Segment] = (),
    admin: Iterable[str] = (),
    facts: Iterable[Fact] = (),
    problems: Iterable[Problem] = (),
    node_network: str = VPC,
) -> Model:
    seed_cp, seed_w = seed_rules()
    cp_layer = security_group(CP_SG, 1, seed_cp if cp_rules is None else cp_rules)
    w_layer = security_group(W_SG, 200, seed_w if w_rules is None else w_rules)
    groups = (
        node_group(
            "cp", Role.CONTROL_PLANE, [CP_SG], labels=[CP_SG], addresses=cp_addresses, segment=cp_segment
        ),
        node_group("workers", Role.WORKER, [W_SG], labels=[W_SG], addresses=w_addresses, segment=w_segment),
    )
    layers = {layer.id: layer for layer in (cp_layer, w_layer, *extra_layers)}
    return Model(
        node_groups=groups,
        layers=layers,
        segments={s.id: s for s in segments},
        facts={f.name: f for f in facts},
        admin=AddressSet.of(admin),
        node_network=AddressSet.parse(node_network) if node_network else EMPTY,
        problems=tuple(problems),
    )
