"""``.talosaudit.yaml`` loading and discovery."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from talosaudit.config import CONFIG_NAME, ConfigError, find_config, load_config
from talosaudit.policies.schema import Level

FULL = """\
admin_networks: [203.0.113.0/24, "2001:db8::/48"]
nodes:
  - {role: controlplane, address: "module.cp.aws_instance.*"}
  - {role: worker, name: "wk-*", cidr: 10.0.2.0/24}
cni: cilium
tunnel: geneve
features: {kubespan: true, hubble: false}
rules:
  TA207: {level: note, params: {min_public_prefix: 16}}
ignore:
  - {id: TA201, path: "lab/*.tf", reason: lab only, until: 2030-01-31}
fail_on: warning
min_level: warning
"""


def test_full_config(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text(FULL)
    cfg = load_config(path)
    assert cfg.admin_networks == ("203.0.113.0/24", "2001:db8::/48")
    assert [(n.role, n.address, n.name, n.cidr) for n in cfg.nodes] == [
        ("controlplane", "module.cp.aws_instance.*", None, None),
        ("worker", None, "wk-*", "10.0.2.0/24"),
    ]
    assert (cfg.cni, cfg.tunnel) == ("cilium", "geneve")
    assert (cfg.features.kubespan, cfg.features.hubble, cfg.features.nodeport) == (True, False, None)
    assert cfg.rules["TA207"].level is Level.NOTE
    assert cfg.rules["TA207"].params == {"min_public_prefix": 16}
    assert cfg.fail_on == "warning"
    assert cfg.min_level is Level.WARNING
    [entry] = cfg.ignore_entries(".talosaudit.yaml")
    assert (entry.rule_id, entry.path, entry.reason, entry.until, entry.where) == (
        "TA201",
        "lab/*.tf",
        "lab only",
        dt.date(2030, 1, 31),
        ".talosaudit.yaml ignore[0]",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admin_network: [10.0.0.0/8]\n", "admin_network: unknown setting"),
        ("cni: weave\n", "cni: Input should be 'flannel', 'cilium', 'calico' or 'none'"),
        ("admin_networks: [10.0.0.0/33]\n", "admin_networks.0: Value error, '10.0.0.0/33' is not a CIDR"),
        ("ignore: [{id: TA201}]\n", "ignore.0.reason: Field required"),
        ("ignore: [{id: TA201, reason: '  '}]\n", "ignore.0.reason: Value error, an ignore needs a reason"),
        ("ignore: [{id: TA201, reason: x, until: soon}]\n", "ignore.0.until:"),
        ("rules: {ta207: {level: note}}\n", "'ta207' is not a rule id"),
        ("nodes: [{role: worker}]\n", "needs at least one of address, name, cidr"),
        ("features: {kubespam: true}\n", "features.kubespam: unknown setting"),
        ("- a\n- b\n", "must be a mapping of settings, not list"),
        ("a: [\n", "is not valid YAML"),
        ("x: !!python/object/apply:os.system [echo]\n", "is not valid YAML"),
    ],
)
def test_bad_config_says_where(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty).cni is None
    assert load_config(None).admin_networks == ()
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_find_config_order(tmp_path: Path) -> None:
    scanned = tmp_path / "infra"
    cwd = tmp_path / "cwd"
    scanned.mkdir()
    cwd.mkdir()
    assert find_config(None, scanned, cwd) is None
    (cwd / CONFIG_NAME).write_text("")
    assert find_config(None, scanned, cwd) == cwd / CONFIG_NAME
    (scanned / CONFIG_NAME).write_text("")
    assert find_config(None, scanned, cwd) == scanned / CONFIG_NAME
    assert find_config(None, scanned / "main.tf", cwd) == scanned / CONFIG_NAME
    assert find_config(tmp_path / "x.yaml", scanned, cwd) == tmp_path / "x.yaml"
