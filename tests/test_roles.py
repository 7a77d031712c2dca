"""Role inference shared by the Terraform and live AWS collectors."""

from __future__ import annotations

import pytest

from talosaudit.collectors.roles import (
    RoleAssignment,
    RoleHints,
    RoleSubject,
    admits_cluster_traffic,
    infer_role,
    name_tokens,
    role_from_attachment,
    role_from_groups,
    role_in_name,
)
from talosaudit.model import (
    ALL_PORTS,
    IPIP,
    TCP,
    UDP,
    Action,
    AddressSet,
    Direction,
    Peer,
    PortSet,
    Role,
    Rule,
    SourceRef,
)
from talosaudit.model.ports import NodePorts
from talosaudit.policies.node_ports import node_ports
from talosaudit.policies.registry import load_catalogue

CP, W = Role.CONTROL_PLANE, Role.WORKER


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dev-talos-control-plane-sg", (CP, "control-plane")),
        ("controlplane", (CP, "controlplane")),
        ("control_plane", (CP, "control-plane")),
        ("talos-cp-1", (CP, "cp")),
        ("ControlPlaneNodes", (CP, "control-plane")),
        ("k8s-masters", (CP, "masters")),
        ("workers", (W, "workers")),
        ("talos-worker-sg", (W, "worker")),
        ("node", (W, "node")),
        ("vpcpeer", None),
        ("bastion", None),
        ("cp-to-worker", None),
        ("nodes", None),
    ],
)
def test_role_in_name_matches_whole_words(name: str, expected: tuple[Role, str] | None) -> None:
    assert role_in_name(name) == expected


def test_name_tokens_split_camel_case_separators_and_digits() -> None:
    assert name_tokens("talosCP-worker_2a") == ["talos", "cp", "worker", "2", "a"]


def test_tag_reason_names_key_value_identity_and_location() -> None:
    subject = RoleSubject(
        "module.network.aws_security_group.control_plane",
        names=(("resource name", "control_plane"),),
        tags=(("Name", "dev-talos-control-plane-sg"), ("NodeType", "control-plane")),
        where="modules/network/security_groups.tf:1",
    )
    assert infer_role(subject) == RoleAssignment(
        CP,
        "tag NodeType=control-plane on module.network.aws_security_group.control_plane "
        "(modules/network/security_groups.tf:1)",
        "tag",
    )


def test_tags_win_over_names() -> None:
    subject = RoleSubject(
        "aws_security_group.cp", names=(("resource name", "cp"),), tags=(("role", "worker"),)
    )
    found = infer_role(subject)
    assert found is not None
    assert (found.role, found.basis) == (W, "tag")


def test_node_role_kubernetes_io_key_suffix() -> None:
    subject = RoleSubject("aws_instance.x", tags=(("node-role.kubernetes.io/master", ""),))
    found = infer_role(subject)
    assert found == RoleAssignment(CP, "tag node-role.kubernetes.io/master on aws_instance.x", "tag")


def test_unknown_tag_value_falls_through_to_names() -> None:
    subject = RoleSubject(
        "aws_instance.worker",
        names=(("resource name", "worker"),),
        tags=(("Role", "database"),),
        where="a.tf:3",
    )
    assert infer_role(subject) == RoleAssignment(
        W, "resource name 'worker' of aws_instance.worker contains 'worker' (a.tf:3)", "name"
    )


