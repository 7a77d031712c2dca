"""The AWS mapper, from hand-built evaluated resources (values.py) to the model."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

from talosaudit.collectors.aws.security_groups import security_group_layer
from talosaudit.collectors.aws.terraform import map_aws
from talosaudit.collectors.aws_live import drift
from talosaudit.collectors.discover import discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.roles import RoleHints
from talosaudit.collectors.terraform.collect import collect, collection_from_config
from talosaudit.collectors.terraform.facts import facts_from_variables
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    PartialList,
    Ref,
    ResourceInstance,
    TerraformConfig,
    Unknown,
    Variable,
)
from talosaudit.model import (
    ALL_PORTS,
    EMPTY,
    ICMP,
    TCP,
    UDP,
    Action,
    AddressSet,
    Collection,
    Direction,
    Fact,
    FactOrigin,
    Layer,
    LayerKind,
    NodeGroup,
    Peer,
    Placement,
    PortSet,
    Problem,
    Role,
    Rule,
    Semantics,
    SourceRef,
    Unresolved,
    merge,
)
from talosaudit.policies.node_ports import node_ports
from talosaudit.policies.registry import load_catalogue
from talosaudit.reachability import Verdict, group_endpoint, query

SG_FILE = "modules/network/security_groups.tf"
CP_SG = "module.network.aws_security_group.control_plane"
W_SG = "module.network.aws_security_group.worker"


def block(
    type_: str,
    attrs: dict[str, Any],
    start: int,
    path: str = "main.tf",
    blocks: tuple[Block, ...] = (),
    **kw: Any,
) -> Block:
    """A block whose attributes sit on consecutive lines after its header."""
    attr_lines = {name: Lines(path, start + 1 + i, start + 1 + i) for i, name in enumerate(attrs)}
    end = start + len(attrs) + sum(b.lines.end - b.lines.start + 1 for b in blocks) + 1
    return Block(
        type_,
        kw.get("labels", ()),
        attrs,
        attr_lines,
        blocks,
        Lines(path, start, end),
        kw.get("dynamic", False),
    )


def res(
    type_: str,
    name: str,
    attrs: dict[str, Any],
    *,
    start: int = 1,
    path: str = "main.tf",
    module: str = "",
    key: int | str | None = None,
    blocks: tuple[Block, ...] = (),
    expansion: Unknown | None = None,
) -> ResourceInstance:
    address = f"{module + '.' if module else ''}{type_}.{name}" + (
        f"[{key!r}]" if isinstance(key, str) else ""
    )
    if isinstance(key, int):
        address += f"[{key}]"
    body = block("resource", attrs, start, path, blocks, labels=(type_, name))
    return ResourceInstance("managed", type_, name, address, module, key, body, expansion)


def sg_ref(address: str) -> Ref:
    return Ref(address, "id")


def seed_groups() -> list[ResourceInstance]:
    """The seed guide's network module: two groups with tags, rules as separate resources."""
    m = "module.network"
    return [
        res(
            "aws_security_group",
            "control_plane",
            {
                "name": "dev-talos-control-plane-sg",
                "description": "Security group for Talos control plane nodes",
                "vpc_id": Ref("module.network.aws_vpc.main", "id"),
                "tags": {"Name": "dev-talos-control-plane-sg", "NodeType": "control-plane"},
            },
            start=1,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_security_group",
            "worker",
            {
                "name": "dev-talos-worker-sg",
                "description": "Security group for Talos worker nodes",
                "vpc_id": Ref("module.network.aws_vpc.main", "id"),
                "tags": {"Name": "dev-talos-worker-sg", "NodeType": "worker"},
            },
            start=12,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_ingress_rule",
            "control_plane_k8s_api",
            {
                "security_group_id": sg_ref(CP_SG),
                "description": "Kubernetes API server",
                "from_port": 6443,
                "to_port": 6443,
                "ip_protocol": "tcp",
                "cidr_ipv4": "10.0.0.0/16",
            },
            start=30,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_ingress_rule",
            "control_plane_etcd",
            {
                "security_group_id": sg_ref(CP_SG),
                "description": "etcd peer communication",
                "from_port": 2379,
                "to_port": 2380,
                "ip_protocol": "tcp",
                "referenced_security_group_id": sg_ref(CP_SG),
            },
            start=40,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_ingress_rule",
            "control_plane_trustd",
            {
                "security_group_id": sg_ref(CP_SG),
                "description": "Talos trustd",
                "from_port": 50001,
                "to_port": 50001,
                "ip_protocol": "tcp",
                "referenced_security_group_id": sg_ref(W_SG),
            },
            start=50,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_ingress_rule",
            "worker_geneve",
            {
                "security_group_id": sg_ref(W_SG),
                "description": "Cilium GENEVE overlay (worker-to-worker)",
                "from_port": 6081,
                "to_port": 6081,
                "ip_protocol": "udp",
                "referenced_security_group_id": sg_ref(W_SG),
            },
            start=60,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_ingress_rule",
            "cp_icmp",
            {
                "security_group_id": sg_ref(CP_SG),
                "description": "Ping",
                "from_port": -1,
                "to_port": -1,
                "ip_protocol": "icmp",
                "cidr_ipv4": "10.0.0.0/16",
            },
            start=70,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc_security_group_egress_rule",
            "control_plane_all",
            {
                "security_group_id": sg_ref(CP_SG),
                "description": "Allow all outbound traffic",
                "ip_protocol": "-1",
                "cidr_ipv4": "0.0.0.0/0",
            },
            start=80,
            path=SG_FILE,
            module=m,
        ),
        res(
            "aws_vpc",
            "main",
            {"cidr_block": "10.0.0.0/16", "tags": {"Name": "dev-vpc"}},
            start=1,
            path="modules/network/main.tf",
            module=m,
        ),
    ]


#: What a node serves, from the built-in policy files (as scan passes it to the collectors).
SERVED = node_ports(load_catalogue())


def mapped(*resources: ResourceInstance, hints: RoleHints | None = None) -> Collection:
    return map_aws(TerraformConfig(resources=tuple(resources), files=("main.tf",)), hints, SERVED)


def layer(c: Collection, ident: str) -> Layer:
    found = [lay for lay in c.layers if lay.id == ident]
    assert len(found) == 1, [lay.id for lay in c.layers]
    return found[0]


def group(c: Collection, ident: str) -> NodeGroup:
    found = [g for g in c.node_groups if g.id == ident]
    assert len(found) == 1, [g.id for g in c.node_groups]
    return found[0]


def problems(c: Collection, rule_id: str) -> list[Problem]:
    return [p for p in c.problems if p.kind == rule_id]


# -- security groups ------------------------------------------------------------------------


def test_seed_layout_layers_rules_and_sources() -> None:
    c = mapped(*seed_groups())
    cp = layer(c, CP_SG)
    assert cp.kind is LayerKind.SECURITY_GROUP
    assert cp.name == "dev-talos-control-plane-sg"
    assert (cp.semantics, cp.placement, cp.stateful) == (Semantics.UNION_OF_ALLOWS, Placement.NODE, True)
    assert (cp.default_ingress, cp.default_egress) == (Action.DENY, Action.DENY)
    assert cp.source == SourceRef(SG_FILE, 1, 6, CP_SG)
    assert cp.attribute("tags") == "Name=dev-talos-control-plane-sg, NodeType=control-plane"
    assert cp.attribute("vpc") == "module.network.aws_vpc.main"
    assert cp.attribute("description") == "Security group for Talos control plane nodes"
    assert cp.attribute("role") == "control-plane"

    api, etcd, trustd, icmp = cp.rules_in(Direction.INGRESS)
    assert (api.protocol, api.ports, api.peer.addresses) == (
        TCP,
        PortSet.single(6443),
        AddressSet.parse("10.0.0.0/16"),
    )
    assert api.key == "module.network.aws_vpc_security_group_ingress_rule.control_plane_k8s_api"
    assert api.source == SourceRef(SG_FILE, 30, 37, api.key)
    assert api.description == "Kubernetes API server"
    assert api.unresolved == ()
    assert (etcd.ports, etcd.peer.groups, etcd.peer.addresses) == (
        PortSet.range(2379, 2380),
        frozenset({CP_SG}),
        AddressSet(),
    )
    assert trustd.peer.groups == frozenset({W_SG})
    assert (icmp.protocol, icmp.ports) == (ICMP, ALL_PORTS)
    (egress,) = cp.rules_in(Direction.EGRESS)
    assert (egress.protocol, egress.ports, egress.peer.addresses) == (
        None,
        ALL_PORTS,
        AddressSet.parse("0.0.0.0/0"),
    )

    w = layer(c, W_SG)
    (geneve,) = w.rules_in(Direction.INGRESS)
    assert (geneve.protocol, geneve.ports, geneve.peer.groups) == (
        UDP,
        PortSet.single(6081),
        frozenset({W_SG}),
    )
    assert c.problems == ()


