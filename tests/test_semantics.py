"""Issue 10 "Semantics" on hand-built models: port ranges, cluster ports that follow the facts,
narrow public allowlists (TA208) and services bound beyond localhost with no filter at all."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from firewall_builders import CP_SG, W_SG, aws_model, fact, rule, seed_rules
from talosaudit.findings import Finding
from talosaudit.model import Model, PortSet
from talosaudit.policies.engine import EvalSettings, evaluate
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
