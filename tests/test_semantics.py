"""Issue 10 "Semantics" on hand-built models: port ranges, cluster ports that follow the facts,
narrow public allowlists (TA208) and services bound beyond localhost with no filter at all."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from firewall_builders import CP_SG, W_SG, aws_model, fact, node_group, rule, seed_rules
from talosaudit.findings import Finding
from talosaudit.model import AddressSet, Fact, FactOrigin, Model, PortSet, Role, SourceRef
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.flows import binds_beyond_localhost
from talosaudit.policies.registry import load_catalogue

CATALOGUE = load_catalogue()
CILIUM = [fact("cni", "cilium"), fact("tunnel", "geneve")]
CP_TEXT = f"security group {CP_SG}"
W_TEXT = f"security group {W_SG}"


def run(model: Model, only: Iterable[str] | None = None, **params: dict[str, object]) -> list[Finding]:
    found = evaluate(model, CATALOGUE, EvalSettings(params=params))
    wanted = set(only) if only is not None else None
    return [f for f in found if wanted is None or f.rule_id in wanted]


def seed(*extra_cp: object, facts: Iterable[object] = CILIUM, **kw: object) -> Model:
    cp, w = seed_rules()
    cp.extend(extra_cp)  # type: ignore[arg-type]
    return aws_model(cp, w, facts=facts, **kw)  # type: ignore[arg-type]


# --- port ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "every"), [("0-65535", True), ("1-65535", True), ("2-65535", False), ("1-65534", False)]
)
def test_every_port_starts_at_zero_or_one(text: str, every: bool) -> None:
    assert PortSet.parse(text).is_every_port() is every


def test_tcp_from_one_to_65535_is_all_tcp_ports() -> None:
    extra = rule("cp_tcp_lan", 300, "tcp", "1-65535", cidrs=["10.0.0.0/8"], description="lan")
    (f,) = run(seed(extra), ["TA206"])
    assert f.message == (
        f"rule cp_tcp_lan (lan) in {CP_TEXT} allows all tcp ports (1-65535) from 10.0.0.0/8, "
        "which reaches beyond the node network (10.0.0.0/16)"
    )
    assert (f.location.path, f.location.start_line) == ("network/security_groups.tf", 300)
    # and TA207 does not report the same rule again
    assert run(seed(extra), ["TA207"]) == []


def test_all_protocols_from_one_to_65535_is_all_traffic() -> None:
    extra = rule("cp_any_lan", 300, "-1", "1-65535", cidrs=["10.0.0.0/8"], description="lan")
    (f,) = run(seed(extra), ["TA206"])
    assert f.message.startswith(
        f"rule cp_any_lan (lan) in {CP_TEXT} allows all traffic (1-65535) from 10.0.0.0/8"
    )


def test_a_range_short_of_the_top_port_is_not_all_ports() -> None:
    extra = rule("cp_tcp_lan", 300, "tcp", "1-65000", cidrs=["10.0.0.0/8"], description="lan")
    assert run(seed(extra), ["TA206"]) == []


# --- cluster ports follow the facts ----------------------------------------------------

_LAN = ["10.0.0.0/8"]


def _ta207_flows(model: Model) -> list[str]:
    return [dict(f.properties)["flow"] for f in run(model, ["TA207"])]


def test_kubespan_port_counts_only_with_kubespan() -> None:
    extra = rule("cp_wg", 300, "udp", "51820", cidrs=_LAN, description="wg")
    assert _ta207_flows(seed(extra)) == []
    assert _ta207_flows(seed(extra, facts=[*CILIUM, fact("kubespan", "true")])) == ["udp/51820"]


def test_cilium_wireguard_port_counts_only_with_cilium_wireguard() -> None:
    extra = rule("cp_wg", 300, "udp", "51871", cidrs=_LAN, description="wg")
    assert _ta207_flows(seed(extra)) == []
    assert _ta207_flows(seed(extra, facts=[*CILIUM, fact("wireguard", "true")])) == ["udp/51871"]


def test_only_the_tunnel_in_use_is_a_cluster_port() -> None:
    extra = rule("cp_tunnels", 300, "udp", "4789-8472", cidrs=_LAN, description="tunnels")
    assert _ta207_flows(seed(extra)) == ["udp/6081"]  # Cilium Geneve
    assert _ta207_flows(seed(extra, facts=[fact("cni", "cilium")])) == ["udp/8472"]  # VXLAN default
    assert _ta207_flows(seed(extra, facts=[])) == ["udp/4789"]  # Talos-managed Flannel
    ported = [fact("cni", "flannel"), fact("tunnel_port", "8472")]
    assert _ta207_flows(seed(extra, facts=ported)) == ["udp/8472"]
    # a CNI the user installs: the tunnel is unknown, every overlay port counts
    assert _ta207_flows(seed(extra, facts=[fact("cni", "none")])) == ["udp/4789,6081,8472"]


# --- narrow public allowlists (TA208) --------------------------------------------------


def _talos(cidrs: list[str], path: str = "network/security_groups.tf") -> object:
    return rule("cp_talosctl", 300, ports="50000", cidrs=cidrs, description="talosctl", path=path)


def test_a_public_slash_32_is_an_undeclared_allowlist_not_the_internet() -> None:
    findings = run(seed(_talos(["145.40.7.10/32"])))
    assert [(f.rule_id, f.level.value, f.location.start_line) for f in findings] == [("TA208", "note", 300)]
    assert findings[0].message == (
        "tcp/50000 reachable from public 145.40.7.10/32, not declared as an admin network; declare it "
        "with --admin-cidr or admin_networks (the Talos API on control-plane nodes, through rule "
        f"cp_talosctl (talosctl) in {CP_TEXT})"
    )
    assert findings[0].identity == "cp_talosctl|tcp/50000|145.40.7.10/32|control-plane nodes"


def test_declaring_the_allowlist_silences_it() -> None:
    exposure = ["TA201", "TA207", "TA208"]
    assert run(seed(_talos(["145.40.7.10/32"]), admin=["145.40.7.10/32"]), exposure) == []
    assert run(seed(_talos(["145.40.7.10/32"]), admin=["145.40.7.0/24"]), exposure) == []


@pytest.mark.parametrize(
    ("cidr", "rule_id"),
    [
        ("145.40.7.0/24", "TA208"),  # no wider than the threshold
        ("145.40.6.0/23", "TA201"),  # wider: the internet
        ("2a01:4f8:c0c:1200::/56", "TA208"),
        ("2a01:4f8:c0c::/48", "TA201"),
        ("0.0.0.0/0", "TA201"),
    ],
)
def test_the_allowlist_threshold_is_ta207s_prefix(cidr: str, rule_id: str) -> None:
    assert [f.rule_id for f in run(seed(_talos([cidr])))] == [rule_id]


def test_the_threshold_follows_ta207s_parameters() -> None:
    relaxed = run(seed(_talos(["145.40.6.0/23"])), TA207={"min_public_prefix": 22})
    assert [f.rule_id for f in relaxed] == ["TA208"]


def test_two_narrow_networks_in_one_rule_stay_an_allowlist_but_adjacent_ones_merge() -> None:
    two = run(seed(_talos(["145.40.7.10/32", "91.198.174.0/24"])))
    assert [f.rule_id for f in two] == ["TA208"]
    assert "reachable from public 91.198.174.0/24, 145.40.7.10/32, not declared" in two[0].message
    halves = run(seed(_talos(["145.40.6.0/24", "145.40.7.0/24"])))  # together a /23
    assert [f.rule_id for f in halves] == ["TA201"]


def test_documentation_ranges_are_placeholders_outside_tests() -> None:
    (f,) = run(seed(_talos(["203.0.113.0/24"])))
    assert f.rule_id == "TA208"
    assert f.message.startswith(
        "tcp/50000 reachable from public 203.0.113.0/24, not declared as an admin network; it is a "
        "placeholder address (a documentation range no real network uses)"
    )
    # any width: 2001:db8::/32 is wider than /56 but still a placeholder, not the internet
    (v6,) = run(seed(_talos(["2001:db8::/32"])))
    assert (v6.rule_id, "placeholder address" in v6.message) == ("TA208", True)
    # in a test fixture a documentation range is an ordinary allowlist
    (fixture,) = run(seed(_talos(["203.0.113.7/32"], path="tests/fixtures/sg.tf")))
    assert fixture.rule_id == "TA208" and "placeholder" not in fixture.message


def test_one_note_per_rule_and_role_over_every_watched_port() -> None:
    wide = rule("wk_operator", 300, "tcp", "all", cidrs=["145.40.7.10/32"], description="operator")
    findings = run(aws_model(seed_rules()[0], [*seed_rules()[1], wide], facts=CILIUM), ["TA208"])
    assert [f.message.split(" reachable")[0] for f in findings] == ["tcp/30000-32767,50000-50001"]
    assert (
        "(the Talos API and the NodePort range on worker nodes, through rule wk_operator"
        in findings[0].message
    )


def test_allowlists_are_not_reported_again_by_ta207() -> None:
    extra = rule("cp_office", 300, ports="6443,50000", cidrs=["145.40.7.0/28"], description="office")
    assert [f.rule_id for f in run(seed(extra))] == ["TA208"]


# --- pod and service CIDRs --------------------------------------------------------------


def test_talos_default_pod_cidr_is_inside_the_cluster_for_the_kubelet_not_for_etcd() -> None:
    kubelet = rule("cp_kubelet_pods", 300, ports="10250", cidrs=["10.244.0.0/16"], description="pods")
    assert run(seed(kubelet, node_network="10.0.0.0/16")) == []
    etcd = rule("cp_etcd_pods", 300, ports="2379-2380", cidrs=["10.244.0.0/16"], description="pods")
    assert [f.rule_id for f in run(seed(etcd))] == ["TA203"]
    # a stated pod CIDR replaces the default
    stated = [*CILIUM, fact("pod_subnets", "10.32.0.0/16")]
    assert [f.rule_id for f in run(seed(kubelet, facts=stated))] == ["TA204"]


# --- no filtering layer at all ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "beyond"),
    [
        ("0.0.0.0", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("http://localhost:2381", False),
        ("http://127.0.0.1:2381,http://10.0.1.10:2381", True),
        ("http://[::1]:2381", False),
        ("http://[::]:2381", True),
    ],
)
def test_binds_beyond_localhost(value: str, beyond: bool) -> None:
    assert binds_beyond_localhost(value) is beyond


def _bare_metal(*facts: Fact) -> Model:
    """Two nodes on a LAN with no firewall layer at all."""
    groups = (
        node_group("cp", Role.CONTROL_PLANE, [], addresses="192.168.40.11/32"),
        node_group("wk", Role.WORKER, [], addresses="192.168.40.21/32"),
    )
    return Model(
        node_groups=groups, facts={f.name: f for f in facts}, node_network=AddressSet.parse("192.168.40.0/24")
    )


def _bind(name: str, value: str, line: int) -> Fact:
    return Fact(
        name,
        value,
        f"set at controlplane.yaml:{line}",
        FactOrigin.TALOS_CONFIG,
        SourceRef("controlplane.yaml", line),
    )


def test_a_bind_beyond_localhost_with_no_firewall_is_reported_at_the_bind_line() -> None:
    model = _bare_metal(
        _bind("kube_scheduler_bind_address", "0.0.0.0", 22),
        _bind("kube_controller_manager_bind_address", "127.0.0.1", 19),
        _bind("etcd_listen_metrics_urls", "http://0.0.0.0:2381", 25),
    )
    findings = run(model, ["TA203", "TA205"])
    assert [(f.rule_id, f.location.path, f.location.start_line) for f in findings] == [
        ("TA203", "controlplane.yaml", 25),
        ("TA205", "controlplane.yaml", 22),
    ]
    assert findings[1].message == (
        "tcp/10259 (kube-controller-manager / kube-scheduler) on control-plane nodes is reachable from "
        "any address: no firewall filters these nodes (no security group, no active Proxmox firewall, "
        "no Talos ingress: block), and the configuration binds the service beyond localhost; "
        "kube-scheduler is bound to 0.0.0.0 (set at controlplane.yaml:22)"
    )


def test_localhost_binds_and_unknown_binds_stay_quiet_without_a_firewall() -> None:
    assert run(_bare_metal(), ["TA203", "TA205"]) == []
    local = _bare_metal(_bind("kube_scheduler_bind_address", "127.0.0.1", 22))
    assert run(local, ["TA203", "TA205"]) == []


def test_a_filtering_layer_keeps_the_finding_at_its_rule() -> None:
    extra = rule("cp_sched_vpc", 300, ports="10259", cidrs=["10.0.0.0/16"], description="x")
    model = seed(extra)
    bound = Model(
        node_groups=model.node_groups,
        layers=model.layers,
        facts={
            **model.facts,
            "kube_scheduler_bind_address": _bind("kube_scheduler_bind_address", "0.0.0.0", 22),
        },
        node_network=model.node_network,
    )
    (f,) = run(bound, ["TA205"])
    assert (f.location.path, f.location.start_line) == ("network/security_groups.tf", 300)
