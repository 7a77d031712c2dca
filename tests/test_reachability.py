"""Reachability: exact verdicts, allowed spaces and blocking layers on hand-built models."""

from __future__ import annotations

from dataclasses import replace

from firewall_builders import (
    CP_SG,
    VPC,
    W_SG,
    aws_model,
    egress_all,
    gateway,
    network_acl,
    node_group,
    rule,
    security_group,
    seed_rules,
    segment,
)
from talosaudit.model import (
    ICMP,
    INTERNET,
    TCP,
    UDP,
    Action,
    AddressSet,
    Direction,
    LayerKind,
    Model,
    PortSet,
    Role,
    Unresolved,
)
from talosaudit.model.addresses import ALL_V4, ALL_V6
from talosaudit.reachability import (
    Side,
    Verdict,
    admin_endpoint,
    cidr_endpoint,
    group_endpoint,
    internet_endpoint,
    node_network_endpoint,
    query,
    trusted_admin,
)


def groups(model: Model) -> tuple[object, object]:
    cp, w = model.node_groups
    return group_endpoint(model, cp), group_endpoint(model, w)


def test_trustd_allowed_by_group_label_and_blocked_without_the_rule() -> None:
    model = aws_model()
    cp, w = groups(model)
    ok = query(model, w, cp, TCP, PortSet.single(50001))
    assert ok.verdict is Verdict.ALLOWED
    assert [(d.layer.id, d.direction, d.side) for d in ok.decisions] == [
        (W_SG, Direction.EGRESS, Side.SOURCE),
        (CP_SG, Direction.INGRESS, Side.DESTINATION),
    ]
    assert [r.key for r in ok.decisions[1].admitting_rules] == ["cp_trustd"]
    assert ok.blocking_layer is None

    cp_rules, w_rules = seed_rules(skip=["cp_trustd"])
    model = aws_model(cp_rules, w_rules)
    cp, w = groups(model)
    res = query(model, w, cp, TCP, PortSet.single(50001))
    assert res.verdict is Verdict.BLOCKED
    assert res.blocking_layer is not None
    assert res.blocking_layer.layer.id == CP_SG
    assert res.blocking_layer.blocks_all
    assert res.blocking_layer.reason() == "no ingress rule allows it"
    assert [r.key for r in res.decisions[0].admitting_rules] == ["wk_egress_all"]
    assert not res.allowed and res.surely_blocked.ports() == PortSet.single(50001)


def test_partial_port_range_is_exact() -> None:
    cp_rules, w_rules = seed_rules(skip=["cp_etcd"])
    cp_rules.append(rule("cp_etcd_client", 40, ports="2379", groups=[CP_SG]))
    model = aws_model(cp_rules, w_rules)
    cp, _ = groups(model)
    res = query(model, cp, cp, TCP, PortSet.range(2379, 2380))
    assert res.verdict is Verdict.PARTIAL
    assert res.allowed_ports() == PortSet.single(2379)
    assert res.surely_blocked.ports() == PortSet.single(2380)


def test_group_reference_never_matches_the_internet() -> None:
    model = aws_model()
    cp, _ = groups(model)
    res = query(model, internet_endpoint(model), cp, TCP, PortSet.range(2379, 2380))
    assert res.verdict is Verdict.BLOCKED
    assert res.decisions[0].layer.id == CP_SG  # the internet has no layers of its own


def test_half_internets_add_up_to_all_ipv4() -> None:
    cp_rules, w_rules = seed_rules()
    cp_rules.append(rule("cp_half_a", 300, ports="50000", cidrs=["0.0.0.0/1"]))
    cp_rules.append(rule("cp_half_b", 310, ports="50000", cidrs=["128.0.0.0/1"]))
    model = aws_model(cp_rules, w_rules)
    cp, _ = groups(model)
    res = query(model, internet_endpoint(model), cp, TCP, PortSet.single(50000))
    assert res.verdict is Verdict.PARTIAL  # IPv6 internet still blocked
    assert res.allowed_sources() == INTERNET & ALL_V4
    assert res.surely_blocked.sources() == INTERNET & ALL_V6
    rules = res.admitting()
    assert [(d.layer.id, [r.key for r, _ in hits]) for d, hits in rules] == [
        (CP_SG, ["cp_half_a", "cp_half_b"])
    ]


