"""The Talos collector: exact layers, rules, lines, facts and problems from machine configs."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from talosaudit.collectors.discover import InputFile
from talosaudit.collectors.talos import (
    Doc,
    DocKind,
    NodeConfig,
    build_nodes,
    collect,
    collect_documents,
    merge_all,
)
from talosaudit.findings import Finding
from talosaudit.model import (
    ALL_ADDRESSES,
    ICMP,
    ICMPV6,
    TCP,
    UDP,
    Action,
    AddressSet,
    Collection,
    Layer,
    LayerKind,
    Placement,
    PortSet,
    Role,
    Rule,
    Semantics,
    SourceRef,
    merge,
)
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.registry import load_catalogue

DATA = Path(__file__).parent / "data" / "talos"
#: The third-party samples of every platform; the Talos ones are under talos/ (scan() keeps
#: only .yaml/.yml/.tftpl files, so the pfSense and Proxmox samples beside them are not read).
SAMPLES = Path(__file__).parent / "data" / "samples"


def scan(root: Path, *names: str) -> Collection:
    """Collect the files under ``root`` (or only ``names`` under it), rel paths from ``root``."""
    paths = [root / n for n in names] if names else sorted(p for p in root.rglob("*") if p.is_file())
    files = [
        InputFile(p, p.relative_to(root).as_posix(), "talos")
        for p in paths
        if p.suffix in (".yaml", ".yml", ".tftpl")
    ]
    return collect(files, root)


def layer(collection: Collection, layer_id: str) -> Layer:
    found = [x for x in collection.layers if x.id == layer_id]
    assert len(found) == 1, [x.id for x in collection.layers]
    return found[0]


def facts(collection: Collection) -> dict[str, str]:
    out: dict[str, str] = {}
    for fact in collection.facts:
        out.setdefault(fact.name, fact.value)
    return out


def problems(collection: Collection) -> list[tuple[str, str, int]]:
    return [(p.kind, p.source.path, p.source.start_line) for p in collection.problems]


def verdict(lay: Layer, source: str, protocol: int, port: int, destination: str = "10.0.1.10") -> Action:
    """First-match evaluation of one packet, as the layer's semantics define it."""
    assert lay.semantics is Semantics.FIRST_MATCH
    src = AddressSet.parse(source)
    dst = AddressSet.parse(destination)
    for rule in lay.rules:
        if rule.protocol is not None and rule.protocol != protocol:
            continue
        if protocol in (TCP, UDP) and not PortSet.single(port) <= rule.ports:
            continue
        if not src <= rule.peer.addresses:
            continue
        if rule.local is not None and not dst <= rule.local:
            continue
        return rule.action
    return lay.default_ingress


def render(rule: Rule) -> str:
    """``allow tcp/50000 from 0.0.0.0/0`` (written here so the test does not follow the model's wording)."""
    proto = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmpv6", None: "all"}[rule.protocol]
    ports = ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in rule.ports.values)
    return f"{rule.action.value} {proto}/{ports} from {rule.peer.describe()}"


def user_rules(lay: Layer) -> list[tuple[str, str, str, str, int]]:
    """(action, rule text, key, path, line) of the rules written in the config."""
    return [
        (r.action.value, render(r), r.key, r.source.path, r.source.start_line)
        for r in lay.rules
        if r.origin != "always allowed by Talos"
    ]


# --- the third-party samples ---------------------------------------------------------------


def test_samples_cloudlab_firewall_is_a_block_layer_with_rules_at_their_lines() -> None:
    c = scan(SAMPLES)
    fw = layer(c, "talos:talos/cloudlab/talconfig.yaml#quasar")
    assert fw.kind is LayerKind.TALOS_HOST
    assert fw.placement is Placement.NODE
    assert fw.semantics is Semantics.FIRST_MATCH
    assert fw.default_ingress is Action.DENY
    assert fw.default_egress is Action.ALLOW
    assert fw.enabled
    assert (fw.source.path, fw.source.start_line) == ("talos/cloudlab/firewall.yaml", 9)
    assert fw.attribute("ingress_default") == "block"
    path = "talos/cloudlab/firewall.yaml"
    assert user_rules(fw) == [
        (
            "allow",
            "allow udp/41641 from 0.0.0.0/0",
            "NetworkRuleConfig/10-tailscale-direct/ingress[0]",
            path,
            21,
        ),
        ("allow", "allow udp/41641 from ::/0", "NetworkRuleConfig/10-tailscale-direct/ingress[1]", path, 22),
        ("allow", "allow tcp/50000 from 0.0.0.0/0", "NetworkRuleConfig/20-apid/ingress[0]", path, 32),
        ("allow", "allow tcp/50000 from ::/0", "NetworkRuleConfig/20-apid/ingress[1]", path, 33),
        ("allow", "allow tcp/6443 from 0.0.0.0/0", "NetworkRuleConfig/21-kubeapi/ingress[0]", path, 43),
        ("allow", "allow tcp/6443 from ::/0", "NetworkRuleConfig/21-kubeapi/ingress[1]", path, 44),
        (
            "allow",
            "allow tcp/1-65535 from 10.244.0.0/16",
            "NetworkRuleConfig/30-cluster-internal/ingress[0]",
            path,
            57,
        ),
        (
            "allow",
            "allow tcp/1-65535 from 2a01:4f9:3b:fd01::/64",
            "NetworkRuleConfig/30-cluster-internal/ingress[1]",
            path,
            58,
        ),
        (
            "allow",
            "allow udp/1-65535 from 10.244.0.0/16",
            "NetworkRuleConfig/31-cluster-internal-udp/ingress[0]",
            path,
            68,
        ),
        (
            "allow",
            "allow udp/1-65535 from 2a01:4f9:3b:fd01::/64",
            "NetworkRuleConfig/31-cluster-internal-udp/ingress[1]",
            path,
            69,
        ),
    ]
    # The rules' identity is stable (no line numbers) and their SourceRef carries it.
    apid = next(r for r in fw.rules if r.key == "NetworkRuleConfig/20-apid/ingress[0]")
    assert apid.source.resource == "NetworkRuleConfig/20-apid/ingress[0]"
    assert verdict(fw, "203.0.113.9", TCP, 50000) is Action.ALLOW
    assert verdict(fw, "2001:db8::1", TCP, 6443, "2a01:4f9:3b:2d44::1") is Action.ALLOW
    assert verdict(fw, "203.0.113.9", TCP, 50001) is Action.DENY
    assert verdict(fw, "203.0.113.9", TCP, 10250) is Action.DENY