def test_seed_groups_without_instances_become_node_groups_with_role_reasons() -> None:
    c = mapped(*seed_groups())
    cp = group(c, f"nodes:{CP_SG}")
    assert cp.role is Role.CONTROL_PLANE
    assert cp.role_reason == f"tag NodeType=control-plane on {CP_SG} ({SG_FILE}:1)"
    assert cp.labels == frozenset({CP_SG})
    assert cp.layers == (CP_SG,)
    assert cp.origin == "security group without instances"
    assert cp.name == f"nodes carrying {CP_SG}"
    assert cp.addresses == AddressSet.parse("10.0.0.0/16")
    assert cp.address_reason.startswith("VPC module.network.aws_vpc.main 10.0.0.0/16")
    w = group(c, f"nodes:{W_SG}")
    assert (w.role, w.role_reason) == (Role.WORKER, f"tag NodeType=worker on {W_SG} ({SG_FILE}:12)")
    assert c.node_networks == (
        (
            AddressSet.parse("10.0.0.0/16"),
            SourceRef("modules/network/main.tf", 1, 4, "module.network.aws_vpc.main"),
        ),
    )


def test_group_without_egress_allows_no_egress() -> None:
    sg = res(
        "aws_security_group",
        "cp",
        {"name": "cp"},
        blocks=(
            block(
                "ingress",
                {"protocol": "tcp", "from_port": 6443, "to_port": 6443, "cidr_blocks": ["10.0.0.0/16"]},
                3,
            ),
        ),
    )
    cp = layer(mapped(sg), "aws_security_group.cp")
    assert cp.rules_in(Direction.EGRESS) == ()
    assert cp.default_egress is Action.DENY
    assert len(cp.rules_in(Direction.INGRESS)) == 1


def test_default_security_group_has_exactly_its_rules() -> None:
    sg = res("aws_default_security_group", "default", {"vpc_id": Ref("aws_vpc.main", "id")})
    d = layer(mapped(sg), "aws_default_security_group.default")
    assert d.rules == ()
    assert d.name == "aws_default_security_group.default"
    assert d.kind is LayerKind.SECURITY_GROUP


def test_inline_self_and_cidr_in_one_block_make_two_peers() -> None:
    ingress = block(
        "ingress",
        {
            "description": "all from self and world",
            "protocol": "tcp",
            "from_port": 50000,
            "to_port": 50000,
            "self": True,
            "cidr_blocks": ["0.0.0.0/0"],
        },
        start=4,
    )
    sg = res("aws_security_group", "cp", {"name": "talos-cp"}, blocks=(ingress,))
    rules = layer(mapped(sg), "aws_security_group.cp").rules
    assert [(r.peer.addresses, r.peer.groups) for r in rules] == [
        (AddressSet.parse("0.0.0.0/0"), frozenset()),
        (AddressSet(), frozenset({"aws_security_group.cp"})),
    ]
    for r in rules:
        assert (r.protocol, r.ports, r.direction) == (TCP, PortSet.single(50000), Direction.INGRESS)
        assert r.key == "aws_security_group.cp/ingress[0]"
        assert r.source == SourceRef("main.tf", 4, 11, "aws_security_group.cp/ingress[0]")
        assert r.origin == "inline ingress block"
        assert r.description == "all from self and world"


def test_inline_dynamic_blocks_and_ipv6_and_security_groups() -> None:
    blocks = (
        block(
            "ingress",
            {
                "protocol": "udp",
                "from_port": 6081,
                "to_port": 6081,
                "security_groups": [sg_ref("aws_security_group.w")],
            },
            3,
            dynamic=True,
        ),
        block(
            "ingress",
            {
                "protocol": "6",
                "from_port": 0,
                "to_port": 0,
                "cidr_blocks": ["10.0.0.0/8"],
                "ipv6_cidr_blocks": ["fd00::/8"],
            },
            10,
            dynamic=True,
        ),
        block("egress", {"protocol": "-1", "from_port": 0, "to_port": 0, "ipv6_cidr_blocks": ["::/0"]}, 20),
    )
    sg = res("aws_security_group", "cp", {"name": "cp"}, blocks=blocks)
    w = res("aws_security_group", "w", {"name": "w"}, start=40)
    c = mapped(sg, w)
    geneve, zero = layer(c, "aws_security_group.cp").rules_in(Direction.INGRESS)
    assert geneve.peer.groups == frozenset({"aws_security_group.w"})
    assert geneve.origin == "inline ingress block (dynamic)"
    assert geneve.key == "aws_security_group.cp/ingress[0]"
    # tcp 0-0 is port 0 alone, as in AWS
    assert (zero.protocol, zero.ports) == (TCP, PortSet.single(0))
    assert zero.peer.addresses == AddressSet.of(["10.0.0.0/8", "fd00::/8"])
    (egress,) = layer(c, "aws_security_group.cp").rules_in(Direction.EGRESS)
    assert (egress.protocol, egress.ports, egress.peer.addresses) == (
        None,
        ALL_PORTS,
        AddressSet.parse("::/0"),
    )
    assert egress.key == "aws_security_group.cp/egress[0]"


def test_vpc_rule_all_protocols_without_ports_and_ipv6() -> None:
    sg = res("aws_security_group", "w", {"name": "w"})
    rule = res(
        "aws_vpc_security_group_egress_rule",
        "all6",
        {"security_group_id": sg_ref("aws_security_group.w"), "ip_protocol": "-1", "cidr_ipv6": "::/0"},
        start=10,
    )
    c = mapped(sg, rule)
    (r,) = layer(c, "aws_security_group.w").rules
    assert (r.direction, r.protocol, r.ports) == (Direction.EGRESS, None, ALL_PORTS)
    assert r.peer.addresses == AddressSet.parse("::/0")
    assert r.peer.addresses.v4 == AddressSet().v4
    assert r.unresolved == ()
    assert c.problems == ()


def test_all_protocols_ignore_ports_and_protocol_numbers_are_understood() -> None:
    sg = res("aws_security_group", "w", {"name": "w"})
    rules = [
        res(
            "aws_security_group_rule",
            "a",
            {
                "type": "ingress",
                "security_group_id": sg_ref("aws_security_group.w"),
                "protocol": "all",
                "from_port": 22,
                "to_port": 22,
                "cidr_blocks": ["10.0.0.0/16"],
            },
            start=10,
        ),
        res(
            "aws_security_group_rule",
            "b",
            {
                "type": "ingress",
                "security_group_id": sg_ref("aws_security_group.w"),
                "protocol": "17",
                "from_port": 4789,
                "to_port": 4789,
                "self": True,
            },
            start=20,
        ),
        res(
            "aws_security_group_rule",
            "c",
            {
                "type": "egress",
                "security_group_id": sg_ref("aws_security_group.w"),
                "protocol": 4,
                "from_port": 0,
                "to_port": 0,
                "cidr_blocks": ["10.0.0.0/16"],
            },
            start=30,
        ),
    ]
    c = mapped(sg, *rules)
    a, b, ipip = layer(c, "aws_security_group.w").rules
    assert (a.protocol, a.ports, a.key) == (None, ALL_PORTS, "aws_security_group_rule.a")
    assert (b.protocol, b.ports, b.peer.groups) == (
        UDP,
        PortSet.single(4789),
        frozenset({"aws_security_group.w"}),
    )
    assert (ipip.direction, ipip.protocol, ipip.ports) == (Direction.EGRESS, 4, ALL_PORTS)
    assert a.origin == "aws_security_group_rule"


def test_legacy_rule_with_source_security_group() -> None:
    cp = res("aws_security_group", "cp", {"name": "cp"})
    w = res("aws_security_group", "w", {"name": "w"}, start=5)
    rule = res(
        "aws_security_group_rule",
        "trustd",
        {
            "type": "ingress",
            "security_group_id": sg_ref("aws_security_group.cp"),
            "protocol": "tcp",
            "from_port": 50001,
            "to_port": 50001,
            "source_security_group_id": sg_ref("aws_security_group.w"),
        },
        start=10,
    )
    (r,) = layer(mapped(cp, w, rule), "aws_security_group.cp").rules
    assert (r.peer.groups, r.peer.addresses) == (frozenset({"aws_security_group.w"}), AddressSet())
    assert r.source == SourceRef("main.tf", 10, 17, "aws_security_group_rule.trustd")


