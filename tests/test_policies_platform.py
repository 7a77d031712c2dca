"""The policy engine on platform layers: pfSense-like gateways between VLANs (TA405, TA206 on
first-match lists), Proxmox layers that TA401 already reports, and paths that nothing filters.
Hand-built models (see firewall_builders) and, for the Proxmox layer's location, the real
collector on a small export tree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from firewall_builders import gateway, node_group, rule, segment
from talosaudit.collectors.discover import discover
from talosaudit.collectors.proxmox import collect as collect_proxmox
from talosaudit.findings import Finding
from talosaudit.model import (
    INTERNET,
    Action,
    AddressSet,
    Layer,
    LayerKind,
    Model,
    Placement,
    Role,
    Rule,
    Semantics,
    SourceRef,
)
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.flows import _outermost
from talosaudit.policies.registry import load_catalogue

CATALOGUE = load_catalogue()
FW = "pfsense/config.xml"
ADMIN_NET, K8S_NET = "192.168.20.0/24", "192.168.30.0/24"
LAN = "pfsense:config.xml:lan"


def run(model: Model, only: Iterable[str]) -> list[Finding]:
    wanted = set(only)
    return [f for f in evaluate(model, CATALOGUE, EvalSettings()) if f.rule_id in wanted]


def brief(findings: Iterable[Finding]) -> list[tuple[str, str, int]]:
    return sorted((f.rule_id, f.location.path, f.location.start_line) for f in findings)


def lab(admin_rules: list[Rule], node_layers: tuple[str, ...] = (), extra: Iterable[Layer] = ()) -> Model:
    """The seed's bare-metal lab: admin VLAN and K8s VLAN behind one firewall, a WAN."""
    layers = [
        gateway(LAN, ["admin"], admin_rules),
        gateway("pfsense:config.xml:wan", ["wan"], []),
        *extra,
    ]
    groups = (
        node_group("cp", Role.CONTROL_PLANE, node_layers, addresses="192.168.30.11/32", segment="k8s"),
        node_group("w", Role.WORKER, node_layers, addresses="192.168.30.21/32", segment="k8s"),
    )
    segments = [segment("admin", ADMIN_NET), segment("k8s", K8S_NET), segment("wan", "0.0.0.0/0", True)]
    segments[2] = replace(segments[2], addresses=INTERNET)
    return Model(
        node_groups=groups,
        layers={layer.id: layer for layer in layers},
        segments={s.id: s for s in segments},
        admin=AddressSet.parse(ADMIN_NET),
        node_network=AddressSet.parse(K8S_NET),
    )


def admin_rule(
    key: str, line: int, ports: str, *, enabled: bool = True, action: Action = Action.ALLOW
) -> Rule:
    proto = "tcp" if ports != "all" else "-1"
    return rule(key, line, proto, ports, [ADMIN_NET], local=K8S_NET, enabled=enabled, action=action, path=FW)


def test_the_guide_rule_set_is_clean() -> None:
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000")])
    assert run(model, ["TA101", "TA102", "TA201", "TA206", "TA405"]) == []


def test_a_disabled_admin_rule_is_the_one_talosctl_needs() -> None:
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000", enabled=False)])
    findings = run(model, ["TA102", "TA405"])
    assert brief(findings) == [("TA102", FW, 100), ("TA405", FW, 73)]
    ta405 = next(f for f in findings if f.rule_id == "TA405")
    assert ta405.message == (
        f"rule apid (a rule) in pfSense rules {LAN} is disabled; enabled, it would let through required "
        f"flows that are now blocked (TA102): tcp/50000 from the admin networks ({ADMIN_NET}) to "
        "control-plane nodes (Talos apid: talosctl cannot manage the nodes)"
    )
    assert ta405.identity == f"{LAN}|apid"
    assert ta405.level.value == "note"


def test_a_disabled_rule_below_a_block_would_not_help() -> None:
    """First match: the block above still wins when the disabled rule is switched on."""
    block = admin_rule("deny", 60, "all", action=Action.DENY)
    model = lab([admin_rule("api", 58, "6443"), block, admin_rule("apid", 73, "50000", enabled=False)])
    assert brief(run(model, ["TA102", "TA405"])) == [("TA102", FW, 100)]


def test_a_disabled_rule_for_a_flow_nobody_needs_is_not_reported() -> None:
    unused = admin_rule("ssh", 80, "22", enabled=False)
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000"), unused])
    assert run(model, ["TA405"]) == []


