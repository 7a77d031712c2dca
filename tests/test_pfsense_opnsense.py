"""OPNsense: PHP empty() flags, MVC rules and aliases, and the order of both forms."""

from __future__ import annotations

from pathlib import Path

from talosaudit.collectors.pfsense import collect_file, read_config
from talosaudit.collectors.pfsense.layers import ordered_rules
from talosaudit.model import Action, AddressSet, Direction, PortSet

DATA = Path(__file__).resolve().parent / "data" / "pfsense"
FILE = DATA / "opnsense-both.xml"


def test_flags_follow_php_empty() -> None:
    config = read_config(FILE, "opnsense")
    by_key = {r.key: r for r in config.rules}
    assert by_key["uuid:legacy-1"].disabled is False  # <disabled>0</disabled>
    assert by_key["uuid:legacy-2"].disabled is False  # <disabled/>
    assert by_key["uuid:legacy-3"].disabled is True  # <disabled>1</disabled>
    assert by_key["uuid:legacy-2"].quick is False  # explicit <quick>0</quick>
    assert by_key["uuid:legacy-1"].quick is True  # unset: interface rules are quick
    assert by_key["uuid:mvc-f"].disabled is True  # <enabled>0</enabled>
    # <enable/> is empty: opt2 is off; <blockpriv>0</blockpriv> is off.
    assert [(i.name, i.enabled, i.blockpriv) for i in config.interfaces] == [
        ("wan", True, False),
        ("lan", True, False),
        ("opt1", True, False),
        ("opt2", False, False),
    ]


def test_mvc_fields() -> None:
    config = read_config(FILE, "opnsense")
    mvc_b = next(r for r in config.rules if r.key == "uuid:mvc-b")
    assert (mvc_b.form, mvc_b.sequence, mvc_b.protocol, mvc_b.action) == ("mvc", 20, "tcp/udp", "pass")
    assert mvc_b.destination.values == ("K8S_CP", "192.168.30.20")
    assert mvc_b.destination.port == "TALOS"
    mvc_a = next(r for r in config.rules if r.key == "uuid:mvc-a")
    assert mvc_a.source.negated is True and mvc_a.source.values == ("opt1", "OFF")
    mvc_f = next(r for r in config.rules if r.key == "uuid:mvc-f")
    assert (mvc_f.bucket.name, mvc_f.interfaces) == ("FLOATING", ("wan", "opt1"))
    assert [(a.name, a.type, a.entries, a.enabled) for a in config.aliases] == [
        ("K8S_CP", "host", ("192.168.30.11", "192.168.30.12"), True),
        ("TALOS", "port", ("50000:50001", "6443"), True),
        ("OFF", "network", ("10.9.0.0/16",), False),
    ]


def test_both_forms_share_buckets_mvc_by_sequence_first() -> None:
    order = [r.key for r in ordered_rules(read_config(FILE, "opnsense"))]
    assert order == [
        "uuid:mvc-f",  # two interfaces: the floating bucket
        "uuid:mvc-a",  # sequence 10
        "uuid:mvc-b",  # sequence 20
        "uuid:legacy-1",
        "uuid:legacy-2",
        "uuid:legacy-3",
    ]


def test_wan_layer() -> None:
    c = collect_file(FILE, "o.xml", "opnsense")
    (wan,) = [layer for layer in c.layers if layer.id == "opnsense:o.xml:wan"]
    assert [(r.key, r.source.start_line, r.enabled, r.action) for r in wan.rules] == [
        ("uuid:mvc-f", 137, False, Action.ALLOW),
        ("uuid:mvc-a", 125, True, Action.DENY),
        ("uuid:mvc-b/tcp", 111, True, Action.ALLOW),
        ("uuid:mvc-b/udp", 111, True, Action.ALLOW),
        ("uuid:legacy-1", 37, True, Action.DENY),
        ("uuid:legacy-3", 67, False, Action.ALLOW),
        ("uuid:legacy-2", 52, True, Action.ALLOW),  # non-quick: last match, so listed last
    ]
    mvc_a = wan.rules[1]
    # not (MGMT net, alias OFF): OFF is disabled, so unknown; lanip is the LAN address.
    assert mvc_a.peer.addresses == AddressSet.parse("0.0.0.0/0") - AddressSet.parse("192.168.20.0/24")
    assert [(u.field, u.expression, u.reason) for u in mvc_a.unresolved] == [
        ("source", "alias OFF: OFF", "the alias is disabled")
    ]
    assert mvc_a.local == AddressSet.parse("192.168.30.1")
    mvc_b = wan.rules[2]
    assert mvc_b.ports == PortSet.parse("6443,50000-50001")
    assert mvc_b.local == AddressSet.of(["192.168.30.11", "192.168.30.12", "192.168.30.20"])
    legacy_2 = wan.rules[6]
    # <network></network> is empty: the address wins.
    assert legacy_2.local == AddressSet.parse("192.168.30.10")
    assert all(r.direction is Direction.INGRESS for r in wan.rules)
    assert [(a.describe(), ref.resource if ref else "") for a, ref in c.admin] == [
        ("192.168.20.0/24", "interfaces/opt1 (admin: its description 'MGMT' names an admin network)")
    ]
    assert [layer.id for layer in c.layers] == [
        "opnsense:o.xml:wan",
        "opnsense:o.xml:lan",
        "opnsense:o.xml:opt1",
    ]


def test_state_type_none_marks_pass_rules_stateless(tmp_path: Path) -> None:
    """OPNsense writes ``statetype`` in both forms; ``none`` keeps no state, so reachability
    checks the replies of what the rule passes (the ``state`` extra)."""
    text = FILE.read_text(encoding="utf-8")
    text = text.replace(
        '<rule uuid="mvc-b">\n            <enabled>1</enabled>',
        '<rule uuid="mvc-b">\n            <enabled>1</enabled><statetype>none</statetype>',
    )
    text = text.replace(
        '<rule uuid="legacy-2">\n      <type>pass</type>',
        '<rule uuid="legacy-2">\n      <type>pass</type><statetype>keep state</statetype>',
    )
    stateless = tmp_path / "o.xml"
    stateless.write_text(text, encoding="utf-8")
    config = read_config(stateless, "opnsense")
    assert {r.key: r.stateless for r in config.rules if r.key in ("uuid:mvc-b", "uuid:legacy-2")} == {
        "uuid:mvc-b": True,
        "uuid:legacy-2": False,
    }
    c = collect_file(stateless, "o.xml", "opnsense")
    (wan,) = [layer for layer in c.layers if layer.id == "opnsense:o.xml:wan"]
    assert [(r.key, dict(r.extra).get("state")) for r in wan.rules if r.action is Action.ALLOW] == [
        ("uuid:mvc-f", None),
        ("uuid:mvc-b/tcp", "none"),
        ("uuid:mvc-b/udp", "none"),
        ("uuid:legacy-3", None),
        ("uuid:legacy-2", None),
    ]
