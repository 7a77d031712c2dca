"""Exact normalisation of pfSense rules: tests/data/pfsense/rules.xml covers each corner."""

from __future__ import annotations

from pathlib import Path

import pytest

from talosaudit.collectors.pfsense import collect_file, read_config
from talosaudit.model import ALL_PORTS, Action, AddressSet, Collection, Direction, Layer, PortSet, Rule
from talosaudit.model.addresses import ALL_V4

DATA = Path(__file__).resolve().parent / "data" / "pfsense"


@pytest.fixture(scope="module")
def collection() -> Collection:
    return collect_file(DATA / "rules.xml", "rules.xml", "pfsense")


def _layer(c: Collection, interface: str) -> Layer:
    (found,) = [layer for layer in c.layers if layer.id == f"pfsense:rules.xml:{interface}"]
    return found


def _rule(layer: Layer, key: str, direction: Direction = Direction.INGRESS) -> Rule:
    (found,) = [r for r in layer.rules if r.key == key and r.direction is direction]
    return found


def test_interfaces_segments_and_roles(collection: Collection) -> None:
    # opt2 has no <enable>: not a layer. opt1's <enable>0</enable> is on (presence).
    assert [layer.id for layer in collection.layers] == [
        "pfsense:rules.xml:wan",
        "pfsense:rules.xml:lan",
        "pfsense:rules.xml:opt1",
    ]
    segments = {s.id: s for s in collection.segments}
    lan = segments["pfsense:rules.xml:lan/net"]
    # The IP-alias VIP 10.0.11.1/24 belongs to LAN's networks.
    assert lan.addresses.cidrs() == ["10.0.10.0/23", "fd00:10::/64"]
    assert not lan.is_internet
    wan = segments["pfsense:rules.xml:wan/net"]
    assert wan.is_internet and AddressSet.parse("203.0.113.0/29") <= wan.addresses
    opt1 = _layer(collection, "opt1")
    assert opt1.name == "K8S & friends (opt1) on edge.example.test"
    assert opt1.attribute("role") == "nodes"
    assert [(a.cidrs(), ref.resource if ref else "") for a, ref in collection.node_networks] == [
        (["10.0.30.0/24"], "interfaces/opt1 (nodes)")
    ]
    assert collection.admin == ()
    assert opt1.segments == ("pfsense:rules.xml:opt1/net",)
    assert (opt1.default_ingress, opt1.default_egress, opt1.stateful) == (Action.DENY, Action.ALLOW, True)


def test_lan_order_floating_quick_first_non_quick_last(collection: Collection) -> None:
    lan = _layer(collection, "lan")
    ingress = [(r.key, r.source.start_line) for r in lan.rules if r.direction is Direction.INGRESS]
    assert ingress == [
        ("tracker:1", 74),  # floating quick (wan,lan)
        ("tracker:10", 121),
        ("tracker:11/tcp", 136),
        ("tracker:11/udp", 136),
        ("lan[2]", 151),  # no tracker: interface + index
        ("tracker:12", 162),
        # tracker:13 (undefined alias) and tracker:14 (disabled interface) are not loaded
        ("tracker:2/icmp", 90),  # floating non-quick: after the quick rules
        ("tracker:2/icmp6", 90),
    ]
    egress = [(r.key, r.source.start_line) for r in lan.rules if r.direction is Direction.EGRESS]
    assert egress == [("tracker:3", 106), ("tracker:2/icmp", 90), ("tracker:2/icmp6", 90)]


def test_alias_expansion_nested_and_port_alias(collection: Collection) -> None:
    rule = _rule(_layer(collection, "lan"), "tracker:10")
    assert (rule.action, rule.protocol) == (Action.ALLOW, 6)
    assert rule.ports == PortSet.parse("6443,50000-50001")
    assert rule.local == AddressSet.of(["10.0.30.11", "10.0.30.12", "10.0.30.13", "10.0.30.32/27"])
    assert rule.peer.addresses == AddressSet.of(["10.0.10.0/23"])
    assert rule.peer.describe() == "LAN net (10.0.10.0/23, fd00:10::/64)"
    assert rule.description == "admins <to> talos"
    assert rule.unresolved == ()
    assert rule.origin == "interface rule"


def test_not_tcp_udp_reject_and_presence_disabled(collection: Collection) -> None:
    lan = _layer(collection, "lan")
    tcp, udp = _rule(lan, "tracker:11/tcp"), _rule(lan, "tracker:11/udp")
    assert (tcp.protocol, udp.protocol) == (6, 17)
    for r in (tcp, udp):
        assert r.action is Action.DENY
        assert ("type", "reject") in r.extra
        assert r.ports == PortSet.range(2379, 2380)
        # <not/> on opt1: every IPv4 address but 10.0.30.0/24 (ipprotocol missing = inet).
        assert r.local == ALL_V4 - AddressSet.parse("10.0.30.0/24")
        # <disabled>0</disabled>: pfSense tests presence, so the rule is disabled.
        assert r.enabled is False