def test_samples_cloudlab_talconfig_node_role_addresses_and_attachment() -> None:
    c = scan(SAMPLES)
    [att] = [a for a in c.attachments if a.layer_id == "talos:talos/cloudlab/talconfig.yaml#quasar"]
    assert att.role is Role.CONTROL_PLANE
    assert att.addresses == AddressSet.of(["65.21.143.251/32", "2a01:4f9:3b:2d44::1/128"])
    assert "controlPlane: true for node quasar at talos/cloudlab/talconfig.yaml:32" in att.reason
    assert "@./patches/firewall.yaml" in att.reason  # found by file name, and it says so
    group = att.fallback
    assert group is not None
    assert (group.role, group.layers) == (Role.CONTROL_PLANE, ("talos:talos/cloudlab/talconfig.yaml#quasar",))
    assert group.addresses == att.addresses
    assert group.address_reason.startswith(
        "ipAddress 65.21.143.251 of node quasar at talos/cloudlab/talconfig.yaml:31"
    )
    networks = {(str(a), src.start_line if src else 0) for a, src in c.node_networks}
    assert networks == {("65.21.143.192/26", 43), ("2a01:4f9:3b:2d44::/64", 44)}


def test_samples_facts_and_problems() -> None:
    c = scan(SAMPLES)
    assert facts(c) == {
        "pod_subnets": "10.244.0.0/16,2a01:4f9:3b:fd01::/64",
        "service_subnets": "10.96.0.0/12,fd63:6c6f:7564::/108",
        "cni": "none",
        "control_plane_endpoint": "https://65.21.143.251:6443",
        "kube_proxy": "false",
        "kube_scheduler_bind_address": "0.0.0.0",
        # the talconfig's control plane sets none: Talos's default (the explicit 0.0.0.0 above wins)
        "kube_controller_manager_bind_address": "127.0.0.1",
        "etcd_listen_metrics_urls": "http://0.0.0.0:2381",
    }
    cni = next(f for f in c.facts if f.name == "cni")
    assert cni.reason == (
        "cluster.network.cni.name: none at talos/cloudlab/talconfig.yaml:10: Talos installs no CNI itself; "
        "which CNI runs is not known here, so no CNI port is checked (name it with --cni and --tunnel, "
        "or cni/tunnel in .talosaudit.yaml)"
    )
    bind = next(f for f in c.facts if f.name == "kube_scheduler_bind_address")
    assert bind.source == SourceRef("talos/talos-platform-base/controlplane.yaml", 9, 9)
    assert problems(c) == [
        ("unreadable", "talos/homelab/control-plane.yaml.tftpl", 13),
        ("unresolved", "talos/cloudlab/talconfig.yaml", 24),
        ("unresolved", "talos/cloudlab/talconfig.yaml", 25),
        ("unresolved", "talos/cloudlab/talconfig.yaml", 26),
        ("unresolved", "talos/cloudlab/talconfig.yaml", 28),
        ("unresolved", "talos/cloudlab/firewall.08e2dec.yaml", 4),
    ]
    template = c.problems[0]
    assert template.message.startswith(
        "unrendered template: '${mac_address}' at line 6 is a template placeholder"
    )
    assert "not valid YAML" in template.message
    assert c.problems[1].message == (
        "talconfig patch @./patches/identity.yaml is not among the scanned files; its content is not audited"
    )
    assert "is not listed in the patches of talos/cloudlab/talconfig.yaml" in c.problems[5].message
    assert c.files == (
        "talos/cloudlab/cluster.yaml",
        "talos/cloudlab/firewall.08e2dec.yaml",
        "talos/cloudlab/firewall.yaml",
        "talos/cloudlab/talconfig.yaml",
        "talos/homelab/control-plane.yaml.tftpl",
        "talos/talos-platform-base/common.yaml",
        "talos/talos-platform-base/controlplane.yaml",
    )


def test_talconfig_beside_the_patches_is_read_even_when_not_passed_as_input() -> None:
    # Discovery passes only files that look like machine configs; talconfig.yaml does not.
    c = scan(SAMPLES, "talos/cloudlab/firewall.yaml", "talos/cloudlab/cluster.yaml")
    assert [x.id for x in c.layers] == ["talos:talos/cloudlab/talconfig.yaml#quasar"]
    assert c.files == (
        "talos/cloudlab/cluster.yaml",
        "talos/cloudlab/firewall.yaml",
        "talos/cloudlab/talconfig.yaml",
    )
    assert [p.kind for p in c.problems] == [
        "unresolved",
        "unresolved",
        "unresolved",
        "unresolved",
    ]  # the 4 missing patches