def test_ipv6_world_rule() -> None:
    cp_rules, w_rules = seed_rules()
    cp_rules.append(rule("cp_v6", 300, ports="50000", cidrs=["::/0"]))
    model = aws_model(cp_rules, w_rules)
    cp, _ = groups(model)
    res = query(model, internet_endpoint(model), cp, TCP, PortSet.single(50000))
    assert res.allowed_sources() == INTERNET & ALL_V6


def test_nacl_between_subnets_blocks_geneve_and_not_inside_a_subnet() -> None:
    nacl = network_acl(
        "acl_cp",
        5,
        ["subnet_cp"],
        [
            rule("acl_cp/ingress/100", 6, "udp", "6081", ["10.0.2.0/24"], action=Action.DENY, path="n.tf"),
            rule("acl_cp/ingress/200", 7, "-1", cidrs=["0.0.0.0/0"], path="n.tf"),
            rule("acl_cp/egress/100", 8, "-1", cidrs=["0.0.0.0/0"], direction=Direction.EGRESS),
        ],
    )
    model = aws_model(
        cp_addresses="10.0.1.0/24",
        w_addresses="10.0.2.0/24",
        cp_segment="subnet_cp",
        w_segment="subnet_w",
        segments=[segment("subnet_cp", "10.0.1.0/24"), segment("subnet_w", "10.0.2.0/24")],
        extra_layers=[nacl],
    )
    cp, w = groups(model)
    res = query(model, w, cp, UDP, PortSet.single(6081))
    assert res.verdict is Verdict.BLOCKED
    assert res.blocking_layer is not None and res.blocking_layer.layer.id == "acl_cp"
    assert res.blocking_layer.side is Side.NETWORK
    assert res.blocking_layer.reason() == "ingress rule acl_cp/ingress/100 denies it"
    assert query(model, cp, cp, UDP, PortSet.single(6081)).verdict is Verdict.ALLOWED
    # CP -> worker leaves through the NACL's egress (allow all); replies to the workers'
    # ephemeral ports are not hit by the udp/6081 deny
    assert query(model, cp, w, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED
    assert query(model, cp, w, UDP, PortSet.single(6081)).verdict is Verdict.ALLOWED


def _trustd_nacl(egress_ports: str) -> Model:
    nacl = network_acl(
        "acl_cp",
        5,
        ["subnet_cp"],
        [
            rule("in/100", 6, "tcp", "50001", ["10.0.2.0/24"]),
            rule("out/100", 7, "tcp", egress_ports, ["10.0.2.0/24"], direction=Direction.EGRESS),
        ],
    )
    return aws_model(
        cp_addresses="10.0.1.0/24",
        w_addresses="10.0.2.0/24",
        cp_segment="subnet_cp",
        w_segment="subnet_w",
        segments=[segment("subnet_cp", "10.0.1.0/24"), segment("subnet_w", "10.0.2.0/24")],
        extra_layers=[nacl],
    )


def test_stateless_nacl_checks_the_return_traffic() -> None:
    model = _trustd_nacl("443")
    cp, w = groups(model)
    res = query(model, w, cp, TCP, PortSet.single(50001))
    assert res.verdict is Verdict.BLOCKED
    blocking = res.blocking_layer
    assert blocking is not None and blocking.layer.id == "acl_cp"
    assert blocking.return_blocked
    assert "return traffic" in blocking.reason()
    for enough in ("1024-65535", "32768-65535"):
        model = _trustd_nacl(enough)
        cp, w = groups(model)
        assert query(model, w, cp, TCP, PortSet.single(50001)).verdict is Verdict.ALLOWED
    # only part of the nodes' ephemeral range (32768-60999): some connections break
    model = _trustd_nacl("49152-65535")
    cp, w = groups(model)
    assert query(model, w, cp, TCP, PortSet.single(50001)).verdict is Verdict.BLOCKED


def test_unresolved_cidr_gives_unknown_not_a_pass_or_a_block() -> None:
    cp_rules, w_rules = seed_rules(skip=["cp_trustd"])
    cp_rules.append(
        rule("cp_trustd", 30, ports="50001", unresolved=(Unresolved("cidr_blocks", "var.worker_cidrs"),))
    )
    model = aws_model(cp_rules, w_rules)
    cp, w = groups(model)
    res = query(model, w, cp, TCP, PortSet.single(50001))
    assert res.verdict is Verdict.UNKNOWN
    assert not res.allowed
    assert res.possible.same(res.space)
    assert not res.surely_blocked


def test_unresolved_deny_in_first_match_list_is_unknown() -> None:
    nacl = network_acl(
        "acl_cp",
        5,
        ["subnet_cp"],
        [
            rule("in/50", 6, "tcp", "50001", action=Action.DENY, unresolved=(Unresolved("cidr_block", "x"),)),
            rule("in/100", 7, "-1", cidrs=["0.0.0.0/0"]),
            rule("out/100", 8, "-1", cidrs=["0.0.0.0/0"], direction=Direction.EGRESS),
        ],
    )
    model = aws_model(
        cp_segment="subnet_cp",
        w_segment="subnet_w",
        segments=[segment("subnet_cp", "10.0.1.0/24"), segment("subnet_w", "10.0.2.0/24")],
        extra_layers=[nacl],
    )
    cp, w = groups(model)
    assert query(model, w, cp, TCP, PortSet.single(50001)).verdict is Verdict.UNKNOWN
    assert query(model, w, cp, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED  # deny is 50001 only


def test_approximate_group_addresses() -> None:
    # No instance addresses: the nodes are somewhere in the node network.
    cp_rules, w_rules = seed_rules()
    cp_rules.append(rule("cp_sub", 300, ports="7000", cidrs=["10.0.1.0/24"]))
    model = aws_model(cp_rules, w_rules)
    cp, w = groups(model)
    assert w.approximate and w.addresses == AddressSet.parse(VPC)
    assert query(model, w, cp, TCP, PortSet.single(6443)).verdict is Verdict.ALLOWED  # VPC rule
    assert query(model, w, cp, TCP, PortSet.single(7000)).verdict is Verdict.UNKNOWN  # part of VPC


def test_disabled_layers_and_rules() -> None:
    cp_rules, w_rules = seed_rules()
    cp_rules.append(rule("cp_off", 300, ports="9000", cidrs=["0.0.0.0/0"], enabled=False))
    model = aws_model(cp_rules, w_rules)
    cp, _ = groups(model)
    assert query(model, internet_endpoint(model), cp, TCP, PortSet.single(9000)).verdict is Verdict.BLOCKED
    off = security_group(CP_SG, 1, [])
    model = aws_model(cp_rules, w_rules, extra_layers=[type(off)(**{**_fields(off), "enabled": False})])
    cp, _ = groups(model)
    assert query(model, internet_endpoint(model), cp, TCP, PortSet.single(9000)).verdict is Verdict.ALLOWED


def _fields(layer: object) -> dict[str, object]:
    return {name: getattr(layer, name) for name in layer.__slots__}  # type: ignore[attr-defined]


def test_missing_egress_blocks_at_the_source() -> None:
    cp_rules, w_rules = seed_rules(skip=["wk_egress_all"])
    model = aws_model(cp_rules, w_rules)
    cp, w = groups(model)
    res = query(model, w, cp, TCP, PortSet.single(50001))
    assert res.verdict is Verdict.BLOCKED
    assert res.blocking_layer is not None
    assert (res.blocking_layer.layer.id, res.blocking_layer.direction) == (W_SG, Direction.EGRESS)
    assert res.blocking_layer.reason() == "no egress rule allows it"


def test_gateway_rules_of_the_source_interface_with_local_destinations() -> None:
    fw = gateway(
        "pfsense/admin",
        ["admin_lan"],
        [
            rule("pf/1", 1, "tcp", "6443", ["192.168.10.0/24"], local="192.168.30.10/32"),
            rule("pf/2", 2, "tcp", "50000", ["192.168.10.0/24"], local="192.168.30.0/24"),
        ],
    )
    cp = node_group("cp", Role.CONTROL_PLANE, [], addresses="192.168.30.8/29", segment="k8s")
    model = Model(
        node_groups=(cp,),
        layers={fw.id: fw},
        segments={
            "admin_lan": segment("admin_lan", "192.168.10.0/24"),
            "k8s": segment("k8s", "192.168.30.0/24"),
        },
        admin=AddressSet.parse("192.168.10.0/24"),
    )
    dst = group_endpoint(model, cp)
    api = query(model, admin_endpoint(model), dst, TCP, PortSet.single(6443))
    assert api.verdict is Verdict.PARTIAL
    assert api.allowed_destinations() == AddressSet.parse("192.168.30.10/32")
    assert api.decisions[0].reason() == "no ingress rule matches it and the default ingress action is deny"
    assert query(model, admin_endpoint(model), dst, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED
    # inside the same segment the gateway is not on the path
    same = cidr_endpoint("neighbour", AddressSet.parse("192.168.30.100/32"))
    assert query(model, same, dst, TCP, PortSet.single(22)).verdict is Verdict.ALLOWED


def test_internet_endpoint_splits_by_segment_and_passes_the_nacl() -> None:
    nacl = network_acl(
        "acl_cp",
        5,
        ["subnet_cp"],
        [
            rule("in/100", 6, "tcp", "6443", ["0.0.0.0/0"]),
            rule("out/100", 7, "tcp", "1024-65535", ["0.0.0.0/0"], direction=Direction.EGRESS),
        ],
    )
    cp_rules, w_rules = seed_rules()
    cp_rules.append(rule("cp_api_world", 300, ports="6443", cidrs=["0.0.0.0/0"]))
    model = aws_model(
        cp_rules,
        w_rules,
        cp_addresses="10.0.1.10/32",
        cp_segment="subnet_cp",
        segments=[segment("subnet_cp", "10.0.1.0/24")],
        extra_layers=[nacl],
    )
    cp, _ = groups(model)
    res = query(model, internet_endpoint(model), cp, TCP, PortSet.single(6443))
    assert res.allowed_sources() == INTERNET & ALL_V4
    admitting = res.admitting()
    assert [(d.layer.id, [r.key for r, _ in hits]) for d, hits in admitting] == [
        ("acl_cp", ["in/100"]),
        (CP_SG, ["cp_api_world"]),
    ]
    # from the node network, the CP subnet's own hosts do not cross the NACL
    nn = query(model, node_network_endpoint(model), cp, TCP, PortSet.single(6443))
    assert nn.verdict is Verdict.ALLOWED


def test_all_protocols_query_and_icmp() -> None:
    model = aws_model()
    cp, w = groups(model)
    assert query(model, w, cp, ICMP, PortSet.all()).verdict is Verdict.ALLOWED
    res = query(model, w, cp, None, PortSet.all())
    assert res.verdict is Verdict.PARTIAL
    assert res.allowed.protocols().contains(ICMP)


def test_trusted_admin_networks() -> None:
    wide = aws_model(admin=["0.0.0.0/0"])
    assert not trusted_admin(wide)
    narrow = aws_model(admin=["196.45.28.20/32", "10.9.0.0/16", "8.0.0.0/16"])
    assert trusted_admin(narrow) == AddressSet.of(["196.45.28.20/32", "10.9.0.0/16"])
    endpoint = internet_endpoint(narrow, trusted_admin(narrow))
    assert not endpoint.addresses.overlaps(AddressSet.parse("196.45.28.20/32"))


def test_egress_rules_match_the_destination_label() -> None:
    w_rules = [
        rule("wk_out_cp", 1, ports="50001", groups=[CP_SG], direction=Direction.EGRESS),
        rule("wk_in", 2, ports="50000", groups=[CP_SG]),
    ]
    cp_rules, _ = seed_rules()
    model = aws_model(cp_rules, w_rules)
    cp, w = groups(model)
    assert query(model, w, cp, TCP, PortSet.single(50001)).verdict is Verdict.ALLOWED
    assert query(model, w, cp, TCP, PortSet.single(6443)).verdict is Verdict.BLOCKED
    out = query(model, w, internet_endpoint(model), TCP, PortSet.single(443))
    assert out.verdict is Verdict.BLOCKED and out.blocking_layer is not None
    assert out.blocking_layer.layer.id == W_SG
    assert [r.key for r in security_group("x", 1, [egress_all("e", 1)]).rules] == ["e"]


def test_several_security_groups_on_one_node_are_united_not_in_series() -> None:
    """AWS unites the rules of every group an interface carries: the workers here carry the
    worker group and an ssh group without egress; the ssh group neither blocks their egress
    nor what the worker group admits, and a flow neither admits is refused once, by the group
    with a role, naming the other. A Talos host firewall behind them stays in series."""
    ssh = "aws_security_group.ssh"
    cp_rules, w_rules = seed_rules(skip=["wk_egress_all"])
    cp_rules.append(rule("cp_nodeport", 130, ports="30000-32767", cidrs=["0.0.0.0/0"]))
    model = aws_model(cp_rules, w_rules)
    ssh_layer = security_group(ssh, 400, [rule("ssh", 410, ports="22", cidrs=["10.0.99.0/24"])])
    worker_layer = model.layers[W_SG]
    workers = node_group("workers", Role.WORKER, [W_SG, ssh], labels=[W_SG, ssh])
    model = Model(
        node_groups=(model.node_groups[0], workers),
        layers={
            **model.layers,
            ssh: ssh_layer,
            W_SG: replace(
                worker_layer,
                rules=(*worker_layer.rules, egress_all("wk_egress_all", 290)),
                attributes=(("role", "worker"),),
            ),
        },
        node_network=model.node_network,
    )
    cp, w = groups(model)
    # Egress: the worker group allows all, the ssh group none; united, all passes.
    assert query(model, w, cp, TCP, PortSet.single(50001)).verdict is Verdict.ALLOWED
    assert (
        query(
            model, w, cidr_endpoint("web", AddressSet.parse("192.0.2.1/32")), TCP, PortSet.single(443)
        ).verdict
        is Verdict.ALLOWED
    )
    # Ingress: 50000 from the control plane (worker group) and 22 from 10.0.99.0/24 (ssh group).
    assert query(model, cp, w, TCP, PortSet.single(50000)).verdict is Verdict.ALLOWED
    ssh_ok = query(
        model, cidr_endpoint("bastion", AddressSet.parse("10.0.99.5/32")), w, TCP, PortSet.single(22)
    )
    assert ssh_ok.verdict is Verdict.ALLOWED
    assert [(d.layer.id, [r.key for r in d.admitting_rules]) for d in ssh_ok.decisions] == [
        (W_SG, []),
        (ssh, ["ssh"]),
    ]
    # Refused by neither: one blocking decision, on the group with a role, naming the other.
    res = query(model, cp, w, TCP, PortSet.single(6443))
    assert res.verdict is Verdict.BLOCKED
    assert [(d.layer.id, bool(d.surely_blocked)) for d in res.decisions] == [
        (CP_SG, False),
        (W_SG, True),
        (ssh, False),
    ]
    assert res.blocking_layer is not None and res.blocking_layer.layer.id == W_SG
    assert res.blocking_layer.reason() == (
        "no ingress rule allows it, nor does one of the other security groups on the same nodes "
        "(aws_security_group.ssh)"
    )
    # A layer of another kind behind the groups is in series with their union.
    host = replace(ssh_layer, id="talos-host", kind=LayerKind.TALOS_HOST, rules=())
    walled = node_group("workers", Role.WORKER, [W_SG, ssh, "talos-host"], labels=[W_SG, ssh])
    model = Model(
        node_groups=(model.node_groups[0], walled),
        layers={**model.layers, "talos-host": host},
        node_network=model.node_network,
    )
    cp, w = groups(model)
    blocked = query(model, cp, w, TCP, PortSet.single(50000))
    assert blocked.verdict is Verdict.BLOCKED
    assert blocked.blocking_layer is not None and blocked.blocking_layer.layer.id == "talos-host"
