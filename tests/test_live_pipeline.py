"""`talosaudit live` against a real moto server: same findings as `scan` for the same layout.

The seed guide's layout is created in moto through boto3 (live_support.build_seed) and the
same mutation is applied that a golden `scan` case under tests/cases/seed-* applies to the
Terraform. Both must report the same rules for the same flows. Live findings point at the
snapshot file of the security group, at the rule's own line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from live_support import (
    ADMIN_CIDR,
    FAKE_KEY_ID,
    FAKE_SECRET,
    FAKE_TOKEN,
    REGION,
    MotoServer,
    Seed,
    build_seed,
)
from talosaudit.collectors.aws_live.fetch import AwsOptions
from talosaudit.config import ConfigError
from talosaudit.findings import Finding
from talosaudit.live import LiveRequest, LiveResult, run_live
from talosaudit.scan import ScanRequest, run_scan
from talosaudit.settings import CommandLine

#: The moto server and aws_env fixtures (one server for the whole session).

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "cases"
ACCOUNT = "123456789012"
FLOW = re.compile(r"\b(tcp|udp|icmp|all)(/[0-9][0-9,-]*)?")


def live(
    root: Path,
    *,
    regions: tuple[str, ...] = (REGION,),
    admin: tuple[str, ...] = (ADMIN_CIDR,),
    terraform: Path | None = None,
    **aws: object,
) -> LiveResult:
    request = LiveRequest(
        scan=ScanRequest(
            paths=(),
            root=root,
            cli=CommandLine(cni="cilium", tunnel="geneve", admin_cidrs=admin),
            cache_dir=None,
            env={},
        ),
        aws=AwsOptions(regions=regions, **aws),  # type: ignore[arg-type]
        terraform=terraform,
    )
    return run_live(request)


def scan_case(name: str) -> tuple[Finding, ...]:
    case = CASES / name
    return run_scan(
        ScanRequest(paths=(case,), root=case, cli=CommandLine(tunnel="geneve"), cache_dir=None, env={})
    ).findings


def flows(findings: tuple[Finding, ...]) -> set[tuple[str, str]]:
    """(rule id, first flow in the message): what must agree between scan and live."""
    out = set()
    for f in findings:
        found = FLOW.search(f.message)
        out.add((f.rule_id, found.group(0) if found else ""))
    return out


def sg_file(root: Path, group: str) -> Path:
    return root / "talosaudit-live" / ACCOUNT / REGION / f"{group}.json"


def lines_of(root: Path, f: Finding) -> str:
    text = (root / f.location.path).read_text().splitlines()
    return "\n".join(text[f.location.start_line - 1 : f.location.end_line])


def test_clean_seed_layout_has_no_finding_like_scan(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    result = live(tmp_path)
    assert scan_case("seed-clean") == ()
    assert result.result.findings == ()
    assert result.regions == (REGION,)
    assert result.failures == ()
    assert len(result.evaluated) == 1 and result.evaluated[0].startswith(f"{ACCOUNT}/{REGION}/vpc-")
    # The region's default VPC holds no node: one notice names it.
    default_vpc = next(v for v in seed.ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])["VpcId"]
    assert result.result.notices == (
        f"not evaluated, no Talos nodes (no instance or security group with a role): "
        f"{ACCOUNT}/{REGION}/{default_vpc} (name a VPC with --vpc-id to audit it anyway)",
    )


def test_trustd_missing_is_ta103_at_the_control_plane_group(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.delete_rule("control_plane_talos_trustd")
    result = live(tmp_path).result
    assert flows(result.findings) == flows(scan_case("seed-trustd-removed")) == {("TA103", "tcp/50001")}
    (f,) = result.findings
    assert f.location.path == f"talosaudit-live/{ACCOUNT}/{REGION}/{seed.cp}.json"
    # The layer's location: the SecurityGroup object of the snapshot file.
    assert f.location.start_line == 4 and f.location.resource == seed.cp
    assert '"SecurityGroup": {' in lines_of(tmp_path, f)
    assert "worker" in f.message and "control-plane" in f.message
    assert f"account {ACCOUNT}, {REGION}, {seed.vpc}, {seed.cp}]" in f.message
    props = dict(f.properties)
    assert props["account"] == ACCOUNT and props["region"] == REGION and props["security_group"] == seed.cp


def test_admin_world_is_ta201_and_ta202_at_the_rule_lines(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed(admin=False)
    api = seed.add_rule(
        "cp_k8s_api_external",
        "cp",
        6443,
        6443,
        "tcp",
        "0.0.0.0/0",
        "Kubernetes API (external admin: 0.0.0.0/0)",
    )
    talos = seed.add_rule(
        "cp_talos_api_external",
        "cp",
        50000,
        50000,
        "tcp",
        "0.0.0.0/0",
        "Talos API (external admin: 0.0.0.0/0)",
    )
    # Declaring 0.0.0.0/0 as an admin network is a usage error (it is the internet); the rules
    # that open the world are then reported as they are, with no admin network declared.
    with pytest.raises(ConfigError, match=r"--admin-cidr 0\.0\.0\.0/0: a public range wider than /24"):
        live(tmp_path, admin=("0.0.0.0/0",))
    result = live(tmp_path, admin=()).result
    expected = {("TA201", "tcp/50000"), ("TA202", "tcp/6443")}
    assert flows(result.findings) == flows(scan_case("seed-admin-cidr-world")) == expected
    by_rule = {f.rule_id: f for f in result.findings}
    for rule_id, sgr in (("TA201", talos), ("TA202", api)):
        f = by_rule[rule_id]
        assert f.location.path == f"talosaudit-live/{ACCOUNT}/{REGION}/{seed.cp}.json"
        assert f.location.resource == sgr
        block = lines_of(tmp_path, f)
        assert block.startswith("    {") and block.rstrip(",").endswith("    }")
        assert f'"SecurityGroupRuleId": "{sgr}"' in block and '"CidrIpv4": "0.0.0.0/0"' in block
        assert "0.0.0.0/0" in f.message and sgr in f.message
        assert dict(f.properties)["security_group_rule"] == sgr


def test_nodeport_world_is_ta301(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.add_rule(
        "worker_nodeport_self",
        "worker",
        30000,
        32767,
        "tcp",
        "worker",
        "NodePort services (worker-to-worker)",
    )
    seed.add_rule(
        "worker_nodeport_vpc",
        "worker",
        30000,
        32767,
        "tcp",
        "10.0.0.0/16",
        "NodePort services (admin access)",
    )
    public = seed.add_rule(
        "worker_nodeport_public", "worker", 30000, 32767, "tcp", "0.0.0.0/0", "NodePort services (public)"
    )
    result = live(tmp_path).result
    assert (
        flows(result.findings) == flows(scan_case("seed-nodeport-public")) == {("TA301", "tcp/30000-32767")}
    )
    (f,) = result.findings
    assert f.location.resource == public and f'"SecurityGroupRuleId": "{public}"' in lines_of(tmp_path, f)


def test_snapshot_is_stable_and_pretty(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    first = live(tmp_path)
    texts = {p: (tmp_path / p).read_text() for p in first.snapshot_files}
    second = live(tmp_path)
    assert second.snapshot_files == first.snapshot_files
    assert {p: (tmp_path / p).read_text() for p in second.snapshot_files} == texts
    cp = sg_file(tmp_path, seed.cp).read_text()
    assert json.dumps(json.loads(cp), indent=2, sort_keys=True) + "\n" == cp
    doc = json.loads(cp)
    ids = [r["SecurityGroupRuleId"] for r in doc["SecurityGroupRules"]]
    assert set(ids) == {sgr for name, sgr in seed.rules.items() if name.startswith(("control_plane", "cp_"))}
    assert f"talosaudit-live/{ACCOUNT}/{REGION}/index.json" in first.snapshot_files


def test_stale_snapshot_files_are_removed(aws_env: MotoServer, tmp_path: Path) -> None:
    build_seed()
    stale = tmp_path / "talosaudit-live" / ACCOUNT / REGION / "sg-0000000000000dead.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    keep = stale.parent / "notes.json"
    keep.write_text("{}\n")
    live(tmp_path)
    assert not stale.exists() and keep.exists()


def test_sarif_from_live_validates_and_every_result_has_a_file(aws_env: MotoServer, tmp_path: Path) -> None:
    from sarif_kit.validate import validation_errors

    seed = build_seed(admin=False)
    seed.add_rule("cp_talos_api_external", "cp", 50000, 50000, "tcp", "0.0.0.0/0", "Talos API (world)")
    seed.delete_rule("control_plane_talos_trustd")
    proc = subprocess.run(
        [sys.executable, "-m", "talosaudit", "live", "--region", REGION, "--cni", "cilium",
         "--tunnel", "geneve", "--format", "sarif", "--root", str(tmp_path),
         "--category", f"talosaudit/live/{REGION}/"],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(validation_errors(doc)) == []
    (run,) = doc["runs"]
    assert run["automationDetails"]["id"] == f"talosaudit/live/{REGION}/"
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"TA103", "TA201"}
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        assert uri.startswith(f"talosaudit-live/{ACCOUNT}/{REGION}/sg-") and (tmp_path / uri).is_file()
        assert loc["region"]["startLine"] >= 1
        assert r["properties"]["account"] == ACCOUNT and r["properties"]["region"] == REGION
        assert r["properties"]["security_group"] in (seed.cp, seed.worker)
    ta201 = next(r for r in results if r["ruleId"] == "TA201")
    assert ta201["properties"]["security_group_rule"] == seed.rules["cp_talos_api_external"]
    for secret in (FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN):
        assert secret not in proc.stdout + proc.stderr


def test_cli_subprocess_against_moto_and_no_secret_anywhere(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.delete_rule("control_plane_talos_trustd")
    env = {
        **os.environ,
        **aws_env.env(),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    proc = subprocess.run(
        ["talosaudit", "live", "--region", REGION, "--cni", "cilium", "--tunnel", "geneve",
         "--admin-cidr", ADMIN_CIDR, "--format", "json", "-o", f"text={tmp_path / 'out.txt'}"],
        check=False, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [f["rule_id"] for f in doc["findings"]] == ["TA103"]
    assert f"read account {ACCOUNT}: {REGION}" in proc.stderr
    everything = proc.stdout + proc.stderr + (tmp_path / "out.txt").read_text()
    for path in (tmp_path / "talosaudit-live").rglob("*"):
        if path.is_file():
            everything += path.read_text()
    for secret in (FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN):
        assert secret not in everything


def test_no_region_flag_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["talosaudit", "live"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--region" in proc.stderr


def test_seed_helper_creates_every_terraform_rule(aws_env: MotoServer) -> None:
    seed: Seed = build_seed()
    assert len(seed.rules) == 13 + 10 + 2 + 2
    assert len(seed.instances) == 5


def test_progress_bar_is_on_stderr_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from talosaudit.cli_live import _progress

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a terminal
    with _progress(2, enabled=True) as tick:
        assert tick is not None
        tick(REGION, True)
        tick.retry("us-east-1", 2, 9, 5)
        tick.refresh()
        retrying = capsys.readouterr()
        tick("us-east-1", False)
    captured = capsys.readouterr()
    assert captured.out == "" and retrying.out == ""
    assert "us-east-1 retry 2/9, 5 in this region" in retrying.err
    assert (
        "reading AWS regions" in captured.err and "2/2" in captured.err and "us-east-1 failed" in captured.err
    )
    with _progress(2, enabled=False) as tick:
        assert tick is None


def test_an_interrupted_snapshot_write_leaves_the_previous_snapshot(
    aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: the region directory is written beside the old one, then swapped in; a
    failure mid-write (disk full, killed) leaves the previous snapshot as it was."""
    seed = build_seed()
    first = live(tmp_path)
    region = tmp_path / "talosaudit-live" / ACCOUNT / REGION
    before = {p.name: p.read_text() for p in region.iterdir()}
    assert "index.json" in before and f"{seed.cp}.json" in before
    # The next run sees a new group, and the disk fills after three files.
    seed.add_rule("cp_talos_api_external", "cp", 50000, 50000, "tcp", "0.0.0.0/0", "Talos API (world)")
    original = Path.write_text
    written: list[str] = []

    def failing_write(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if "talosaudit-live" in self.parts and len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(self.name)
        return original(self, data, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patched, pytest.raises(OSError, match="No space left"):
        patched.setattr(Path, "write_text", failing_write)
        live(tmp_path)
    assert len(written) == 3
    assert {p.name: p.read_text() for p in region.iterdir()} == before
    # Nothing half-written is left beside it, and the next run completes.
    assert sorted(p.name for p in region.parent.iterdir()) == [REGION]
    again = live(tmp_path)
    assert set(again.snapshot_files) == set(first.snapshot_files)
    index = json.loads((region / "index.json").read_text())
    assert {f"{g}.json" for g in index["SecurityGroups"]} <= {p.name for p in region.iterdir()}
