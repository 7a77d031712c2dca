"""Admin networks are facts: where each came from, that declared ones add to discovered ones,
and that a declared public range wider than the allowlist threshold is a usage error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from talosaudit.admin_networks import AdminNetworkError, admin_fact, allowlist_prefixes, check_declared
from talosaudit.cli import cli
from talosaudit.model import AddressSet, FactOrigin, SourceRef

CASE = Path(__file__).resolve().parent / "cases" / "admin-networks-added"


@pytest.mark.parametrize(
    "cidr", ["145.40.7.10/32", "145.40.7.0/24", "10.0.0.0/8", "2a01:4f8::/56", "fd00::/8"]
)
def test_narrow_public_and_private_ranges_can_be_declared(cidr: str) -> None:
    assert check_declared(cidr, "--admin-cidr", (24, 56)) == AddressSet.parse(cidr)


@pytest.mark.parametrize(
    ("cidr", "limit"),
    [("0.0.0.0/0", "/24"), ("145.40.0.0/16", "/24"), ("::/0", "/56"), ("2a01:4f8::/48", "/56")],
)
def test_wide_public_ranges_are_refused(cidr: str, limit: str) -> None:
    with pytest.raises(
        AdminNetworkError,
        match=re.escape(f"--admin-cidr {cidr}: a public range wider than {limit} is the internet"),
    ):
        check_declared(cidr, "--admin-cidr", (24, 56))


def test_the_threshold_follows_ta207s_configured_params() -> None:
    assert allowlist_prefixes(None) == (24, 56)
    assert allowlist_prefixes({"min_public_prefix": 16}) == (16, 56)
    assert check_declared("145.40.0.0/16", "x", allowlist_prefixes({"min_public_prefix": 16}))


def test_the_fact_names_every_network_and_its_origin() -> None:
    var = SourceRef("variables.tf", 3, 7, "var.allowed_admin_cidrs")
    fact = admin_fact(
        [(AddressSet.of(["145.40.7.10/32", "10.20.0.0/24"]), var)], ["145.40.9.9/32"], [], "x.yaml"
    )
    assert fact is not None
    assert (fact.name, fact.value, fact.origin) == (
        "admin_networks",
        "10.20.0.0/24, 145.40.7.10/32, 145.40.9.9/32",
        FactOrigin.COMMAND_LINE,
    )
    assert fact.reason == (
        "10.20.0.0/24 from var.allowed_admin_cidrs at variables.tf:3; "
        "145.40.7.10/32 from var.allowed_admin_cidrs at variables.tf:3; 145.40.9.9/32 from --admin-cidr; "
        "--admin-cidr and admin_networks add to the admin networks found in the inputs"
    )
    only_found = admin_fact([(AddressSet.parse("145.40.7.10/32"), var)], [], [], "x.yaml")
    assert only_found is not None and "add to" not in only_found.reason
    assert admin_fact([], [], [], "x.yaml") is None


def _scan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", str(CASE), "--root", str(CASE), "--no-cache", *args])
    return result.exit_code, result.stdout, result.stderr


def test_admin_cidr_of_the_whole_internet_is_a_usage_error() -> None:
    code, _, err = _scan("--admin-cidr", "0.0.0.0/0")
    assert code == 2
    assert (
        "--admin-cidr 0.0.0.0/0: a public range wider than /24 is the internet, not an admin network" in err
    )


def test_config_admin_network_too_wide_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "talosaudit.yaml"
    config.write_text("admin_networks: [145.40.0.0/16]\n")
    code, _, err = _scan("--config", str(config))
    assert code == 2
    assert f"admin_networks in {config}: 145.40.0.0/16: a public range wider than /24" in err


def test_sarif_run_properties_list_the_facts() -> None:
    code, out, _ = _scan(
        "--format", "sarif", "--admin-cidr", "145.40.9.9/32", "--cni", "cilium", "--tunnel", "geneve"
    )
    assert code == 0
    facts = {f["name"]: f for f in json.loads(out)["runs"][0]["properties"]["facts"]}
    assert facts["admin_networks"]["value"] == "145.40.7.10/32, 145.40.9.9/32"
    assert facts["admin_networks"]["origin"] == "command line"
    assert "145.40.9.9/32 from --admin-cidr" in facts["admin_networks"]["reason"]