def test_prefix_lists_managed_and_aws_and_sg_source_have_no_addresses() -> None:
    pl = res(
        "aws_ec2_managed_prefix_list",
        "admins",
        {"name": "admins", "address_family": "IPv4", "max_entries": 2},
        start=50,
        blocks=(block("entry", {"cidr": "198.51.100.0/24", "description": "office"}, 55),),
    )
    sg = res(
        "aws_security_group",
        "cp",
        {"name": "cp"},
        blocks=(
            block(
                "ingress",
                {
                    "protocol": "tcp",
                    "from_port": 6443,
                    "to_port": 6443,
                    "prefix_list_ids": [Ref("aws_ec2_managed_prefix_list.admins", "id"), "pl-63a5400a"],
                },
                3,
            ),
        ),
    )
    lit = res(
        "aws_vpc_security_group_egress_rule",
        "s3",
        {
            "security_group_id": sg_ref("aws_security_group.cp"),
            "ip_protocol": "tcp",
            "from_port": 443,
            "to_port": 443,
            "prefix_list_id": "pl-63a5400a",
        },
        start=20,
    )
    c = mapped(pl, sg, lit)
    managed, aws_list = layer(c, "aws_security_group.cp").rules_in(Direction.INGRESS)
    assert managed.peer.addresses == AddressSet.parse("198.51.100.0/24")
    assert managed.peer.description == "prefix list admins (198.51.100.0/24)"
    assert (aws_list.peer.addresses, aws_list.peer.groups) == (
        AddressSet(),
        frozenset({"prefix-list:pl-63a5400a"}),
    )
    assert "not the internet" in aws_list.peer.description
    (egress,) = layer(c, "aws_security_group.cp").rules_in(Direction.EGRESS)
    assert (egress.peer.addresses, egress.peer.groups) == (
        AddressSet(),
        frozenset({"prefix-list:pl-63a5400a"}),
    )
    assert egress.unresolved == ()


def test_unknown_cidr_is_unresolved_with_ta002_at_its_line() -> None:
    sg = res("aws_security_group", "cp", {"name": "cp"})
    rule = res(
        "aws_vpc_security_group_ingress_rule",
        "api_admin",
        {
            "security_group_id": sg_ref("aws_security_group.cp"),
            "ip_protocol": "tcp",
            "from_port": 6443,
            "to_port": 6443,
            "cidr_ipv4": Unknown("var.admin_cidr", "variable has no value"),
        },
        start=10,
    )
    c = mapped(sg, rule)
    (r,) = layer(c, "aws_security_group.cp").rules
    assert r.unresolved == (Unresolved("cidr_ipv4", "var.admin_cidr", "variable has no value"),)
    assert (r.protocol, r.ports, r.peer.addresses) == (TCP, PortSet.single(6443), AddressSet())
    (p,) = problems(c, "unresolved")
    assert p.message == (
        "aws_vpc_security_group_ingress_rule.api_admin: cidr_ipv4 = var.admin_cidr could not be resolved: "
        "variable has no value"
    )
    assert p.source == SourceRef("main.tf", 15, 15, "aws_vpc_security_group_ingress_rule.api_admin")
    assert p.key == "aws_vpc_security_group_ingress_rule.api_admin:cidr_ipv4:var.admin_cidr"


def test_unknown_element_in_a_cidr_list_keeps_the_known_ones() -> None:
    sg = res(
        "aws_security_group",
        "cp",
        {"name": "cp"},
        blocks=(
            block(
                "ingress",
                {
                    "protocol": "tcp",
                    "from_port": 50000,
                    "to_port": 50000,
                    "cidr_blocks": ["10.0.0.0/16", Unknown("var.office", "variable has no value"), "bad"],
                },
                3,
            ),
        ),
    )
    c = mapped(sg)
    # The known CIDR is surely allowed (a rule of its own, resolved); the rest may be anything.
    known, rest = layer(c, "aws_security_group.cp").rules
    assert known.peer.addresses == AddressSet.parse("10.0.0.0/16")
    assert known.unresolved == ()
    assert not rest.peer
    assert rest.unresolved == (
        Unresolved("cidr_blocks", "var.office", "variable has no value"),
        Unresolved("cidr_blocks", "'bad'", "not a valid CIDR"),
    )
    assert known.key == rest.key == "aws_security_group.cp/ingress[0]"
    assert known.source == rest.source
    assert [p.message for p in problems(c, "unresolved")] == [
        "aws_security_group.cp/ingress[0]: cidr_blocks = var.office could not be resolved: "
        "variable has no value",
        "aws_security_group.cp/ingress[0]: cidr_blocks = 'bad' could not be resolved: not a valid CIDR",
    ]
    assert problems(c, "unresolved")[0].source.start_line == 7


def test_unknown_ports_and_protocol_keep_known_parts() -> None:
    sg = res("aws_security_group", "cp", {"name": "cp"})
    rule = res(
        "aws_security_group_rule",
        "x",
        {
            "type": "ingress",
            "security_group_id": sg_ref("aws_security_group.cp"),
            "protocol": "tcp",
            "from_port": Unknown("var.port", "variable has no value"),
            "to_port": Unknown("var.port", "variable has no value"),
            "cidr_blocks": ["10.0.0.0/16"],
        },
        start=1,
    )
    c = mapped(sg, rule)
    (r,) = layer(c, "aws_security_group.cp").rules
    assert (r.protocol, r.ports, r.peer.addresses) == (TCP, ALL_PORTS, AddressSet.parse("10.0.0.0/16"))
    assert [u.field for u in r.unresolved] == ["from_port", "to_port"]
    assert [p.source.start_line for p in problems(c, "unresolved")] == [5, 6]


def test_unknown_count_marks_every_rule_of_the_instance() -> None:
    sg = res("aws_security_group", "cp", {"name": "cp"})
    rule = res(
        "aws_vpc_security_group_ingress_rule",
        "api_external",
        {
            "count": Unknown("length(var.allowed_admin_cidrs)", "variable has no value"),
            "security_group_id": sg_ref("aws_security_group.cp"),
            "ip_protocol": "tcp",
            "from_port": 6443,
            "to_port": 6443,
            "cidr_ipv4": "203.0.113.0/24",
        },
        start=20,
        expansion=Unknown("length(var.allowed_admin_cidrs)", "variable has no value"),
    )
    c = mapped(sg, rule)
    (r,) = layer(c, "aws_security_group.cp").rules
    assert r.unresolved == (Unresolved("count", "length(var.allowed_admin_cidrs)", "variable has no value"),)
    assert r.peer.addresses == AddressSet.parse("203.0.113.0/24")
    (p,) = problems(c, "unresolved")
    assert p.message == (
        "aws_vpc_security_group_ingress_rule.api_external: count = length(var.allowed_admin_cidrs) "
        "could not be "
        "resolved: variable has no value; its rules may or may not exist"
    )
    assert p.source == SourceRef("main.tf", 21, 21, "aws_vpc_security_group_ingress_rule.api_external")


def test_unknown_module_count_is_named_as_the_module_call_and_its_line() -> None:
    sg = res("aws_security_group", "cp", {"name": "cp"})
    rule = res(
        "aws_vpc_security_group_ingress_rule",
        "x",
        {
            "security_group_id": sg_ref("aws_security_group.cp"),
            "ip_protocol": "tcp",
            "from_port": 6443,
            "to_port": 6443,
            "cidr_ipv4": "10.0.0.0/16",
        },
        start=2,
        path="m/main.tf",
        module="module.m",
    )
    rule = replace(
        rule,
        expansion_unknown=Unknown("var.n", "variable has no value"),
        expansion_attr="module.m count",
        expansion_lines=Lines("main.tf", 9, 9),
    )
    c = mapped(sg, rule)
    (r,) = layer(c, "aws_security_group.cp").rules
    # The field stays the bare meta-argument: reachability reads it as "may not exist".
    assert r.unresolved == (Unresolved("count", "var.n", "variable has no value"),)
    (p,) = problems(c, "unresolved")
    assert p.message == (
        "module.m.aws_vpc_security_group_ingress_rule.x: module.m count = var.n could not be resolved: "
        "variable has no value; its rules may or may not exist"
    )
    assert p.source == SourceRef("main.tf", 9, 9, "module.m.aws_vpc_security_group_ingress_rule.x")


def test_concat_with_an_unknown_list_allows_its_known_cidrs_surely() -> None:
    sg = res(
        "aws_security_group",
        "cp",
        {"name": "cp"},
        blocks=(
            block(
                "ingress",
                {
                    "protocol": "tcp",
                    "from_port": 2379,
                    "to_port": 2380,
                    "cidr_blocks": PartialList(
                        "concat(var.office, var.extra)",
                        "var.extra: variable has no value",
                        origin="var.extra",
                        known=("198.51.100.0/24",),
                    ),
                    "security_groups": PartialList(
                        "concat([aws_security_group.cp.id], var.sgs)",
                        "var.sgs: variable has no value",
                        origin="var.sgs",
                        known=(sg_ref("aws_security_group.cp"),),
                    ),
                    "description": Unknown('"etcd ${var.site}"', "variable has no value"),
                },
                3,
            ),
        ),
    )
    c = mapped(sg)
    rules = layer(c, "aws_security_group.cp").rules
    assert [(r.peer.addresses, r.peer.groups, [u.field for u in r.unresolved]) for r in rules] == [
        (AddressSet.parse("198.51.100.0/24"), frozenset(), []),
        (EMPTY, frozenset(), ["cidr_blocks"]),
        (EMPTY, frozenset({"aws_security_group.cp"}), []),
        (EMPTY, frozenset(), ["security_groups"]),
    ]
    # A description that is not known is still written: it reads as its expression.
    assert {r.description for r in rules} == {'"etcd ${var.site}"'}
    assert [p.message for p in problems(c, "unresolved")] == [
        "aws_security_group.cp/ingress[0]: cidr_blocks = concat(var.office, var.extra) could not be "
        "resolved: var.extra: variable has no value (var.extra)",
        "aws_security_group.cp/ingress[0]: security_groups = concat([aws_security_group.cp.id], var.sgs) "
        "could not be resolved: var.sgs: variable has no value (var.sgs)",
    ]


