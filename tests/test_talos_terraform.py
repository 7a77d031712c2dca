"""The Terraform Talos provider mapping: config_patches in every form, with exact lines."""

from __future__ import annotations

from pathlib import Path

from talosaudit.collectors import collect_all
from talosaudit.collectors.discover import discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.talos.terraform import map_talos
from talosaudit.collectors.terraform import load_config
from talosaudit.model import Collection, Role, merge
from talosaudit.policies.engine import EvalSettings, evaluate
from talosaudit.policies.registry import load_catalogue

MAIN = """\
locals {
  cp_ip = "10.0.1.10"
}

data "talos_machine_configuration" "cp" {
  cluster_name     = "lab"
  machine_type     = "controlplane"
  cluster_endpoint = "https://${local.cp_ip}:6443"
  config_patches = [
    <<-EOT
    apiVersion: v1alpha1
    kind: NetworkDefaultActionConfig
    ingress: block
    ---
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: apid-ingress
    portSelector:
      ports: [50000]
      protocol: tcp
    ingress:
      - subnet: 0.0.0.0/0
    EOT
    ,
    yamlencode({
      cluster = {
        network = { cni = { name = "none" } }
        scheduler = {
          extraArgs = {
            "bind-address" = "0.0.0.0"
          }
        }
      }
    }),
    file("${path.module}/patches/fw.yaml"),
    templatefile("patches/api.yaml.tftpl", { port = 6443 }),
    local.kubelet,
    var.unknown_patch,
  ]
}

locals {
  kubelet = <<-EOT
    apiVersion: v1alpha1
    kind: NetworkRuleConfig
    name: kubelet
    portSelector:
      ports: [10250]
      protocol: tcp
    ingress:
      - subnet: 10.0.1.0/24
    EOT
}

variable "unknown_patch" {
  type = string
}

resource "talos_machine_configuration_apply" "cp" {
  machine_configuration_input = data.talos_machine_configuration.cp.machine_configuration
  node                        = local.cp_ip
  config_patches              = [yamlencode({ machine = { network = { hostname = "cp-1" } } })]
}

data "talos_machine_configuration" "worker" {
  cluster_name     = "lab"
  machine_type     = "worker"
  cluster_endpoint = "https://10.0.1.10:6443"
}

data "talos_machine_configuration" "odd" {
  cluster_name     = "lab"
  machine_type     = var.unknown_patch
  cluster_endpoint = "https://10.0.1.10:6443"
}
"""

FW = """\
apiVersion: v1alpha1
kind: NetworkRuleConfig
name: etcd
portSelector:
  ports: ["2379-2380"]
  protocol: tcp
ingress:
  - subnet: 10.0.1.0/24
"""

TEMPLATE = """\
apiVersion: v1alpha1
kind: NetworkRuleConfig
name: api
portSelector:
  ports: [${port}]
  protocol: tcp
ingress:
  - subnet: 10.0.0.0/8
"""


def _map(tmp_path: Path) -> Collection:
    (tmp_path / "patches").mkdir()
    (tmp_path / "main.tf").write_text(MAIN)
    (tmp_path / "patches" / "fw.yaml").write_text(FW)
    (tmp_path / "patches" / "api.yaml.tftpl").write_text(TEMPLATE)
    files, _ = discover([tmp_path], tmp_path)
    terraform = [f for f in files if f.kind == "terraform"]
    config = load_config(terraform, tmp_path, CollectOptions(cache_dir=None))
    return map_talos(config, tmp_path)


def test_every_patch_form_is_located(tmp_path: Path) -> None:
    c = _map(tmp_path)
    [layer] = [x for x in c.layers if x.id == "talos:talos_machine_configuration_apply.cp"]
    assert (layer.source.path, layer.source.start_line) == ("main.tf", 11)  # the heredoc document
    got = [
        (r.key, r.describe(), r.source.path, r.source.start_line)
        for r in layer.rules
        if r.key.startswith("NetworkRuleConfig")
    ]
    assert got == [
        ("NetworkRuleConfig/apid-ingress/ingress[0]", "allow tcp/50000 from 0.0.0.0/0", "main.tf", 22),
        ("NetworkRuleConfig/etcd/ingress[0]", "allow tcp/2379-2380 from 10.0.1.0/24", "patches/fw.yaml", 8),
        ("NetworkRuleConfig/api/ingress[0]", "allow tcp/6443 from 10.0.0.0/8", "patches/api.yaml.tftpl", 8),
        # a local's text has no lines of its own: the list item's line
        ("NetworkRuleConfig/kubelet/ingress[0]", "allow tcp/10250 from 10.0.1.0/24", "main.tf", 37),
    ]


def test_yamlencode_keys_point_at_their_hcl_lines_and_become_facts(tmp_path: Path) -> None:
    c = _map(tmp_path)
    facts = {f.name: (f.value, f.reason) for f in c.facts}
    assert facts["kube_scheduler_bind_address"] == (
        "0.0.0.0",
        "cluster.scheduler.extraArgs.bind-address: 0.0.0.0 at main.tf:30",
    )
    assert facts["cni"] == (
        "none",
        "cluster.network.cni.name: none at main.tf:27: Talos installs no CNI itself; which CNI runs is not "
        "known here, so no CNI port is checked (name it with --cni and --tunnel, or cni/tunnel in "
        ".talosaudit.yaml)",
    )
    assert facts["control_plane_endpoint"][0] == "https://10.0.1.10:6443"


