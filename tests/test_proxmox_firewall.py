"""Proxmox .fw files: lexing, rule grammar, verification, and conversion into model rules."""

from __future__ import annotations

import pytest

from talosaudit.collectors.proxmox.conf import parse_guest_config
from talosaudit.collectors.proxmox.firewall import (
    MACROS,
    enable_value,
    parse_firewall,
    parse_rule_line,
    scope_of,
)
from talosaudit.collectors.proxmox.layers import Inventory, build
from talosaudit.model import ALL_ADDRESSES, ALL_PORTS, Action, AddressSet, Direction, PortSet, Unresolved
from talosaudit.model.ports import ICMP, TCP, UDP

CLUSTER = """\
# datacenter firewall
[OPTIONS]
enable: 1

[ALIASES]
k8s_vlan 10.0.30.0/24 # the Kubernetes VLAN
Admin_Host 10.0.10.5

[IPSET admins] # operators
10.0.10.0/24
!10.0.10.99 # kiosk
admin_host

[IPSET Bad]
0.0.0.0/0

[group talos-cp] # control plane
IN ACCEPT -source k8s_vlan -p tcp -dport 50000:50001 -log nolog # apid/trustd
IN ACCEPT -source +admins -p tcp -dport 6443,50000
OUT DROP -dest 192.0.2.0/24
"""

GUEST = """\
[OPTIONS]
enable: 1
policy_in: DROP
policy_out: REJECT

[ALIASES]
k8s_vlan 10.0.31.0/24

[RULES]
GROUP talos-cp -i net0
IN Ping(ACCEPT) -i net1
|IN SSH(ACCEPT) # break-glass, disabled
IN ACCEPT -dport 6443 # no -p
IN DNS(ACCEPT) -source dc/k8s_vlan
IN ACCEPT -source 10.0.40.0/29,10.0.50.0/24 -dest 10.0.30.11 -p udp -dport 4789,8000:8100 -sport 53
OUT ACCEPT -dest +dc/admins -p tcp --dport https
IN Frobnicate(ACCEPT)
IN ACCEPT -i eth0 -p tcp -dport 22
"""


def test_scope_of_paths() -> None:
    assert scope_of("etc/pve/firewall/cluster.fw") == ("cluster", "cluster")
    assert scope_of("etc/pve/nodes/pve1/host.fw") == ("host", "pve1")
    assert scope_of("firewall/101.fw") == ("guest", "101")
    assert scope_of("sdn/firewall/vnet1.fw") is None


def test_cluster_file_sections() -> None:
    config, problems = parse_firewall(CLUSTER, "firewall/cluster.fw", "cluster", "cluster")
    assert config.options["enable"].value == "1"
    assert config.options["enable"].source.start_line == 3
    assert {k: v.cidr for k, v in config.aliases.items()} == {
        "k8s_vlan": "10.0.30.0/24",
        "admin_host": "10.0.10.5",
    }
    assert [(e.cidr, e.nomatch, e.source.start_line) for e in config.ipsets["admins"]] == [
        ("10.0.10.0/24", False, 10),
        ("10.0.10.99", True, 11),
        ("admin_host", False, 12),
    ]
    assert config.ipsets["bad"] == ()
    rules = config.groups["talos-cp"]
    assert [
        (r.type, r.action, r.src, r.proto, r.dport, r.log, r.comment, r.source.start_line) for r in rules
    ] == [
        ("in", "ACCEPT", "k8s_vlan", "tcp", "50000:50001", "nolog", "apid/trustd", 18),
        ("in", "ACCEPT", "+admins", "tcp", "6443,50000", None, "", 19),
        ("out", "DROP", None, None, None, None, "", 20),
    ]
    assert config.group_sources["talos-cp"].start_line == 17
    assert [(p.kind, p.source.start_line, p.message) for p in problems] == [
        ("unreadable", 15, "ipset bad: a zero prefix (0.0.0.0/0) is not allowed"),
    ]
    assert enable_value(config, default=False)[0] is True


def test_rule_grammar_corners() -> None:
    rule = parse_rule_line("|out REJECT --proto udp --dport 53 -source 10.0.0.1 # c  ")
    assert not isinstance(rule, str)
    assert (rule.enabled, rule.type, rule.action, rule.proto, rule.dport, rule.src, rule.comment) == (
        False,
        "out",
        "REJECT",
        "udp",
        "53",
        "10.0.0.1",
        "c",
    )
    macro = parse_rule_line("IN SSH(ACCEPT) -i net0")
    assert not isinstance(macro, str)
    assert (macro.macro, macro.action, macro.iface) == ("SSH", "ACCEPT", "net0")
    assert parse_rule_line("IN ACCEPT -p tcp -bogus 1") == "unable to parse rule parameters: '-bogus 1'"
    assert parse_rule_line("GARBAGE") == "unable to parse rule: 'GARBAGE'"