def test_unknown_security_group_id_keeps_the_rule_in_an_unresolved_layer() -> None:
    rule = res(
        "aws_vpc_security_group_ingress_rule",
        "r",
        {
            "security_group_id": Unknown("module.remote.sg_id", "remote module"),
            "ip_protocol": "tcp",
            "from_port": 50000,
            "to_port": 50000,
            "cidr_ipv4": "0.0.0.0/0",
        },
        start=3,
    )
    c = mapped(rule)
    lay = layer(c, "unresolved:module.remote.sg_id")
    (r,) = lay.rules
    assert r.unresolved == (Unresolved("security_group_id", "module.remote.sg_id", "remote module"),)
    assert problems(c, "role-unknown") == []
    (p,) = problems(c, "unresolved")
    assert "security_group_id = module.remote.sg_id could not be resolved: remote module" in p.message
    assert p.source.start_line == 4


def test_literal_group_id_makes_one_external_layer() -> None:
    rules = [
        res(
            "aws_vpc_security_group_ingress_rule",
            name,
            {
                "security_group_id": "sg-0abc",
                "ip_protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "cidr_ipv4": "10.0.0.0/16",
            },
            start=i * 10 + 1,
        )
        for i, (name, port) in enumerate([("a", 6443), ("b", 50000)])
    ]
    c = mapped(*rules)
    ext = layer(c, "sg-0abc")
    # The rules the code attaches stay known; the group's own rules are two unresolved allows.
    assert [(r.key, r.ports, r.unresolved) for r in ext.rules] == [
        ("aws_vpc_security_group_ingress_rule.a", PortSet.single(6443), ()),
        ("aws_vpc_security_group_ingress_rule.b", PortSet.single(50000), ()),
        ("sg-0abc/unknown ingress rules", ALL_PORTS, (Unresolved("rules", "sg-0abc", NOT_IN_CODE),)),
        ("sg-0abc/unknown egress rules", ALL_PORTS, (Unresolved("rules", "sg-0abc", NOT_IN_CODE),)),
    ]
    assert ext.attribute("external") == "true"
    (ta003,) = problems(c, "role-unknown")
    assert ta003.source == SourceRef("main.tf", 1, 7, "aws_vpc_security_group_ingress_rule.a")
    (ta002,) = problems(c, "unresolved")
    assert ta002.message.startswith("security group sg-0abc is not defined in the scanned code")
    assert ta002.source == ta003.source


NOT_IN_CODE = "not defined in the scanned code"


def _external_group_cluster(*extra_cp_groups: Any) -> list[ResourceInstance]:
    """A control plane whose role group lets the workers reach apid but not trustd."""
    cp_sg = res(
        "aws_security_group",
        "cp",
        {"name": "talos-control-plane", "tags": {"NodeType": "control-plane"}},
        start=1,
        blocks=(
            block(
                "ingress",
                {
                    "description": "apid",
                    "protocol": "tcp",
                    "from_port": 50000,
                    "to_port": 50000,
                    "cidr_blocks": ["10.0.0.0/16"],
                },
                3,
            ),
            block(
                "egress",
                {
                    "description": "out",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": ["0.0.0.0/0"],
                },
                10,
            ),
        ),
    )
    w_sg = res(
        "aws_security_group",
        "w",
        {"name": "talos-worker", "tags": {"NodeType": "worker"}},
        start=20,
        blocks=(
            block(
                "egress",
                {
                    "description": "out",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": ["0.0.0.0/0"],
                },
                22,
            ),
        ),
    )
    cp = res(
        "aws_instance",
        "cp",
        {
            "private_ip": "10.0.1.10",
            "vpc_security_group_ids": [sg_ref("aws_security_group.cp"), *extra_cp_groups],
        },
        start=40,
    )
    w = res(
        "aws_instance",
        "w",
        {"private_ip": "10.0.1.20", "vpc_security_group_ids": [sg_ref("aws_security_group.w")]},
        start=50,
    )
    return [cp_sg, w_sg, cp, w]


def _flow(c: Collection, port: int) -> Verdict:
    model = merge([c])
    by_id = {g.id: g for g in model.node_groups}
    src = group_endpoint(model, by_id["aws_instance.w"])
    dst = group_endpoint(model, by_id["aws_instance.cp"])
    return query(model, src, dst, TCP, PortSet.single(port)).verdict


def test_literal_group_id_on_an_instance_has_unknown_rules() -> None:
    bastion = res("aws_instance", "bastion", {"vpc_security_group_ids": ["sg-0bastion"]}, start=60)
    c = mapped(*_external_group_cluster("sg-0123"), bastion)
    ext = layer(c, "sg-0123")
    # vpc_security_group_ids is the instance's second attribute: line 42.
    at = SourceRef("main.tf", 42, 42, "sg-0123")
    assert ext.source == at
    assert [
        (r.action, r.direction, r.protocol, r.ports, r.peer.addresses, r.peer.groups, r.source, r.origin)
        for r in ext.rules
    ] == [
        (Action.ALLOW, d, None, ALL_PORTS, EMPTY, frozenset(), at, "rules not in the scanned inputs")
        for d in (Direction.INGRESS, Direction.EGRESS)
    ]
    assert [r.unresolved for r in ext.rules] == [(Unresolved("rules", "sg-0123", NOT_IN_CODE),)] * 2
    # A description, so TA501 has nothing to say about a rule nobody wrote.
    assert [r.description for r in ext.rules] == [
        "the ingress rules of sg-0123, not defined in the scanned code",
        "the egress rules of sg-0123, not defined in the scanned code",
    ]
    assert [(p.message, p.source) for p in problems(c, "unresolved")] == [
        (
            f"security group {g} is not defined in the scanned code: its rules are unknown; "
            "required-flow checks through it are inconclusive; scan the code that defines it or use "
            "`talosaudit live`",
            SourceRef("main.tf", line, line, g),
        )
        for g, line in (("sg-0123", 42), ("sg-0bastion", 61))
    ]
    # The unknown rules make no node of the bastion and no TA003 (only known rules decide).
    assert sorted(g.id for g in c.node_groups) == ["aws_instance.cp", "aws_instance.w"]
    assert problems(c, "role-unknown") == []
    # Reachability: what the role group allows stays proven, what it lacks is unknown.
    assert _flow(c, 50000) is Verdict.ALLOWED
    assert _flow(c, 50001) is Verdict.UNKNOWN
    assert _flow(mapped(*_external_group_cluster()), 50001) is Verdict.BLOCKED


def test_data_source_group_with_attached_rule_keeps_it_and_names_both() -> None:
    data = ResourceInstance(
        "data",
        "aws_security_group",
        "common",
        "data.aws_security_group.common",
        "",
        None,
        block("data", {"id": "sg-0d"}, 70, labels=("aws_security_group", "common")),
        None,
    )
    attached = res(
        "aws_vpc_security_group_ingress_rule",
        "trustd",
        {
            "security_group_id": "sg-0d",
            "description": "trustd",
            "ip_protocol": "tcp",
            "from_port": 50001,
            "to_port": 50001,
            "cidr_ipv4": "10.0.0.0/16",
        },
        start=80,
    )
    ref = Ref("data.aws_security_group.common", "id")
    c = mapped(*_external_group_cluster(ref), data, attached)
    ext = layer(c, "sg-0d")
    assert [r.key for r in ext.rules] == [
        "aws_vpc_security_group_ingress_rule.trustd",
        "sg-0d/unknown ingress rules",
        "sg-0d/unknown egress rules",
    ]
    # First reference: the instance's list (line 42) comes before the rule resource (line 80).
    (p,) = problems(c, "unresolved")
    assert p.message.startswith(
        "security group sg-0d (data.aws_security_group.common) is not defined in the scanned code"
    )
    assert p.source == SourceRef("main.tf", 42, 42, "sg-0d")
    assert ext.source == p.source
    # The attached rule is known: trustd from the workers is proven, not merely possible.
    assert _flow(c, 50001) is Verdict.ALLOWED


def test_data_source_group_without_id_is_named_by_its_address() -> None:
    data = ResourceInstance(
        "data",
        "aws_security_group",
        "bastion",
        "data.aws_security_group.bastion",
        "",
        None,
        block("data", {"name": "bastion-ssh"}, 70, labels=("aws_security_group", "bastion")),
        None,
    )
    c = mapped(*_external_group_cluster(Ref("data.aws_security_group.bastion", "id")), data)
    ext = layer(c, "data.aws_security_group.bastion")
    assert [r.unresolved for r in ext.rules] == [
        (Unresolved("rules", "data.aws_security_group.bastion", NOT_IN_CODE),)
    ] * 2
    (p,) = problems(c, "unresolved")
    assert p.message.startswith("security group data.aws_security_group.bastion is not defined")
    assert _flow(c, 50001) is Verdict.UNKNOWN