def test_samples_firewall_patch_alone_is_assumed_to_apply_to_all_nodes(tmp_path: Path) -> None:
    sample = SAMPLES / "talos" / "cloudlab" / "firewall.08e2dec.yaml"
    (tmp_path / sample.name).write_bytes(sample.read_bytes())
    c = scan(tmp_path)
    fw = layer(c, "talos:(patches)")
    assert [r[1:] for r in user_rules(fw)][:2] == [
        (
            "allow tcp/6443,50000 from 203.0.113.7/32",
            "NetworkRuleConfig/00-break-glass/ingress[0]",
            "firewall.08e2dec.yaml",
            19,
        ),
        (
            "allow udp/41641 from 0.0.0.0/0",
            "NetworkRuleConfig/10-tailscale-direct/ingress[0]",
            "firewall.08e2dec.yaml",
            29,
        ),
    ]
    # No role can be tied to the patch: a role problem (TA003), not an unresolved value.
    assert problems(c) == [("role-unknown", "firewall.08e2dec.yaml", 4)]
    assert c.problems[0].message.startswith(
        "patch firewall.08e2dec.yaml: cannot tell which nodes it applies to; assumed all"
    )
    # One attachment per role, each with its own stand-in node group.
    assert [(a.role, a.fallback.id if a.fallback else "") for a in c.attachments] == [
        (Role.CONTROL_PLANE, "talos:(patches)#controlplane"),
        (Role.WORKER, "talos:(patches)#worker"),
    ]
    # Patches alone are not a whole config: no TA404 and no default CNI.
    assert "cni" not in facts(c)


def test_samples_platform_base_patches_give_facts_but_no_layer() -> None:
    c = scan(SAMPLES / "talos" / "talos-platform-base")
    assert c.layers == ()
    assert c.attachments == ()
    assert facts(c) == {
        "cni": "none",
        "kube_proxy": "false",
        "kube_scheduler_bind_address": "0.0.0.0",
        "etcd_listen_metrics_urls": "http://0.0.0.0:2381",
    }
    assert c.problems == ()


# --- block and accept semantics ---------------------------------------------------------------


def test_block_mode_rules_add_up_over_a_default_deny_with_always_allowed_traffic() -> None:
    c = scan(DATA / "gen")
    cp = layer(c, "talos:controlplane.yaml")
    assert cp.default_ingress is Action.DENY
    assert (cp.source.path, cp.source.start_line) == ("controlplane.yaml", 18)
    always = [(r.key, r.origin) for r in cp.rules if r.origin == "always allowed by Talos"]
    assert always == [("talos/icmp", "always allowed by Talos"), ("talos/icmpv6", "always allowed by Talos")]
    assert [r.key for r in cp.rules[:2]] == [k for k, _ in always]  # explicit allows first
    assert cp.attribute("always_allowed") == (
        "interface lo (the node itself); interface siderolink; ICMP and ICMPv6 (5 packets/s); "
        "pod/service CIDRs to pod/service CIDRs: 10.96.0.0/12, 10.244.0.0/16 "
        "(podSubnets 10.244.0.0/16 (Talos default); serviceSubnets 10.96.0.0/12 (Talos default))"
    )
    assert user_rules(cp) == [
        (
            "allow",
            "allow tcp/50000 from 0.0.0.0/0",
            "NetworkRuleConfig/apid-ingress/ingress[0]",
            "controlplane.yaml",
            30,
        ),
        (
            "allow",
            "allow tcp/50000 from ::/0",
            "NetworkRuleConfig/apid-ingress/ingress[1]",
            "controlplane.yaml",
            31,
        ),
        (
            "allow",
            "allow tcp/2379-2380 from 10.0.1.0/32, 10.0.1.2/31, 10.0.1.4/30, 10.0.1.8/29 and 4 more",
            "NetworkRuleConfig/etcd-ingress/ingress[0]",
            "controlplane.yaml",
            41,
        ),
        (
            "allow",
            "allow tcp/10250 from 10.0.1.0/24",
            "NetworkRuleConfig/kubelet-ingress/ingress[0]",
            "kubelet.yaml",
            9,
        ),
    ]
    etcd = next(r for r in cp.rules if r.key == "NetworkRuleConfig/etcd-ingress/ingress[0]")
    assert etcd.peer.addresses == AddressSet.parse("10.0.1.0/24") - AddressSet.parse("10.0.1.1/32")
    assert verdict(cp, "10.0.1.11", TCP, 2379) is Action.ALLOW
    assert verdict(cp, "10.0.1.1", TCP, 2379) is Action.DENY  # except
    assert verdict(cp, "10.0.1.11", UDP, 4789) is Action.DENY
    assert verdict(cp, "198.51.100.1", ICMP, 0) is Action.ALLOW
    assert verdict(cp, "2001:db8::1", ICMPV6, 0, "fd00::1") is Action.ALLOW
    # Pods reaching the node's own addresses are not among what Talos always accepts.
    assert verdict(cp, "10.244.1.5", TCP, 6443, "10.0.1.10") is Action.DENY