def test_hints_come_first_by_address_glob_name_and_cidr() -> None:
    hints = RoleHints(
        by_address=(("aws_security_group.infra*", CP),),
        by_name=(("*-ctl-*", CP),),
        by_cidr=((AddressSet.parse("10.0.1.0/24"), W),),
        origin=".talosaudit.yaml",
    )
    tagged = RoleSubject("module.net.aws_security_group.infra_a", tags=(("NodeType", "worker"),))
    assert infer_role(tagged, hints) == RoleAssignment(
        CP,
        ".talosaudit.yaml nodes: address 'aws_security_group.infra*' matches "
        "module.net.aws_security_group.infra_a",
        "hint",
    )
    named = RoleSubject("aws_instance.a[0]", names=(("tag Name", "prod-CTL-1"),), where="c.tf:9")
    found = infer_role(named, hints)
    assert found is not None
    assert found.reason == (
        ".talosaudit.yaml nodes: name pattern '*-ctl-*' matches tag Name 'prod-CTL-1' of aws_instance.a[0] "
        "(c.tf:9)"
    )
    placed = RoleSubject("aws_instance.b[1]", addresses=AddressSet.parse("10.0.1.7"))
    found = infer_role(placed, hints)
    assert found is not None
    assert (found.role, found.basis) == (W, "hint")
    outside = RoleSubject("aws_instance.c", addresses=AddressSet.parse("10.0.2.7"))
    assert infer_role(outside, hints) is None


def test_address_hint_matches_without_instance_key_and_module() -> None:
    hints = RoleHints(by_address=(("aws_instance.cp", CP),))
    found = infer_role(RoleSubject("module.compute.aws_instance.cp[2]"), hints)
    assert found is not None and found.role is CP
    assert infer_role(RoleSubject("module.compute.aws_instance.cpx[2]"), hints) is None


def test_attachment_needs_exactly_one_role() -> None:
    carriers = [
        ("aws_instance.cp[0]", CP, "c.tf:1"),
        ("aws_instance.cp[1]", CP, "c.tf:1"),
        ("aws_instance.x", None, ""),
    ]
    assert role_from_attachment("aws_security_group.shared", carriers) == RoleAssignment(
        CP,
        "aws_security_group.shared is attached only to control-plane nodes: aws_instance.cp[0] (c.tf:1), "
        "aws_instance.cp[1] (c.tf:1)",
        "attachment",
    )
    mixed = [*carriers, ("aws_instance.w", W, "c.tf:5")]
    assert role_from_attachment("aws_security_group.shared", mixed) is None
    assert role_from_attachment("aws_security_group.shared", []) is None


def test_machine_takes_the_single_role_of_its_groups() -> None:
    sg_role = RoleAssignment(W, "tag NodeType=worker on aws_security_group.w", "tag")
    found = role_from_groups(
        "aws_instance.x", {"aws_security_group.w": sg_role, "aws_security_group.common": None}
    )
    assert found == RoleAssignment(
        W,
        "aws_instance.x carries security group aws_security_group.w, which is worker: "
        "tag NodeType=worker on aws_security_group.w",
        "attachment",
    )


def _ingress(protocol: int | None, ports: PortSet) -> Rule:
    return Rule(Action.ALLOW, Direction.INGRESS, protocol, ports, Peer(), SourceRef("a.tf"))


def test_cluster_traffic_detection_reads_the_ports_of_the_policy_files() -> None:
    served = node_ports(load_catalogue())
    assert served.by_protocol == (
        (IPIP, ALL_PORTS),
        (
            TCP,
            PortSet.parse("179,2379-2381,2383,4240,4244,5473,6443,10250,10257,10259,30000-32767,50000-50001"),
        ),
        (UDP, PortSet.parse("4789,6081,8472,30000-32767,51820,51871")),
    )
    assert admits_cluster_traffic(_ingress(TCP, PortSet.single(50000)), served)
    assert admits_cluster_traffic(_ingress(UDP, PortSet.single(6081)), served)
    assert admits_cluster_traffic(_ingress(None, ALL_PORTS), served)
    assert admits_cluster_traffic(_ingress(TCP, PortSet.range(30000, 30010)), served)
    assert admits_cluster_traffic(_ingress(IPIP, ALL_PORTS), served)
    assert not admits_cluster_traffic(_ingress(TCP, PortSet.single(22)), served)
    assert not admits_cluster_traffic(_ingress(TCP, PortSet.single(443)), served)
    assert not admits_cluster_traffic(_ingress(1, ALL_PORTS), served)
    # Without ports from the policy files only an all-protocol rule says "node".
    assert not admits_cluster_traffic(_ingress(TCP, PortSet.single(50000)), NodePorts())