def test_drift_ignores_the_stand_ins_of_unknown_rules() -> None:
    tf = mapped(*_external_group_cluster("sg-0123"))
    live_rule = Rule(
        Action.ALLOW,
        Direction.INGRESS,
        TCP,
        PortSet.single(22),
        Peer(addresses=AddressSet.parse("10.0.0.0/16")),
        SourceRef("live/sg-0123.json", 3, 3, "sgr-1"),
        key="sgr-1",
    )
    live_layer = security_group_layer(
        "sg-0123",
        name="common",
        source=SourceRef("live/sg-0123.json", 1, 9, "sg-0123"),
        rules=[live_rule],
        attributes=[("group_name", "common")],
        assignment=None,
    )
    live = Collection(layers=(live_layer,))
    m = drift.match(live, tf)
    assert m.groups == {"sg-0123": "sg-0123"}
    # Not matched to a stand-in (which would hide it), and the stand-ins are never TA504.
    assert m.rules == {}
    # (The role groups are not in AWS at all: one TA504 each, as for any missing group.)
    assert [(d.side, d.key) for d in drift.drift_items(live, tf, m)] == [
        ("live-only", "drift:sg-0123:sgr-1"),
        ("code-only", "drift:aws_security_group.cp"),
        ("code-only", "drift:aws_security_group.w"),
    ]


UNSET = "variable has no value"


def test_unresolved_group_list_element_has_unknown_rules_and_one_ta002() -> None:
    extra = Unknown("var.extra_sg", UNSET)
    # A bastion whose whole list is unknown: the stand-ins make no node of it.
    bastion = res(
        "aws_instance", "bastion", {"vpc_security_group_ids": Unknown("var.bastion_sgs", UNSET)}, start=60
    )
    c = mapped(*_external_group_cluster(extra), bastion)
    ident = "unresolved-groups:var.extra_sg"
    # vpc_security_group_ids is the instance's second attribute: line 42.
    at = SourceRef("main.tf", 42, 42, ident)
    lay = layer(c, ident)
    assert (lay.kind, lay.name, lay.source, lay.placement, lay.semantics) == (
        LayerKind.SECURITY_GROUP,
        "the security groups of var.extra_sg",
        at,
        Placement.NODE,
        Semantics.UNION_OF_ALLOWS,
    )
    assert lay.attributes == (("expression", "var.extra_sg"), ("external", "true"))
    assert [
        (r.action, r.direction, r.protocol, r.ports, r.peer.addresses, r.peer.groups, r.source, r.key)
        for r in lay.rules
    ] == [
        (Action.ALLOW, d, None, ALL_PORTS, EMPTY, frozenset(), at, f"{ident}/unknown {d.value} rules")
        for d in (Direction.INGRESS, Direction.EGRESS)
    ]
    assert [r.unresolved for r in lay.rules] == [(Unresolved("rules", "var.extra_sg", UNSET),)] * 2
    assert [r.description for r in lay.rules] == [
        f"the {d} rules of the security groups of var.extra_sg, variable has no value"
        for d in ("ingress", "egress")
    ]
    # The node group carries the layer, but no peer can name it and it decides no role.
    cp = group(c, "aws_instance.cp")
    assert cp.layers == ("aws_security_group.cp", ident)
    assert cp.labels == frozenset({"aws_security_group.cp"})
    plain = group(mapped(*_external_group_cluster()), "aws_instance.cp")
    assert (cp.role, cp.role_reason) == (Role.CONTROL_PLANE, plain.role_reason)
    assert sorted(g.id for g in c.node_groups) == ["aws_instance.cp", "aws_instance.w"]
    assert layer(c, "unresolved-groups:var.bastion_sgs").source.start_line == 61
    assert problems(c, "role-unknown") == []
    # Exactly the TA002 of each list element, none for the stand-ins.
    assert [(p.message, p.source) for p in problems(c, "unresolved")] == [
        (
            f"{address}: vpc_security_group_ids = {expression} could not be resolved: variable has no value",
            SourceRef("main.tf", line, line, address),
        )
        for address, expression, line in (
            ("aws_instance.cp", "var.extra_sg", 42),
            ("aws_instance.bastion", "var.bastion_sgs", 61),
        )
    ]
    # Reachability: what the role group allows stays proven, what it lacks is unknown.
    assert _flow(c, 50000) is Verdict.ALLOWED
    assert _flow(c, 50001) is Verdict.UNKNOWN
    assert _flow(mapped(*_external_group_cluster()), 50001) is Verdict.BLOCKED


def test_unresolved_groups_of_a_launch_template_reach_its_auto_scaling_group() -> None:
    rest = PartialList(
        "concat([aws_security_group.w.id], var.sgs)",
        "var.sgs: variable has no value",
        origin="var.sgs",
        known=(sg_ref("aws_security_group.w"),),
    )
    sg = res("aws_security_group", "w", {"name": "w-sg", "tags": {"NodeType": "worker"}})
    lt = res(
        "aws_launch_template",
        "workers",
        {"name_prefix": "w"},
        start=10,
        blocks=(block("network_interfaces", {"security_groups": rest}, 12),),
    )
    asg = res(
        "aws_autoscaling_group",
        "workers",
        {"min_size": 1},
        start=20,
        blocks=(block("launch_template", {"id": sg_ref("aws_launch_template.workers")}, 22),),
    )
    w2 = res("aws_instance", "w2", {"vpc_security_group_ids": [sg_ref("aws_security_group.w")]}, start=30)
    w3 = res(
        "aws_instance", "w3", {"vpc_security_group_ids": [sg_ref("aws_security_group.w"), rest]}, start=35
    )
    c = mapped(sg, lt, asg, w2, w3)
    ident = "unresolved-groups:concat([aws_security_group.w.id], var.sgs)"
    # Machines with the same groups and the same unresolved lists share a node group; the
    # unresolved layer keeps apart one without it.
    shared = group(c, "aws_autoscaling_group.workers+aws_instance.w3")
    assert (shared.role, shared.layers) == (Role.WORKER, ("aws_security_group.w", ident))
    assert group(c, "aws_instance.w2").layers == ("aws_security_group.w",)
    # One layer for the expression, at its first reference (the template's line 13).
    (lay,) = [x for x in c.layers if x.id.startswith("unresolved-groups:")]
    assert (lay.id, lay.source) == (ident, SourceRef("main.tf", 13, 13, ident))
    assert [p.source.start_line for p in problems(c, "unresolved")] == [13, 36]


# -- roles ----------------------------------------------------------------------------------


def test_ta003_for_a_group_with_cluster_rules_and_no_role() -> None:
    sg = res(
        "aws_security_group",
        "misc",
        {"name": "misc-sg"},
        start=3,
        path="sg.tf",
        blocks=(
            block(
                "ingress",
                {"protocol": "tcp", "from_port": 50000, "to_port": 50000, "cidr_blocks": ["10.0.0.0/16"]},
                5,
                "sg.tf",
            ),
        ),
    )
    c = mapped(sg)
    (p,) = problems(c, "role-unknown")
    assert p.message == (
        "security group aws_security_group.misc: no control-plane/worker role could be assigned "
        "(no NodeType/Role tag, "
        "no role in its name, not attached to an instance with a role); required-flow checks skipped for it; "
        "set nodes: in .talosaudit.yaml"
    )
    assert p.source == SourceRef("sg.tf", 3, 11, "aws_security_group.misc")
    assert p.key == "aws_security_group.misc:role"
    g = group(c, "nodes:aws_security_group.misc")
    assert g.role is None


def test_no_ta003_for_a_bastion_group_used_only_as_a_source() -> None:
    bastion = res(
        "aws_security_group",
        "bastion",
        {"name": "bastion"},
        blocks=(
            block(
                "ingress",
                {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["203.0.113.0/24"]},
                3,
            ),
        ),
    )
    cp = res(
        "aws_security_group",
        "cp",
        {"name": "cp"},
        start=20,
        blocks=(
            block(
                "ingress",
                {
                    "protocol": "tcp",
                    "from_port": 50000,
                    "to_port": 50000,
                    "security_groups": [sg_ref("aws_security_group.bastion")],
                },
                22,
            ),
        ),
    )
    host = res(
        "aws_instance", "jump", {"vpc_security_group_ids": [sg_ref("aws_security_group.bastion")]}, start=40
    )
    c = mapped(bastion, cp, host)
    assert problems(c, "role-unknown") == []
    assert [g.id for g in c.node_groups] == ["nodes:aws_security_group.cp"]