def test_accept_mode_rules_restrict_their_ports_and_intersect() -> None:
    c = scan(DATA / "accept")
    cp = layer(c, "talos:controlplane.yaml")
    assert cp.default_ingress is Action.ALLOW
    assert cp.enabled
    assert [(r.action.value, r.key, r.source.start_line) for r in cp.rules] == [
        ("deny", "NetworkRuleConfig/apid-a/drop-others", 19),
        ("deny", "NetworkRuleConfig/apid-b/drop-others", 28),
        ("allow", "NetworkRuleConfig/apid-a/ingress[0]", 20),
        ("allow", "NetworkRuleConfig/apid-b/ingress[0]", 29),
    ]
    deny_a = cp.rules[0]
    assert deny_a.peer.addresses == ALL_ADDRESSES - AddressSet.parse("10.0.0.0/8")
    # Two rules on one port: only sources in both subnets get through (Talos drops per rule).
    assert verdict(cp, "10.1.2.3", TCP, 50000) is Action.ALLOW
    assert verdict(cp, "10.2.0.1", TCP, 50000) is Action.DENY
    assert verdict(cp, "192.0.2.1", TCP, 50000) is Action.DENY
    assert verdict(cp, "2001:db8::1", TCP, 50000, "fd00::1") is Action.DENY  # v4-only rules drop IPv6
    assert verdict(cp, "192.0.2.1", TCP, 6443) is Action.ALLOW  # other ports: default accept
    assert verdict(cp, "192.0.2.1", UDP, 50000) is Action.ALLOW
    assert c.problems == ()
    [ta404] = _host_firewall_off(c)
    assert (ta404.rule_id, ta404.location.path, ta404.location.start_line) == (
        "TA404",
        "controlplane.yaml",
        9,
    )
    assert "NetworkDefaultActionConfig says ingress: accept, not block" in ta404.message


def _host_firewall_off(c: Collection) -> list[Finding]:
    """TA404 is decided by its policy from the layer the collector describes."""
    return evaluate(merge([c]), load_catalogue(), EvalSettings(enabled={"TA404"}))


def test_rules_without_a_default_action_document_mean_accept_mode() -> None:
    c = scan(DATA / "gen")
    worker = layer(c, "talos:worker.yaml")
    assert worker.attribute("ingress_default") == "absent"
    assert worker.default_ingress is Action.ALLOW
    assert verdict(worker, "10.0.1.5", TCP, 10250) is Action.ALLOW
    assert verdict(worker, "10.9.9.9", TCP, 10250) is Action.DENY
    assert verdict(worker, "10.9.9.9", TCP, 50000) is Action.ALLOW
    assert c.problems == ()
    found = _host_firewall_off(c)
    assert [(f.rule_id, f.location.path, f.location.start_line, f.message) for f in found] == [
        (
            "TA404",
            "worker.yaml",
            1,
            "worker.yaml: no NetworkDefaultActionConfig with ingress: block; "
            "the node relies on outer layers only",
        )
    ]


def test_no_firewall_documents_gives_a_disabled_layer_and_ta404_at_the_first_line() -> None:
    c = scan(DATA / "nofw")
    fw = layer(c, "talos:controlplane.yaml")
    assert (fw.enabled, fw.rules, fw.default_ingress) == (False, (), Action.ALLOW)
    assert c.problems == ()
    found = _host_firewall_off(c)
    assert [(f.rule_id, f.location.path, f.location.start_line, f.message) for f in found] == [
        (
            "TA404",
            "controlplane.yaml",
            2,
            "controlplane.yaml: no NetworkDefaultActionConfig with ingress: block; "
            "the node relies on outer layers only",
        )
    ]
    assert found[0].identity == "talos-host-firewall-off:controlplane.yaml"
    [att] = c.attachments
    assert att.fallback is not None and att.fallback.layers == ("talos:controlplane.yaml",)


def test_patch_replaces_ports_and_ingress_and_keeps_unpatched_fields() -> None:
    c = scan(DATA / "patch-replace")
    fw = layer(c, "talos:controlplane.yaml")
    assert user_rules(fw) == [
        (
            "allow",
            "allow tcp/10250-10251 from 192.168.10.0/24",
            "NetworkRuleConfig/kubelet-ingress/ingress[0]",
            "zz-narrow.yaml",
            13,
        )
    ]
    assert fw.attribute("files") == "controlplane.yaml,zz-narrow.yaml"
    # podSubnets replaced, not appended
    assert (
        "pod/service CIDRs: 10.96.0.0/12, 172.30.0.0/16 (podSubnets 172.30.0.0/16 at zz-narrow.yaml:3;"
        in (fw.attribute("always_allowed"))
    )
    assert facts(c)["pod_subnets"] == "172.30.0.0/16"


def test_merge_typed_documents_by_kind_and_name_and_delete() -> None:
    base, _ = collect_documents(
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: a\nportSelector: {ports: [1], protocol: tcp}\n"
        "ingress: [{subnet: 10.0.0.0/8}]\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: b\nportSelector: {ports: [2], protocol: tcp}\n",
        "base.yaml",
    )
    patch, _ = collect_documents(
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: a\ningress: [{subnet: 10.1.0.0/16}]\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: b\n$patch: delete\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: c\nportSelector: {ports: [3], protocol: udp}\n",
        "patch.yaml",
    )
    merged = merge_all(base, [patch])
    assert [d.name for d in merged] == ["a", "c"]
    a = merged[0].value
    assert a["ingress"] == [{"subnet": "10.1.0.0/16"}]
    assert a["portSelector"] == {"ports": [1], "protocol": "tcp"}
    assert a["ingress"].loc_of(0) == SourceRef("patch.yaml", 4, 4)


