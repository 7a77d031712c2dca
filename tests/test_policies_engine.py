"""The policy engine on hand-built models: exact findings (rule, level, location, message)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from firewall_builders import (
    CP_SG,
    VPC,
    W_SG,
    aws_model,
    fact,
    network_acl,
    rule,
    seed_rules,
    segment,
)
from talosaudit.findings import Finding
from talosaudit.model import Action, Direction, DriftSide, Model, Problem, ProblemKind, SourceRef, Unresolved
from talosaudit.policies.engine import KINDS, EvalSettings, evaluate
from talosaudit.policies.registry import PolicyError, load_catalogue

CATALOGUE = load_catalogue()
CILIUM = [fact("cni", "cilium"), fact("tunnel", "geneve")]
CP_TEXT = f"security group {CP_SG}"
W_TEXT = f"security group {W_SG}"


def run(model: Model, only: Iterable[str] | None = None, **params: dict[str, object]) -> list[Finding]:
    found = evaluate(model, CATALOGUE, EvalSettings(params=params))
    wanted = set(only) if only is not None else None
    return [f for f in found if wanted is None or f.rule_id in wanted]


def brief(findings: Iterable[Finding]) -> list[tuple[str, str, str, int]]:
    return [(f.rule_id, f.level.value, f.location.path, f.location.start_line) for f in findings]


def seed(*extra_cp: object, skip: Iterable[str] = (), extra_w: Iterable[object] = (), **kw: object) -> Model:
    cp, w = seed_rules(skip=skip)
    cp.extend(extra_cp)  # type: ignore[arg-type]
    w.extend(extra_w)  # type: ignore[arg-type]
    kw.setdefault("facts", CILIUM)
    return aws_model(cp, w, **kw)  # type: ignore[arg-type]


def test_every_problem_kind_and_drift_side_has_a_builtin_policy() -> None:
    """A collector's problem is reported only through a policy: none may be left without one."""
    selected = {
        (p.kind, str(p.params.get("problem") or p.params.get("side")))
        for p in load_catalogue().policies
        if p.kind in ("input_problem", "drift")
    }
    assert {("input_problem", k.value) for k in ProblemKind} | {
        ("drift", s.value) for s in DriftSide
    } <= selected
    assert set(KINDS) >= {p.kind for p in load_catalogue().policies}


def test_the_seed_layout_is_clean() -> None:
    assert run(seed()) == []


def test_missing_trustd_rule_is_reported_at_the_control_plane_group() -> None:
    findings = run(seed(skip=["cp_trustd"]))
    assert brief(findings) == [("TA103", "error", "network/security_groups.tf", 1)]
    (f,) = findings
    assert f.message == (
        f"tcp/50001 from worker nodes to control-plane nodes is blocked by {CP_TEXT}: "
        "no ingress rule allows it (Talos trustd: workers cannot join)"
    )
    assert f.location.resource == CP_SG
    assert f.identity == f"{CP_SG}|ingress|tcp/50001|worker->controlplane"
    assert ("flow", "tcp/50001") in f.properties
    assert f.related == (aws_model().layers[W_SG].source,)


def test_etcd_from_the_vpc_cidr_is_an_error() -> None:
    extra = rule("cp_etcd_vpc", 300, ports="2379-2380", cidrs=[VPC], description="etcd vpc")
    findings = run(seed(extra))
    assert brief(findings) == [("TA203", "error", "network/security_groups.tf", 300)]
    assert findings[0].message == (
        "tcp/2379-2380 (etcd) on control-plane nodes is reachable from 10.0.0.0/16 and worker nodes "
        f"through rule cp_etcd_vpc (etcd vpc) in {CP_TEXT}"
    )


def test_etcd_from_the_worker_group_only_is_a_warning() -> None:
    extra = rule("cp_etcd_w", 300, ports="2379", groups=[W_SG], description="etcd w")
    findings = run(seed(extra))
    assert brief(findings) == [("TA203", "warning", "network/security_groups.tf", 300)]
    assert findings[0].message.startswith(
        "tcp/2379 (etcd) on control-plane nodes is reachable from worker nodes"
    )
    assert "only sources beyond the allowed nodes are the cluster's worker nodes" in findings[0].message


