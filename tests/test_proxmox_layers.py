"""The Proxmox collector end to end on export trees: activation, TA401, TA402, TA003, JSON."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from talosaudit.collectors.discover import InputFile, discover
from talosaudit.collectors.proxmox import collect, looks_like_proxmox_json
from talosaudit.collectors.proxmox.conf import parse_guest_config
from talosaudit.collectors.proxmox.firewall import parse_firewall
from talosaudit.collectors.proxmox.layers import Inventory, build
from talosaudit.model import Action, AddressSet, Collection, Role, merge
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.registry import load_catalogue

DATA = Path(__file__).resolve().parent / "data" / "proxmox"
SAMPLES = Path(__file__).resolve().parent / "data" / "samples" / "proxmox"


def _scan(root: Path) -> Collection:
    files, problems = discover([root], root)
    assert problems == []
    seen = {f.rel for f in files}
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root).as_posix()
        if rel not in seen and looks_like_proxmox_json(rel, path.read_text(encoding="utf-8")):
            files.append(InputFile(path, rel, "proxmox-json"))
    return collect(files, root)


def _problems(collection: Collection) -> list[tuple[str, str, str]]:
    return [(p.kind, str(p.source), p.message) for p in collection.problems]


def _platform(collection: Collection, rule: str = "TA401") -> list[tuple[str, str, str]]:
    """The findings of one platform rule (TA401 is decided by its policy, not the collector)."""
    found = evaluate(merge([collection]), load_catalogue(), EvalSettings(enabled={rule}))
    return [(f.rule_id, str(f.location), f.message) for f in found]


def test_good_lab_is_clean_and_well_formed() -> None:
    collection = _scan(DATA / "talos-lab")
    assert collection.problems == ()
    layers = {lay.id: lay for lay in collection.layers}
    assert sorted(layers) == ["proxmox:101/net0", "proxmox:102/net0", "proxmox:102/net1", "proxmox:103/net0"]
    assert [layers[i].enabled for i in sorted(layers)] == [True, True, False, True]
    cp = layers["proxmox:101/net0"]
    # Findings about the rule set point at the VM's firewall file, at its [RULES] section.
    assert (str(cp.source), cp.source.resource) == ("firewall/101.fw:5", "guest:101")
    assert str(layers["proxmox:102/net1"].source) == "firewall/102.fw:4"
    assert cp.attribute("datacenter") == "on: cluster.fw enable: 1"
    assert cp.attribute("vm_firewall") == "on: 101.fw enable: 1"
    assert _platform(collection) == []
    assert (cp.default_ingress, cp.default_egress) == (Action.DENY, Action.ALLOW)
    atts = {a.layer_id: a for a in collection.attachments}
    assert sorted(atts) == ["proxmox:101/net0", "proxmox:102/net0", "proxmox:103/net0"]
    cp_group = atts["proxmox:101/net0"].fallback
    assert cp_group is not None
    assert (cp_group.id, cp_group.role, cp_group.addresses, cp_group.segment, cp_group.layers) == (
        "proxmox:101",
        Role.CONTROL_PLANE,
        AddressSet.parse("10.0.30.11/32"),
        "proxmox:vmbr0.30",
        ("proxmox:101/net0",),
    )
    assert cp_group.count == 1  # a guest is one node: flows from it to itself are not checked
    assert (
        cp_group.role_reason
        == "name 'talos-cp-1' of vm 101 (talos-cp-1) contains 'cp' (qemu-server/101.conf:7)"
    )
    assert cp_group.address_reason == "10.0.30.11/24 from ipconfig0 line 5"
    assert cp_group.origin == "qemu-server config (pending, applies at next start: pending cores: 6)"
    assert atts["proxmox:102/net0"].addresses == AddressSet.parse("10.0.30.21/32")
    assert [s.id for s in collection.segments] == ["proxmox:vmbr0.30", "proxmox:vmbr1"]
    assert collection.segments[0].addresses == AddressSet.parse("10.0.30.0/24")


def test_merge_places_the_vm_group_with_its_layer() -> None:
    model = merge([_scan(DATA / "talos-lab")])
    assert sorted((g.id, g.role, g.layers) for g in model.node_groups) == [
        ("proxmox:101", Role.CONTROL_PLANE, ("proxmox:101/net0",)),
        ("proxmox:102", Role.WORKER, ("proxmox:102/net0",)),
        ("proxmox:103", Role.WORKER, ("proxmox:103/net0",)),
    ]
    assert model.node_network == AddressSet.parse("10.0.30.0/24")


def test_no_rules_is_ta401_at_each_net0_line() -> None:
    collection = _scan(DATA / "no-rules")
    cp_ports = "tcp/6443, tcp/50000, tcp/50001, tcp/2379-2380, tcp/10250, udp/4789"
    w_ports = "tcp/50000, tcp/10250, udp/4789"
    assert _problems(collection) == []
    found = evaluate(merge([collection]), load_catalogue(), EvalSettings(enabled={"TA401"}))
    assert sorted((f.rule_id, str(f.location), f.message) for f in found) == [
        (
            "TA401",
            "qemu-server/101.conf:8",
            "vm 101 (talos-cp-1) is a control-plane node whose Proxmox firewall on net0 is active "
            f"(datacenter, VM and NIC) but no IN rule accepts any of its required ports ({cp_ports}); "
            "policy_in DROP drops them all: bootstrap will fail",
        ),
        (
            "TA401",
            "qemu-server/102.conf:6",
            "vm 102 (talos-worker-1) is a worker node whose Proxmox firewall on net0 is active "
            f"(datacenter, VM and NIC) but no IN rule accepts any of its required ports ({w_ports}); "
            "policy_in DROP drops them all: bootstrap will fail",
        ),
        (
            "TA401",
            "qemu-server/103.conf:6",
            "vm 103 (talos-worker-2) is a worker node whose Proxmox firewall on net0 is active "
            f"(datacenter, VM and NIC) but no IN rule accepts any of its required ports ({w_ports}); "
            "policy_in DROP drops them all: bootstrap will fail",
        ),
    ]
    assert [str(r) for r in found[0].related] == ["firewall/101.fw:1"]
    # The required-flow rules do not report these layers again, one finding per port.
    everything = evaluate(merge([collection]), load_catalogue(), EvalSettings())
    assert [f.rule_id for f in everything if f.rule_id.startswith("TA1")] == []


def test_datacenter_off_is_ta402_not_ta401() -> None:
    collection = _scan(DATA / "dc-off")
    # The collector records the switches; the TA402 policy decides (no collector problem).
    assert _problems(collection) == []
    assert _platform(collection, "TA401") == []
    found = evaluate(merge([collection]), load_catalogue(), EvalSettings(enabled={"TA402"}))
    assert [(f.rule_id, str(f.location)) for f in found] == [
        ("TA402", "qemu-server/101.conf:8"),
        ("TA402", "qemu-server/102.conf:6"),
        ("TA402", "qemu-server/103.conf:6"),
    ]
    assert found[0].message == (
        "vm 101 (talos-cp-1): net0 has firewall=1 and 4 rules exist, but the datacenter firewall is off "
        "(cluster.fw enable: 0): the rules the user relies on are not applied"
    )
    assert [str(r) for r in found[0].related] == ["firewall/cluster.fw:2"]
    assert not any(lay.enabled for lay in collection.layers)


def test_rules_missing_trustd_are_not_ta401() -> None:
    collection = _scan(DATA / "missing-trustd")
    assert collection.problems == ()
    cp = {lay.id: lay for lay in collection.layers}["proxmox:101/net0"]
    assert cp.enabled and _platform(collection) == []
    assert [r.describe() for r in cp.rules if r.source.start_line == 17] == [
        "allow tcp/2379-2380,6443 from k8s_vlan (10.0.30.0/24)"
    ]


def test_bad_input_goes_on_with_clear_messages() -> None:
    collection = _scan(DATA / "bad-input")
    assert _problems(collection) == [
        ("unresolved", "firewall/101.fw:6", "rule dropped by Proxmox: -dport needs -p"),
        ("unreadable", "firewall/101.fw:7", "rule dropped by Proxmox: unknown macro 'Kubernetes'"),
        (
            "unreadable",
            "firewall/101.fw:8",
            "unable to parse rule parameters: '-frobnicate 3'; Proxmox skips this line",
        ),
        (
            "unreadable",
            "firewall/101.fw:9",
            "unable to parse rule: 'this is not a rule' (a rule starts with IN, OUT, GROUP or FORWARD); "
            "Proxmox skips this line",
        ),
        (
            "unreadable",
            "firewall/101.fw:3",
            "option policy_in: 'MAYBE' is not valid; Proxmox ignores it and uses the default",
        ),
        ("unreadable", "firewall/cluster.fw:1", "line outside any known section is skipped: 'enable: 1'"),
        ("unreadable", "firewall/cluster.fw:4", "unknown section [FROBNICATE]: its lines are skipped"),
        ("unreadable", "firewall/cluster.fw:5", "line outside any known section is skipped: 'whatever'"),
        (
            "unresolved",
            "firewall/101.fw:10",
            "rule dropped by Proxmox: -source nosuchalias: alias nosuchalias is not defined",
        ),
        (
            "unresolved",
            "firewall/101.fw:11",
            "rule dropped by Proxmox: -source +nosuchset: ipset nosuchset is not defined",
        ),
    ]
    layer = collection.layers[0]
    assert [r.describe() for r in layer.rules] == ["allow tcp/6443,10250 from k8s_vlan (10.0.30.0/24)"]
    assert layer.enabled and _platform(collection) == []


def test_pvesh_json_of_the_same_vm() -> None:
    collection = _scan(DATA / "json")
    assert _problems(collection) == []
    assert [(rule, where) for rule, where, _ in _platform(collection)] == [
        ("TA401", "nodes/pve/qemu/101/config.json:10"),
    ]
    layer = collection.layers[0]
    assert (layer.id, layer.enabled, layer.attribute("datacenter")) == (
        "proxmox:101/net0",
        True,
        "on: cluster.fw enable: 1",
    )
    group = collection.attachments[0].fallback
    assert group is not None
    assert (group.role, group.addresses, group.origin) == (
        Role.CONTROL_PLANE,
        AddressSet.parse("10.0.30.11"),
        "API JSON config",
    )


def test_json_detection() -> None:
    assert looks_like_proxmox_json("nodes/pve/qemu/101/config.json", '{"name": "x", "net0": "virtio=AA"}')
    assert looks_like_proxmox_json(
        "qemu-101-firewall-rules.json", '[{"type": "in", "action": "ACCEPT", "pos": 0}]'
    )
    assert looks_like_proxmox_json("cluster/firewall/options.json", '{"enable": 1}')
    assert not looks_like_proxmox_json("package.json", '{"name": "x", "version": "1"}')
    assert not looks_like_proxmox_json("aliases.json", '[{"name": "a", "cidr": "10.0.0.0/8"}]')
    # Broken JSON is claimed only where the path names an API document, to be reported (TA001)
    # instead of vanishing; elsewhere a broken .json file is nobody's.
    assert looks_like_proxmox_json("x/firewall/rules.json", "not json")
    assert looks_like_proxmox_json("nodes/pve/qemu/101/config.json", '{"name": "x", "net0"')
    assert not looks_like_proxmox_json("x/rules.json", "not json")
    assert not looks_like_proxmox_json("package.json", '{"name": "x"')


def test_json_rules_with_errors_and_positions(tmp_path: Path) -> None:
    (tmp_path / "qemu" / "201" / "firewall").mkdir(parents=True)
    rules = tmp_path / "qemu" / "201" / "firewall" / "rules.json"
    rules.write_text(
        "[\n"
        '  {"pos": 1, "type": "in", "action": "ACCEPT", "dport": "6443", "enable": 1},\n'
        '  {"pos": 0, "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "50000", "enable": 1},\n'
        '  {"pos": 2, "type": "in", "action": "ACCEPT", "macro": "SSH", "enable": 0}\n'
        "]\n",
        encoding="utf-8",
    )
    options = tmp_path / "qemu" / "201" / "firewall" / "options.json"
    options.write_text('{"enable": 1}', encoding="utf-8")
    config = tmp_path / "qemu" / "201" / "config.json"
    config.write_text('{"data": {"name": "talos-worker-9", "net0": "virtio=AA,bridge=vmbr0,firewall=1"}}')
    collection = _scan(tmp_path)
    assert [
        (rule, where, msg)
        for rule, where, msg in _problems(collection)
        if rule != "unresolved" or "-p" in msg
    ] == [
        ("unresolved", "qemu/201/firewall/rules.json:2", "rule dropped by Proxmox: -dport needs -p"),
    ]
    layer = collection.layers[0]
    assert [(r.source.start_line, r.enabled, r.describe()) for r in layer.rules] == [
        (3, True, "allow tcp/50000 from 0.0.0.0/0, ::/0"),
        (4, False, "allow tcp/22 from 0.0.0.0/0, ::/0"),
    ]


def test_third_party_samples_collect_without_tracebacks() -> None:
    collection = _scan(SAMPLES)
    assert _problems(collection) == [
        (
            "unresolved",
            "HomeLab/qemu-server/100.conf:7",
            "firewall=1 on vm 100 (Dev-VM) net0, vm 200 (Docker) net0, ct 500 (PBS) net0, but no Proxmox "
            "firewall files (cluster.fw, <vmid>.fw) or firewall resources are among the inputs: whether the "
            "Proxmox firewall filters these NICs is unknown, so they are treated as unfiltered",
        ),
    ]
    # two export trees, each with its own vm 100; the template 1000 is not a running guest
    assert [(lay.id, lay.enabled, lay.attribute("nic_firewall")) for lay in collection.layers] == [
        ("proxmox:HomeLab/100/net0", False, "on"),
        ("proxmox:HomeLab/200/net0", False, "on"),
        ("proxmox:HomeLab/500/net0", False, "on"),
        ("proxmox:pve/100/net0", False, "off"),
        ("proxmox:pve/101/net0", False, "off"),
        ("proxmox:pve/102/net0", False, "off"),
        ("proxmox:pve/104/net0", False, "off"),
    ]
    assert collection.node_groups == ()
    assert [(a.layer_id, a.addresses, a.fallback) for a in collection.attachments] == [
        ("proxmox:HomeLab/500/net0", AddressSet.parse("192.168.0.143"), None)
    ]


# --- the three-level activation, exhaustively --------------------------------------------

CONF = "name: talos-worker-1\nipconfig0: ip=10.0.30.21/24\nnet0: virtio=AA,bridge=vmbr0,firewall={nic}\n"


@pytest.mark.parametrize(("dc", "vm", "nic"), list(itertools.product((None, "0", "1"), repeat=3)))
def test_active_only_when_datacenter_vm_and_nic_enable_it(
    dc: str | None, vm: str | None, nic: str | None
) -> None:
    cluster = None
    if dc is not None:
        cluster, _ = parse_firewall(f"[OPTIONS]\nenable: {dc}\n", "firewall/cluster.fw", "cluster", "cluster")
    elif vm is None:
        cluster, _ = parse_firewall("[RULES]\n", "firewall/cluster.fw", "cluster", "cluster")  # enable absent
    guest_fw = {}
    if vm is not None:
        text = f"[OPTIONS]\nenable: {vm}\n[RULES]\nIN ACCEPT -p tcp -dport 50000\n"
        guest_fw["201"], _ = parse_firewall(text, "firewall/201.fw", "guest", "201")
    conf = CONF.format(nic=nic) if nic is not None else CONF.replace(",firewall={nic}", "")
    guest, _ = parse_guest_config(conf, "qemu-server/201.conf", "201", "qemu")
    collection = build(Inventory(guests=(guest,), cluster=cluster, guest_fw=guest_fw, firewall_inputs=True))
    dc_on = dc == "1" or (dc is None and cluster is None)  # no cluster.fw at all: assumed on, said so
    expected = dc_on and vm == "1" and nic == "1"
    assert collection.layers[0].enabled is expected
    rules = {f.rule_id for f in evaluate(merge([collection]), load_catalogue(), EvalSettings())}
    inactive = (nic == "1" or vm is not None) and (not dc_on or vm != "1")
    assert ("TA402" in rules) is inactive
    assert "TA401" not in rules  # tcp/50000 is let in


def test_policy_in_accept_is_not_ta401() -> None:
    cluster, _ = parse_firewall("[OPTIONS]\nenable: 1\n", "firewall/cluster.fw", "cluster", "cluster")
    fw, _ = parse_firewall("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n", "firewall/201.fw", "guest", "201")
    guest, _ = parse_guest_config(CONF.format(nic="1"), "qemu-server/201.conf", "201", "qemu")
    collection = build(
        Inventory(guests=(guest,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
    )
    assert collection.problems == ()
    assert collection.layers[0].default_ingress is Action.ALLOW


def test_drop_before_accept_from_everywhere_is_ta401_but_partial_drop_is_not() -> None:
    cluster, _ = parse_firewall("[OPTIONS]\nenable: 1\n", "firewall/cluster.fw", "cluster", "cluster")
    guest, _ = parse_guest_config(CONF.format(nic="1"), "qemu-server/201.conf", "201", "qemu")

    def run(rules: str) -> set[str]:
        fw, _ = parse_firewall(f"[OPTIONS]\nenable: 1\n[RULES]\n{rules}", "firewall/201.fw", "guest", "201")
        inv = Inventory(guests=(guest,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
        return {rule for rule, _, _ in _platform(build(inv))}

    assert run("IN DROP\nIN ACCEPT -p tcp -dport 50000\n") == {"TA401"}
    assert run("IN DROP -source 10.0.0.0/8\nIN ACCEPT -p tcp -dport 50000\n") == set()
    assert run("IN ACCEPT -p tcp -dport 22\nIN ACCEPT -p udp -dport 53\n") == {"TA401"}
    assert run("IN ACCEPT -p udp -dport 4789 -source 10.0.30.0/24\n") == set()
    assert run("IN ACCEPT -p tcp -dport 50000 -dest 10.9.9.9\n") == {"TA401"}  # not this node


def test_role_from_tags_and_ta003_without_role() -> None:
    cluster, _ = parse_firewall("[OPTIONS]\nenable: 1\n", "firewall/cluster.fw", "cluster", "cluster")
    fw, _ = parse_firewall("[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT\n", "firewall/201.fw", "guest", "201")
    tagged, _ = parse_guest_config(
        "name: node-a\ntags: talos;controlplane\nnet0: virtio=AA,bridge=vmbr0,firewall=1\n",
        "qemu-server/201.conf",
        "201",
        "qemu",
    )
    collection = build(
        Inventory(guests=(tagged,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
    )
    assert collection.problems == ()
    assert [(g.role, g.role_reason) for g in collection.node_groups] == [
        (
            Role.CONTROL_PLANE,
            "tag 'controlplane' of vm 201 (node-a) says 'controlplane' (qemu-server/201.conf:1)",
        )
    ]
    plain, _ = parse_guest_config(
        "name: box\nnet0: virtio=AA,bridge=vmbr0,firewall=1\n", "qemu-server/201.conf", "201", "qemu"
    )
    collection = build(
        Inventory(guests=(plain,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
    )
    assert _problems(collection) == [
        (
            "role-unknown",
            "qemu-server/201.conf:1",
            "vm 201 (box) has an active Proxmox firewall on net0 but neither its name nor its tags say "
            "control-plane or worker, so required-flow checks cannot run for it (name it or tag it, or "
            "declare it in .talosaudit.yaml nodes:)",
        )
    ]
    assert collection.node_groups == ()


def test_pending_firewall_off_is_reported() -> None:
    cluster, _ = parse_firewall("[OPTIONS]\nenable: 1\n", "firewall/cluster.fw", "cluster", "cluster")
    fw, _ = parse_firewall("[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT\n", "firewall/201.fw", "guest", "201")
    conf = CONF.format(nic="1") + "\n[PENDING]\nnet0: virtio=AA,bridge=vmbr0,firewall=0\n"
    guest, _ = parse_guest_config(conf, "qemu-server/201.conf", "201", "qemu")
    collection = build(
        Inventory(guests=(guest,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
    )
    assert _platform(collection, "TA402") == [
        (
            "TA402",
            "qemu-server/201.conf:6",
            "vm 201 (talos-worker-1): a pending change sets net0 firewall=0; at the next start the rules the "
            "user relies on are not applied",
        )
    ]
    assert collection.layers[0].enabled is True