# --- roles, addresses and CNI facts ---------------------------------------------------------


def test_legacy_machine_types() -> None:
    c = scan(DATA / "legacy")
    roles = {a.layer_id: (a.role, a.fallback.role_reason if a.fallback else "") for a in c.attachments}
    assert roles == {
        "talos:empty.yaml": (Role.WORKER, 'machine.type: "" (parsed as worker) at empty.yaml:3'),
        "talos:join.yaml": (Role.WORKER, "machine.type: join (legacy, a worker node) at join.yaml:3"),
    }
    init = scan(DATA / "multidoc")
    [att] = init.attachments
    assert att.role is Role.CONTROL_PLANE
    assert att.fallback is not None
    assert (
        att.fallback.role_reason == "machine.type: init (legacy, a control-plane node) at controlplane.yaml:3"
    )


def test_gen_config_tree_roles_addresses_and_shared_patch() -> None:
    c = scan(DATA / "gen")
    atts = {a.layer_id: a for a in c.attachments}
    cp = atts["talos:controlplane.yaml"]
    assert cp.role is Role.CONTROL_PLANE
    # The shared VIP is where the API endpoint lives: one of the control plane's addresses
    # (issue 11), beside the node's own.
    assert cp.addresses == AddressSet.parse("10.0.1.10/32") | AddressSet.parse("10.0.1.100/32")
    assert (
        "with patches kubelet.yaml (applied to every config beside them: kubelet.yaml name no role)"
        in cp.reason
    )
    assert atts["talos:worker.yaml"].role is Role.WORKER
    assert atts["talos:worker.yaml"].addresses == AddressSet()
    assert [(str(a), s.start_line if s else 0) for a, s in c.node_networks] == [("10.0.1.0/24", 9)]
    found = {f.name: (f.value, f.reason) for f in c.facts}
    assert found["discovery"] == ("true", "cluster.discovery.enabled: true at controlplane.yaml:16")
    assert found["kubespan"] == ("true", "machine.network.kubespan.enabled: true at worker.yaml:6")
    assert found["control_plane_endpoint"][0] == "https://10.0.1.100:6443"
    # Neither config names a CNI: Talos deploys its Flannel on udp/4789.
    assert found["cni"][0] == "flannel"
    assert found["tunnel"][0] == "vxlan"
    assert found["tunnel_port"] == (
        "4789",
        "cluster.network.cni is absent in controlplane.yaml:1: Talos deploys its Flannel (the default CNI); "
        "Talos-managed Flannel uses udp/4789, not upstream's udp/8472",
    )
    # KubeSpan on the worker: its peers (known addresses of KubeSpan nodes) are trusted.
    worker = layer(c, "talos:worker.yaml")
    assert "talos/kubespan" not in [r.key for r in worker.rules]  # no KubeSpan node has a known address
    assert worker.attribute("always_allowed") == "interface lo (the node itself); interface siderolink"


def test_multidoc_v112_to_v114_documents() -> None:
    c = scan(DATA / "multidoc")
    [att] = c.attachments
    assert att.addresses == AddressSet.parse("192.168.5.20/32")  # LinkConfig
    found = {f.name: (f.value, f.source.start_line if f.source else 0) for f in c.facts}
    assert found == {
        "pod_subnets": ("10.32.0.0/16", 20),
        "service_subnets": ("10.33.0.0/16", 22),
        "kubespan": ("true", 16),
        "cni": ("flannel", 25),
        "tunnel": ("vxlan", 27),
        "tunnel_port": ("8472", 25),  # KubeFlannelCNIConfig without backendPort
        "control_plane_endpoint": ("https://cp.example.com:6443", 6),
        # Talos's defaults for a control plane, located at its v1alpha1 document
        "kube_scheduler_bind_address": ("127.0.0.1", 1),
        "kube_controller_manager_bind_address": ("127.0.0.1", 1),
    }
    fw = layer(c, "talos:controlplane.yaml")
    kubespan = next(r for r in fw.rules if r.key == "talos/kubespan")
    assert kubespan.peer.addresses == AddressSet.parse("192.168.5.20/32")
    # The trusted interface carries everything but its own WireGuard packets (udp/51820 arrive
    # on the physical interface): in block mode with no rule for it, KubeSpan cannot form.
    assert (kubespan.protocol, kubespan.ports) == (None, PortSet.parse("0-51819,51821-65535"))
    assert verdict(fw, "192.168.5.20", UDP, 51820, "192.168.5.20") is Action.DENY
    assert verdict(fw, "192.168.5.20", TCP, 2379, "192.168.5.20") is Action.ALLOW
    assert "pod/service CIDRs to pod/service CIDRs: 10.32.0.0/15 (" in fw.attribute("always_allowed")


def test_cni_none_and_custom_say_the_cni_is_not_known() -> None:
    text = (
        "version: v1alpha1\nmachine:\n  type: controlplane\ncluster:\n  network:\n    cni:\n"
        "      name: custom\n      urls:\n        - https://example.com/calico.yaml\n"
    )
    docs, errors = collect_documents(text, "cp.yaml")
    assert errors == []
    config = NodeConfig("cp.yaml", "cp.yaml", tuple(docs), True, docs[0].loc, ("cp.yaml",), "test")
    [cni] = [f for f in build_nodes([config]).facts if f.name == "cni"]
    assert (cni.value, cni.source.start_line if cni.source else 0) == ("custom", 7)
    assert cni.reason == (
        "cluster.network.cni.name: custom at cp.yaml:7 (urls: https://example.com/calico.yaml): "
        "Talos applies those manifests; which CNI runs is not known here, so no CNI port is checked "
        "(name it with --cni and --tunnel, or cni/tunnel in .talosaudit.yaml)"
    )