def test_all_traffic_from_admin_below_a_block_into_the_cluster_is_not_ta206() -> None:
    block = admin_rule("deny", 60, "all", action=Action.DENY)
    anywhere = rule("admin_any", 90, "-1", cidrs=[ADMIN_NET], path=FW)
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000"), block, anywhere])
    assert run(model, ["TA206"]) == []
    without_block = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000"), anywhere])
    assert brief(run(without_block, ["TA206"])) == [("TA206", FW, 90)]


def test_a_pass_rule_below_block_everything_exposes_nothing() -> None:
    block_all = rule("wan_block", 150, "-1", cidrs=["0.0.0.0/0"], action=Action.DENY, path=FW)
    dead = rule("wan_api", 170, "tcp", "6443", ["0.0.0.0/0"], local=K8S_NET, path=FW)
    wan = gateway("pfsense:config.xml:wan", ["wan"], [block_all, dead])
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000")])
    model = replace(model, layers={**model.layers, wan.id: wan})
    assert brief(run(model, ["TA202", "TA207", "TA403"])) == [("TA403", FW, 170)]


def _proxmox_layer(layer_id: str, *, enabled: bool = True) -> Layer:
    return Layer(
        id=layer_id,
        kind=LayerKind.PROXMOX,
        name=layer_id,
        source=SourceRef("qemu-server/101.conf", 8, 8, layer_id),
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.NODE,
        default_ingress=Action.DENY,
        default_egress=Action.ALLOW,
        enabled=enabled,
    )


def test_required_flows_stay_quiet_about_a_layer_ta401_reports() -> None:
    required = ["TA101", "TA102", "TA103", "TA104", "TA105", "TA106"]
    closed = _proxmox_layer("proxmox:101/net0")  # no rules, policy_in DROP: nothing gets in
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000")], (closed.id,), [closed])
    # With TA401 running, it reports the layer once and the required-flow rules stay quiet.
    assert {(f.rule_id, f.location.path) for f in run(model, [*required, "TA401"])} == {
        ("TA401", "qemu-server/101.conf")
    }
    # Without it, each required flow the layer blocks is reported.
    alone = evaluate(model, CATALOGUE, EvalSettings(enabled=set(required)))
    assert {f.rule_id for f in alone} == set(required)
    assert {f.location.path for f in alone} == {"qemu-server/101.conf"}


def test_paths_where_every_layer_is_disabled_give_no_exposure_and_no_crash() -> None:
    off = _proxmox_layer("proxmox:101/net0", enabled=False)
    wan_any = rule("wan_any", 150, "-1", cidrs=["0.0.0.0/0"], path=FW)
    model = lab([admin_rule("api", 58, "6443"), admin_rule("apid", 73, "50000")], (off.id,), [off])
    # From outside the cluster through the admin VLAN nothing filters inside the K8s VLAN.
    assert run(model, ["TA203", "TA204", "TA205", "TA301"]) == []
    wan = gateway("pfsense:config.xml:wan", ["wan"], [wan_any])
    exposed = replace(model, layers={**model.layers, wan.id: wan})
    assert {(f.rule_id, f.location.start_line) for f in run(exposed, ["TA201"])} == {("TA201", 150)}
    assert _outermost([]) is None


def test_a_proxmox_layer_points_at_the_fw_rules_section_or_the_nic(tmp_path: Path) -> None:
    (tmp_path / "qemu-server").mkdir()
    (tmp_path / "firewall").mkdir()
    conf = "name: talos-cp-1\nipconfig0: ip=10.0.30.11/24\nnet0: virtio=AA:BB,bridge=vmbr0,firewall=1\n"
    (tmp_path / "qemu-server" / "101.conf").write_text(conf, encoding="utf-8")
    (tmp_path / "qemu-server" / "102.conf").write_text(conf.replace("cp-1", "worker-1"), encoding="utf-8")
    (tmp_path / "firewall" / "cluster.fw").write_text("[OPTIONS]\nenable: 1\n", encoding="utf-8")
    rules = "[OPTIONS]\nenable: 1\n\n# the node's rules\n[RULES]\nIN ACCEPT -p tcp -dport 6443 # api\n"
    (tmp_path / "firewall" / "101.fw").write_text(rules, encoding="utf-8")
    files, problems = discover([tmp_path], tmp_path)
    assert problems == []
    layers = {layer.id: layer for layer in collect_proxmox(files, tmp_path).layers}
    assert (str(layers["proxmox:101/net0"].source), layers["proxmox:101/net0"].source.resource) == (
        "firewall/101.fw:5",
        "guest:101",
    )
    assert str(layers["proxmox:102/net0"].source) == "qemu-server/102.conf:3"