def test_guest_rule_problems_have_lines() -> None:
    _, problems = parse_firewall(GUEST, "firewall/201.fw", "guest", "201")
    assert [(p.kind, p.source.start_line, p.message) for p in problems] == [
        ("unresolved", 13, "rule dropped by Proxmox: -dport needs -p"),
        ("unreadable", 17, "rule dropped by Proxmox: unknown macro 'Frobnicate'"),
        ("unreadable", 18, "rule dropped by Proxmox: -i eth0: a guest rule's interface must be netN"),
    ]


def test_values_proxmox_refuses_drop_the_rule() -> None:
    """pve-firewall's verify_rule refuses these (parse_port_name_number_or_range,
    parse_address_list): the rule is kept with errors and never compiled."""
    text = (
        "[OPTIONS]\nenable: 1\n[RULES]\n"
        "IN ACCEPT -p tcp -dport 6443,50000,50001,2379:2380,10250,10257,10259,4240,4244,4245,9962,9963,"
        "9964,30000:32767 # every port\n"
        "IN ACCEPT -p tcp -dport 32767:30000\n"
        "IN ACCEPT -p tcp -dport 65536\n"
        "IN ACCEPT -p udp -sport 53,\n"
        "IN ACCEPT -source 10.0.0.0/33 -p tcp -dport 6443\n"
        "IN ACCEPT -source 10.0.40.1-10.0.40.9,10.0.50.0/24 -p tcp -dport 6443\n"
        "IN ACCEPT -dest 10.0.30.11,fd00::11 -p tcp -dport 6443\n"
        "IN ACCEPT -source 10.0.40.1-10.0.40.9 -p tcp -dport 6443,50000:50001,2379:2380,10250 # valid\n"
    )
    config, problems = parse_firewall(text, "firewall/201.fw", "guest", "201")
    assert [(p.kind, p.source.start_line, p.message) for p in problems] == [
        (
            "unreadable",
            4,
            "rule dropped by Proxmox: -dport 6443,50000,50001,2379:2380,10250,10257,10259,4240,4244,4245,"
            "9962,9963,9964,30000:32767: too many entries in port list (> 15 numbers; a range counts as 2)",
        ),
        (
            "unreadable",
            5,
            "rule dropped by Proxmox: -dport 32767:30000: backwards range '32767:30000' not allowed, "
            "did you mean '30000:32767'?",
        ),
        ("unreadable", 6, "rule dropped by Proxmox: -dport 65536: invalid port '65536'"),
        ("unreadable", 7, "rule dropped by Proxmox: -sport 53,: empty entry in the port list"),
        ("unreadable", 8, "rule dropped by Proxmox: -source 10.0.0.0/33: invalid IP address '10.0.0.0/33'"),
        (
            "unreadable",
            9,
            "rule dropped by Proxmox: -source 10.0.40.1-10.0.40.9,10.0.50.0/24: a range cannot be part "
            "of a list",
        ),
        (
            "unreadable",
            10,
            "rule dropped by Proxmox: -dest 10.0.30.11,fd00::11: IPv4 and IPv6 addresses mixed in one list",
        ),
    ]
    assert [bool(r.errors) for r in config.rules] == [True] * 7 + [False]
    guest, _ = parse_guest_config(
        "name: talos-cp-1\nipconfig0: ip=10.0.30.11/24\nnet0: virtio=AA,bridge=vmbr0,firewall=1\n",
        "qemu-server/201.conf",
        "201",
        "qemu",
    )
    cluster, _ = parse_firewall("[OPTIONS]\nenable: 1\n", "firewall/cluster.fw", "cluster", "cluster")
    collection = build(
        Inventory(guests=(guest,), cluster=cluster, guest_fw={"201": config}, firewall_inputs=True)
    )
    # only the valid rule is compiled; it lets required ports in, so no TA401
    assert [(r.source.start_line, r.describe()) for r in collection.layers[0].rules] == [
        (
            11,
            "allow tcp/2379-2380,6443,10250,50000-50001 from 10.0.40.1-10.0.40.9 (10.0.40.1/32, "
            "10.0.40.2/31, 10.0.40.4/30, 10.0.40.8/31)",
        ),
    ]
    assert collection.problems == ()