def test_dhcp_config_node_networks_come_from_valid_and_etcd_subnets() -> None:
    text = (
        "version: v1alpha1\nmachine:\n  type: controlplane\n  kubelet:\n    nodeIP:\n      validSubnets:\n"
        "        - 10.0.1.0/24\n        - '!10.0.1.1/32'\n  network:\n    interfaces:\n"
        "      - interface: eth0\n        dhcp: true\ncluster:\n  etcd:\n    advertisedSubnets:\n"
        "      - 10.0.2.0/24\n---\napiVersion: v1alpha1\nkind: KubeNodeConfig\nnodeIP:\n"
        "  validSubnets: [fd00:1::/64]\n"
    )
    docs, errors = collect_documents(text, "cp.yaml")
    assert errors == []
    config = NodeConfig("cp.yaml", "cp.yaml", tuple(docs), True, docs[0].loc, ("cp.yaml",), "test")
    c = build_nodes([config])
    got = [(n.describe(), s.path if s else "", s.start_line if s else 0) for n, s in c.node_networks]
    assert got == [
        ("10.0.1.0/24", "cp.yaml", 7),
        ("10.0.2.0/24", "cp.yaml", 16),
        ("fd00:1::/64", "cp.yaml", 21),
    ]
    [att] = c.attachments
    assert not att.addresses  # DHCP: no host address


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        (
            "cluster:\n  network:\n    cni:\n      name: flannel\n",
            {"cni": "flannel", "tunnel": "vxlan", "tunnel_port": "4789"},
        ),
        ("cluster:\n  network:\n    cni:\n      name: none\n", {"cni": "none"}),
        (
            "apiVersion: v1alpha1\nkind: KubeFlannelCNIConfig\nbackendType: vxlan\nbackendPort: 4789\n",
            {"cni": "flannel", "tunnel": "vxlan", "tunnel_port": "4789"},
        ),
        (
            "apiVersion: v1alpha1\nkind: KubeNetworkConfig\npodSubnets: [10.1.0.0/16]\n",
            {"cni": "none", "pod_subnets": "10.1.0.0/16"},
        ),
        ("machine:\n  network:\n    kubespan:\n      enabled: false\n", {"kubespan": "false"}),
        ("apiVersion: v1alpha1\nkind: KubeSpanConfig\nenabled: true\n", {"kubespan": "true"}),
        ("cluster:\n  discovery:\n    enabled: false\n", {"discovery": "false"}),
        (
            "cluster:\n  controllerManager:\n    extraArgs:\n      bind-address: 0.0.0.0\n",
            {"kube_controller_manager_bind_address": "0.0.0.0"},
        ),
    ],
)
def test_facts_of_a_whole_config(documents: str, expected: dict[str, str]) -> None:
    base = "version: v1alpha1\nmachine:\n  type: controlplane\n"
    docs, errors = collect_documents(base + "---\n" + documents, "cp.yaml")
    assert errors == []
    merged = merge_all(
        [d for d in docs if d.kind is DocKind.MACHINE], [[d for d in docs if d.kind is not DocKind.MACHINE]]
    )
    config = NodeConfig("cp.yaml", "cp.yaml", tuple(merged), True, docs[0].loc, ("cp.yaml",), "test")
    found = facts(build_nodes([config]))
    if "cni" not in expected:
        expected = {**expected, "cni": "flannel", "tunnel": "vxlan", "tunnel_port": "4789"}
    defaults = {
        "kube_scheduler_bind_address": "127.0.0.1",
        "kube_controller_manager_bind_address": "127.0.0.1",
        "pod_subnets": "10.244.0.0/16",
        "service_subnets": "10.96.0.0/12",
    }
    assert found == {**defaults, **expected}


# --- Terraform reuse: YAML embedded in another file -----------------------------------------


def test_collect_documents_maps_lines_into_the_embedding_file() -> None:
    text = (
        "apiVersion: v1alpha1\nkind: NetworkDefaultActionConfig\ningress: block\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: apid\nportSelector:\n  ports: [50000]\n"
        "  protocol: tcp\ningress:\n  - subnet: 0.0.0.0/0\n"
    )
    docs, errors = collect_documents(text, "main.tf", line_offset=40)
    assert errors == []
    assert [(d.type_name, d.loc.start_line) for d in docs] == [
        ("NetworkDefaultActionConfig", 41),
        ("NetworkRuleConfig", 45),
    ]
    base = Doc(DocKind.MACHINE, None, SourceRef("main.tf", 30))
    config = NodeConfig(
        "main.tf:talos_machine_configuration.cp",
        "talos_machine_configuration.cp",
        tuple(docs),
        True,
        base.loc,
        ("main.tf",),
        "config_patches of talos_machine_configuration.cp",
        role=Role.CONTROL_PLANE,
        role_reason='machine_type = "controlplane" at main.tf:31',
    )
    c = build_nodes([config])
    fw = layer(c, "talos:main.tf:talos_machine_configuration.cp")
    assert user_rules(fw) == [
        ("allow", "allow tcp/50000 from 0.0.0.0/0", "NetworkRuleConfig/apid/ingress[0]", "main.tf", 52)
    ]
    assert c.attachments[0].role is Role.CONTROL_PLANE
    bad, errors = collect_documents("a: [\n", "main.tf", line_offset=40)
    assert bad == []
    assert [(p.kind, p.source.path, p.source.start_line) for p in errors] == [("unreadable", "main.tf", 42)]


