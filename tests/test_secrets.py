"""Issue 12 section 4: secrets are never printed.

- Terraform ``sensitive = true`` variables and outputs and ``sensitive()`` values show as
  ``var.x (sensitive)`` / ``(sensitive)`` in every format of ``scan``, ``graph`` and ``why``;
  a CIDR from a sensitive variable still takes part in the model (its exposure is reported).
- URL user-info in Talos endpoints (``https://user:pass@host:6443``) is redacted in facts and
  messages, in every format of ``scan`` and ``graph``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from talosaudit.cli import cli
from talosaudit.collectors.talos.redact import without_userinfo

CASES = Path(__file__).parent / "cases"
SENSITIVE = Path(__file__).parent / "data" / "sensitive"
TF_ARGS = ["--cni", "cilium", "--tunnel", "geneve"]
#: The values tests/data/sensitive/main.tf marks secret (the CIDRs in any spelling).
TF_SECRETS = ("145.40.7.10", "145.40.9.9", "s3cret-not-a-cidr", "ci-desc-token-51c0ffee", "kube-token-7f3a9c")
SCAN_FORMATS = ("text", "json", "sarif", "github", "markdown", "html")
GRAPH_FORMATS = ("text", "json", "mermaid", "dot")
TALOS_PASSWORD = "hunter2-talos-pw"


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def talos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("talos") / "cluster"
    shutil.copytree(CASES / "talos-flannel-clean", root)
    for name in ("controlplane.yaml", "worker.yaml"):
        path = root / name
        text = path.read_text(encoding="utf-8")
        # The password holds an encoded and a raw "@"; the user-info runs to the last one.
        endpoint = f"https://admin:{TALOS_PASSWORD}%40x@y@10.0.1.10:6443"
        path.write_text(text.replace("https://10.0.1.10:6443", endpoint), encoding="utf-8")
    return root


@pytest.mark.parametrize("fmt", SCAN_FORMATS)
def test_talos_endpoint_user_info_is_never_printed_by_scan(talos_root: Path, fmt: str) -> None:
    result = _invoke(["scan", str(talos_root), "--root", str(talos_root), "--no-cache", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert TALOS_PASSWORD not in result.output and TALOS_PASSWORD not in result.stderr
    assert "admin:" not in result.output
    if fmt == "text":
        assert (
            "  control_plane_endpoint = https://(redacted)@10.0.1.10:6443 [Talos config]: "
            "control-plane endpoint at controlplane.yaml:11"
        ) in result.output.splitlines()


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
def test_talos_endpoint_user_info_is_never_printed_by_graph(talos_root: Path, fmt: str) -> None:
    result = _invoke(["graph", str(talos_root), "--root", str(talos_root), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert TALOS_PASSWORD not in result.output and "admin:" not in result.output


def test_without_userinfo_keeps_scheme_host_and_port() -> None:
    assert without_userinfo("https://u:p@cp.example:6443/x") == "https://(redacted)@cp.example:6443/x"
    assert without_userinfo("HTTPS://u:p@ss@h:1 and tcp://tok@10.0.0.1:50000") == (
        "HTTPS://(redacted)@h:1 and tcp://(redacted)@10.0.0.1:50000"
    )
    # No user-info, an e-mail address, a path holding "@": unchanged.
    for text in ("https://10.0.1.10:6443", "admin@example.com", "https://h/a@b", "https://h?x=a@b"):
        assert without_userinfo(text) == text


def _assert_no_terraform_secret(text: str) -> None:
    for secret in TF_SECRETS:
        assert secret not in text, secret


@pytest.mark.parametrize("fmt", SCAN_FORMATS)
def test_terraform_sensitive_values_are_never_printed_by_scan(fmt: str, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = CliRunner(env={"GITHUB_STEP_SUMMARY": str(summary)}).invoke(
        cli,
        [
            "scan",
            str(SENSITIVE),
            "--root",
            str(SENSITIVE),
            "--no-cache",
            "--format",
            fmt,
            *TF_ARGS,
            "-o",
            f"json={tmp_path / 'out.json'}",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    _assert_no_terraform_secret(result.output)
    _assert_no_terraform_secret(result.stderr)
    _assert_no_terraform_secret((tmp_path / "out.json").read_text(encoding="utf-8"))
    if fmt == "github":
        _assert_no_terraform_secret(summary.read_text(encoding="utf-8"))
    # The source is named instead, and the exposure is still found (TA208 on both CI rules).
    assert "var.ci_cidr (sensitive)" in result.output
    if fmt != "text":
        return
    lines = result.output.splitlines()
    assert (
        "      aws_vpc_security_group_ingress_rule.broken: cidr_ipv4 = 'var.broken_cidr (sensitive)' "
        "could not be resolved: not a valid CIDR"
    ) in lines
    assert (
        "      tcp/50000 reachable from public var.ci_cidr (sensitive), not declared as an admin network; "
        "declare it with --admin-cidr or admin_networks (the Talos API on control-plane nodes, through "
        "rule aws_vpc_security_group_ingress_rule.ci_talosctl ((sensitive)) in security group "
        "aws_security_group.cp)"
    ) in lines
    assert (
        "  admin_networks = var.allowed_admin_cidrs (sensitive) [Terraform]: var.allowed_admin_cidrs "
        "(sensitive) from var.allowed_admin_cidrs at main.tf:101"
    ) in lines


@pytest.mark.parametrize("fmt", (*GRAPH_FORMATS, "html"))
def test_terraform_sensitive_values_are_never_printed_by_graph(fmt: str) -> None:
    result = _invoke(["graph", str(SENSITIVE), "--root", str(SENSITIVE), "--format", fmt, *TF_ARGS])
    assert result.exit_code == 0, result.output
    _assert_no_terraform_secret(result.output)
    if fmt in ("text", "json", "html"):  # the formats that list the facts
        assert "var.allowed_admin_cidrs (sensitive)" in result.output


def test_terraform_sensitive_values_are_never_printed_by_why() -> None:
    result = _invoke(
        [
            "why",
            str(SENSITIVE),
            "--root",
            str(SENSITIVE),
            "--from",
            "145.40.9.9/32",
            "--to",
            "control-plane",
            "--port",
            "50000/tcp",
            *TF_ARGS,
        ]
    )
    assert result.exit_code == 0, result.output
    _assert_no_terraform_secret(result.output)
    assert (
        "      allows: allow tcp/50000 from var.ci_cidr (sensitive)  (main.tf:157)"
        in result.output.splitlines()
    )


def test_the_interpreter_records_sensitive_variables_outputs_and_calls() -> None:
    from talosaudit.collectors.discover import discover
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.collectors.terraform import load_config

    files, _ = discover([SENSITIVE], SENSITIVE)
    config = load_config(files, SENSITIVE, CollectOptions(jobs=1))
    assert set(config.secrets) == {
        ("145.40.7.10/32", "var.allowed_admin_cidrs"),
        ("145.40.9.9/32", "var.ci_cidr"),
        ("s3cret-not-a-cidr", "var.broken_cidr"),
        ("kube-token-7f3a9c", "output.kube_token"),
        ("ci-desc-token-51c0ffee", ""),
    }
    sensitive = {v.name for v in config.variables if v.sensitive}
    assert sensitive == {"allowed_admin_cidrs", "ci_cidr", "broken_cidr"}


def test_redact_secrets_spellings() -> None:
    from talosaudit.model.secrets import redact_secrets

    secrets = [("10.0.0.5", "var.a"), ("tok/en+x", ""), ("22", "var.port")]
    assert redact_secrets("from 10.0.0.5/32, 10.0.0.50/32, 10.0.0.5 and tok/en+x", secrets) == (
        "from var.a (sensitive), 10.0.0.50/32, var.a (sensitive) and (sensitive)"
    )
    # JSON-escaped as a JSON reporter writes it; a value too short to replace safely stays.
    assert redact_secrets('"tok\\/en+x" port 22', [("tok\\/en+x", "v")]) == '"v (sensitive)" port 22'
    assert redact_secrets("port 22", secrets) == "port 22"