def _collection(guest_text: str = GUEST, conf: str | None = None):  # type: ignore[no-untyped-def]
    cluster, _ = parse_firewall(CLUSTER, "firewall/cluster.fw", "cluster", "cluster")
    fw, _ = parse_firewall(guest_text, "firewall/201.fw", "guest", "201")
    conf = conf or (
        "name: talos-cp-1\nipconfig0: ip=10.0.30.11/24\n"
        "net0: virtio=AA:00:00:00:00:01,bridge=vmbr0,firewall=1,tag=30\n"
        "net1: virtio=AA:00:00:00:00:02,bridge=vmbr1,firewall=1\n"
    )
    guest, _ = parse_guest_config(conf, "qemu-server/201.conf", "201", "qemu")
    inv = Inventory(guests=(guest,), cluster=cluster, guest_fw={"201": fw}, firewall_inputs=True)
    return build(inv)


def test_rules_in_order_with_group_expanded_in_place() -> None:
    collection = _collection()
    layer = {lay.id: lay for lay in collection.layers}["proxmox:201/net0"]
    got = [(r.source.path, r.source.start_line, r.enabled, r.describe(), r.key) for r in layer.rules]
    assert got == [
        (
            "firewall/cluster.fw",
            18,
            True,
            "allow tcp/50000-50001 from k8s_vlan (10.0.31.0/24)",
            "guest:201:rule/0>cluster:cluster:group/talos-cp/0",
        ),
        (
            "firewall/cluster.fw",
            19,
            True,
            "allow tcp/6443,50000 from +admins (10.0.10.0/26, 10.0.10.64/27, 10.0.10.96/31, 10.0.10.98/32 "
            "and 4 more)",
            "guest:201:rule/0>cluster:cluster:group/talos-cp/1",
        ),
        (
            "firewall/cluster.fw",
            20,
            True,
            "deny all to 192.0.2.0/24 (192.0.2.0/24)",
            "guest:201:rule/0>cluster:cluster:group/talos-cp/2",
        ),
        ("firewall/201.fw", 12, False, "allow tcp/22 from 0.0.0.0/0, ::/0", "guest:201:rule/2"),
        ("firewall/201.fw", 14, True, "allow udp/53 from dc/k8s_vlan (10.0.30.0/24)", "guest:201:rule/4#0"),
        ("firewall/201.fw", 14, True, "allow tcp/53 from dc/k8s_vlan (10.0.30.0/24)", "guest:201:rule/4#1"),
        (
            "firewall/201.fw",
            15,
            True,
            "allow udp/4789,8000-8100 from 10.0.40.0/29,10.0.50.0/24 (10.0.40.0/29, 10.0.50.0/24)",
            "guest:201:rule/5",
        ),
        (
            "firewall/201.fw",
            16,
            True,
            "allow tcp/443 to +dc/admins (10.0.10.0/26, 10.0.10.64/27, 10.0.10.96/31, 10.0.10.98/32 "
            "and 4 more)",
            "guest:201:rule/6",
        ),
    ]
    # the unscoped alias resolves guest-first (10.0.31.0/24), dc/ forces the cluster one
    assert layer.rules[0].peer.addresses == AddressSet.parse("10.0.31.0/24")
    # the ipset exclusion and the alias entry
    admins = layer.rules[1].peer.addresses
    assert AddressSet.parse("10.0.10.99") & admins == AddressSet()
    assert AddressSet.parse("10.0.10.98") <= admins and AddressSet.parse("10.0.10.5") <= admins
    assert admins == AddressSet.parse("10.0.10.0/24") - AddressSet.parse("10.0.10.99/32")
    # -dest on an IN rule narrows the local side; -sport is not modelled, so the rule is unresolved
    vxlan = layer.rules[6]
    assert (vxlan.protocol, vxlan.local) == (UDP, AddressSet.parse("10.0.30.11"))
    assert [(u.field, u.expression) for u in vxlan.unresolved] == [("sport", "53")]
    https = layer.rules[7]
    assert (https.direction, https.protocol, https.ports, https.local) == (
        Direction.EGRESS,
        TCP,
        PortSet.single(443),
        None,
    )
    assert (layer.default_ingress, layer.default_egress) == (Action.DENY, Action.DENY)


def test_iface_limits_rules_to_one_nic() -> None:
    collection = _collection()
    net1 = {lay.id: lay for lay in collection.layers}["proxmox:201/net1"]
    assert [(r.source.start_line, r.protocol, r.ports) for r in net1.rules[:1]] == [(11, ICMP, ALL_PORTS)]
    assert all(r.source.path == "firewall/201.fw" for r in net1.rules)