def test_unresolved_placeholder_in_a_subnet_makes_the_rule_unresolved() -> None:
    c = scan(DATA / "patches-only")
    fw = layer(c, "talos:(patches)")
    [trustd] = [r for r in fw.rules if r.key.startswith("NetworkRuleConfig/")]
    assert trustd.peer.addresses == ALL_ADDRESSES  # the widest reading; reachability also tries none
    assert [(u.field, u.expression) for u in trustd.unresolved] == [("subnet", "${cluster_cidr}")]
    assert trustd.ports == PortSet.single(50001)


def test_missing_protocol_is_unresolved_and_bad_values_are_ta001(tmp_path: Path) -> None:
    (tmp_path / "controlplane.yaml").write_text(
        "version: v1alpha1\nmachine:\n  type: controlplane\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkDefaultActionConfig\ningress: block\n---\n"
        "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: r\n"
        "portSelector:\n  ports: [10250, abc, 70000]\n"
        "ingress:\n  - subnet: not-a-cidr\n  - subnet: 10.0.0.0/8\n  - except: 10.0.0.1/32\n"
    )
    c = scan(tmp_path)
    fw = layer(c, "talos:controlplane.yaml")
    [rule] = [r for r in fw.rules if r.key.startswith("NetworkRuleConfig/")]
    assert (rule.key, rule.protocol, rule.ports, rule.peer.addresses) == (
        "NetworkRuleConfig/r/ingress[1]",
        None,
        PortSet.single(10250),
        AddressSet.parse("10.0.0.0/8"),
    )
    assert [u.field for u in rule.unresolved] == ["protocol"]
    assert [(p.kind, p.source.start_line, p.message) for p in c.problems] == [
        ("unreadable", 13, "NetworkRuleConfig r: 'abc' is not a port or lo-hi range"),
        ("unreadable", 13, "NetworkRuleConfig r: 70000 is not a port or lo-hi range"),
        ("unreadable", 15, "NetworkRuleConfig r: subnet 'not-a-cidr' is not a CIDR"),
    ]


def test_json_patch_is_reported_not_applied(tmp_path: Path) -> None:
    (tmp_path / "patch.yaml").write_text("- op: add\n  path: /machine/network/hostname\n  value: cp1\n")
    c = scan(tmp_path)
    assert c.layers == ()
    assert problems(c) == [("unresolved", "patch.yaml", 1)]
    assert "RFC 6902 JSON patch" in c.problems[0].message


# --- hostile and broken inputs: TA001, quickly, bounded memory, the scan goes on ---------------


