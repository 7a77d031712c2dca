"""Issue 12 section 4: secrets are never printed.

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
