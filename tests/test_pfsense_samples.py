"""The third-party pfSense/OPNsense samples: exact counts (tests/data/samples/README.md) and key rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from talosaudit.collectors.pfsense import collect_file, read_config
from talosaudit.model import Action, Direction, Layer

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"


@dataclass(frozen=True)
class Counts:
    rel: str
    kind: str
    interfaces: int
    legacy: int
    mvc: int
    disabled: int
    aliases: int
    forwards: int
    actions: dict[str, int]


COUNTS = [
    Counts("pfsense/config-pfSense.xml", "pfsense", 7, 13, 0, 0, 0, 2, {"block": 7, "pass": 6}),
    Counts("pfsense/factory-config.xml", "pfsense", 2, 2, 0, 0, 0, 0, {"pass": 2}),
    Counts("opnsense/config.xml.sample", "opnsense", 2, 0, 2, 0, 0, 0, {"pass": 2}),
    Counts("opnsense/config.xml.sample.pre-mvc", "opnsense", 2, 2, 0, 0, 0, 0, {"pass": 2}),
    Counts("opnsense/sample.config.6.xml", "opnsense", 54, 51, 0, 1, 0, 0, {"pass": 51}),
]


@pytest.mark.parametrize("want", COUNTS, ids=[c.rel for c in COUNTS])
def test_sample_counts_match_the_readme(want: Counts) -> None:
    rel, kind = want.rel, want.kind
    config = read_config(SAMPLES / rel, kind)
    assert len(config.interfaces) == want.interfaces
    assert sum(r.form == "legacy" for r in config.rules) == want.legacy
    assert sum(r.form == "mvc" for r in config.rules) == want.mvc
    assert sum(r.disabled for r in config.rules) == want.disabled
    assert len(config.aliases) == want.aliases
    assert len(config.port_forwards) == want.forwards
    assert dict(Counter(r.action for r in config.rules)) == want.actions
    # And the whole collector runs on it without an exception or a TA001.
    collection = collect_file(SAMPLES / rel, rel, kind)
    assert [p for p in collection.problems if p.kind == "unreadable"] == []
    assert collection.files == (rel,)


def _layer(layers: tuple[Layer, ...], suffix: str) -> Layer:
    (found,) = [layer for layer in layers if layer.id.endswith(suffix)]
    return found


def test_config_pfsense_rules_in_evaluation_order() -> None:
    rel = "pfsense/config-pfSense.xml"
    c = collect_file(SAMPLES / rel, rel, "pfsense")
    assert [
        (s.id, s.is_internet, s.addresses.describe() if not s.is_internet else "internet") for s in c.segments
    ] == [
        ("pfsense:pfsense/config-pfSense.xml:wan/net", True, "internet"),
        ("pfsense:pfsense/config-pfSense.xml:lan/net", False, "192.168.1.0/24"),
        ("pfsense:pfsense/config-pfSense.xml:opt1/net", False, "10.0.0.0/24"),
        ("pfsense:pfsense/config-pfSense.xml:opt2/net", False, "nothing"),
        ("pfsense:pfsense/config-pfSense.xml:opt3/net", False, "nothing"),
        ("pfsense:pfsense/config-pfSense.xml:opt4/net", False, "10.0.2.0/24"),
        ("pfsense:pfsense/config-pfSense.xml:opt5/net", False, "10.0.3.0/24"),
    ]
    wan = _layer(c.layers, ":wan")
    # blockpriv (<blockpriv>on</blockpriv>), then the two NAT-linked pass rules (no <type>),
    # reported at their <nat><rule>; the floating tagged block leaves only its egress copy:
    # on the way in no rule on WAN sets the tag it matches.
    assert [(r.direction, r.key, r.source.start_line, r.describe(), r.origin) for r in wan.rules] == [
        (
            Direction.INGRESS,
            "builtin:blockpriv",
            71,
            "deny all from private networks",
            "built-in rule (blockpriv)",
        ),
        (
            Direction.INGRESS,
            "tracker:1585165239/tcp",
            460,
            "allow tcp/80 from any (IPv4)",
            "nat port forward",
        ),
        (
            Direction.INGRESS,
            "tracker:1585165239/udp",
            460,
            "allow udp/80 from any (IPv4)",
            "nat port forward",
        ),
        (
            Direction.INGRESS,
            "tracker:1585165303/tcp",
            483,
            "allow tcp/443 from any (IPv4)",
            "nat port forward",
        ),
        (
            Direction.INGRESS,
            "tracker:1585165303/udp",
            483,
            "allow udp/443 from any (IPv4)",
            "nat port forward",
        ),
        (Direction.EGRESS, "tracker:1585137356", 511, "deny all to any", "floating rule"),
    ]
    assert wan.rules[1].local is not None and wan.rules[1].local.cidrs() == ["10.0.2.2/32"]
    assert ("rule_line", "544") in wan.rules[1].extra
    assert (
        "ignored",
        "tracker:1585137356: matches only packets tagged MULLVAD_NO_WAN_EGRESS",
    ) in wan.attributes
    lan = _layer(c.layers, ":lan")
    assert [(r.key, r.source.start_line, r.action, r.describe()) for r in lan.rules] == [
        ("tracker:1585138184/tcp", 580, Action.DENY, "deny tcp/53 from any"),
        ("tracker:1585138184/udp", 580, Action.DENY, "deny udp/53 from any"),
        ("tracker:1585138257", 613, Action.DENY, "deny all from any (IPv6)"),
        ("tracker:1585138395", 644, Action.ALLOW, "allow all from any (IPv4)"),
    ]
    # (self) = every static interface address of the firewall.
    assert lan.rules[0].local is not None
    assert lan.rules[0].local.cidrs() == ["10.0.0.1/32", "10.0.2.1/32", "10.0.3.1/32", "192.168.1.1/32"]
    assert [p.message for p in c.problems] == [
        "pfSense rule tracker:1585137356: enabled 'tagged MULLVAD_NO_WAN_EGRESS' is unknown offline: "
        "the rule matches only packets another rule tagged"
    ]


def test_opnsense_sample_6_disabled_carp_rule_and_admin_vlan() -> None:
    rel = "opnsense/sample.config.6.xml"
    c = collect_file(SAMPLES / rel, rel, "opnsense")
    # 54 interfaces minus lo0 (loopback): every enabled interface is a layer.
    assert len(c.layers) == 53
    wan = _layer(c.layers, ":wan")
    assert [(r.key, r.protocol, r.enabled, r.source.start_line) for r in wan.rules] == [
        ("builtin:blockpriv", None, True, 256),
        ("uuid:validUUID", 112, False, 2990),
    ]
    assert [s.id for s in c.segments if s.is_internet] == ["opnsense:opnsense/sample.config.6.xml:wan/net"]
    assert _layer(c.layers, ":opt6").rules[0].key == "uuid:1251dc04-1c1c-4656-8ad8-ac9ccb25ed00"
    assert _layer(c.layers, ":opt6").rules[0].description == "default allow VLAN_723 any"
    # VLAN descriptions with "Admin" mark admin networks (until the config names them).
    admin = sorted((ref.resource if ref else "", addrs.describe()) for addrs, ref in c.admin)
    assert admin[0] == (
        "interfaces/opt10 (admin: its description 'V2818_Admin2818' names an admin network)",
        "172.22.227.0/24",
    )
    assert len(admin) == 5


def test_opnsense_factory_mvc_and_legacy_forms_give_the_same_layer() -> None:
    mvc = collect_file(SAMPLES / "opnsense/config.xml.sample", "a.xml", "opnsense")
    legacy = collect_file(SAMPLES / "opnsense/config.xml.sample.pre-mvc", "a.xml", "opnsense")
    mvc_lan, legacy_lan = _layer(mvc.layers, ":lan"), _layer(legacy.layers, ":lan")
    assert [(r.key, r.source.start_line, r.describe()) for r in mvc_lan.rules] == [
        ("mvc[0]", 118, "allow all from LAN net (192.168.1.0/24)"),
        ("mvc[1]", 144, "allow all from LAN net"),
    ]
    assert [(r.key, r.source.start_line, r.describe()) for r in legacy_lan.rules] == [
        ("lan[0]", 106, "allow all from LAN net (192.168.1.0/24)"),
        ("lan[1]", 118, "allow all from LAN net"),
    ]
    for a, b in zip(mvc_lan.rules, legacy_lan.rules, strict=True):
        assert (a.action, a.protocol, a.peer.addresses, a.local, a.unresolved) == (
            b.action,
            b.protocol,
            b.peer.addresses,
            b.local,
            b.unresolved,
        )
    # The IPv6 LAN network is delegated at runtime (idassoc6): unknown, never a silent pass.
    assert [u.reason for u in mvc_lan.rules[1].unresolved] == [
        "the network of interface lan is assigned at runtime (idassoc6)"
    ]