def test_hint_assigns_role_and_suppresses_ta003() -> None:
    sg = res(
        "aws_security_group",
        "misc",
        {"name": "misc-sg"},
        blocks=(
            block(
                "ingress",
                {"protocol": "tcp", "from_port": 50000, "to_port": 50000, "cidr_blocks": ["10.0.0.0/16"]},
                3,
            ),
        ),
    )
    c = mapped(sg, hints=RoleHints(by_name=(("misc-*", Role.CONTROL_PLANE),)))
    assert problems(c, "role-unknown") == []
    g = group(c, "nodes:aws_security_group.misc")
    assert g.role is Role.CONTROL_PLANE
    assert (
        g.role_reason == ".talosaudit.yaml nodes: name pattern 'misc-*' matches name 'misc-sg' of "
        "aws_security_group.misc (main.tf:1)"
    )


def test_attachment_gives_a_group_the_role_of_its_instances() -> None:
    shared = res(
        "aws_security_group",
        "cluster",
        {"name": "cluster"},
        start=1,
        blocks=(block("ingress", {"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}, 3),),
    )
    inst = res(
        "aws_instance",
        "cp",
        {"vpc_security_group_ids": [sg_ref("aws_security_group.cluster")], "tags": {"Role": "controlplane"}},
        start=30,
        path="compute.tf",
        key=0,
    )
    c = mapped(shared, inst)
    assert layer(c, "aws_security_group.cluster").attribute("role_reason") == (
        "aws_security_group.cluster is attached only to control-plane nodes: "
        "aws_instance.cp[0] (compute.tf:30)"
    )
    g = group(c, "aws_instance.cp")
    assert (g.role, g.role_reason) == (
        Role.CONTROL_PLANE,
        "tag Role=controlplane on aws_instance.cp[0] (compute.tf:30)",
    )
    assert problems(c, "role-unknown") == []


# -- compute ----------------------------------------------------------------------------------


def _subnet_and_vpc() -> list[ResourceInstance]:
    return [
        res("aws_vpc", "main", {"cidr_block": "10.0.0.0/16"}, start=1, path="net.tf"),
        res(
            "aws_subnet",
            "private",
            {"vpc_id": sg_ref("aws_vpc.main"), "cidr_block": "10.0.1.0/24", "tags": {"Name": "private-a"}},
            start=10,
            path="net.tf",
        ),
    ]


def test_several_groups_on_one_instance_union_labels_and_layers() -> None:
    m = "module.compute"
    cp_sg = res("aws_security_group", "control_plane", {"name": "cp", "tags": {"NodeType": "control-plane"}})
    common = res("aws_security_group", "common", {"name": "common"}, start=10)
    instances = [
        res(
            "aws_instance",
            "talos",
            {
                "count": 3,
                "vpc_security_group_ids": [
                    sg_ref("aws_security_group.control_plane"),
                    sg_ref("aws_security_group.common"),
                ],
                "subnet_id": sg_ref("aws_subnet.private"),
            },
            start=1,
            path="compute.tf",
            module=m,
            key=i,
        )
        for i in range(3)
    ]
    c = mapped(cp_sg, common, *_subnet_and_vpc(), *instances)
    g = group(c, "module.compute.aws_instance.talos")
    assert g.labels == frozenset({"aws_security_group.control_plane", "aws_security_group.common"})
    assert g.layers == ("aws_security_group.common", "aws_security_group.control_plane")
    assert g.segment == "aws_subnet.private"
    assert g.addresses == AddressSet.parse("10.0.1.0/24")
    assert g.address_reason == "subnet aws_subnet.private 10.0.1.0/24 (no private_ip in the configuration)"
    assert g.name == "module.compute.aws_instance.talos (3 instances)"
    assert g.role is Role.CONTROL_PLANE
    assert g.role_reason == (
        "module.compute.aws_instance.talos[0] carries security group "
        "aws_security_group.control_plane, which is "
        "control-plane: tag NodeType=control-plane on aws_security_group.control_plane (main.tf:1)"
    )
    assert g.origin == "aws_instance"
    assert not [x for x in c.node_groups if x.id.startswith("nodes:")]
    seg = c.segments[0]
    assert (seg.id, seg.name, seg.addresses) == (
        "aws_subnet.private",
        "private-a",
        AddressSet.parse("10.0.1.0/24"),
    )


def test_instances_with_private_ip_and_security_groups_by_name() -> None:
    sg = res("aws_security_group", "w", {"name": "talos-workers"})
    inst = [
        res(
            "aws_instance",
            "worker",
            {"security_groups": ["talos-workers"], "private_ip": ip},
            start=10,
            key=i,
        )
        for i, ip in enumerate(["10.0.1.10", "10.0.1.11"])
    ]
    c = mapped(sg, *inst)
    g = group(c, "aws_instance.worker")
    assert g.addresses == AddressSet.of(["10.0.1.10/32", "10.0.1.11/32"])
    assert g.address_reason == "private_ip of aws_instance.worker[0], aws_instance.worker[1]"
    assert g.labels == frozenset({"aws_security_group.w"})
    assert g.role is Role.WORKER
    assert g.role_reason == "resource name 'worker' of aws_instance.worker[0] contains 'worker' (main.tf:10)"


def test_autoscaling_group_with_launch_template_one_group_per_subnet() -> None:
    sg = res("aws_security_group", "w", {"name": "w-sg"})
    lt = res(
        "aws_launch_template",
        "workers",
        {"name_prefix": "w", "vpc_security_group_ids": [sg_ref("aws_security_group.w")]},
        start=10,
        blocks=(
            block("tag_specifications", {"resource_type": "instance", "tags": {"NodeType": "worker"}}, 14),
        ),
    )
    subnets = [
        res("aws_subnet", "a", {"vpc_id": sg_ref("aws_vpc.main"), "cidr_block": "10.0.1.0/24"}, start=40),
        res("aws_subnet", "b", {"vpc_id": sg_ref("aws_vpc.main"), "cidr_block": "10.0.2.0/24"}, start=45),
    ]
    asg = res(
        "aws_autoscaling_group",
        "workers",
        {
            "vpc_zone_identifier": [sg_ref("aws_subnet.a"), sg_ref("aws_subnet.b")],
            "min_size": 1,
            "max_size": 5,
            "desired_capacity": 3,
        },
        start=20,
        blocks=(
            block("launch_template", {"id": sg_ref("aws_launch_template.workers"), "version": "$Latest"}, 26),
        ),
    )
    c = mapped(sg, lt, *subnets, asg)
    a = group(c, "aws_autoscaling_group.workers@aws_subnet.a")
    b = group(c, "aws_autoscaling_group.workers@aws_subnet.b")
    assert (a.addresses, b.addresses) == (AddressSet.parse("10.0.1.0/24"), AddressSet.parse("10.0.2.0/24"))
    assert a.role is Role.WORKER
    assert a.role_reason == "tag NodeType=worker on aws_autoscaling_group.workers (main.tf:20)"
    assert a.labels == frozenset({"aws_security_group.w"})
    assert a.origin == "aws_autoscaling_group (auto scaling group (min/desired/max 1/3/5))"
    assert [g.id for g in c.node_groups if "launch_template" in g.id] == []


# -- network ACLs ---------------------------------------------------------------------------


def test_nacl_rules_ordered_by_number_first_match_stateless() -> None:
    acl = res(
        "aws_network_acl",
        "private",
        {"vpc_id": sg_ref("aws_vpc.main"), "subnet_ids": [sg_ref("aws_subnet.private")]},
        start=20,
        path="net.tf",
        blocks=(
            block(
                "ingress",
                {
                    "rule_no": 200,
                    "action": "allow",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_block": "10.0.0.0/16",
                },
                22,
                "net.tf",
            ),
            block(
                "ingress",
                {
                    "rule_no": 100,
                    "action": "deny",
                    "protocol": "tcp",
                    "from_port": 50000,
                    "to_port": 50001,
                    "cidr_block": "0.0.0.0/0",
                },
                30,
                "net.tf",
            ),
            block(
                "egress",
                {
                    "rule_no": 100,
                    "action": "allow",
                    "protocol": "6",
                    "from_port": 1024,
                    "to_port": 65535,
                    "cidr_block": "0.0.0.0/0",
                },
                38,
                "net.tf",
            ),
        ),
    )
    standalone = res(
        "aws_network_acl_rule",
        "https",
        {
            "network_acl_id": sg_ref("aws_network_acl.private"),
            "rule_number": 150,
            "egress": False,
            "protocol": "tcp",
            "rule_action": "allow",
            "cidr_block": "0.0.0.0/0",
            "from_port": 443,
            "to_port": 443,
        },
        start=60,
        path="net.tf",
    )
    c = mapped(*_subnet_and_vpc(), acl, standalone)
    lay = layer(c, "aws_network_acl.private")
    assert (lay.kind, lay.semantics, lay.placement, lay.stateful) == (
        LayerKind.NETWORK_ACL,
        Semantics.FIRST_MATCH,
        Placement.SEGMENT,
        False,
    )
    assert (lay.default_ingress, lay.default_egress) == (Action.DENY, Action.DENY)
    assert lay.segments == ("aws_subnet.private",)
    ingress = lay.rules_in(Direction.INGRESS)
    assert [r.key for r in ingress] == [
        "aws_network_acl.private/ingress/100",
        "aws_network_acl_rule.https",
        "aws_network_acl.private/ingress/200",
    ]
    assert [r.action for r in ingress] == [Action.DENY, Action.ALLOW, Action.ALLOW]
    assert (ingress[0].protocol, ingress[0].ports) == (TCP, PortSet.range(50000, 50001))
    assert (ingress[2].protocol, ingress[2].ports) == (None, ALL_PORTS)
    assert ingress[0].source == SourceRef("net.tf", 30, 37, "aws_network_acl.private/ingress/100")
    (egress,) = lay.rules_in(Direction.EGRESS)
    assert (egress.protocol, egress.ports) == (TCP, PortSet.range(1024, 65535))
    assert c.problems == ()


def test_no_nacl_in_the_configuration_makes_no_layer() -> None:
    c = mapped(*_subnet_and_vpc())
    assert [lay.kind for lay in c.layers] == []


def test_default_nacl_takes_the_unclaimed_subnets_of_its_vpc() -> None:
    subnets = [
        res("aws_subnet", name, {"vpc_id": sg_ref("aws_vpc.main"), "cidr_block": cidr}, start=i * 5 + 1)
        for i, (name, cidr) in enumerate([("a", "10.0.1.0/24"), ("b", "10.0.2.0/24"), ("c", "10.0.3.0/24")])
    ]
    custom = res("aws_network_acl", "custom", {"vpc_id": sg_ref("aws_vpc.main")}, start=30)
    assoc = res(
        "aws_network_acl_association",
        "b",
        {"network_acl_id": sg_ref("aws_network_acl.custom"), "subnet_id": sg_ref("aws_subnet.b")},
        start=40,
    )
    default = res(
        "aws_default_network_acl",
        "default",
        {"default_network_acl_id": Ref("aws_vpc.main", "default_network_acl_id")},
        start=50,
    )
    c = mapped(res("aws_vpc", "main", {"cidr_block": "10.0.0.0/16"}), *subnets, custom, assoc, default)
    assert layer(c, "aws_network_acl.custom").segments == ("aws_subnet.b",)
    d = layer(c, "aws_default_network_acl.default")
    assert d.segments == ("aws_subnet.a", "aws_subnet.c")
    assert d.rules == ()
    assert d.attribute("default") == "true"


def test_unknown_nacl_rule_number_goes_last_with_ta002() -> None:
    acl = res(
        "aws_network_acl",
        "x",
        {"vpc_id": sg_ref("aws_vpc.main")},
        blocks=(
            block(
                "ingress",
                {
                    "rule_no": Unknown("var.n", "variable has no value"),
                    "action": "deny",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_block": "0.0.0.0/0",
                },
                3,
            ),
            block(
                "ingress",
                {
                    "rule_no": 300,
                    "action": "allow",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_block": "0.0.0.0/0",
                },
                12,
            ),
        ),
    )
    c = mapped(acl)
    first, last = layer(c, "aws_network_acl.x").rules
    assert first.key == "aws_network_acl.x/ingress/300"
    assert last.key == "aws_network_acl.x/ingress[0]"
    assert last.unresolved == (Unresolved("rule_no", "var.n", "variable has no value"),)
    (p,) = problems(c, "unresolved")
    assert p.source.start_line == 4


# -- facts --------------------------------------------------------------------------------------


def _var(name: str, value: Any, line: int, module: str = "", path: str = "terraform.tfvars") -> Variable:
    return Variable(module, name, value, "terraform.tfvars", Lines(path, line, line))


def test_facts_and_admin_networks_from_variables_root_wins() -> None:
    found = facts_from_variables(
        [
            _var("cni_type", "calico", 2, module="module.network", path="modules/network/variables.tf"),
            _var("cni_type", "cilium", 3),
            _var("enable_nodeport", False, 4),
            _var("enable_kubespan", Unknown("var.x", "variable has no value"), 5),
            _var("allowed_admin_cidrs", ["196.45.28.20/32", "not-a-cidr"], 6),
            _var("routing_mode", "native", 7),
        ]
    )
    assert found.facts == (
        Fact(
            "cni",
            "cilium",
            'variable cni_type = "cilium" (terraform.tfvars:3)',
            FactOrigin.TERRAFORM,
            SourceRef("terraform.tfvars", 3, 3, "var.cni_type"),
        ),
        Fact(
            "tunnel",
            "none",
            'variable routing_mode = "native" (terraform.tfvars:7)',
            FactOrigin.TERRAFORM,
            SourceRef("terraform.tfvars", 7, 7, "var.routing_mode"),
        ),
        Fact(
            "nodeport",
            "false",
            "variable enable_nodeport = false (terraform.tfvars:4)",
            FactOrigin.TERRAFORM,
            SourceRef("terraform.tfvars", 4, 4, "var.enable_nodeport"),
        ),
    )
    assert found.admin == (
        (AddressSet.parse("196.45.28.20/32"), SourceRef("terraform.tfvars", 6, 6, "var.allowed_admin_cidrs")),
    )
    (p,) = found.problems
    assert (
        p.message
        == "var.allowed_admin_cidrs: 'not-a-cidr' is not a valid CIDR; it is not counted as an admin network"
    )


def test_module_variable_counts_when_root_has_none() -> None:
    found = facts_from_variables(
        [_var("cni", "Flannel", 9, module="module.talos", path="modules/talos/variables.tf")]
    )
    assert found.facts == (
        Fact(
            "cni",
            "flannel",
            'variable module.talos.cni = "Flannel" (modules/talos/variables.tf:9)',
            FactOrigin.TERRAFORM,
            SourceRef("modules/talos/variables.tf", 9, 9, "module.talos.var.cni"),
        ),
    )


def test_collection_from_config_joins_facts_problems_and_files() -> None:
    from talosaudit.collectors.terraform.values import TerraformProblem

    config = TerraformConfig(
        resources=tuple(seed_groups()),
        variables=(_var("allowed_admin_cidrs", ["203.0.113.7/32"], 2),),
        problems=(
            TerraformProblem("unreadable", "main.tf: unparseable", Lines("bad.tf", 3, 3), key="bad.tf"),
        ),
        files=("main.tf", "terraform.tfvars"),
    )
    c = collection_from_config(config)
    assert c.files == ("main.tf", "terraform.tfvars")
    assert c.admin == (
        (AddressSet.parse("203.0.113.7/32"), SourceRef("terraform.tfvars", 2, 2, "var.allowed_admin_cidrs")),
    )
    assert c.problems == (
        Problem("unreadable", "main.tf: unparseable", SourceRef("bad.tf", 3, 3, "bad.tf"), key="bad.tf"),
    )
    assert sorted(layer.id for layer in c.layers) == [
        "module.network.aws_security_group.control_plane",
        "module.network.aws_security_group.worker",
    ]


def test_dynamic_block_with_unknown_for_each_is_unresolved() -> None:
    dyn = Block(
        "ingress",
        (),
        {"protocol": "tcp", "from_port": 10250, "to_port": 10250, "cidr_blocks": ["10.0.0.0/16"]},
        {"protocol": Lines("main.tf", 5, 5)},
        (),
        Lines("main.tf", 4, 9),
        from_dynamic=True,
        expansion_unknown=Unknown("var.kubelet_sources", "variable has no value"),
    )
    c = mapped(res("aws_security_group", "w", {"name": "w"}, blocks=(dyn,)))
    (r,) = layer(c, "aws_security_group.w").rules
    assert r.unresolved == (
        Unresolved(
            "dynamic ingress for_each",
            "var.kubelet_sources",
            "variable has no value; the block may or may not exist",
        ),
    )
    assert (r.ports, r.peer.addresses) == (PortSet.single(10250), AddressSet.parse("10.0.0.0/16"))
    (p,) = problems(c, "unresolved")
    assert p.source == SourceRef("main.tf", 4, 9, "aws_security_group.w")


def test_unknown_origin_is_named_in_the_reason() -> None:
    sg = res("aws_security_group", "cp", {"name": "cp"})
    value = Unknown(
        "var.allowed_admin_cidrs[count.index]", "variable has no value", origin="var.allowed_admin_cidrs"
    )
    rule = res(
        "aws_vpc_security_group_ingress_rule",
        "x",
        {
            "security_group_id": sg_ref("aws_security_group.cp"),
            "ip_protocol": "tcp",
            "from_port": 50000,
            "to_port": 50000,
            "cidr_ipv4": value,
        },
        start=10,
    )
    (p,) = problems(mapped(sg, rule), "unresolved")
    assert p.message == (
        "aws_vpc_security_group_ingress_rule.x: cidr_ipv4 = var.allowed_admin_cidrs[count.index] "
        "could not be resolved: variable has no value (var.allowed_admin_cidrs)"
    )


# -- end to end: HCL through load_config ------------------------------------------------------


def _scan(tmp_path: Path, files: dict[str, str], hints: RoleHints | None = None) -> Collection:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
    found, _ = discover([tmp_path], tmp_path)
    return collect(found, tmp_path, CollectOptions(role_hints=hints))


SEED_NETWORK = """
    variable "vpc_cidr" {
      type = string
    }

    resource "aws_vpc" "main" {
      cidr_block = var.vpc_cidr
    }

    resource "aws_security_group" "control_plane" {
      name   = "talos-control-plane-sg"
      vpc_id = aws_vpc.main.id
      tags = {
        NodeType = "control-plane"
      }
    }

    resource "aws_vpc_security_group_ingress_rule" "control_plane_etcd" {
      security_group_id            = aws_security_group.control_plane.id
      description                  = "etcd peer communication"
      from_port                    = 2379
      to_port                      = 2380
      ip_protocol                  = "tcp"
      referenced_security_group_id = aws_security_group.control_plane.id
    }

    output "control_plane_security_group_id" {
      value = aws_security_group.control_plane.id
    }
"""

SEED_ROOT = """
    variable "allowed_admin_cidrs" {
      type    = list(string)
      default = []
    }

    variable "cni_type" {
      type    = string
      default = "cilium"
    }

    module "network" {
      source   = "./modules/network"
      vpc_cidr = "10.0.0.0/16"
    }

    resource "aws_vpc_security_group_ingress_rule" "cp_k8s_api_external" {
      count = length(var.allowed_admin_cidrs)

      security_group_id = module.network.control_plane_security_group_id
      description       = "Kubernetes API (external admin)"
      from_port         = 6443
      to_port           = 6443
      ip_protocol       = "tcp"
      cidr_ipv4         = var.allowed_admin_cidrs[count.index]
    }
"""


def test_e2e_seed_module_rules_through_module_outputs(tmp_path: Path) -> None:
    c = _scan(
        tmp_path,
        {
            "main.tf": SEED_ROOT,
            "terraform.tfvars": 'allowed_admin_cidrs = ["196.45.28.20/32"]\n',
            "modules/network/main.tf": SEED_NETWORK,
        },
    )
    cp = layer(c, CP_SG)
    assert cp.source == SourceRef("modules/network/main.tf", 9, 15, CP_SG)
    external, etcd = sorted(cp.rules_in(Direction.INGRESS), key=lambda r: r.key)
    assert etcd.key == "module.network.aws_vpc_security_group_ingress_rule.control_plane_etcd"
    assert (etcd.ports, etcd.peer.groups) == (PortSet.range(2379, 2380), frozenset({CP_SG}))
    assert etcd.source == SourceRef("modules/network/main.tf", 17, 24, etcd.key)
    assert external.key == "aws_vpc_security_group_ingress_rule.cp_k8s_api_external[0]"
    assert (external.ports, external.peer.addresses) == (
        PortSet.single(6443),
        AddressSet.parse("196.45.28.20/32"),
    )
    assert external.unresolved == ()
    assert cp.rules_in(Direction.EGRESS) == ()
    g = group(c, f"nodes:{CP_SG}")
    assert (g.role, g.role_reason) == (
        Role.CONTROL_PLANE,
        f"tag NodeType=control-plane on {CP_SG} (modules/network/main.tf:9)",
    )
    assert g.addresses == AddressSet.parse("10.0.0.0/16")
    assert [f.name + "=" + f.value for f in c.facts] == ["cni=cilium"]
    assert c.admin[0][0] == AddressSet.parse("196.45.28.20/32")
    assert c.admin[0][1] is not None and c.admin[0][1].path == "terraform.tfvars"
    assert [p for p in c.problems if p.kind in ("unresolved", "role-unknown")] == []
    assert set(c.files) >= {"main.tf", "terraform.tfvars", "modules/network/main.tf"}


def test_e2e_unknown_admin_cidr_is_ta002_naming_the_expression(tmp_path: Path) -> None:
    c = _scan(
        tmp_path,
        {
            "main.tf": """
                variable "admin_cidr" {
                  type = string
                }

                resource "aws_security_group" "cp" {
                  name = "talos-cp"
                }

                resource "aws_vpc_security_group_ingress_rule" "api" {
                  security_group_id = aws_security_group.cp.id
                  ip_protocol       = "tcp"
                  from_port         = 6443
                  to_port           = 6443
                  cidr_ipv4         = var.admin_cidr
                }
            """,
        },
    )
    (r,) = layer(c, "aws_security_group.cp").rules
    assert [(u.field, u.expression) for u in r.unresolved] == [("cidr_ipv4", "var.admin_cidr")]
    (p,) = [
        p for p in problems(c, "unresolved") if p.key.startswith("aws_vpc_security_group_ingress_rule.api")
    ]
    assert "cidr_ipv4 = var.admin_cidr could not be resolved" in p.message
    assert (p.source.path, p.source.start_line) == ("main.tf", 14)


def test_e2e_inline_blocks_dynamic_self_and_nacl_order(tmp_path: Path) -> None:
    c = _scan(
        tmp_path,
        {
            "main.tf": """
                locals {
                  kubelet_sources = ["10.0.0.0/16", "10.1.0.0/16"]
                }

                resource "aws_vpc" "main" {
                  cidr_block = "10.0.0.0/16"
                }

                resource "aws_subnet" "nodes" {
                  vpc_id     = aws_vpc.main.id
                  cidr_block = cidrsubnet(aws_vpc.main.cidr_block, 8, 1)
                }

                resource "aws_security_group" "workers" {
                  name   = "workers"
                  vpc_id = aws_vpc.main.id

                  ingress {
                    protocol    = "udp"
                    from_port   = 6081
                    to_port     = 6081
                    self        = true
                    cidr_blocks = ["0.0.0.0/0"]
                  }

                  dynamic "ingress" {
                    for_each = local.kubelet_sources
                    content {
                      protocol    = "tcp"
                      from_port   = 10250
                      to_port     = 10250
                      cidr_blocks = [ingress.value]
                    }
                  }
                }

                resource "aws_network_acl" "nodes" {
                  vpc_id     = aws_vpc.main.id
                  subnet_ids = [aws_subnet.nodes.id]

                  ingress {
                    rule_no    = 200
                    action     = "allow"
                    protocol   = "-1"
                    from_port  = 0
                    to_port    = 0
                    cidr_block = "0.0.0.0/0"
                  }

                  ingress {
                    rule_no    = 100
                    action     = "deny"
                    protocol   = "tcp"
                    from_port  = 50000
                    to_port    = 50001
                    cidr_block = "0.0.0.0/0"
                  }
                }
            """,
        },
    )
    w = layer(c, "aws_security_group.workers")
    geneve_cidr, geneve_self, kubelet_a, kubelet_b = w.rules
    assert (geneve_cidr.peer.addresses, geneve_self.peer.groups) == (
        AddressSet.parse("0.0.0.0/0"),
        frozenset({"aws_security_group.workers"}),
    )
    assert geneve_cidr.key == geneve_self.key == "aws_security_group.workers/ingress[0]"
    assert geneve_cidr.source.start_line == 18
    assert [r.peer.addresses for r in (kubelet_a, kubelet_b)] == [
        AddressSet.parse("10.0.0.0/16"),
        AddressSet.parse("10.1.0.0/16"),
    ]
    assert kubelet_a.origin == "inline ingress block (dynamic)"
    acl = layer(c, "aws_network_acl.nodes")
    assert [r.key for r in acl.rules] == [
        "aws_network_acl.nodes/ingress/100",
        "aws_network_acl.nodes/ingress/200",
    ]
    assert acl.segments == ("aws_subnet.nodes",)
    seg = next(s for s in c.segments if s.id == "aws_subnet.nodes")
    assert seg.addresses == AddressSet.parse("10.0.1.0/24")
    assert w.rules_in(Direction.EGRESS) == ()


def test_e2e_instances_with_several_groups_and_unknown_count(tmp_path: Path) -> None:
    c = _scan(
        tmp_path,
        {
            "main.tf": """
                variable "cp_count" {
                  type = number
                }

                resource "aws_security_group" "cp" {
                  name = "talos-cp"
                  ingress {
                    protocol    = "tcp"
                    from_port   = 50000
                    to_port     = 50000
                    cidr_blocks = ["10.0.0.0/16"]
                  }
                }

                resource "aws_security_group" "common" {
                  name = "common"
                }

                resource "aws_instance" "talos" {
                  count                  = var.cp_count
                  vpc_security_group_ids = [aws_security_group.cp.id, aws_security_group.common.id]
                  private_ip             = "10.0.1.10"
                }
            """,
        },
    )
    (g,) = c.node_groups
    assert g.id == "aws_instance.talos"
    assert g.layers == ("aws_security_group.common", "aws_security_group.cp")
    assert g.role is Role.CONTROL_PLANE
    assert "carries security group aws_security_group.cp" in g.role_reason
    assert g.origin.startswith("aws_instance (count unknown (var.cp_count)")