def _bounded(tmp_path: Path, name: str, content: bytes | None, seconds: float = 5.0) -> Collection:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    (tmp_path / "controlplane.yaml").write_text("version: v1alpha1\nmachine:\n  type: controlplane\n")
    tracemalloc.start()
    started = time.monotonic()
    try:
        c = scan(tmp_path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < seconds
    assert peak < 40 * 1024 * 1024
    # The good file next to the bad one is still collected.
    assert [x.id for x in c.layers] == ["talos:controlplane.yaml"]
    return c


def _ta001(c: Collection) -> tuple[str, int, str]:
    [p] = [p for p in c.problems if p.kind == "unreadable"]
    return p.source.path, p.source.start_line, p.message


def test_malformed_yaml_is_ta001_at_the_error_line(tmp_path: Path) -> None:
    c = _bounded(tmp_path, "bad.yaml", b"version: v1alpha1\nmachine:\n  type: worker\n  network: [\n")
    assert _ta001(c) == (
        "bad.yaml",
        5,
        "Talos config cannot be read: not valid YAML: "
        "while parsing a flow node did not find expected node content",
    )


def test_alias_bomb_is_ta001(tmp_path: Path) -> None:
    lines = ["a: &a [" + ",".join(['"lol"'] * 10) + "]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    c = _bounded(
        tmp_path, "bomb.yaml", ("machine:\n  lol:\n" + "\n".join("    " + x for x in lines)).encode()
    )
    path, line, message = _ta001(c)
    assert (path, message) == (
        "bomb.yaml",
        "Talos config cannot be read: aliases expand to more than 100000 YAML nodes (an alias bomb?)",
    )
    assert line == 7  # e: the first alias whose expansion passes the limit


def test_50_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    with big.open("wb") as fh:
        fh.write(b"machine:\n  type: worker\n")
        fh.seek(50 * 1024 * 1024)
        fh.write(b"\n")
    c = _bounded(tmp_path, "huge.yaml", None)
    assert [(p.kind, p.source.path, p.message) for p in c.problems if p.kind == "unreadable"] == [
        ("unreadable", "huge.yaml", "Talos config cannot be read: file is 50.0 MiB, over the 10 MiB limit")
    ]


def test_binary_yaml_is_ta001(tmp_path: Path) -> None:
    c = _bounded(tmp_path, "blob.yaml", b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 64)
    assert _ta001(c) == (
        "blob.yaml",
        1,
        "Talos config cannot be read: file is binary (it contains NUL bytes), not YAML text",
    )


def test_bad_utf8_is_ta001_at_its_line(tmp_path: Path) -> None:
    c = _bounded(tmp_path, "latin.yaml", b"machine:\n  type: worker\n  # caf\xe9\n")
    assert _ta001(c) == (
        "latin.yaml",
        3,
        "Talos config cannot be read: file is not valid UTF-8 (byte 31, line 3)",
    )


def test_deep_nesting_and_node_floods_are_ta001(tmp_path: Path) -> None:
    c = _bounded(tmp_path, "deep.yaml", b"machine:\n  x: " + b"[" * 150 + b"]" * 150 + b"\n")
    assert _ta001(c) == ("deep.yaml", 2, "Talos config cannot be read: YAML nested more than 100 levels deep")
    c = _bounded(tmp_path, "deep.yaml", b"machine: " + b"[" * 100_000 + b"\n")
    path, line, message = _ta001(c)
    assert (path, line) == ("deep.yaml", 1)
    assert message.startswith("Talos config cannot be read: ")  # libyaml's own nesting limit
    (tmp_path / "deep.yaml").unlink()
    # Composing 100000 nodes in Python takes a few seconds under tracemalloc on a busy machine.
    c = _bounded(tmp_path, "flood.yaml", b"machine:\n  x:\n" + b"    - 1\n" * 150_000, seconds=20.0)
    # 5 nodes before the list (map, key, map, key, list): item 99996, on line 99998, is node 100001.
    assert _ta001(c) == ("flood.yaml", 99_998, "Talos config cannot be read: more than 100000 YAML nodes")


def test_recursive_alias_is_ta001(tmp_path: Path) -> None:
    c = _bounded(tmp_path, "loop.yaml", b"machine: &m\n  self: *m\n")
    assert _ta001(c) == ("loop.yaml", 2, "Talos config cannot be read: recursive YAML alias *m")


def test_collector_ignores_other_kinds_and_yaml_merge_keys_work(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "x" "y" {}\n')
    (tmp_path / "worker.yaml").write_text(
        "x-common: &net\n  kubespan:\n    enabled: true\n"
        "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    <<: *net\n"
    )
    files = [
        InputFile(tmp_path / "main.tf", "main.tf", "terraform"),
        InputFile(tmp_path / "worker.yaml", "worker.yaml", "talos"),
    ]
    c = collect(files, tmp_path)
    assert c.files == ("worker.yaml",)
    assert facts(c)["kubespan"] == "true"


def test_patch_tree_gives_one_node_per_machine_file_with_its_role_patches() -> None:
    """patches/common-control.yaml + patches/common-worker.yaml + controlplane/ and worker/
    machine files: two roles, one node per machine file, each with its role's patches."""
    c = scan(Path(__file__).parent / "cases" / "talos-patch-tree-roles")
    tree = [
        (a.role, a.layer_id, a.addresses.describe())
        for a in c.attachments
        if not a.layer_id.startswith("talos:talos/lab/")
    ]
    assert tree == [
        (Role.CONTROL_PLANE, "talos:talos/controlplane/cp-01.yaml", "10.40.0.11/32"),
        (Role.CONTROL_PLANE, "talos:talos/controlplane/cp-02.yaml", "10.40.0.12/32"),
        (Role.WORKER, "talos:talos/worker/wk-01.yaml", "10.40.0.21/32"),
    ]
    cp = layer(c, "talos:talos/controlplane/cp-01.yaml")
    assert dict(cp.attributes)["files"] == (
        "talos/patches/common.yaml,talos/patches/common-control.yaml,talos/controlplane/cp-01.yaml"
    )
    worker = layer(c, "talos:talos/worker/wk-01.yaml")
    assert "etcd-peers" not in " ".join(r.description for r in worker.rules)
    assert problems(c) == [("role-unknown", "talos/lab/firewall.yaml", 2)]


def test_vlan_sub_interfaces_and_the_shared_vip_are_addresses_of_the_node(tmp_path: Path) -> None:
    """A control plane addressed only on VLAN 30 (``interfaces[].vlans[].addresses``) sits at
    that address; the shared VIP (``vip.ip``) is the API endpoint the control planes answer on,
    so it is an address of the control-plane group too (6443 flows reach it)."""
    (tmp_path / "controlplane.yaml").write_text(
        "version: v1alpha1\n"
        "machine:\n"
        "  type: controlplane\n"
        "  network:\n"
        "    interfaces:\n"
        "      - interface: eth0\n"
        "        dhcp: false\n"
        "        vlans:\n"
        "          - vlanId: 30\n"
        "            addresses: [192.168.30.11/24]\n"
        "            vip:\n"
        "              ip: 192.168.30.10\n"
        "cluster:\n"
        "  controlPlane:\n"
        "    endpoint: https://192.168.30.10:6443\n"
        "---\n"
        "apiVersion: v1alpha1\n"
        "kind: NetworkDefaultActionConfig\n"
        "ingress: block\n",
        encoding="utf-8",
    )
    c = scan(tmp_path)
    assert [(a.role, a.addresses.describe()) for a in c.attachments] == [
        (Role.CONTROL_PLANE, "192.168.30.10/31")
    ]
    assert [(n.describe(), ref.start_line if ref else 0) for n, ref in c.node_networks] == [
        ("192.168.30.0/24", 10)
    ]
