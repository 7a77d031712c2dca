"""`live --terraform`: live findings at the Terraform lines, and drift (TA503/TA504).

The seed layout in moto is what fixtures/aws-talos deploys; the fixture is copied under the
test's root so locations are ``tf/...`` paths relative to it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from live_support import REGION, MotoServer, build_seed
from talosaudit.collectors.aws_live.fetch import AwsOptions
from talosaudit.findings import Finding
from talosaudit.live import LiveRequest, LiveResult, run_live
from talosaudit.scan import ScanRequest
from talosaudit.settings import CommandLine

REPO = Path(__file__).resolve().parents[1]
SG_TF = "tf/modules/network/security_groups.tf"
ACCOUNT = "123456789012"


def live_with_terraform(root: Path) -> LiveResult:
    tf = root / "tf"
    if not tf.exists():
        shutil.copytree(REPO / "fixtures" / "aws-talos", tf)
    request = LiveRequest(
        scan=ScanRequest(paths=(), root=root, cli=CommandLine(tunnel="geneve"), cache_dir=None, env={}),
        aws=AwsOptions(regions=(REGION,)),
        terraform=tf,
    )
    return run_live(request)


def where(f: Finding) -> tuple[str, str, int]:
    return f.rule_id, f.location.path, f.location.start_line


def test_deployed_seed_matches_its_terraform(aws_env: MotoServer, tmp_path: Path) -> None:
    build_seed()
    result = live_with_terraform(tmp_path)
    # Every live rule maps to a Terraform rule (inline count-indexed admin rules, group
    # references, egress) and every Terraform rule exists: no drift, no finding.
    assert result.result.findings == ()
    # Facts and admin networks come from the Terraform (cni_type, allowed_admin_cidrs).
    facts = {f.name: f.value for f in result.result.facts}
    assert facts["cni"] == "cilium" and facts["tunnel"] == "geneve"


def test_rule_added_by_hand_is_ta503_at_the_terraform_group(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    sgr = seed.add_rule("by_hand", "worker", 9100, 9100, "tcp", "10.0.0.0/16", "node exporter")
    result = live_with_terraform(tmp_path).result
    assert [where(f) for f in result.findings] == [("TA503", SG_TF, 17)]
    (f,) = result.findings
    assert f.location.resource == "module.network.aws_security_group.worker"
    assert f.message.startswith(
        f"rule {sgr} (node exporter) of security group {seed.worker} (talos-prod-talos-worker-sg, "
        f"account {ACCOUNT}, {REGION}) allows tcp/9100 from 10.0.0.0/16 but no Terraform rule of "
        "module.network.aws_security_group.worker declares it"
    )
    # The live rule's own line in the snapshot is a related location.
    assert f.related[0].path == f"talosaudit-live/{ACCOUNT}/{REGION}/{seed.worker}.json"
    assert f.related[0].resource == sgr
    props = dict(f.properties)
    assert props["security_group"] == seed.worker and props["security_group_rule"] == sgr
    assert f.level.value == "warning"


def test_rule_deleted_in_aws_is_ta504_at_the_terraform_rule(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.delete_rule("control_plane_talos_trustd")
    result = live_with_terraform(tmp_path).result
    # The blocked flow is reported at the Terraform security group, as `scan` of
    # tests/cases/seed-trustd-removed does (line 6), and the missing rule at its own line.
    assert sorted(where(f) for f in result.findings) == [("TA103", SG_TF, 6), ("TA504", SG_TF, 49)]
    drift = next(f for f in result.findings if f.rule_id == "TA504")
    assert drift.location.resource == (
        "module.network.aws_vpc_security_group_ingress_rule.control_plane_talos_trustd"
    )
    assert "tcp/50001 from group module.network.aws_security_group.worker" in drift.message
    assert f"security group {seed.cp} (talos-prod-talos-control-plane-sg, account {ACCOUNT}, {REGION})" in (
        drift.message
    )


def test_findings_point_at_the_terraform_rule_line(aws_env: MotoServer, tmp_path: Path) -> None:
    # Deployed and declared with allowed_admin_cidrs = ["0.0.0.0/0"] (tests/cases/seed-admin-cidr-world):
    # the live rules map to the count-indexed Terraform rules, so the findings land on the same
    # lines as `scan` reports them (main.tf:65 and main.tf:54), and there is no drift.
    seed = build_seed(admin=False)
    talos = seed.add_rule(
        "cp_talos_api_external",
        "cp",
        50000,
        50000,
        "tcp",
        "0.0.0.0/0",
        "Talos API (external admin: 0.0.0.0/0)",
    )
    api = seed.add_rule(
        "cp_k8s_api_external",
        "cp",
        6443,
        6443,
        "tcp",
        "0.0.0.0/0",
        "Kubernetes API (external admin: 0.0.0.0/0)",
    )
    shutil.copytree(REPO / "fixtures" / "aws-talos", tmp_path / "tf")
    tfvars = tmp_path / "tf" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace('"196.45.28.20/32"', '"0.0.0.0/0"'))
    result = live_with_terraform(tmp_path).result
    assert sorted(where(f) for f in result.findings) == [
        ("TA201", "tf/main.tf", 65),
        ("TA202", "tf/main.tf", 54),
    ]
    by_rule = {f.rule_id: f for f in result.findings}
    assert (
        by_rule["TA201"].location.resource == "aws_vpc_security_group_ingress_rule.cp_talos_api_external[0]"
    )
    assert dict(by_rule["TA201"].properties)["security_group_rule"] == talos
    assert dict(by_rule["TA202"].properties)["security_group_rule"] == api
    assert f"{seed.cp}, {talos}]" in by_rule["TA201"].message


def test_changed_source_is_drift_both_ways_and_stays_at_the_snapshot(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    seed = build_seed()
    seed.ec2.revoke_security_group_ingress(
        GroupId=seed.cp, SecurityGroupRuleIds=[seed.rules["cp_talos_api_external"]]
    )
    world = seed.add_rule(
        "world", "cp", 50000, 50000, "tcp", "0.0.0.0/0", "Talos API (external admin: 196.45.28.20/32)"
    )
    wide = seed.add_rule(
        "kubelet_wide", "worker", 10250, 10250, "tcp", "10.0.0.0/8", "Kubelet API (admin access)"
    )
    result = live_with_terraform(tmp_path).result
    snapshot = f"talosaudit-live/{ACCOUNT}/{REGION}"
    found = sorted((*where(f), f.location.resource) for f in result.findings)
    assert [(*row[:2], row[3]) for row in found] == [
        ("TA201", f"{snapshot}/{seed.cp}.json", world),
        ("TA204", f"{snapshot}/{seed.worker}.json", wide),
        ("TA503", SG_TF, "module.network.aws_security_group.control_plane"),
        ("TA503", SG_TF, "module.network.aws_security_group.worker"),
        ("TA504", "tf/main.tf", "aws_vpc_security_group_ingress_rule.cp_talos_api_external[0]"),
    ]
    ta504 = next(f for f in result.findings if f.rule_id == "TA504")
    assert ta504.location.start_line == 65
    assert "(tcp/50000 from 196.45.28.20/32)" in ta504.message and "lacks the rule" in ta504.message
    # The same result as SARIF: schema-valid, and every result (drift at Terraform lines,
    # policy findings at snapshot lines) has a repo-relative file that exists and a line.
    from sarif_kit.validate import validation_errors

    from talosaudit.report.base import Report
    from talosaudit.report.sarif import sarif_document

    report = Report(
        findings=result.findings,
        policies=result.policies,
        root=tmp_path,
        files=result.files,
        category=f"talosaudit/live/{REGION}/",
    )
    doc = sarif_document(report)
    assert list(validation_errors(doc)) == []
    located = []
    for r in doc["runs"][0]["results"]:
        physical = r["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert (tmp_path / uri).is_file() and physical["region"]["startLine"] >= 1
        located.append((r["ruleId"], uri, physical["region"]["startLine"]))
    assert sorted(located) == sorted(where(f) for f in result.findings)
    assert len({r["partialFingerprints"]["primaryLocationLineHash"] for r in doc["runs"][0]["results"]}) == 5
