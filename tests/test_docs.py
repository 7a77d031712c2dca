"""The documentation's examples are real: the configuration example loads as it is written."""

from __future__ import annotations

import re
from pathlib import Path

from talosaudit.config import load_config

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_configuration_example_is_a_valid_config(tmp_path: Path) -> None:
    text = (DOCS / "configuration.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    path = tmp_path / ".talosaudit.yaml"
    path.write_text(block.group(1))
    config = load_config(path)
    assert config.admin_interfaces == ("OPS",)
    assert config.admin_networks == ("203.0.113.0/28", "10.20.0.0/24")
    assert [n.role for n in config.nodes] == ["controlplane", "worker", "worker"]
    assert config.cni == "cilium" and config.tunnel == "geneve"
    assert config.features.kubespan is True and config.features.nodeport is False
    assert [i.id for i in config.ignore] == ["TA202"]


def test_rule_texts_cite_only_files_in_the_repository() -> None:
    from talosaudit.policies.registry import load_catalogue

    root = Path(__file__).resolve().parents[1]
    assert (root / "docs" / "ports.md").is_file()
    for policy in load_catalogue().policies:
        text = policy.rationale + policy.remediation
        assert "PORTS.md" not in text and "RULES.md" not in text, policy.id
    cited = {
        row
        for page in (root / "docs" / "rules").glob("TA*.md")
        for row in re.findall(r"\[docs/ports\.md\]\(\.\./ports\.md\) ([A-Z]\d)", page.read_text())
    }
    matrix = (root / "docs" / "ports.md").read_text()
    assert cited and {row for row in cited if f"| {row} |" not in matrix} == set()