def test_macro_table_and_disabled_rule() -> None:
    collection = _collection()
    layer = {lay.id: lay for lay in collection.layers}["proxmox:201/net0"]
    ssh = layer.rules[3]
    assert (ssh.enabled, ssh.protocol, ssh.ports, ssh.peer.addresses, ssh.origin) == (
        False,
        TCP,
        PortSet.single(22),
        ALL_ADDRESSES,
        "guest rule, macro SSH",
    )


def test_undefined_references_drop_the_rule() -> None:
    guest_text = (
        "[OPTIONS]\nenable: 1\n[RULES]\n"
        "IN ACCEPT -source nosuch -p tcp -dport 6443\n"
        "IN ACCEPT -source +nosuchset -p tcp -dport 50000\n"
        "GROUP nosuchgroup\n"
        "IN ACCEPT -source 10.0.30.0/24 -p tcp -dport 10250\n"
    )
    collection = _collection(guest_text)
    layer = {lay.id: lay for lay in collection.layers}["proxmox:201/net0"]
    assert [(r.source.start_line, r.enabled, r.describe()) for r in layer.rules] == [
        (6, False, "allow all from whatever the rules of security group nosuchgroup (inserted here) allow"),
        (7, True, "allow tcp/10250 from 10.0.30.0/24 (10.0.30.0/24)"),
    ]
    assert [(p.kind, p.source.start_line, p.message) for p in collection.problems] == [
        ("unresolved", 4, "rule dropped by Proxmox: -source nosuch: alias nosuch is not defined"),
        ("unresolved", 5, "rule dropped by Proxmox: -source +nosuchset: ipset nosuchset is not defined"),
        (
            "unresolved",
            6,
            "security group 'nosuchgroup' is not defined in cluster.fw; Proxmox applies no rules for it",
        ),
    ]


def test_references_without_cluster_file_are_unresolved_not_dropped() -> None:
    fw, _ = parse_firewall(
        "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -source k8s -p tcp -dport 6443\nGROUP talos\n",
        "firewall/201.fw",
        "guest",
        "201",
    )
    guest, _ = parse_guest_config(
        "name: talos-cp-1\nnet0: virtio=AA,bridge=vmbr0,firewall=1\n", "qemu-server/201.conf", "201", "qemu"
    )
    collection = build(Inventory(guests=(guest,), guest_fw={"201": fw}, firewall_inputs=True))
    layer = collection.layers[0]
    assert layer.enabled is True  # datacenter unknown: assumed on, and said so
    assert [
        (r.source.start_line, [u.field for u in r.unresolved], r.peer.addresses) for r in layer.rules
    ] == [
        (4, ["source"], ALL_ADDRESSES),
        (5, ["group"], ALL_ADDRESSES),
    ]
    assert [(p.kind, p.message) for p in collection.problems] == [
        (
            "unresolved",
            "-source k8s: alias k8s is not defined in the guest's firewall file and cluster.fw is not among "
            "the inputs",
        ),
        ("unresolved", "security group 'talos': cluster.fw is not among the inputs"),
        (
            "unresolved",
            "cluster.fw is not among the inputs: the datacenter firewall state is unknown; assuming it is "
            "enabled for vm 201 (talos-cp-1) net0, whose VM and NIC firewalls are on",
        ),
    ]


def test_unknown_sections_and_garbage_lines() -> None:
    text = "enable: 1\n[OPTIONS]\nenable: 1\npolicy_in: MAYBE\n[FROB]\nx y\n[RULES]\nnot a rule\n"
    config, problems = parse_firewall(text, "firewall/300.fw", "guest", "300")
    assert config.options["enable"].value == "1"
    assert [(p.kind, p.source.start_line, p.message) for p in problems] == [
        ("unreadable", 1, "line outside any known section is skipped: 'enable: 1'"),
        ("unreadable", 5, "unknown section [FROB]: its lines are skipped"),
        ("unreadable", 6, "line outside any known section is skipped: 'x y'"),
        (
            "unreadable",
            8,
            "unable to parse rule: 'not a rule' (a rule starts with IN, OUT, GROUP or FORWARD); "
            "Proxmox skips this line",
        ),
        ("unreadable", 4, "option policy_in: 'MAYBE' is not valid; Proxmox ignores it and uses the default"),
    ]


def test_sections_not_allowed_in_guest_files() -> None:
    _, problems = parse_firewall("[group x1]\nIN ACCEPT\n", "firewall/300.fw", "guest", "300")
    assert [(p.source.start_line, p.message) for p in problems] == [
        (1, "section [group x1] is not allowed in a guest firewall file: Proxmox skips it"),
        (2, "line outside any known section is skipped: 'IN ACCEPT'"),
    ]


