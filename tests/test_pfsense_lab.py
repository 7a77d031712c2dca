"""The seed guide's bare-metal table as a pfSense config, through merge and reachability."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.pfsense import collect_file
from talosaudit.model import (
    INTERNET,
    AddressSet,
    Collection,
    Direction,
    Model,
    NodeGroup,
    Role,
    SourceRef,
    merge,
)
from talosaudit.model.addresses import ALL_V4
from talosaudit.model.ports import TCP, UDP, PortSet
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.registry import load_catalogue
from talosaudit.reachability import Reachability, Verdict, cidr_endpoint, group_endpoint, internet_endpoint

LAB = Path(__file__).resolve().parent / "data" / "pfsense" / "lab" / "config.xml"
REL = "lab/config.xml"
CP = NodeGroup(
    id="cp",
    name="control-plane",
    role=Role.CONTROL_PLANE,
    role_reason="test",
    source=SourceRef("talos/controlplane.yaml"),
    addresses=AddressSet.of(["192.168.30.11", "192.168.30.12", "192.168.30.13"]),
)
WORKER = replace(CP, id="w", name="worker", role=Role.WORKER, addresses=AddressSet.parse("192.168.30.21"))


def _model(collection: Collection) -> Model:
    return merge([collection, Collection(node_groups=(CP, WORKER))])


def test_lab_layers_admin_and_node_placement() -> None:
    c = collect_file(LAB, REL, "pfsense")
    assert c.problems == ()
    assert [(layer.id, layer.attribute("role")) for layer in c.layers] == [
        ("pfsense:lab/config.xml:wan", "wan"),
        ("pfsense:lab/config.xml:lan", "admin"),
        ("pfsense:lab/config.xml:opt1", "nodes"),
    ]
    assert [(a.describe(), ref.start_line if ref else 0) for a, ref in c.admin] == [("192.168.20.0/24", 19)]
    lan = c.layers[1]
    assert [
        (r.key, r.source.start_line, r.describe(), r.local.describe() if r.local else "") for r in lan.rules
    ] == [
        (
            "tracker:1700000101",
            58,
            "allow tcp/6443 from ADMIN net (192.168.20.0/24)",
            "192.168.30.0/24",
        ),
        (
            "tracker:1700000102",
            73,
            "allow tcp/50000 from ADMIN net (192.168.20.0/24)",
            "192.168.30.0/24",
        ),
        ("tracker:1700000103", 88, "deny all from any", "192.168.30.0/24"),
        ("tracker:1700000104", 101, "allow all from ADMIN net (192.168.20.0/24)", "0.0.0.0/0"),
    ]
    model = _model(c)
    # Node groups without a segment are placed by address into the K8s VLAN segment.
    assert {g.name: g.segment for g in model.node_groups} == {
        "control-plane": "pfsense:lab/config.xml:opt1/net",
        "worker": "pfsense:lab/config.xml:opt1/net",
    }
    assert model.admin == AddressSet.parse("192.168.20.0/24")


def test_admin_guessed_from_a_description_only_when_the_user_names_none() -> None:
    """--admin-cidr / admin_networks: given, an interface called "ADMIN" or "MGMT" adds no
    admin network (a management VLAN for switches and IPMI is not where kubectl runs)."""
    named = collect_file(LAB, REL, "pfsense", CollectOptions(admin_named=True))
    assert named.admin == ()
    assert [(layer.id, layer.attribute("role")) for layer in named.layers] == [
        ("pfsense:lab/config.xml:wan", "wan"),
        ("pfsense:lab/config.xml:lan", ""),
        ("pfsense:lab/config.xml:opt1", "nodes"),
    ]
    guessed = collect_file(LAB, REL, "pfsense", CollectOptions())
    assert [(a.describe(), ref.resource if ref else "") for a, ref in guessed.admin] == [
        ("192.168.20.0/24", "interfaces/lan (admin: its description 'ADMIN' names an admin network)")
    ]


def test_lab_flows() -> None:
    model = _model(collect_file(LAB, REL, "pfsense"))
    engine = Reachability(model)
    cp, worker = (group_endpoint(model, g) for g in model.node_groups)
    workstation = cidr_endpoint("192.168.20.10/32", AddressSet.parse("192.168.20.10/32"))
    other_admin = cidr_endpoint("192.168.20.50/32", AddressSet.parse("192.168.20.50/32"))

    api = engine.query(workstation, cp, TCP, PortSet.single(6443))
    assert api.verdict is Verdict.ALLOWED
    assert [r.key for d in api.decisions for r in d.admitting_rules] == ["tracker:1700000101"]
    assert engine.query(workstation, cp, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED
    # Any other port: the explicit deny of the admin interface stops it.
    denied = engine.query(other_admin, cp, TCP, PortSet.single(10250))
    assert denied.verdict is Verdict.BLOCKED
    assert [r.key for d in denied.decisions for r, _ in d.denied] == ["tracker:1700000103"]
    # Same VLAN: the firewall is not on the path, so nothing blocks worker -> CP.
    inside = engine.query(worker, cp, TCP, PortSet.single(50001))
    assert inside.verdict is Verdict.ALLOWED and inside.decisions == ()
    # The internet enters on WAN, which has no pass rule: default deny.
    world = engine.query(internet_endpoint(model), cp, TCP, PortSet.single(50000))
    assert world.verdict is Verdict.BLOCKED
    # WAN's ingress rules refuse it; the K8s interface's outbound side (floating out rules
    # only, default pass) is on the path too and lets everything out.
    assert [(d.layer.id, d.direction, bool(d.blocked)) for d in world.decisions] == [
        ("pfsense:lab/config.xml:wan", Direction.INGRESS, True),
        ("pfsense:lab/config.xml:opt1", Direction.EGRESS, False),
    ]
    # Egress: HTTPS and NTP to the NTP servers leave through the K8s interface's rules.
    https = engine.query(cp, internet_endpoint(model), TCP, PortSet.single(443))
    # The guide's rules are IPv4 (inet): the IPv6 internet stays blocked.
    assert https.verdict is Verdict.PARTIAL
    assert https.allowed_destinations() == INTERNET & ALL_V4
    ntp = engine.query(
        cp, cidr_endpoint("162.159.200.1/32", AddressSet.parse("162.159.200.1/32")), UDP, PortSet.single(123)
    )
    assert ntp.verdict is Verdict.ALLOWED
    assert engine.query(cp, internet_endpoint(model), UDP, PortSet.single(123)).verdict is Verdict.PARTIAL


def test_port_forward_to_a_node_is_visible_from_the_internet(tmp_path: Path) -> None:
    text = LAB.read_text(encoding="utf-8").replace(
        "\t<nat>\n",
        "\t<nat>\n\t\t<rule>\n\t\t\t<source><any/></source>\n"
        "\t\t\t<destination><network>wanip</network><port>6443</port></destination>\n"
        "\t\t\t<protocol>tcp</protocol>\n\t\t\t<target>192.168.30.11</target>\n"
        "\t\t\t<local-port>6443</local-port>\n\t\t\t<interface>wan</interface>\n"
        "\t\t\t<associated-rule-id>pass</associated-rule-id>\n\t\t</rule>\n",
    )
    path = tmp_path / "config.xml"
    path.write_text(text, encoding="utf-8")
    nat_line = text[: text.index("<nat>\n\t\t<rule>")].count("\n") + 2
    model = _model(collect_file(path, "config.xml", "pfsense"))
    engine = Reachability(model)
    cp = next(group_endpoint(model, g) for g in model.node_groups if g.role is Role.CONTROL_PLANE)
    result = engine.query(internet_endpoint(model), cp, TCP, PortSet.single(6443))
    assert result.verdict is Verdict.PARTIAL  # one of the three control planes
    assert result.allowed_destinations() == AddressSet.parse("192.168.30.11")
    ((decision, rules),) = result.admitting()
    assert decision.layer.id == "pfsense:config.xml:wan"
    assert [(r.key, r.source.start_line, r.origin) for r, _ in rules] == [
        ("nat[0]", nat_line, "nat port forward")
    ]


def test_floating_block_out_on_the_k8s_interface_stops_traffic_from_other_interfaces(tmp_path: Path) -> None:
    """A floating quick block on the K8s interface (direction any, the GUI default) filters
    packets leaving the firewall towards the nodes, whatever interface they entered on."""
    text = LAB.read_text(encoding="utf-8").replace(
        "\t<filter>\n",
        "\t<filter>\n\t\t<rule>\n\t\t\t<tracker>42</tracker>\n\t\t\t<type>block</type>\n"
        "\t\t\t<interface>opt1</interface>\n\t\t\t<floating>yes</floating>\n\t\t\t<quick>yes</quick>\n"
        "\t\t\t<protocol>tcp</protocol>\n\t\t\t<source><any/></source>\n"
        "\t\t\t<destination><any/><port>6443</port></destination>\n\t\t</rule>\n",
        1,
    )
    path = tmp_path / "config.xml"
    path.write_text(text, encoding="utf-8")
    rule_line = text[: text.index("<tracker>42</tracker>")].count("\n")
    model = _model(collect_file(path, "config.xml", "pfsense"))
    engine = Reachability(model)
    cp = next(group_endpoint(model, g) for g in model.node_groups if g.role is Role.CONTROL_PLANE)
    workstation = cidr_endpoint("192.168.20.10/32", AddressSet.parse("192.168.20.10/32"))
    api = engine.query(workstation, cp, TCP, PortSet.single(6443))
    assert api.verdict is Verdict.BLOCKED
    blocker = api.blocking_layer
    assert blocker is not None
    assert (blocker.layer.id, blocker.direction) == ("pfsense:config.xml:opt1", Direction.EGRESS)
    assert [(r.key, r.source.start_line, r.origin) for r, _ in blocker.denied] == [
        ("tracker:42", rule_line, "floating rule")
    ]
    # Other ports still pass: the admin rule for tcp/50000 is untouched.
    assert engine.query(workstation, cp, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED


def _floating(tracker: int, action: str, interfaces: str, port: str = "") -> str:
    protocol = "\t\t\t<protocol>tcp</protocol>\n" if port else ""
    destination = f"<any/><port>{port}</port>" if port else "<any/>"
    return (
        f"\t\t<rule>\n\t\t\t<tracker>{tracker}</tracker>\n\t\t\t<type>{action}</type>\n"
        f"\t\t\t<interface>{interfaces}</interface>\n\t\t\t<floating>yes</floating>\n"
        f"\t\t\t<quick>yes</quick>\n\t\t\t<direction>in</direction>\n{protocol}"
        f"\t\t\t<source><any/></source>\n\t\t\t<destination>{destination}</destination>\n"
        f"\t\t\t<descr>floating {tracker}</descr>\n\t\t</rule>\n"
    )


def test_a_floating_rule_shadowed_on_one_of_its_interfaces_still_matches(tmp_path: Path) -> None:
    """TA403 "never matches" holds only when every interface a floating rule sits on shadows it."""
    rules = _floating(90, "block", "wan") + _floating(91, "pass", "wan,lan", "8080")
    rules += _floating(92, "pass", "wan", "8081")
    text = LAB.read_text(encoding="utf-8").replace("\t<filter>\n", "\t<filter>\n" + rules, 1)
    path = tmp_path / "config.xml"
    path.write_text(text, encoding="utf-8")
    line_92 = text[: text.index("<tracker>92</tracker>")].count("\n")
    model = _model(collect_file(path, "config.xml", "pfsense"))
    found = [f for f in evaluate(model, load_catalogue(), EvalSettings()) if f.rule_id == "TA403"]
    assert [(f.location.path, f.location.start_line, f.identity) for f in found] == [
        ("config.xml", line_92, "pfsense:config.xml:wan|tracker:92")
    ]
    assert (
        "never matches: pfSense's built-in 'Block private networks' rule on WAN (config.xml:11), "
        "pfSense rule 'floating 90' (config.xml:"
    ) in found[0].message


def test_a_non_quick_floating_rule_is_described_in_gui_order(tmp_path: Path) -> None:
    """pf applies the last matching non-quick rule: a non-quick pass above a non-quick block
    of everything on WAN never decides. The message names the rule *below* it in the GUI list
    (not "earlier", which is only true of the reversed list the evaluation uses) and in words."""
    pass_8082 = _floating(93, "pass", "wan", "8082").replace("\t\t\t<quick>yes</quick>\n", "")
    block_all = _floating(94, "block", "wan").replace("\t\t\t<quick>yes</quick>\n", "")
    text = LAB.read_text(encoding="utf-8").replace("\t<filter>\n", "\t<filter>\n" + pass_8082 + block_all, 1)
    path = tmp_path / "config.xml"
    path.write_text(text, encoding="utf-8")
    line_93 = text[: text.index("<tracker>93</tracker>")].count("\n")
    line_94 = text[: text.index("<tracker>94</tracker>")].count("\n")
    model = _model(collect_file(path, "config.xml", "pfsense"))
    found = [f for f in evaluate(model, load_catalogue(), EvalSettings()) if f.rule_id == "TA403"]
    assert [(f.location.start_line, f.identity) for f in found] == [
        (line_93, "pfsense:config.xml:wan|tracker:93")
    ]
    assert found[0].message == (
        "rule tracker:93 (floating 93) in pfSense rules pfsense:config.xml:wan "
        "(allow tcp/8082 from any (IPv4)) never matches (it is not quick: it decides only when no rule "
        "below it matches): pfSense's built-in "
        "'Block private networks' rule on WAN (config.xml:11) has quick set and decides first; "
        f"pfSense rule 'floating 94' (config.xml:{line_94}) below it in the GUI list matches the rest, "
        "and pf applies the last matching non-quick rule"
    )
