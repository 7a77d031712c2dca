"""The built-in policy pack: every file valid, named and levelled as RULES.md says; docs in sync."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from talosaudit.policies.docs import REGENERATE, drift, render
from talosaudit.policies.engine import KINDS
from talosaudit.policies.registry import PolicyError, load_catalogue
from talosaudit.policies.schema import Level, Policy

ROOT = Path(__file__).resolve().parents[1]
POLICY_FILES = sorted((ROOT / "policies").glob("*.yaml"))

#: id -> (name, level), from RULES.md (public interface: never renamed).
CATALOGUE = {
    "TA001": ("input-unparseable", "error"),
    "TA002": ("value-unresolved", "warning"),
    "TA003": ("role-unknown", "warning"),
    "TA004": ("firewall-not-evaluated", "note"),
    "TA005": ("suppression-not-understood", "note"),
    "TA101": ("kube-apiserver-blocked", "error"),
    "TA102": ("talos-apid-blocked", "error"),
    "TA103": ("talos-trustd-blocked", "error"),
    "TA104": ("etcd-blocked", "error"),
    "TA105": ("kubelet-blocked", "error"),
    "TA106": ("cni-overlay-blocked", "error"),
    "TA107": ("cni-health-blocked", "warning"),
    "TA108": ("kubespan-blocked", "error"),
    "TA109": ("egress-blocked", "warning"),
    "TA201": ("talos-api-public", "error"),
    "TA202": ("kube-apiserver-public", "warning"),
    "TA203": ("etcd-exposed", "error"),
    "TA204": ("kubelet-exposed", "error"),
    "TA205": ("internal-port-exposed", "warning"),
    "TA206": ("all-traffic-allowed", "error"),
    "TA207": ("overly-broad-cidr", "warning"),
    "TA208": ("public-allowlist-undeclared", "note"),
    "TA301": ("nodeport-public", "error"),
    "TA302": ("nodeport-on-control-plane", "warning"),
    "TA303": ("nodeport-unexpected", "warning"),
    "TA401": ("proxmox-firewall-without-rules", "error"),
    "TA402": ("proxmox-firewall-inactive", "warning"),
    "TA403": ("firewall-rule-shadowed", "note"),
    "TA404": ("talos-host-firewall-off", "note"),
    "TA405": ("pfsense-rule-disabled-required", "note"),
    "TA501": ("rule-without-description", "note"),
    "TA502": ("duplicate-rule", "note"),
    "TA503": ("drift-live-only", "warning"),
    "TA504": ("drift-code-only", "warning"),
}
#: The rules the reachability/policy-engine release ships (platform and drift rules come
#: with their collectors).
ENGINE_RULES = {
    "TA001", "TA002", "TA003",
    "TA101", "TA102", "TA103", "TA104", "TA105", "TA106", "TA107", "TA108", "TA109",
    "TA201", "TA202", "TA203", "TA204", "TA205", "TA206", "TA207",
    "TA301", "TA302", "TA303", "TA403", "TA501", "TA502",
}  # fmt: skip
SEVERITY = {"error": (7.0, 9.5), "warning": (4.0, 6.9), "note": (1.0, 3.9)}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_policy_file_is_valid_and_complete(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    policy = Policy.model_validate(data)
    assert path.name == f"{policy.id}-{policy.name}.yaml"
    assert (policy.name, policy.level.value) == CATALOGUE[policy.id]
    low, high = SEVERITY[policy.level.value]
    assert low <= policy.security_severity <= high
    assert "security" in policy.tags and len(policy.tags) >= 2
    assert policy.kind in KINDS
    KINDS[policy.kind][0].model_validate(policy.params)
    assert policy.rationale.strip() and policy.remediation.strip() and policy.title.strip()
    assert policy.references and all(url.startswith("https://") for url in policy.references)


def test_the_pack_holds_the_engine_rules_and_only_catalogued_ids() -> None:
    catalogue = load_catalogue()
    assert list(catalogue.ids()) == sorted(catalogue.ids())
    assert ENGINE_RULES <= set(catalogue.ids()) <= set(CATALOGUE)
    assert catalogue.get("TA103") is not None and catalogue.get("TA103").name == "talos-trustd-blocked"
    assert catalogue.get("TA999") is None


def test_required_flow_rows_follow_ports_md() -> None:
    catalogue = load_catalogue()
    rows = {
        p.id: sorted({f["row"] for f in p.params["flows"]}) for p in catalogue if p.kind == "require_flow"
    }
    assert rows == {
        "TA101": ["R1"],
        "TA102": ["R2", "R3", "R4"],
        "TA103": ["R5"],
        "TA104": ["R6"],
        "TA105": ["R7", "R8"],
        "TA106": ["C1", "C2", "C3", "C7", "C8"],
        "TA107": ["C4", "C5", "C6", "C9"],
        "TA108": ["K1"],
        "TA109": ["E1"],
    }


def test_rule_docs_are_up_to_date() -> None:
    stale = drift(ROOT / "docs" / "rules", render(load_catalogue()))
    assert not stale, f"docs/rules is out of date ({', '.join(stale)}): run `{REGENERATE}`"


def test_rule_doc_content() -> None:
    pages = render(load_catalogue())
    page = pages["TA103.md"]
    assert page.startswith("# TA103 talos-trustd-blocked\n\n**Worker nodes can reach Talos trustd")
    assert "| Level | error |" in page and "referenced_security_group_id" in page
    assert "| [TA201](TA201.md) | talos-api-public | error | 9.5 |" in pages["README.md"]


# --- registry errors -------------------------------------------------------------------

GOOD = {
    "id": "XX900",
    "name": "custom-thing",
    "title": "Custom things are fine",
    "level": "warning",
    "security_severity": 5.0,
    "kind": "broad_cidr",
    "tags": ["security", "custom"],
    "rationale": "r",
    "remediation": "m",
    "params": {"min_public_prefix": 24},
}


def write(directory: Path, name: str, data: object) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_user_policies_are_added_after_the_builtin_pack(tmp_path: Path) -> None:
    write(tmp_path, "XX900-custom-thing.yaml", GOOD)
    catalogue = load_catalogue([tmp_path])
    assert catalogue.ids()[-1] == "XX900"
    assert catalogue.get("XX900") is not None and catalogue.get("XX900").level is Level.WARNING


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("XX900-other.yaml", GOOD, "must be named XX900-custom-thing.yaml"),
        ("XX900-custom-thing.yaml", {**GOOD, "kind": "rego"}, "unknown kind 'rego'"),
        ("XX900-custom-thing.yaml", {**GOOD, "severity": 3}, "severity: Extra inputs are not permitted"),
        (
            "XX900-custom-thing.yaml",
            {**GOOD, "params": {"min_public_prefix": 99}},
            "params: min_public_prefix:",
        ),
        ("XX900-custom-thing.yaml", {**GOOD, "params": {"min_public_prefix": 24, "x": 1}}, "params: x:"),
        ("XX900-custom-thing.yaml", {**GOOD, "level": "fatal"}, "level:"),
        ("XX900-custom-thing.yaml", ["not", "a", "mapping"], "must be a YAML mapping"),
        (
            "TA103-talos-trustd-blocked.yaml",
            {**GOOD, "id": "TA103", "name": "talos-trustd-blocked"},
            "TA103 is already defined",
        ),
    ],
)
def test_invalid_policies_raise_policy_error_naming_the_file(
    tmp_path: Path, name: str, data: object, message: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(PolicyError) as err:
        load_catalogue([tmp_path])
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_unreadable_yaml_and_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "XX1-bad.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot read the policy"):
        load_catalogue([tmp_path])
    with pytest.raises(PolicyError, match="not a directory"):
        load_catalogue([tmp_path / "missing"])


def test_bad_flow_parameters_are_rejected(tmp_path: Path) -> None:
    data = {
        **GOOD,
        "kind": "require_flow",
        "params": {
            "flows": [
                {"from": "worker", "to": "control-plane", "protocol": "tcp", "ports": "99999", "purpose": "x"}
            ]
        },
    }
    write(tmp_path, "XX900-custom-thing.yaml", data)
    with pytest.raises(PolicyError, match="bad port range"):
        load_catalogue([tmp_path])
