"""``terraform show -json`` plans and states (collectors/terraform/plan.py).

The two files in tests/data/terraform-plan are written by hand after the shapes Terraform 1.11
and hashicorp/aws 5.x write (checked against real output): a part of fixtures/aws-talos (two
security groups, a VPC, three rules, one from 0.0.0.0/0 on tcp/50000 whose security_group_id is
known only after apply and resolved through the configuration's references and the network
module's output), and the same after apply as a state with real ``sg-…`` ids, where the groups'
``ingress`` lists hold AWS's copy of the standalone rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from talosaudit.cli import cli
from talosaudit.collectors.discover import InputFile, discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.terraform.collect import collection_from_config
from talosaudit.collectors.terraform.plan import collect, read_plan
from talosaudit.collectors.terraform.values import Lines, Ref, TerraformConfig, TerraformProblem, Unknown
from talosaudit.model import (
    TCP,
    Action,
    AddressSet,
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
    Segment,
    Semantics,
    SourceRef,
    Unresolved,
)

DATA = Path(__file__).resolve().parent / "data" / "terraform-plan"
CP = "module.network.aws_security_group.control_plane"
W = "module.network.aws_security_group.worker"
VPC = "module.network.aws_vpc.main"
WORLD = "aws_vpc_security_group_ingress_rule.talos_api_world"
API = "module.network.aws_vpc_security_group_ingress_rule.control_plane_talos_api"
TRUSTD = "module.network.aws_vpc_security_group_ingress_rule.control_plane_talos_trustd"
VPC_RULE = "aws_vpc_security_group_ingress_rule"


def collect_file(name: str) -> Any:
    return collect([InputFile(DATA / name, name, "terraform-plan")], DATA, CollectOptions())


def vpc_rule(at: tuple[str, int], address: str, port: int, peer: Peer, description: str) -> Rule:
    path, line = at
    return Rule(
        Action.ALLOW,
        Direction.INGRESS,
        TCP,
        PortSet.range(port, port),
        peer,
        SourceRef(path, line, line, address),
        description=description,
        key=address,
        origin=VPC_RULE,
    )


def sg_layer(path: str, line: int, address: str, role: Role, rules: tuple[Rule, ...]) -> Layer:
    short = "control-plane" if role is Role.CONTROL_PLANE else "worker"
    described = "control plane" if role is Role.CONTROL_PLANE else "worker"
    return Layer(
        id=address,
        kind=LayerKind.SECURITY_GROUP,
        name=f"talos-prod-talos-{short}-sg",
        source=SourceRef(path, line, line, address),
        semantics=Semantics.UNION_OF_ALLOWS,
        placement=Placement.NODE,
        rules=rules,
        attributes=(
            ("tags", f"Name=talos-prod-talos-{short}-sg, NodeType={short}"),
            ("vpc", VPC),
            ("description", f"Security group for Talos {described} nodes"),
            ("role", short),
            ("role_reason", f"tag NodeType={short} on {address} ({path}:{line})"),
        ),
    )


def stand_in(path: str, line: int, address: str, role: Role) -> NodeGroup:
    short = "control-plane" if role is Role.CONTROL_PLANE else "worker"
    return NodeGroup(
        id=f"nodes:{address}",
        name=f"nodes carrying {address}",
        role=role,
        role_reason=f"tag NodeType={short} on {address} ({path}:{line})",
        source=SourceRef(path, line, line, address),
        addresses=AddressSet.parse("10.0.0.0/16"),
        address_reason=f"VPC {VPC} 10.0.0.0/16 (no instances in the configuration)",
        labels=frozenset({address}),
        layers=(address,),
        origin="security group without instances",
    )


def scan_findings(name: str, *args: str) -> tuple[int, list[tuple[str, str, int, str]]]:
    argv = ["scan", str(DATA / name), "--root", str(DATA), "--format", "json", "--no-cache", *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    document = json.loads(result.stdout)
    findings = [
        (f["rule_id"], f["location"]["path"], f["location"]["start_line"], f["message"])
        for f in document["findings"]
    ]
    return result.exit_code, findings


# --- the hand-written plan ---------------------------------------------------------------------


def test_plan_collection() -> None:
    c = collect_file("plan.json")
    world = vpc_rule(
        ("plan.json", 21),
        WORLD,
        50000,
        Peer(addresses=AddressSet.parse("0.0.0.0/0")),
        "Talos API from anywhere",
    )
    api = vpc_rule(
        ("plan.json", 96), API, 50000, Peer(addresses=AddressSet.parse("10.0.0.0/16")), "Talos API (apid)"
    )
    trustd = vpc_rule(
        ("plan.json", 115),
        TRUSTD,
        50001,
        Peer(groups=frozenset({W})),
        "Talos trustd service (workers to control plane)",
    )
    assert c.layers == (
        sg_layer("plan.json", 46, CP, Role.CONTROL_PLANE, (world, api, trustd)),
        sg_layer("plan.json", 64, W, Role.WORKER, ()),
    )
    assert c.node_groups == (
        stand_in("plan.json", 46, CP, Role.CONTROL_PLANE),
        stand_in("plan.json", 64, W, Role.WORKER),
    )
    assert c.node_networks == ((AddressSet.parse("10.0.0.0/16"), SourceRef("plan.json", 82, 82, VPC)),)
    assert c.admin == (
        (AddressSet.parse("196.45.28.20/32"), SourceRef("plan.json", 5, 5, "var.allowed_admin_cidrs")),
    )
    assert c.facts == (
        Fact(
            "cni",
            "cilium",
            'variable cni_type = "cilium" (plan.json:10)',
            FactOrigin.TERRAFORM,
            SourceRef("plan.json", 10, 10, "var.cni_type"),
        ),
        Fact(
            "nodeport",
            "false",
            "variable enable_nodeport = false (plan.json:13)",
            FactOrigin.TERRAFORM,
            SourceRef("plan.json", 13, 13, "var.enable_nodeport"),
        ),
    )
    assert c.segments == ()
    assert c.problems == ()
    assert c.files == ("plan.json",)


def test_plan_values_resolved_through_module_output_with_attribute_lines() -> None:
    config = read_plan((DATA / "plan.json").read_text(), "plan.json")
    world = next(r for r in config.resources if r.address == WORLD)
    assert world.body.attrs["security_group_id"] == Ref(CP, "id")
    assert world.body.line_of("security_group_id") == Lines("plan.json", 21, 21)  # not in the JSON
    assert world.body.line_of("cidr_ipv4") == Lines("plan.json", 28, 28)
    assert world.body.line_of("from_port") == Lines("plan.json", 31, 31)
    assert (world.module, world.key, world.mode) == ("", None, "managed")
    sg = next(r for r in config.resources if r.address == CP)
    assert sg.module == "module.network"
    assert sg.body.attrs["vpc_id"] == Ref(VPC, "id")
    # Computed, not written in the configuration: left out, as a .tf scan would see them.
    assert "ingress" not in sg.body.attrs and "arn" not in sg.body.attrs and "id" not in sg.body.attrs
    assert [v.name for v in config.variables] == ["allowed_admin_cidrs", "cni_type", "enable_nodeport"]
    assert config.variables[0].value == ["196.45.28.20/32"]
    assert config.variables[0].origin == "plan"


def test_plan_cli_finding_at_the_address_line() -> None:
    code, findings = scan_findings("plan.json", "--check", "TA0,TA2")
    assert code == 1
    assert [(rule, path, line) for rule, path, line, _ in findings] == [("TA201", "plan.json", 21)]
    message = findings[0][3]
    for part in ("tcp/50000", "0.0.0.0/0", WORLD, CP):
        assert part in message


# --- the hand-written state ---------------------------------------------------------------------


def test_state_collection() -> None:
    c = collect_file("state.json")
    world = vpc_rule(
        ("state.json", 15),
        WORLD,
        50000,
        Peer(addresses=AddressSet.parse("0.0.0.0/0")),
        "Talos API from anywhere",
    )
    api = vpc_rule(
        ("state.json", 232), API, 50000, Peer(addresses=AddressSet.parse("10.0.0.0/16")), "Talos API (apid)"
    )
    trustd = vpc_rule(
        ("state.json", 253),
        TRUSTD,
        50001,
        Peer(groups=frozenset({W})),
        "Talos trustd service (workers to control plane)",
    )
    # The worker group has no standalone rules: its ingress list is its own inline rule, whose
    # "sg-…" source is the control-plane group of this file.
    inline = Rule(
        Action.ALLOW,
        Direction.INGRESS,
        TCP,
        PortSet.range(50000, 50000),
        Peer(groups=frozenset({CP})),
        SourceRef("state.json", 161, 173, f"{W}/ingress[0]"),
        description="Talos API from the control plane",
        key=f"{W}/ingress[0]",
        origin="inline ingress block",
    )
    # The control-plane group's ingress list (AWS's copy of its three standalone rules) is
    # dropped: no rule is there twice.
    assert c.layers == (
        sg_layer("state.json", 77, CP, Role.CONTROL_PLANE, (world, api, trustd)),
        sg_layer("state.json", 149, W, Role.WORKER, (inline,)),
    )
    instance = "module.compute.aws_instance.control_plane"
    assert c.node_groups == (
        NodeGroup(
            id=instance,
            name=instance,
            role=Role.CONTROL_PLANE,
            role_reason=f"tag Role=controlplane on {instance}[0] (state.json:47)",
            source=SourceRef("state.json", 47, 47, f"{instance}[0]"),
            addresses=AddressSet.parse("10.0.10.5/32"),
            address_reason=f"private_ip of {instance}[0]",
            labels=frozenset({CP}),
            layers=(CP,),
            segment="module.network.aws_subnet.private[0]",
            origin="aws_instance",
        ),
        stand_in("state.json", 149, W, Role.WORKER),
    )
    assert c.segments == (
        Segment(
            "module.network.aws_subnet.private[0]",
            "talos-prod-talos-private-eu-west-1a",
            AddressSet.parse("10.0.10.0/24"),
            SourceRef("state.json", 195, 195, "module.network.aws_subnet.private[0]"),
        ),
    )
    # ipv6_cidr_block = "" (not set, as the provider stores it) is not a bad CIDR.
    assert c.problems == ()
    assert c.facts == () and c.admin == ()


def test_state_ids_become_references() -> None:
    config = read_plan((DATA / "state.json").read_text(), "state.json")
    by = {r.address: r for r in config.resources}
    assert by[TRUSTD].body.attrs["security_group_id"] == Ref(CP, "id")
    assert by[TRUSTD].body.attrs["referenced_security_group_id"] == Ref(W, "id")
    instance = by["module.compute.aws_instance.control_plane[0]"]
    assert instance.body.attrs["vpc_security_group_ids"] == [Ref(CP, "id")]
    assert instance.body.attrs["subnet_id"] == Ref("module.network.aws_subnet.private[0]", "id")
    assert instance.key == 0
    # A resource's own id stays its id; an id of nothing in the file stays a string.
    assert by[CP].body.attrs["id"] == "sg-0a1b2c3d4e5f60001"
    assert by[VPC].body.attrs["default_security_group_id"] == "sg-0a1b2c3d4e5f6ffff"
    assert by[W].body.blocks[0].attrs["security_groups"] == [Ref(CP, "id")]


def test_state_cli_finding_at_the_address_line() -> None:
    code, findings = scan_findings("state.json", "--check", "TA0,TA2")
    assert code == 1
    assert [(rule, path, line) for rule, path, line, _ in findings] == [("TA201", "state.json", 15)]
    assert "0.0.0.0/0" in findings[0][3] and WORLD in findings[0][3]


def test_discover_classifies_both_files() -> None:
    files, problems = discover([DATA], DATA)
    assert [(f.rel, f.kind) for f in files] == [
        ("plan.json", "terraform-plan"),
        ("state.json", "terraform-plan"),
    ]
    assert problems == []


# --- bad input ----------------------------------------------------------------------------------


def only_problem(config: TerraformConfig) -> TerraformProblem:
    assert config.resources == ()
    [problem] = config.problems
    return problem


def test_truncated_json_is_ta001_not_a_traceback() -> None:
    text = (DATA / "plan.json").read_text()
    problem = only_problem(read_plan(text[: len(text) // 2], "cut.json"))
    assert problem.kind == "unreadable"
    assert problem.message == "JSON ends before the document is complete (the file is truncated)"
    assert problem.lines.path == "cut.json"


def test_invalid_json_names_line_and_column() -> None:
    problem = only_problem(read_plan('{\n  "format_version": "1.2",\n  "values": {,}\n}\n', "bad.json"))
    assert problem.kind == "unreadable"
    assert (
        problem.message
        == "not valid JSON: Expecting property name enclosed in double quotes (line 3 column 14)"
    )
    assert problem.lines == Lines("bad.json", 3, 3)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format_version": "2.0", "values": {"root_module": {}}}, "format_version 2.0 is not supported"),
        ({"values": {"root_module": {}}}, "no format_version"),
        ({"format_version": "1.0", "values": {}}, "without values.root_module: nothing to read"),
        ({"format_version": "1.2", "planned_values": []}, "without planned_values: nothing to read"),
    ],
)
def test_wrong_version_or_missing_sections(doc: dict[str, Any], message: str) -> None:
    problem = only_problem(read_plan(json.dumps(doc), "x.json"))
    assert problem.kind == "unreadable"
    assert message in problem.message


def test_top_level_list_is_ta001() -> None:
    problem = only_problem(read_plan("[1, 2]", "x.json"))
    assert problem.message == "not a terraform show -json document (the top level is not an object)"


def test_bad_input_through_the_collector_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": "1.2", "planned_values": {"root_module": {"resources": [')
    c = collect([InputFile(path, "plan.json", "terraform-plan")], tmp_path, CollectOptions())
    assert c.problems == (
        Problem(
            "unreadable",
            "JSON ends before the document is complete (the file is truncated)",
            SourceRef("plan.json", 1, 1, "input:plan.json"),
            key="input:plan.json",
        ),
    )
    assert c.layers == () and c.files == ("plan.json",)


def test_malformed_resource_is_skipped_with_ta001_the_rest_is_read() -> None:
    doc = {
        "format_version": "1.0",
        "values": {
            "root_module": {
                "resources": [
                    {"address": "aws_vpc.x", "mode": "managed", "name": "x"},
                    resource("aws_vpc.main", "aws_vpc", {"cidr_block": "10.0.0.0/16"}),
                ]
            }
        },
    }
    config = read_plan(json.dumps(doc, indent=2), "s.json")
    assert [r.address for r in config.resources] == ["aws_vpc.main"]
    [problem] = config.problems
    assert problem.kind == "unreadable"
    assert problem.message == (
        "values.root_module.resources.0: a resource without address, mode, type or name; it is skipped"
    )
    assert problem.lines == Lines("s.json", 6, 10)  # the object that is skipped


# --- unknown values and references ------------------------------------------------------------


def resource(address: str, type_: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    name = address.split("[", maxsplit=1)[0].rsplit(".", maxsplit=1)[-1]
    return {"address": address, "mode": "managed", "type": type_, "name": name, **extra, "values": values}


def change(address: str, after_unknown: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "change": {"actions": ["create"], "after_unknown": after_unknown}}


def configured(type_: str, name: str, expressions: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": f"{type_}.{name}",
        "mode": "managed",
        "type": type_,
        "name": name,
        "expressions": expressions,
    }


def refs(*names: str) -> dict[str, Any]:
    return {"references": list(names)}


def plan(resources: list[Any], changes: list[Any], config: list[Any], **extra: Any) -> str:
    doc = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": resources}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}},
        **extra,
    }
    return json.dumps(doc, indent=2)


SG_VALUES = {"name": "cp", "tags": {"NodeType": "control-plane"}}
RULE_VALUES = {"cidr_ipv4": "0.0.0.0/0", "from_port": 50000, "to_port": 50000, "ip_protocol": "tcp"}


def test_reference_to_a_variable_stays_unknown_and_is_ta002() -> None:
    text = plan(
        [resource("aws_vpc_security_group_ingress_rule.r", VPC_RULE, RULE_VALUES)],
        [change("aws_vpc_security_group_ingress_rule.r", {"security_group_id": True})],
        [configured(VPC_RULE, "r", {"security_group_id": refs("var.sg_id")})],
    )
    config = read_plan(text, "p.json")
    [rule] = config.resources
    value = rule.body.attrs["security_group_id"]
    assert value == Unknown(
        "aws_vpc_security_group_ingress_rule.r.security_group_id", "known only after apply"
    )
    assert isinstance(value, Unknown) and value.origin == "var.sg_id"
    c = collection_from_config(config)
    [problem] = c.problems
    assert problem.kind == "unresolved"
    assert problem.message == (
        "aws_vpc_security_group_ingress_rule.r: security_group_id = "
        "aws_vpc_security_group_ingress_rule.r.security_group_id could not be resolved: "
        "known only after apply (var.sg_id)"
    )
    assert problem.source == SourceRef("p.json", 7, 7, "aws_vpc_security_group_ingress_rule.r")
    [layer] = c.layers
    assert layer.id == "unresolved:aws_vpc_security_group_ingress_rule.r.security_group_id"
    assert layer.rules[0].unresolved == (
        Unresolved(
            "security_group_id",
            "aws_vpc_security_group_ingress_rule.r.security_group_id",
            "known only after apply (var.sg_id)",
        ),
    )


def test_inline_rules_with_one_unknown_group_are_linked_by_references() -> None:
    ingress = [
        {
            "from_port": 22,
            "to_port": 22,
            "protocol": "tcp",
            "cidr_blocks": ["10.0.0.0/8"],
            "security_groups": [],
        },
        {"from_port": 6443, "to_port": 6443, "protocol": "tcp", "cidr_blocks": []},
    ]
    text = plan(
        [
            resource("aws_security_group.lb", "aws_security_group", {"name": "lb"}),
            resource("aws_security_group.cp", "aws_security_group", {**SG_VALUES, "ingress": ingress}),
        ],
        [
            change("aws_security_group.lb", {"id": True, "ingress": True, "egress": True}),
            change(
                "aws_security_group.cp",
                {
                    "id": True,
                    "egress": True,
                    "ingress": [{"cidr_blocks": [False]}, {"security_groups": True}],
                },
            ),
        ],
        [
            configured("aws_security_group", "lb", {"name": {"constant_value": "lb"}}),
            configured(
                "aws_security_group",
                "cp",
                {"ingress": refs("aws_security_group.lb.id", "aws_security_group.lb")},
            ),
        ],
    )
    config = read_plan(text, "p.json")
    cp = config.resources[1]
    first, second = cp.body.blocks
    assert (first.type, first.attrs["security_groups"], first.lines) == (
        "ingress",
        [],
        Lines("p.json", 26, 34),
    )
    assert second.attrs["security_groups"] == [Ref("aws_security_group.lb", "id")]
    assert second.line_of("from_port") == Lines("p.json", 36, 36)
    assert "ingress" not in cp.body.attrs
    # The lb group's computed ingress (no inline rules configured) is not an unknown.
    assert config.problems == ()


def test_inline_rules_with_two_unknown_groups_stay_unknown() -> None:
    ingress = [
        {"from_port": 1, "to_port": 1, "protocol": "tcp"},
        {"from_port": 2, "to_port": 2, "protocol": "tcp"},
    ]
    text = plan(
        [
            resource("aws_security_group.a", "aws_security_group", {"name": "a"}),
            resource("aws_security_group.b", "aws_security_group", {"name": "b"}),
            resource("aws_security_group.cp", "aws_security_group", {**SG_VALUES, "ingress": ingress}),
        ],
        [
            change("aws_security_group.a", {"id": True}),
            change("aws_security_group.b", {"id": True}),
            change(
                "aws_security_group.cp", {"ingress": [{"security_groups": True}, {"security_groups": True}]}
            ),
        ],
        [
            configured("aws_security_group", "a", {}),
            configured("aws_security_group", "b", {}),
            configured(
                "aws_security_group",
                "cp",
                {"ingress": refs("aws_security_group.a.id", "aws_security_group.b.id")},
            ),
        ],
    )
    cp = read_plan(text, "p.json").resources[2]
    # Which block names which group is not in the plan: both stay unknown (TA002 later).
    assert [b.attrs["security_groups"] for b in cp.body.blocks] == [
        Unknown("aws_security_group.cp.ingress[0].security_groups", "known only after apply"),
        Unknown("aws_security_group.cp.ingress[1].security_groups", "known only after apply"),
    ]


def test_unknown_inline_rules_that_the_configuration_writes_are_ta002() -> None:
    text = plan(
        [resource("aws_security_group.cp", "aws_security_group", SG_VALUES)],
        [change("aws_security_group.cp", {"ingress": True, "egress": True})],
        [configured("aws_security_group", "cp", {"ingress": refs("var.rules")})],
    )
    config = read_plan(text, "p.json")
    assert config.problems == (
        TerraformProblem(
            "unresolved",
            "aws_security_group.cp: its inline ingress rules are known only after apply; they are not "
            "audited (scan the .tf files)",
            Lines("p.json", 7, 7),
            key="aws_security_group.cp:ingress",
        ),
    )
    assert config.resources[0].body.blocks == ()


def test_launch_template_blocks_and_for_each_instance_reference() -> None:
    nic = {"security_groups": None, "subnet_id": None}
    text = plan(
        [
            resource('aws_security_group.sg["cp"]', "aws_security_group", {"name": "cp"}, index="cp"),
            resource('aws_security_group.sg["w"]', "aws_security_group", {"name": "w"}, index="w"),
            resource(
                'aws_launch_template.lt["cp"]',
                "aws_launch_template",
                {
                    "name": "cp",
                    "network_interfaces": [nic],
                    "tag_specifications": [{"resource_type": "instance"}],
                },
                index="cp",
            ),
        ],
        [
            change('aws_security_group.sg["cp"]', {"id": True}),
            change('aws_security_group.sg["w"]', {"id": True}),
            change('aws_launch_template.lt["cp"]', {"network_interfaces": [{"security_groups": True}]}),
        ],
        [
            configured("aws_security_group", "sg", {}),
            configured(
                "aws_launch_template",
                "lt",
                {"network_interfaces": [{"security_groups": refs("aws_security_group.sg", "each.key")}]},
            ),
        ],
    )
    lt = read_plan(text, "p.json").resources[2]
    nics = lt.body.blocks_of("network_interfaces")
    assert [b.attrs["security_groups"] for b in nics] == [[Ref('aws_security_group.sg["cp"]', "id")]]
    assert nics[0].lines == Lines("p.json", 35, 38)
    assert [b.attrs for b in lt.body.blocks_of("tag_specifications")] == [{"resource_type": "instance"}]
    assert lt.key == "cp"


def test_partly_known_list_takes_the_unknown_targets_in_order() -> None:
    text = plan(
        [
            resource(
                "aws_security_group.old", "aws_security_group", {"name": "old", "id": "sg-00000000000000001"}
            ),
            resource("aws_security_group.new", "aws_security_group", {"name": "new"}),
            resource(
                "aws_instance.cp", "aws_instance", {"vpc_security_group_ids": ["sg-00000000000000001", None]}
            ),
        ],
        [
            change("aws_security_group.new", {"id": True}),
            change("aws_instance.cp", {"vpc_security_group_ids": [False, True]}),
        ],
        [
            configured(
                "aws_instance",
                "cp",
                {"vpc_security_group_ids": refs("aws_security_group.old.id", "aws_security_group.new.id")},
            )
        ],
    )
    instance = read_plan(text, "p.json").resources[2]
    # The known id of the existing group is linked to it like a state's.
    assert instance.body.attrs["vpc_security_group_ids"] == [
        Ref("aws_security_group.old", "id"),
        Ref("aws_security_group.new", "id"),
    ]


def test_account_qualified_group_id_is_linked() -> None:
    doc = {
        "format_version": "1.0",
        "values": {
            "root_module": {
                "resources": [
                    resource("aws_security_group.w", "aws_security_group", {"id": "sg-2f1494cdc3ce39ed3"}),
                    resource(
                        "aws_vpc_security_group_ingress_rule.r",
                        VPC_RULE,
                        {
                            "security_group_id": "sg-2f1494cdc3ce39ed3",
                            "referenced_security_group_id": "123456789012/sg-2f1494cdc3ce39ed3",
                        },
                    ),
                ]
            }
        },
    }
    rule = read_plan(json.dumps(doc), "s.json").resources[1]
    assert rule.body.attrs["referenced_security_group_id"] == Ref("aws_security_group.w", "id")


def test_errored_plan_is_ta002_and_single_line_json_points_at_line_1() -> None:
    text = json.dumps(
        {
            "format_version": "1.2",
            "planned_values": {"root_module": {"resources": [resource("aws_vpc.main", "aws_vpc", {})]}},
            "errored": True,
        }
    )
    config = read_plan(text, "p.json")
    assert config.problems == (
        TerraformProblem(
            "unresolved",
            "the plan was saved from a terraform plan that failed (errored: true); resources it did not plan "
            "are not audited",
            Lines("p.json", 1, 1),
            key="plan:p.json:errored",
        ),
    )
    assert config.resources[0].lines == Lines("p.json", 1, 1)


def test_data_sources_come_from_the_prior_state() -> None:
    data = {
        "address": "data.aws_security_group.bastion",
        "mode": "data",
        "type": "aws_security_group",
        "name": "bastion",
        "values": {"id": "sg-0b0b0b0b0b0b0b0b0"},
    }
    text = plan(
        [resource("aws_vpc_security_group_ingress_rule.r", VPC_RULE, RULE_VALUES)],
        [change("aws_vpc_security_group_ingress_rule.r", {"referenced_security_group_id": True})],
        [
            configured(
                VPC_RULE, "r", {"referenced_security_group_id": refs("data.aws_security_group.bastion.id")}
            )
        ],
        prior_state={"format_version": "1.0", "values": {"root_module": {"resources": [data]}}},
    )
    config = read_plan(text, "p.json")
    assert [r.address for r in config.resources] == [
        "aws_vpc_security_group_ingress_rule.r",
        "data.aws_security_group.bastion",
    ]
    rule = config.resources[0]
    assert rule.body.attrs["referenced_security_group_id"] == Ref("data.aws_security_group.bastion", "id")


# --- any structure: a problem or a collection, never a traceback --------------------------------

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 70000)
    | st.sampled_from(["", "x", "tcp", "-1", "0.0.0.0/0", CP]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["references", "id", "a"]), inner)
    ),
    max_leaves=6,
)


def json_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        found += json_paths(v, (*path, k))
    return found


def node_at(doc: Any, path: list[Any]) -> Any:
    for step in path:
        in_dict = isinstance(doc, dict) and step in doc
        if not in_dict and not (isinstance(doc, list) and isinstance(step, int) and step < len(doc)):
            return None
        doc = doc[step]
    return doc


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mutated_documents_never_raise(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["plan.json", "state.json"]))
    doc = json.loads((DATA / name).read_text())
    paths = json_paths(doc)[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        *parent, last = data.draw(st.sampled_from(paths))
        node = node_at(doc, parent)  # an earlier change may have replaced an ancestor
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int) and last < len(node)):
            node[last] = data.draw(JUNK)
    config = read_plan(json.dumps(doc, indent=2), name)
    assert config.files == (name,)
    assert collection_from_config(config).files == (name,)