def test_etcd_from_exact_worker_addresses_is_a_warning_too() -> None:
    extra = rule("cp_etcd_w", 300, ports="2379-2380", cidrs=["10.0.2.0/24"], description="etcd w")
    model = seed(extra, cp_addresses="10.0.1.0/24", w_addresses="10.0.2.0/24")
    assert brief(run(model, ["TA203"])) == [("TA203", "warning", "network/security_groups.tf", 300)]
    wider = rule("cp_etcd_w", 300, ports="2379-2380", cidrs=["10.0.2.0/23"], description="etcd w")
    model = seed(wider, cp_addresses="10.0.1.0/24", w_addresses="10.0.2.0/24")
    assert brief(run(model, ["TA203"])) == [("TA203", "error", "network/security_groups.tf", 300)]


@pytest.mark.parametrize(
    ("cidrs", "shown"), [(["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/0"), (["::/0"], "::/0")]
)
def test_talos_api_open_to_the_internet(cidrs: list[str], shown: str) -> None:
    extra = rule("cp_talos_world", 300, ports="50000", cidrs=cidrs, description="talos")
    findings = run(seed(extra))
    assert brief(findings) == [("TA201", "error", "network/security_groups.tf", 300)]
    assert findings[0].message == (
        f"tcp/50000 (the Talos API) on control-plane nodes is reachable from the internet ({shown}) "
        f"through rule cp_talos_world (talos) in {CP_TEXT}"
    )
    assert findings[0].identity == f"cp_talos_world|tcp/50000|{shown}|control-plane nodes"


def test_widening_a_cidr_changes_the_fingerprint() -> None:
    narrow = run(seed(rule("cp_t", 300, ports="50000", cidrs=["8.8.0.0/16"], description="t")), ["TA201"])
    wide = run(seed(rule("cp_t", 300, ports="50000", cidrs=["0.0.0.0/0"], description="t")), ["TA201"])
    assert len(narrow) == len(wide) == 1
    assert narrow[0].fingerprint != wide[0].fingerprint


def test_all_protocols_from_the_world_and_egress_all_not_reported() -> None:
    extra = rule("wk_all", 300, "-1", cidrs=["0.0.0.0/0"], description="everything")
    findings = run(seed(extra_w=[extra]))
    assert brief(findings) == [
        ("TA201", "error", "network/security_groups.tf", 300),
        ("TA204", "error", "network/security_groups.tf", 300),
        ("TA206", "error", "network/security_groups.tf", 300),
        ("TA301", "error", "network/security_groups.tf", 300),
    ]
    ta206 = next(f for f in findings if f.rule_id == "TA206")
    assert ta206.message == (
        f"rule wk_all (everything) in {W_TEXT} allows all traffic from 0.0.0.0/0, "
        "which reaches beyond the node network (10.0.0.0/16)"
    )
    ta301 = next(f for f in findings if f.rule_id == "TA301")
    assert ta301.message.startswith("tcp/30000-32767, udp/30000-32767 (the NodePort range) on worker nodes")


def test_all_tcp_ports_from_a_wider_private_range() -> None:
    extra = rule("cp_tcp_all", 300, "tcp", cidrs=["10.0.0.0/8"], description="tcp")
    ta206 = run(seed(extra), ["TA206"])
    assert [f.message for f in ta206] == [
        f"rule cp_tcp_all (tcp) in {CP_TEXT} allows all tcp ports from 10.0.0.0/8, "
        "which reaches beyond the node network (10.0.0.0/16)"
    ]
    inside = rule("cp_tcp_all", 300, "tcp", cidrs=["10.0.0.0/16"], description="tcp")
    assert run(seed(inside), ["TA206"]) == []


def _subnets(*layers: object, **kw: object) -> Model:
    return seed(
        cp_addresses="10.0.1.0/24",
        w_addresses="10.0.2.0/24",
        cp_segment="subnet_cp",
        w_segment="subnet_w",
        segments=[segment("subnet_cp", "10.0.1.0/24"), segment("subnet_w", "10.0.2.0/24")],
        extra_layers=layers,
        **kw,
    )


def test_nacl_blocking_geneve_between_subnets() -> None:
    nacl = network_acl(
        "aws_network_acl.cp",
        5,
        ["subnet_cp"],
        [
            rule("acl/in/100", 6, "udp", "6081", ["10.0.2.0/24"], action=Action.DENY, description=""),
            rule("acl/in/200", 7, "-1", cidrs=["0.0.0.0/0"], description=""),
            rule("acl/out/100", 8, "-1", cidrs=["0.0.0.0/0"], direction=Direction.EGRESS, description=""),
        ],
    )
    findings = run(_subnets(nacl))
    assert brief(findings) == [("TA106", "error", "network/nacl.tf", 5)]
    assert findings[0].message == (
        "udp/6081 from worker nodes to control-plane nodes is blocked by network ACL aws_network_acl.cp: "
        "ingress rule acl/in/100 denies it (Cilium Geneve overlay: pods on different nodes cannot talk)"
    )


def test_nacl_without_return_traffic_blocks_trustd() -> None:
    nacl = network_acl(
        "aws_network_acl.cp",
        5,
        ["subnet_cp"],
        [
            rule("acl/in/100", 6, "-1", cidrs=[VPC], description=""),
            rule("acl/out/100", 8, "-1", cidrs=[VPC], direction=Direction.EGRESS, description=""),
            rule("acl/in/200", 9, "tcp", "50001", cidrs=["10.0.2.0/24"], description=""),
        ],
    )
    assert run(_subnets(nacl), ["TA103"]) == []
    nacl = network_acl(
        "aws_network_acl.cp",
        5,
        ["subnet_cp"],
        [
            rule("acl/in/100", 6, "tcp", "50001", cidrs=["10.0.2.0/24"], description=""),
            rule("acl/out/100", 8, "tcp", "443", ["0.0.0.0/0"], direction=Direction.EGRESS, description=""),
        ],
    )
    (f,) = run(_subnets(nacl), ["TA103"])
    assert (f.location.path, f.location.start_line) == ("network/nacl.tf", 5)
    assert f.message == (
        "tcp/50001 from worker nodes to control-plane nodes is blocked by network ACL aws_network_acl.cp: "
        "it is stateless and no egress rule allows the return traffic (to ports 32768-60999): the "
        "requests from 10.0.2.0/24 to 10.0.1.0/24 pass, the replies from 10.0.1.0/24 back to "
        "10.0.2.0/24 do not (Talos trustd: workers cannot join)"
    )


def test_unresolved_cidr_is_unknown_and_only_ta002_reports_it() -> None:
    unresolved = (Unresolved("cidr_blocks", "var.worker_cidrs", "no value"),)
    trustd = rule("cp_trustd", 30, ports="50001", unresolved=unresolved, description="trustd")
    world = rule("cp_talos_x", 31, ports="50000", unresolved=unresolved, description="talos")
    where = SourceRef("network/security_groups.tf", 30, 36, "cp_trustd")
    message = "cp_trustd: cidr_blocks = var.worker_cidrs could not be resolved"
    problem = Problem(ProblemKind.UNRESOLVED, message, where, key="cp_trustd:cidr_blocks")
    findings = run(seed(trustd, world, skip=["cp_trustd"], problems=[problem]))
    assert brief(findings) == [("TA002", "warning", "network/security_groups.tf", 30)]
    assert findings[0].message == problem.message
    assert findings[0].identity == "cp_trustd:cidr_blocks"


def test_group_references_are_never_public() -> None:
    extra = rule("cp_talos_w", 300, ports="50000-50001", groups=[W_SG, CP_SG], description="nodes")
    assert run(seed(extra)) == []


def test_admin_cidr_of_the_whole_world_is_not_trusted() -> None:
    api = rule("cp_k8s_api_external", 300, ports="6443", cidrs=["0.0.0.0/0"], description="admin")
    talos = rule("cp_talos_api_external", 310, ports="50000", cidrs=["0.0.0.0/0"], description="admin")
    findings = run(seed(api, talos, admin=["0.0.0.0/0"]))
    assert brief(findings) == [
        ("TA201", "error", "network/security_groups.tf", 310),
        ("TA202", "warning", "network/security_groups.tf", 300),
    ]


def test_narrow_public_admin_cidr_is_trusted() -> None:
    api = rule("cp_k8s_api_external", 300, ports="6443", cidrs=["196.45.28.20/32"], description="admin")
    talos = rule("cp_talos_api_external", 310, ports="50000", cidrs=["196.45.28.20/32"], description="admin")
    assert run(seed(api, talos, admin=["196.45.28.20/32"])) == []
    # without the external rules the admin rows of TA101/TA102 fire
    findings = run(seed(admin=["196.45.28.20/32"]))
    assert brief(findings) == [
        ("TA101", "error", "network/security_groups.tf", 1),
        ("TA102", "error", "network/security_groups.tf", 1),
    ]
    assert findings[0].message.startswith(
        "tcp/6443 from the admin networks (196.45.28.20/32) to control-plane nodes is blocked by"
    )
    assert findings[1].identity == f"{CP_SG}|ingress|tcp/50000|the admin networks->controlplane"


def test_wide_public_admin_cidr_is_not_trusted_but_reported_once() -> None:
    api = rule("cp_k8s_api_external", 300, ports="6443", cidrs=["196.45.0.0/16"], description="admin")
    talos = rule("cp_talos_api_external", 310, ports="50000", cidrs=["196.45.0.0/16"], description="admin")
    findings = run(seed(api, talos, admin=["196.45.0.0/16"]))
    assert brief(findings) == [  # and not TA207 for the same rules and ports
        ("TA201", "error", "network/security_groups.tf", 310),
        ("TA202", "warning", "network/security_groups.tf", 300),
    ]
    relaxed = run(seed(api, talos, admin=["196.45.0.0/16"]), TA207={"min_public_prefix": 16})
    assert relaxed == []


def test_default_cni_is_talos_flannel_and_tunnel_port_overrides() -> None:
    findings = run(seed(facts=[]), ["TA106"])
    assert [(f.location.start_line, f.properties[0]) for f in findings] == [
        (1, ("flow", "udp/4789")),
        (1, ("flow", "udp/4789")),
        (200, ("flow", "udp/4789")),
        (200, ("flow", "udp/4789")),
    ]
    assert findings[0].message.startswith("udp/4789 from control-plane nodes to control-plane nodes")
    ported = run(seed(facts=[*CILIUM, fact("tunnel_port", "6081")]), ["TA106"])
    assert ported == []
    vxlan = run(seed(facts=[fact("cni", "cilium")]), ["TA106"])
    assert {f.properties[0] for f in vxlan} == {("flow", "udp/8472")}


def test_kubelet_between_workers_is_a_warning_and_from_cp_an_error() -> None:
    findings = run(seed(skip=["wk_kubelet_self"]), ["TA105"])
    assert [(f.level.value, f.message.split(" is blocked")[0]) for f in findings] == [
        ("warning", "tcp/10250 from worker nodes to worker nodes")
    ]
    findings = run(seed(skip=["wk_kubelet_cp"]), ["TA105"])
    assert [(f.level.value, f.message.split(" is blocked")[0]) for f in findings] == [
        ("error", "tcp/10250 from control-plane nodes to worker nodes")
    ]


def test_egress_filtered_nodes_need_https_ntp_and_dns() -> None:
    https = rule(
        "wk_https", 300, ports="443", cidrs=["0.0.0.0/0"], direction=Direction.EGRESS, description="x"
    )
    vpc = rule("wk_vpc", 310, "-1", cidrs=[VPC], direction=Direction.EGRESS, description="x")
    findings = run(seed(skip=["wk_egress_all"], extra_w=[https, vpc]), ["TA109"])
    # udp/123 and DNS reach the VPC (a resolver there is enough); nothing else is missing
    assert findings == []
    findings = run(seed(skip=["wk_egress_all"], extra_w=[vpc]), ["TA109"])
    assert [f.message.split(" is blocked")[0] for f in findings] == [
        "tcp/443 from worker nodes to the internet"
    ]
    assert findings[0].level.value == "warning"


def test_kubespan_needs_one_direction_per_pair() -> None:
    cp_ks = rule("cp_kubespan", 300, "udp", "51820", groups=[CP_SG, W_SG], description="ks")
    findings = run(seed(cp_ks, facts=[*CILIUM, fact("kubespan", "true")]), ["TA108"])
    assert [f.message.split(" is blocked")[0] for f in findings] == [
        "udp/51820 from worker nodes to worker nodes"
    ]
    assert run(seed(cp_ks), ["TA108"]) == []  # KubeSpan not enabled


def test_nodeport_rules() -> None:
    wk_np = rule("wk_np", 300, ports="30000-32767", groups=[W_SG], description="np")
    cp_np = rule("cp_np", 300, ports="30000-32767", cidrs=[VPC], description="np")
    findings = run(
        seed(cp_np, extra_w=[wk_np], facts=[*CILIUM, fact("nodeport", "false")]), ["TA302", "TA303"]
    )
    assert brief(findings) == [
        ("TA302", "warning", "network/security_groups.tf", 300),
        ("TA303", "warning", "network/security_groups.tf", 300),
        ("TA303", "warning", "network/security_groups.tf", 300),
    ]
    assert [f.identity for f in findings] == [
        "cp_np|tcp/30000-32767|10.0.0.0/16|control-plane nodes",
        "cp_np|tcp/30000-32767|10.0.0.0/16|control-plane nodes",
        "wk_np|tcp/30000-32767|worker nodes|worker nodes",
    ]
    assert run(seed(extra_w=[wk_np]), ["TA302", "TA303"]) == []


def test_broad_private_cidrs() -> None:
    api = rule("cp_k8s_wide", 300, ports="6443", cidrs=["10.0.0.0/8"], description="x")
    kubelet = rule("cp_kubelet_wide", 310, ports="10250", cidrs=["10.0.0.0/8"], description="x")
    findings = run(seed(api, kubelet))
    assert brief(findings) == [
        ("TA204", "error", "network/security_groups.tf", 310),
        ("TA207", "warning", "network/security_groups.tf", 300),
    ]
    assert findings[0].message == (
        "tcp/10250 (the kubelet) on control-plane nodes is reachable from 10.0.0.0/8 "
        f"through rule cp_kubelet_wide (x) in {CP_TEXT}"
    )
    assert findings[1].message == (
        f"rule cp_k8s_wide (x) in {CP_TEXT} opens cluster ports tcp/6443 to 10.0.0.0/8, "
        "which reaches beyond the node network and the admin networks"
    )


def test_internal_ports_reachable_from_workers() -> None:
    extra = rule("cp_sched_vpc", 300, ports="10257-10259", cidrs=[VPC], description="x")
    (f,) = run(seed(extra))
    assert (f.rule_id, f.level.value) == ("TA205", "warning")
    assert f.message.startswith(
        "tcp/10257,10259 (kube-controller-manager / kube-scheduler) on control-plane nodes"
    )


def test_duplicates_and_missing_descriptions() -> None:
    dup = rule("cp_k8s_api_dup", 320, ports="6443", cidrs=["10.0.0.0/17", "10.0.128.0/17"], description="")
    findings = run(seed(dup))
    assert brief(findings) == [
        ("TA501", "note", "network/security_groups.tf", 320),
        ("TA502", "note", "network/security_groups.tf", 320),
    ]
    assert findings[1].message == (
        f"rule cp_k8s_api_dup in {CP_TEXT} allows exactly the same traffic as rule cp_k8s_api "
        "(allow tcp/6443 from 10.0.0.0/16)"
    )
    assert findings[1].related[0].start_line == 10
    assert (
        findings[0].message
        == f"rule cp_k8s_api_dup in {CP_TEXT} (allow tcp/6443 from 10.0.0.0/16) has no description"
    )


def test_shadowed_rule_in_a_network_acl() -> None:
    nacl = network_acl(
        "aws_network_acl.cp",
        5,
        ["subnet_cp"],
        [
            rule("acl/in/100", 6, "-1", cidrs=[VPC], description=""),
            rule("acl/in/110", 7, "tcp", "2379-2380", ["10.0.2.0/24"], action=Action.DENY, description=""),
            rule("acl/out/100", 8, "-1", cidrs=["0.0.0.0/0", "::/0"], direction=Direction.EGRESS),
            rule("acl/in/120", 9, "-1", cidrs=["0.0.0.0/0", "::/0"], description=""),
        ],
    )
    findings = run(_subnets(nacl), ["TA403"])
    assert brief(findings) == [("TA403", "note", "network/security_groups.tf", 7)]
    assert findings[0].message == (
        "rule acl/in/110 in network ACL aws_network_acl.cp (deny tcp/2379-2380 from 10.0.2.0/24) "
        "never matches: network ACL rule acl/in/100 (network/security_groups.tf:6) comes before it and "
        "covers all of it"
    )


def test_input_problems_become_findings() -> None:
    where = SourceRef("main.tf", 3, 9, "main.tf")
    model = seed(
        problems=[
            Problem(ProblemKind.UNREADABLE, "main.tf: cannot parse: unexpected '}'", where, key="main.tf")
        ]
    )
    (f,) = run(model)
    assert (f.rule_id, f.level.value, f.location, f.identity) == ("TA001", "error", where, "main.tf")


def test_settings_select_rules_and_validate_overrides() -> None:
    model = seed(skip=["cp_trustd", "cp_etcd"])
    only = evaluate(model, CATALOGUE, EvalSettings(enabled={"TA104"}))
    assert [f.rule_id for f in only] == ["TA104"]
    by_callable = evaluate(model, CATALOGUE, EvalSettings(enabled=lambda rule_id: rule_id == "TA103"))
    assert [f.rule_id for f in by_callable] == ["TA103"]
    with pytest.raises(PolicyError, match="TA207: params: min_public_prefix"):
        evaluate(model, CATALOGUE, EvalSettings(params={"TA207": {"min_public_prefix": 40}}))