def test_apply_is_one_node_at_its_address_and_unused_configs_stand_for_their_role(tmp_path: Path) -> None:
    c = _map(tmp_path)
    got = {(a.layer_id, a.role, a.addresses.describe() if a.addresses else "") for a in c.attachments}
    assert got == {
        ("talos:talos_machine_configuration_apply.cp", Role.CONTROL_PLANE, "10.0.1.10/32"),
        # no host firewall documents and no patches: the worker config has a layer that filters nothing
        ("talos:data.talos_machine_configuration.worker", Role.WORKER, ""),
        # "odd" has an unknown machine type and no firewall documents: facts only, no layer
    }
    [cp] = [a for a in c.attachments if a.layer_id.endswith("apply.cp")]
    assert cp.fallback is not None
    assert cp.fallback.address_reason == 'node = "10.0.1.10" at main.tf:61'
    assert cp.fallback.role_reason == 'machine_type = "controlplane" at main.tf:7'


def test_unresolved_patches_and_machine_types_are_ta002(tmp_path: Path) -> None:
    c = _map(tmp_path)
    got = sorted((p.kind, p.source.path, p.source.start_line, p.message) for p in c.problems)
    assert got == [
        (
            "unresolved",
            "main.tf",
            38,
            "data.talos_machine_configuration.cp.config_patches[5] (var.unknown_patch: variable has no value)"
            " could not be resolved: this patch is not audited",
        ),
        (
            "unresolved",
            "main.tf",
            73,
            "data.talos_machine_configuration.odd: machine_type var.unknown_patch: variable has no value is "
            "not controlplane or worker; the role of its nodes is unknown (assumed both)",
        ),
    ]
    # The host firewall of the worker config accepts by default: TA404's policy says so.
    found = evaluate(merge([c]), load_catalogue(), EvalSettings(enabled={"TA404"}))
    assert [(f.rule_id, f.location.path, f.location.start_line, f.message) for f in found] == [
        (
            "TA404",
            "main.tf",
            65,
            "data.talos_machine_configuration.worker: no NetworkDefaultActionConfig with ingress: block; "
            "the node relies on outer layers only",
        ),
    ]


def test_without_the_scan_root_every_patch_points_at_the_attribute(tmp_path: Path) -> None:
    c = _map(tmp_path)
    files, _ = discover([tmp_path], tmp_path)
    config = load_config(
        [f for f in files if f.kind == "terraform"], tmp_path, CollectOptions(cache_dir=None)
    )
    bare = map_talos(config, None)
    [layer] = [x for x in bare.layers if x.id == "talos:talos_machine_configuration_apply.cp"]
    assert {(r.source.path, r.source.start_line) for r in layer.rules} == {("main.tf", 9)}
    assert c.layers  # the located mapping above still had its layers


def test_patch_files_the_provider_reads_are_not_collected_again_as_talos_inputs(tmp_path: Path) -> None:
    """patches/fw.yaml and the template are Talos inputs by content, but main.tf applies them to
    its nodes: read alone they would stand for nodes of their own (a second, partial host firewall
    for every role, and block-mode gaps that are not there)."""
    _map(tmp_path)
    files, _ = discover([tmp_path], tmp_path)
    assert {f.rel: f.kind for f in files if f.rel.startswith("patches/")} == {
        "patches/api.yaml.tftpl": "talos",
        "patches/fw.yaml": "talos",
    }
    collections = collect_all(files, tmp_path, CollectOptions(cache_dir=None))
    model = merge(collections)
    assert sorted(model.layers) == [
        "talos:data.talos_machine_configuration.worker",
        "talos:talos_machine_configuration_apply.cp",
    ]
    assert sorted(g.id for g in model.node_groups) == sorted(model.layers)
    assert not [p for p in model.problems if p.source.path.startswith("patches/")]
    assert model.files == ("main.tf", "patches/api.yaml.tftpl", "patches/fw.yaml")


def test_unknown_leaf_keeps_the_patch_and_an_unread_patch_claims_no_default() -> None:
    """One unknown leaf (a certSAN known after apply) keeps the yamlencode patch's known
    fields; a patch that cannot be read at all turns the Talos defaults it could override
    into "unknown", naming the patch."""
    case = Path(__file__).parent / "cases" / "talos-tf-patch-partial-unknown"
    files, _ = discover([case], case)
    terraform = [f for f in files if f.kind == "terraform"]
    c = map_talos(load_config(terraform, case, CollectOptions(cache_dir=None)), case)
    facts = {(f.name, f.value): f.reason for f in c.facts}
    assert ("cni", "none") in facts
    assert facts[("kube_scheduler_bind_address", "0.0.0.0")].endswith("at main.tf:46")
    unread = "unknown: set by an unresolved patch at main.tf:75"
    assert facts[("kube_controller_manager_bind_address", "unknown")] == unread
    assert facts[("pod_subnets", "unknown")] == unread
    assert not any(name in ("cni", "tunnel", "tunnel_port") and value == "flannel" for name, value in facts)
    assert [(p.source.path, p.source.start_line) for p in c.problems] == [("main.tf", 75)]