def test_enable_timestamp_counts_as_off() -> None:
    config, _ = parse_firewall("[OPTIONS]\nenable: 1767225600\n", "firewall/cluster.fw", "cluster", "cluster")
    assert enable_value(config, default=False) == (
        False,
        config.options["enable"].source,
        "enable: 1767225600 (an API timestamp, expired: off)",
    )


_SPORT_NOT_MODELLED = "source-port filters are not modelled by talosaudit"


@pytest.mark.parametrize("name", sorted(canonical for canonical, _ in MACROS.values()))
def test_every_macro_parses_and_converts_without_problem(name: str) -> None:
    """Each pve-firewall macro, in its own spelling, upper and lower case (Proxmox looks names
    up lower-cased), is a valid rule whose every entry becomes a model rule."""
    text = f"[OPTIONS]\nenable: 1\n[RULES]\nIN {name}(ACCEPT) -i net0\nIN {name.upper()}(DROP) -i net0\n"
    text += f"OUT {name.lower()}(REJECT) -i net0\n"
    config, problems = parse_firewall(text, "firewall/201.fw", "guest", "201")
    assert problems == []
    assert [(r.macro, r.action, r.errors) for r in config.rules] == [
        (name, "ACCEPT", ()),
        (name.upper(), "DROP", ()),
        (name.lower(), "REJECT", ()),
    ]
    collection = _collection(text)
    assert [p for p in collection.problems if p.kind in ("unreadable", "unresolved")] == []
    layer = {lay.id: lay for lay in collection.layers}["proxmox:201/net0"]
    entries = MACROS[name.lower()][1]
    assert len(layer.rules) == 3 * len(entries)
    assert {r.origin for r in layer.rules} == {f"guest rule, macro {name}"}


def _macro_rules(written: str) -> list[tuple[int | None, PortSet, tuple[Unresolved, ...]]]:
    collection = _collection(f"[OPTIONS]\nenable: 1\n[RULES]\nIN {written}(ACCEPT) -i net0\n")
    layer = {lay.id: lay for lay in collection.layers}["proxmox:201/net0"]
    return [(r.protocol, r.ports, r.unresolved) for r in layer.rules]


def test_macro_smb_as_in_pve_firewall() -> None:
    # pve-firewall src/PVE/Firewall.pm: udp 135,445; udp 137:139; udp 1024:65535 sport 137;
    # tcp 135,139,445.
    assert MACROS["smb"] == (
        "SMB",
        (
            ("udp", "135,445", ""),
            ("udp", "137:139", ""),
            ("udp", "1024:65535", "137"),
            ("tcp", "135,139,445", ""),
        ),
    )
    assert _macro_rules("smb") == [
        (UDP, PortSet.parse("135") | PortSet.parse("445"), ()),
        (UDP, PortSet.parse("137-139"), ()),
        (UDP, PortSet.parse("1024-65535"), (Unresolved("sport", "137", _SPORT_NOT_MODELLED),)),
        (TCP, PortSet.parse("135") | PortSet.parse("139") | PortSet.parse("445"), ()),
    ]


def test_macro_ipsec_as_in_pve_firewall() -> None:
    # udp 500 with sport 500, then protocol 50 (ESP) alone; NAT traversal (udp 4500) is IPsecnat.
    assert MACROS["ipsec"] == ("IPsec", (("udp", "500", "500"), ("50", "", "")))
    assert _macro_rules("IPSEC") == [
        (UDP, PortSet.single(500), (Unresolved("sport", "500", _SPORT_NOT_MODELLED),)),
        (50, ALL_PORTS, ()),
    ]
    assert MACROS["ipsecnat"] == ("IPsecnat", (("udp", "500", ""), ("udp", "4500", ""), ("50", "", "")))
    assert MACROS["ipsecah"] == ("IPsecah", (("udp", "500", "500"), ("51", "", "")))


def test_macro_pop3_as_in_pve_firewall() -> None:
    assert MACROS["pop3"] == ("POP3", (("tcp", "110", ""),))
    assert _macro_rules("POP3") == [(TCP, PortSet.single(110), ())]


def test_macro_ceph_as_in_pve_firewall() -> None:
    # Legacy v1 port, msgr v2 port, then the OSD/MDS range.
    assert MACROS["ceph"] == ("Ceph", (("tcp", "6789", ""), ("tcp", "3300", ""), ("tcp", "6800:7300", "")))
    assert _macro_rules("Ceph") == [
        (TCP, PortSet.single(6789), ()),
        (TCP, PortSet.single(3300), ()),
        (TCP, PortSet.parse("6800-7300"), ()),
    ]
