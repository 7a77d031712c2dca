"""bpg/proxmox and Telmate/proxmox resources: end to end from .tf, and hand-built corners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talosaudit.collectors.discover import discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.proxmox.terraform import map_proxmox, resource_kind
from talosaudit.collectors.terraform import load_config
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    Ref,
    ResourceInstance,
    TerraformConfig,
    Unknown,
)
from talosaudit.model import AddressSet, Collection, PortSet, Role, merge
from talosaudit.model.ports import TCP
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.registry import load_catalogue

DATA = Path(__file__).resolve().parent / "data" / "proxmox"


def _tf(name: str) -> Collection:
    root = DATA / name
    files, _ = discover([root], root)
    return map_proxmox(load_config(files, root, CollectOptions(jobs=1)))


def _problems(collection: Collection) -> list[tuple[str, str, str]]:
    return [(p.kind, str(p.source), p.message) for p in collection.problems]


def test_resource_names_old_and_new() -> None:
    assert resource_kind("proxmox_virtual_environment_vm") == "vm"
    assert resource_kind("proxmox_vm") == "vm"
    assert resource_kind("proxmox_firewall_options") == "firewall_options"
    assert resource_kind("proxmox_virtual_environment_cluster_firewall_security_group") == (
        "cluster_firewall_security_group"
    )
    assert resource_kind("proxmox_vm_qemu") == "telmate_vm"
    assert resource_kind("proxmox_lxc") == "telmate_lxc"
    assert resource_kind("proxmox_virtual_environment_download_file") is None


def test_bpg_vm_firewall_on_without_rules_is_ta401_at_the_tf() -> None:
    collection = _tf("tf-bpg")
    found = evaluate(merge([collection]), load_catalogue(), EvalSettings(enabled={"TA401"}))
    assert [(f.rule_id, str(f.location), f.message) for f in found] == [
        (
            "TA401",
            "main.tf:20",
            "vm 101 (talos-cp-1) is a control-plane node whose Proxmox firewall on net0 is active (VM and "
            "NIC; the datacenter firewall is assumed on) but no IN rule accepts any of its required ports "
            "(tcp/6443, tcp/50000, tcp/50001, tcp/2379-2380, tcp/10250, udp/4789); policy_in DROP drops "
            "them all: bootstrap will fail",
        ),
    ]
    assert _problems(collection) == [
        (
            "unresolved",
            "main.tf:15",
            "no proxmox_virtual_environment_cluster_firewall resource in the configuration: the "
            "datacenter firewall state is unknown; assuming it is enabled for vm 101 (talos-cp-1) net0, "
            "whose VM and NIC firewalls are on",
        ),
    ]
    layer = collection.layers[0]
    assert (layer.id, layer.enabled, layer.attribute("vlan")) == (
        "proxmox:proxmox_virtual_environment_vm.talos_cp/net0",
        True,
        "30",
    )
    group = collection.attachments[0].fallback
    assert group is not None
    assert (group.role, group.addresses, group.segment, group.address_reason) == (
        Role.CONTROL_PLANE,
        AddressSet.parse("10.0.30.11"),
        "proxmox:vmbr0.30",
        "10.0.30.11/24 from initialization ip_config main.tf:28",
    )


def test_telmate_firewall_false_is_clean_for_ta401() -> None:
    collection = _tf("tf-telmate")
    assert [p.kind for p in collection.problems] == [
        "unresolved"
    ]  # old_style net1 firewall=true, state unknown
    assert collection.problems[0].message.startswith(
        "firewall=1 on vm proxmox_vm_qemu.old_style (talos-worker-2) net1, but no Proxmox firewall files"
    )
    layers = {lay.id: lay for lay in collection.layers}
    worker = layers["proxmox:proxmox_vm_qemu.talos_worker/net0"]
    assert (
        worker.enabled,
        worker.attribute("nic_firewall"),
        worker.attribute("vlan"),
        str(worker.source),
    ) == (
        False,
        "off",
        "30",
        "main.tf:15",
    )
    # the old form without id: block order gives net0, net1; ipconfig1 belongs to net1
    old = [(lay.id, lay.attribute("bridge"), lay.attribute("nic_firewall")) for lay in collection.layers[1:]]
    assert old == [
        ("proxmox:proxmox_vm_qemu.old_style/net0", "vmbr0", "off"),
        ("proxmox:proxmox_vm_qemu.old_style/net1", "vmbr1", "on"),
    ]
    assert [(a.layer_id, a.addresses) for a in collection.attachments] == [
        ("proxmox:proxmox_vm_qemu.talos_worker/net0", AddressSet.parse("10.0.30.21")),
        ("proxmox:proxmox_vm_qemu.old_style/net0", AddressSet.parse("10.0.31.22")),
    ]


# --- hand-built resources for the corners ----------------------------------------------


def _block(kind: str, attrs: dict[str, Any], line: int, blocks: tuple[Block, ...] = ()) -> Block:
    lines = Lines("proxmox.tf", line, line + 5)
    attr_lines = {k: Lines("proxmox.tf", line + 1 + i, line + 1 + i) for i, k in enumerate(attrs)}
    return Block(kind, (), attrs, attr_lines, blocks, lines)


def _resource(
    rtype: str, name: str, attrs: dict[str, Any], line: int, blocks: tuple[Block, ...] = ()
) -> ResourceInstance:
    body = _block("resource", attrs, line, blocks)
    return ResourceInstance("managed", rtype, name, f"{rtype}.{name}", "", None, body)


def _vm(name: str, vm_name: str, firewall: Any, line: int, ip: str) -> ResourceInstance:
    nic = _block("network_device", {"bridge": "vmbr0", "firewall": firewall}, line + 3)
    init = _block(
        "initialization",
        {},
        line + 6,
        (_block("ip_config", {}, line + 7, (_block("ipv4", {"address": ip}, line + 8),)),),
    )
    return _resource("proxmox_virtual_environment_vm", name, {"name": vm_name}, line, (nic, init))


def test_rules_security_groups_ipsets_aliases_and_cluster_off() -> None:
    vm_ref = Ref("proxmox_virtual_environment_vm.cp", "vm_id")
    group = _resource(
        "proxmox_virtual_environment_cluster_firewall_security_group",
        "talos",
        {"name": "Talos-CP"},
        100,
        (
            _block(
                "rule",
                {
                    "type": "in",
                    "action": "ACCEPT",
                    "proto": "tcp",
                    "dport": "6443,50000:50001",
                    "source": "+dc/admins",
                },
                103,
            ),
        ),
    )
    resources = (
        _vm("cp", "talos-cp-1", True, 1, "10.0.30.11/24"),
        _resource("proxmox_virtual_environment_cluster_firewall", "dc", {"enabled": False}, 40),
        group,
        _resource(
            "proxmox_virtual_environment_firewall_ipset",
            "admins",
            {"name": "admins"},
            60,
            (
                _block("cidr", {"name": "10.0.10.0/24"}, 62),
                _block("cidr", {"name": "10.0.10.99", "nomatch": True}, 64),
            ),
        ),
        _resource(
            "proxmox_firewall_alias", "k8s", {"name": "k8s", "cidr": "10.0.30.0/24", "vm_id": vm_ref}, 70
        ),
        _resource(
            "proxmox_virtual_environment_firewall_options", "cp", {"vm_id": vm_ref, "enabled": True}, 80
        ),
        _resource(
            "proxmox_virtual_environment_firewall_rules",
            "cp",
            {"vm_id": vm_ref},
            90,
            (
                _block("rule", {"security_group": Ref(group.address, "name"), "iface": "net0"}, 92),
                _block("rule", {"type": "in", "action": "ACCEPT", "macro": "SSH", "enabled": False}, 94),
                _block("rule", {"type": "in", "action": "ACCEPT", "dport": "10250"}, 96),
                _block(
                    "rule",
                    {
                        "type": "in",
                        "action": "ACCEPT",
                        "proto": "tcp",
                        "dport": Unknown("var.port", "no value"),
                        "source": "k8s",
                    },
                    98,
                ),
            ),
        ),
    )
    collection = map_proxmox(TerraformConfig(resources=resources))
    assert _problems(collection) == [
        ("unresolved", "proxmox.tf:96", "rule dropped by Proxmox: -dport needs -p"),
        (
            "unresolved",
            "proxmox.tf:102",
            "proxmox_virtual_environment_firewall_rules.cp: dport = var.port: no value",
        ),
    ]
    # The collector records the switches; the TA402 policy decides and words it.
    found = evaluate(merge([collection]), load_catalogue(), EvalSettings(enabled={"TA402"}))
    assert [(f.rule_id, str(f.location), f.message) for f in found] == [
        (
            "TA402",
            "proxmox.tf:4",
            "vm proxmox_virtual_environment_vm.cp (talos-cp-1): net0 has firewall=1 and 3 rules exist, "
            "but the datacenter firewall is off (proxmox_virtual_environment_cluster_firewall enable: 0): "
            "the rules the user relies on are not applied",
        ),
    ]
    layer = collection.layers[0]
    assert layer.enabled is False
    got = [
        (r.source.start_line, r.enabled, r.describe(), [u.field for u in r.unresolved]) for r in layer.rules
    ]
    assert got == [
        (
            103,
            True,
            "allow tcp/6443,50000-50001 from +dc/admins (10.0.10.0/26, 10.0.10.64/27, 10.0.10.96/31, "
            "10.0.10.98/32 and 4 more)",
            [],
        ),
        (94, False, "allow tcp/22 from 0.0.0.0/0, ::/0", []),
        (98, True, "allow tcp/all from k8s (10.0.30.0/24)", ["dport"]),
    ]
    assert layer.rules[0].peer.addresses == AddressSet.parse("10.0.10.0/24") - AddressSet.parse("10.0.10.99")
    assert layer.rules[0].key == (
        "proxmox_virtual_environment_firewall_rules.cp.rule[0]>"
        "proxmox_virtual_environment_cluster_firewall_security_group.talos.rule[0]"
    )


def test_unknown_firewall_flag_and_undefined_names_are_unresolved() -> None:
    resources = (
        _vm("w", "talos-worker-1", Unknown("var.fw", "no value"), 1, "10.0.30.21/24"),
        _vm("w2", "talos-worker-2", True, 20, "10.0.30.22/24"),
        _resource(
            "proxmox_virtual_environment_firewall_options",
            "w2",
            {"vm_id": Ref("proxmox_virtual_environment_vm.w2", "vm_id"), "enabled": True},
            40,
        ),
        _resource(
            "proxmox_virtual_environment_firewall_rules",
            "w2",
            {"vm_id": Ref("proxmox_virtual_environment_vm.w2", "id")},
            50,
            (
                _block("rule", {"security_group": "made-in-the-ui"}, 52),
                _block(
                    "rule",
                    {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "50000", "source": "+ui_set"},
                    54,
                ),
            ),
        ),
    )
    collection = map_proxmox(TerraformConfig(resources=resources))
    messages = _problems(collection)
    assert messages[0] == (
        "unresolved",
        "proxmox.tf:6",
        "proxmox_virtual_environment_vm.w: firewall = var.fw: no value",
    )
    assert (
        "unresolved",
        "proxmox.tf:52",
        "security group 'made-in-the-ui' is not defined in the configuration (it may be managed elsewhere)",
    ) in messages
    assert (
        "unresolved",
        "proxmox.tf:54",
        "-source +ui_set: ipset ui_set is not defined in the configuration (it may be managed elsewhere)",
    ) in messages
    assert not any(rule == "TA401" for rule, _, _ in messages)  # the unresolved rules may let ports in
    layers = {lay.id: lay for lay in collection.layers}
    assert layers["proxmox:proxmox_virtual_environment_vm.w/net0"].attribute("nic_firewall") == "unknown"
    assert layers["proxmox:proxmox_virtual_environment_vm.w/net0"].enabled is False
    w2 = layers["proxmox:proxmox_virtual_environment_vm.w2/net0"]
    assert w2.enabled is True
    assert [(r.protocol, r.ports, [u.field for u in r.unresolved]) for r in w2.rules] == [
        (None, PortSet.range(0, 65535), ["group"]),
        (TCP, PortSet.single(50000), ["source"]),
    ]