def test_keywords_self_and_interface_address(collection: Collection) -> None:
    lan_self = _rule(_layer(collection, "lan"), "lan[2]")
    assert lan_self.peer.addresses == AddressSet.parse("fd00:10::1")
    assert lan_self.peer.describe() == "LAN address"
    assert lan_self.local == AddressSet.parse("fd00:10::1")
    assert lan_self.protocol is None and lan_self.ports == ALL_PORTS
    wan_gui = _rule(_layer(collection, "wan"), "tracker:20")
    assert wan_gui.local == AddressSet.parse("203.0.113.2")
    assert wan_gui.ports == PortSet.single(443)


def test_unknown_parts_are_unresolved_not_silent(collection: Collection) -> None:
    nas = _rule(_layer(collection, "lan"), "tracker:12")
    # No <type>: pass. Service name "https" = 443. Host name alias, source port, schedule.
    assert (nas.action, nas.protocol, nas.ports) == (Action.ALLOW, 6, PortSet.single(443))
    assert [(u.field, u.expression) for u in nas.unresolved] == [
        ("destination", "alias NAS: nas.example.test"),
        ("source port", "1024"),
        ("enabled", "schedule WORKHOURS"),
    ]
    blocklist = _rule(_layer(collection, "wan"), "tracker:1")
    assert [(u.field, u.expression, u.reason) for u in blocklist.unresolved] == [
        ("source", "alias BLOCKLIST: BLOCKLIST", "an alias of type urltable is filled at runtime")
    ]
    problems = sorted((p.source.start_line, p.message) for p in collection.problems)
    assert problems == [
        (
            74,
            "pfSense rule tracker:1: source 'alias BLOCKLIST: BLOCKLIST' is unknown offline: "
            "an alias of type urltable is filled at runtime",
        ),
        (
            162,
            "pfSense rule tracker:12: destination 'alias NAS: nas.example.test' is unknown offline: "
            "a host name is resolved by the firewall at runtime",
        ),
        (
            162,
            "pfSense rule tracker:12: enabled 'schedule WORKHOURS' is unknown offline: "
            "the rule applies only while its schedule is active",
        ),
        (
            162,
            "pfSense rule tracker:12: source port '1024' is unknown offline: flows are checked without "
            "source ports; the rule matches only connections from these ports",
        ),
        (
            176,
            "pfSense rule tracker:13: source names alias 'NO_SUCH_ALIAS', which this file does not define; "
            "the firewall does not load such a rule: ignored",
        ),
        (
            187,
            "pfSense rule tracker:14: destination names interface opt2, which is not enabled; "
            "the firewall does not load such a rule: ignored",
        ),
    ]
    assert {p.kind for p in collection.problems} == {"unresolved"}


def test_port_forwards_rdr_pass_and_linked_rule(collection: Collection) -> None:
    wan = _layer(collection, "wan")
    ingress = [(r.key, r.source.start_line, r.origin) for r in wan.rules if r.direction is Direction.INGRESS]
    assert ingress == [
        ("nat[1]/tcp", 262, "nat port forward"),  # rdr pass: before every filter rule
        ("nat[1]/udp", 262, "nat port forward"),
        ("tracker:1", 74, "floating rule"),
        ("tracker:20", 198, "interface rule"),
        ("tracker:21", 248, "nat port forward"),  # the linked filter rule, at its <nat><rule>
        ("tracker:2/icmp", 90, "floating rule"),
        ("tracker:2/icmp6", 90, "floating rule"),
    ]
    rdr = _rule(wan, "nat[1]/tcp")
    # External 8000-8001 maps to local 50000-50001 on the CP_NODES alias.
    assert rdr.ports == PortSet.range(50000, 50001)
    assert rdr.local == AddressSet.of(["10.0.30.11", "10.0.30.12", "10.0.30.13"])
    assert rdr.peer.addresses == AddressSet.parse("198.51.100.0/24")
    assert rdr.description == "talos api forward"
    linked = _rule(wan, "tracker:21")
    assert linked.local == AddressSet.parse("10.0.30.11")
    assert linked.ports == PortSet.single(6443)
    assert ("rule_line", "211") in linked.extra and ("nat", "nat:nat_abc.1") in linked.extra
    # The nordr forward (line 277) passes nothing.
    assert all(r.source.start_line != 277 for r in wan.rules)


def test_read_values() -> None:
    config = read_config(DATA / "rules.xml", "pfsense")
    floating = config.rules[0]
    assert (floating.interfaces, floating.quick, floating.direction, floating.bucket.name) == (
        ("wan", "lan"),
        True,
        "in",
        "FLOATING",
    )
    assert config.rules[1].interfaces == () and config.rules[1].quick is False
    assert [a.name for a in config.aliases] == ["CP_NODES", "ALL_NODES", "TALOS_PORTS", "BLOCKLIST", "NAS"]
    assert config.aliases[2].entries == ("6443", "50000:50001")
    assert [(f.key, f.line, f.target, f.local_port, f.nordr) for f in config.port_forwards] == [
        ("nat:nat_abc.1", 248, "10.0.30.11", "6443", False),
        ("nat[1]", 262, "CP_NODES", "50000", False),
        ("nat[2]", 277, "10.0.10.5", "22", True),
    ]
    assert config.hostname == "edge.example.test"
