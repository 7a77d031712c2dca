"""Hostile and huge inputs through ``talosaudit scan`` in a child process (issue 12).

Every case runs with a wall-clock timeout and an address-space limit (tests/hostile_support.py)
and must end in a report: the bad input becomes TA001/TA002 at its place, and the good Talos
config beside it is still audited (its TA201 for the Talos API open to the internet).
Large inputs are generated under ``tmp_path`` at test time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hostile_support import run_cli, scan_json

GOOD = """\
version: v1alpha1
machine:
  type: controlplane
  network:
    interfaces:
      - interface: eth0
        addresses:
          - 10.0.1.10/24
cluster:
  controlPlane:
    endpoint: https://10.0.1.10:6443
---
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
"""
GOOD_FINDING = (
    "TA201",
    "tree/good.yaml",
    24,
    "tcp/50000 (the Talos API) on control-plane nodes is reachable from the internet (0.0.0.0/0)",
)
SEXAGESIMAL = ":".join(["1"] * 300) + ".5"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.yaml").write_text(GOOD)
    for name, text in files.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return tree


def _assert_good_audited(findings: list[tuple[str, str, int, str]], shift: int = 0) -> None:
    rule, path, line, text = GOOD_FINDING
    line += shift
    assert any(f[:3] == (rule, path, line) and f[3].startswith(text) for f in findings), findings


def _problems(findings: list[tuple[str, str, int, str]]) -> list[tuple[str, str, int, str]]:
    return [f for f in findings if f[0] in ("TA001", "TA002")]


# --- 1. one bad file never stops the scan ------------------------------------------------


def test_json_nested_thousands_deep_is_skipped_like_any_unknown_json(tmp_path: Path) -> None:
    _tree(tmp_path, {"deep/data.json": "[" * 100_000 + "]" * 100_000})
    run = scan_json(["tree"], tmp_path, seconds=20)
    findings = run.findings()
    assert _problems(findings) == []
    _assert_good_audited(findings)


def test_huge_integer_literal_in_hcl_is_ta001_for_that_file(tmp_path: Path) -> None:
    _tree(tmp_path, {"tf/main.tf": 'variable "x" {\n  default = 1' + "1" * 5000 + "\n}\n"})
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    assert _problems(findings) == [
        (
            "TA001",
            "tree/tf/main.tf",
            1,
            "file could not be read: a number has more digits than can be read (over 4300)",
        )
    ]
    _assert_good_audited(findings)


def test_code_point_beyond_unicode_in_hcl_is_ta001_for_that_file(tmp_path: Path) -> None:
    _tree(tmp_path, {"tf/main.tf": 'locals {\n  x = "\\U00110000"\n}\n'})
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    assert [f[:3] for f in _problems(findings)] == [("TA001", "tree/tf/main.tf", 1)]
    assert "chr() arg not in range" in _problems(findings)[0][3]
    _assert_good_audited(findings)


def test_huge_integer_in_talos_ports_is_no_port(tmp_path: Path) -> None:
    rule = GOOD.replace("ports: [50000]", "ports: [" + "9" * 5000 + ", 50000]")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.yaml").write_text(rule)
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    _assert_good_audited(findings)
    assert not any("internal" in f[3] for f in findings)


def test_yaml_sexagesimal_is_a_string_as_in_talos(tmp_path: Path) -> None:
    config = GOOD.replace(
        "  type: controlplane\n", f"  type: controlplane\n  install:\n    disk: {SEXAGESIMAL}\n"
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.yaml").write_text(config)
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    assert _problems(findings) == []
    _assert_good_audited(findings, shift=2)


def test_sexagesimal_in_config_file_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {})
    (tree / ".talosaudit.yaml").write_text(f"fail_on: {SEXAGESIMAL}\n")
    run = run_cli(["scan", "tree", "--no-cache", "--config", "tree/.talosaudit.yaml"], tmp_path, seconds=20)
    assert run.code == 2
    assert "fail_on: Input should be 'note', 'warning', 'error' or 'never'" in run.stderr
    assert "internal error" not in run.stderr


@pytest.mark.parametrize(
    ("option", "name", "text", "message"),
    [
        ("--config", "cfg.yaml", "rules: " + "[" * 500 + "]" * 500, "config cfg.yaml is nested too deeply"),
        (
            "--baseline",
            "base.json",
            '{"version": 1, "findings": ' + "[" * 5000 + "]" * 5000 + "}",
            "baseline base.json is nested too deeply to be a talosaudit baseline",
        ),
    ],
)
def test_deeply_nested_config_or_baseline_is_a_usage_error(
    tmp_path: Path, option: str, name: str, text: str, message: str
) -> None:
    _tree(tmp_path, {})
    (tmp_path / name).write_text(text)
    run = run_cli(["scan", "tree", "--no-cache", option, name], tmp_path, seconds=20)
    assert run.code == 2
    assert f"Error: {message}" in run.stderr


def test_yaml_1_1_booleans_and_dates_stay_strings() -> None:
    from talosaudit import yaml12

    data = yaml12.safe_load(
        "a: on\nb: no\nc: 2024-01-01\nd: 0o17\ne: 0x1F\nf: 1_000\ng: TRUE\nh: ~\ni: 1:30\n"
    )
    assert data == {
        "a": "on",
        "b": "no",
        "c": "2024-01-01",
        "d": 15,
        "e": 31,
        "f": 1000,
        "g": True,
        "h": None,
        "i": "1:30",
    }


def test_non_utf8_file_name_in_sarif_and_output_files(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {})
    bad = os.fsencode(tree) + b"/n\xff.yaml"
    with open(bad, "wb") as handle:
        handle.write(b"machine:\n  type: worker\n  network: [\n")
    sarif = run_cli(["scan", "tree", "--no-cache", "--format", "sarif"], tmp_path, seconds=20)
    assert sarif.code == 1, sarif.stderr
    assert '"uri": "tree/n%FF.yaml"' in sarif.stdout
    outputs = run_cli(
        ["scan", "tree", "--no-cache", "-q", "-o", "json=out.json", "-o", "markdown=out.md"],
        tmp_path,
        seconds=20,
    )
    assert outputs.code == 1, outputs.stderr
    assert "tree/n\\udcff.yaml" in (tmp_path / "out.json").read_text(encoding="utf-8")
    assert "tree/n\\udcff.yaml" in (tmp_path / "out.md").read_text(encoding="utf-8")


def test_closed_stdout_still_exits_with_the_findings_code(tmp_path: Path) -> None:
    _tree(tmp_path, {})
    run = run_cli(["scan", "tree", "--no-cache"], tmp_path, seconds=20, stdout=subprocess.DEVNULL)
    assert run.code == 1, run.stderr
    closed = subprocess.run(  # the shell's `>&-`: file descriptor 1 is not open at all
        ["sh", "-c", '"$0" -m talosaudit scan tree --no-cache >&-', os.sys.executable],  # type: ignore[attr-defined]
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__import__("talosaudit").__file__))},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert closed.returncode == 1, closed.stderr
    assert "internal error" not in closed.stderr


def test_fullwidth_digits_are_no_talos_port(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.yaml").write_text(GOOD.replace("ports: [50000]", 'ports: ["５００００"]'))
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    assert findings == [
        (
            "TA001",
            "tree/good.yaml",
            21,
            "NetworkRuleConfig apid-ingress: '５００００' is not a port or lo-hi range",
        ),
        ("TA001", "tree/good.yaml", 21, "NetworkRuleConfig apid-ingress: no valid portSelector.ports"),
    ]


def test_fullwidth_digits_are_no_proxmox_port(tmp_path: Path) -> None:
    import shutil

    case = Path(__file__).parent / "cases" / "proxmox-good-rules"
    tree = tmp_path / "tree"
    shutil.copytree(case, tree, ignore=shutil.ignore_patterns("case.yaml"))
    with (tree / "firewall" / "101.fw").open("a", encoding="utf-8") as handle:
        handle.write("IN ACCEPT -p tcp -dport １２３ # fullwidth digits\n")
    findings = scan_json(["tree"], tmp_path, "--admin-cidr", "10.0.10.0/24", seconds=20).findings()
    assert _problems(findings) == [
        ("TA002", "tree/firewall/101.fw", 10, "port '１２３' is not a number, range or known service")
    ]


# --- pfSense aliases: iterative, memoised, linear ------------------------------------------


@pytest.mark.parametrize(
    ("make", "size"),
    [
        ("pfsense_alias_chain", 3000),
        ("pfsense_alias_dag", 30),
        ("pfsense_big_alias", 100_000),
    ],
)
def test_pfsense_alias_shapes_resolve_in_bounded_time(tmp_path: Path, make: str, size: int) -> None:
    import hostile_generate

    tree = getattr(hostile_generate, make)(tmp_path / "tree", size)
    line = hostile_generate.wan_rule_line(tree)
    run = scan_json(
        ["tree"], tmp_path, "--admin-cidr", "192.168.20.0/24", seconds=10, memory=700 * 1024 * 1024
    )
    assert run.seconds < 10
    ta201 = run.findings("TA201")
    assert [f[1:3] for f in ta201] == [("tree/config.xml", line), ("tree/config.xml", line)]
    for role, finding in zip(("control-plane", "worker"), ta201, strict=True):
        prefix = f"tcp/50000 (the Talos API) on {role} nodes is reachable from the internet (0.0.0.0/0)"
        assert finding[3].startswith(prefix)
    assert _problems(run.findings()) == []


# --- Terraform: budgets end in TA002 -------------------------------------------------------

SG = """\
resource "aws_security_group" "cp" {{
  name = "talos-cp"
  ingress {{
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = [{cidr}]
  }}
}}
"""


def _ta002(run_findings: list[tuple[str, str, int, str]]) -> list[tuple[str, str, int, str]]:
    return [f for f in run_findings if f[0] == "TA002"]


@pytest.mark.parametrize(
    ("extra", "cidr", "expected"),
    [
        (
            "locals {\n  p = pow(7, 300000000)\n}\n",
            "local.p",
            "pow(): not expanded: value larger than a number can hold",
        ),
        (
            'locals {\n  p = format("%999999999s", "x")\n}\n',
            "local.p",
            "format(): not expanded: value larger than 1000000 characters",
        ),
        (
            'locals {\n  p = indent(1e9, "a\\nb")\n}\n',
            "local.p",
            "indent(): not expanded: value larger than 1000000 characters",
        ),
        (
            'locals {\n  s0 = "aaaaaaaaaaaaaaaa"\n'
            + "".join(f'  s{i + 1} = "${{local.s{i}}}${{local.s{i}}}"\n' for i in range(40))
            + "}\n",
            "local.s40",
            "not expanded: value larger than 1000000 characters",
        ),
        (
            'locals {\n  l0 = ["a", "b"]\n'
            + "".join(f"  l{i + 1} = concat(local.l{i}, local.l{i})\n" for i in range(40))
            + "}\n",
            "local.l40[0]",
            "concat(): not expanded: more than 100000 items",
        ),
        (
            "locals {\n  big = distinct(flatten("
            '[for i in range(1000) : [for j in range(300) : "${i}-${j}"]]))\n}\n',
            "local.big[0]",
            "flatten(): not expanded: more than 100000 items",
        ),
        (
            'locals {\n  y = yamldecode(file("${path.module}/bomb.yaml"))\n}\n',
            "local.y.a",
            "yamldecode(): aliases expand to more than 100000 YAML nodes (an alias bomb?)",
        ),
        (
            'locals {\n  r = regex("^(a|aa)+$", "${join("", [for i in range(40) : "a"])}b")\n}\n',
            "local.r",
            "regex(): no match",
        ),
    ],
    ids=[
        "pow",
        "format-width",
        "indent",
        "string-doubling",
        "list-doubling",
        "distinct-flatten",
        "yaml-bomb",
        "regex-backtracking",
    ],
)
def test_terraform_budgets_end_in_ta002(tmp_path: Path, extra: str, cidr: str, expected: str) -> None:
    tree = _tree(tmp_path, {"tf/main.tf": extra + SG.format(cidr=cidr)})
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tree / "tf" / "bomb.yaml").write_text("\n".join([*bomb, "a: *a8"]) + "\n")
    run = scan_json(["tree"], tmp_path, seconds=25, memory=900 * 1024 * 1024)
    ta002 = _ta002(run.findings())
    assert [f[1:3] for f in ta002] == [("tree/tf/main.tf", extra.count("\n") + 7)]
    assert expected in ta002[0][3]


def test_count_of_a_million_is_not_expanded(tmp_path: Path) -> None:
    main = SG.format(cidr='"0.0.0.0/0"')
    main = main.replace(
        'resource "aws_security_group" "cp" {\n', 'resource "aws_security_group" "cp" {\n  count = 1000000\n'
    )
    _tree(tmp_path, {"tf/main.tf": main})
    run = scan_json(["tree"], tmp_path, seconds=25)
    ta002 = _ta002(run.findings())
    assert [f[1:3] for f in ta002] == [("tree/tf/main.tf", 2)]
    assert "not expanded: more than 10000 instances (count = 1000000)" in ta002[0][3]


def test_nested_module_counts_stop_at_the_total_budget(tmp_path: Path) -> None:
    files = {
        "tf/main.tf": 'module "a" {\n  source = "./a"\n  count  = 5000\n}\n',
        "tf/a/main.tf": 'module "b" {\n  source = "../b"\n  count  = 5000\n}\n',
        "tf/b/main.tf": 'resource "aws_security_group" "x" {\n  name = "x"\n}\n',
    }
    _tree(tmp_path, files)
    run = scan_json(["tree"], tmp_path, seconds=25)
    assert [f[1:] for f in _ta002(run.findings())] == [
        ("tree/tf/a/main.tf", 1, 'module "b" not expanded: more than 50000 instances in all'),
        ("tree/tf/b/main.tf", 1, "aws_security_group.x not expanded: more than 50000 instances in all"),
    ]


def test_module_argument_naming_an_undeclared_module_is_ta002(tmp_path: Path) -> None:
    files = {
        "tf/main.tf": 'module "a" {\n  source = "./mod"\n  x      = module.nothere.out\n}\n',
        "tf/mod/main.tf": 'variable "x" {}\n' + SG.format(cidr="var.x"),
    }
    _tree(tmp_path, files)
    run = scan_json(["tree"], tmp_path, seconds=25)
    assert _ta002(run.findings()) == [
        (
            "TA002",
            "tree/tf/mod/main.tf",
            8,
            "module.a.aws_security_group.cp/ingress[0]: cidr_blocks = var.x could not be resolved: "
            "module.nothere.out: error: reference to undeclared module module.nothere (module.nothere.out)",
        )
    ]


# --- 2. only regular files are opened; directory symlinks stay inside the root -----------


def test_fifo_in_the_tree_and_as_argument_is_ta001_not_a_hang(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {})
    os.mkfifo(tree / "main.tf")
    os.mkfifo(tree / "talos.yaml")
    run = scan_json(["tree"], tmp_path, seconds=20)
    findings = run.findings()
    _assert_good_audited(findings)
    assert _problems(findings) == [
        (
            "TA001",
            "tree/main.tf",
            1,
            "file is not a regular file (a FIFO, device or socket); not read",
        ),
        (
            "TA001",
            "tree/talos.yaml",
            1,
            "file is not a regular file (a FIFO, device or socket); not read",
        ),
    ]
    named = scan_json(["tree/main.tf", "tree/good.yaml"], tmp_path, seconds=20)
    assert (
        "TA001",
        "tree/main.tf",
        1,
        "input path is not a regular file (a FIFO, device or socket)",
    ) in named.findings()


def test_fifo_as_var_file_is_a_usage_error_not_a_hang(tmp_path: Path) -> None:
    _tree(tmp_path, {})
    os.mkfifo(tmp_path / "fifo.tfvars")
    run = run_cli(["scan", "tree", "--no-cache", "--var-file", "fifo.tfvars"], tmp_path, seconds=20)
    assert run.code == 2
    assert "fifo.tfvars: not a regular file" in run.stderr


def test_fifo_behind_terraform_file_and_modules_json_does_not_block(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "main.tf": (
                'module "x" {\n  source = "git::https://example.com/x.git"\n}\n'
                'resource "aws_security_group" "s" {\n  ingress {\n    from_port = 22\n    to_port = 22\n'
                '    protocol = "tcp"\n    cidr_blocks = [file("${path.module}/data.txt")]\n  }\n}\n'
            )
        },
    )
    (tree / ".terraform" / "modules").mkdir(parents=True)
    os.mkfifo(tree / ".terraform" / "modules" / "modules.json")
    os.mkfifo(tree / "data.txt")
    run = scan_json(["tree"], tmp_path, seconds=20)
    messages = [f[3] for f in _problems(run.findings()) if f[1] == "tree/main.tf"]
    assert any("cannot read file './data.txt': not a regular file" in m for m in messages), messages
    manifest = "tree/.terraform/modules/modules.json"
    manifest_problems = [f for f in _problems(run.findings()) if f[1] == manifest]
    assert [(f[0], f[2]) for f in manifest_problems] == [("TA001", 1)], _problems(run.findings())
    assert (
        ".terraform/modules/modules.json is not a regular file (a FIFO, device or socket); not read"
        in manifest_problems[0][3]
    ), manifest_problems
    # module "x" feeds nothing the model reads: a notice, not a TA002 (issue 10).
    assert any("module.x" in n for n in run.report()["notices"]), run.report()["notices"]


def test_directory_symlink_out_of_the_root_is_not_crawled(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {})
    (tree / "root").symlink_to("/")
    (tree / "inner").symlink_to(tree)  # a loop inside the root: walked once
    run = scan_json(["tree"], tmp_path, seconds=20)
    report = run.report()
    assert "tree/root: directory symlink leads out of the scan root (to /); not followed" in report["notices"]
    _assert_good_audited(run.findings())
    assert _problems(run.findings()) == []


@pytest.mark.parametrize("body", ["a" * 9_000_000, "\\\\n" * 3_000_000 + "$$x %%y"])
def test_nine_megabyte_hcl_string_is_parsed_in_proportional_memory(tmp_path: Path, body: str) -> None:
    # python-hcl2's string pattern kept backtracking state per character: ~2 GB for 9 MB.
    _tree(tmp_path, {"main.tf": 'locals {\n  x = "' + body + '"\n}\n'})
    run = scan_json(["tree"], tmp_path, seconds=20, memory=600 * 1024 * 1024)
    _assert_good_audited(run.findings())
    assert _problems(run.findings()) == []


# --- 3. nothing silently vanishes ------------------------------------------------------------

_GOOD_INGRESS = "ingress:\n  - subnet: 0.0.0.0/0\n"


@pytest.mark.parametrize(
    ("ingress", "kind", "problem", "exposed"),
    [
        (
            'ingress: "0.0.0.0/0"\n',
            "NetworkRuleConfig",
            (23, "NetworkRuleConfig apid-ingress: ingress '0.0.0.0/0' is not a list of subnet entries"),
            True,
        ),
        (
            "ingress: [0.0.0.0/0]\n",
            "NetworkRuleConfig",
            (23, "NetworkRuleConfig apid-ingress: ingress entry '0.0.0.0/0' is not a map with subnet"),
            True,
        ),
        (
            "ingress: null\n",
            "NetworkRuleConfig",
            (23, "NetworkRuleConfig apid-ingress: ingress is empty; the rule admits nothing"),
            False,
        ),
        (
            "ingress:\n  - cidr: 0.0.0.0/0\n",
            "NetworkRuleConfig",
            (24, "NetworkRuleConfig apid-ingress: ingress entry has no subnet (unknown keys cidr)"),
            False,
        ),
        (
            "ingress:\n  - subnet: null\n",
            "NetworkRuleConfig",
            (24, "NetworkRuleConfig apid-ingress: ingress entry has no subnet (subnet is empty)"),
            False,
        ),
        (
            _GOOD_INGRESS,
            "NetworkRuleConfg",
            (18, "kind 'NetworkRuleConfg' is not a Talos document kind (Talos rejects the config); read as"),
            True,
        ),
    ],
)
def test_malformed_talos_rule_shapes_are_reported_at_their_place(
    tmp_path: Path, ingress: str, kind: str, problem: tuple[int, str], exposed: bool
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    text = GOOD.replace(_GOOD_INGRESS, ingress).replace("kind: NetworkRuleConfig", f"kind: {kind}")
    (tree / "good.yaml").write_text(text)
    run = scan_json(["tree"], tmp_path, seconds=20)
    findings = run.findings()
    line, message = problem
    assert [(f[0], f[1], f[2]) for f in _problems(findings)] == [("TA001", "tree/good.yaml", line)], findings
    assert _problems(findings)[0][3].startswith(message), findings
    if exposed:  # where the rule can still be read, it is used: the exposure stays in view
        assert any(f[0] == "TA201" and f[3].startswith(GOOD_FINDING[3]) for f in findings), findings
    else:
        assert not any(f[0] == "TA201" for f in findings), findings


def test_encrypted_pfsense_backup_is_ta001_decrypt_it_first(tmp_path: Path) -> None:
    _tree(tmp_path, {"config.xml": "---- BEGIN config.xml ----\nU2FsdGVkX1+abc=\n---- END config.xml ----\n"})
    run = scan_json(["tree"], tmp_path, seconds=20)
    _assert_good_audited(run.findings())
    assert _problems(run.findings()) == [
        (
            "TA001",
            "tree/config.xml",
            1,
            "pfSense config.xml cannot be read: encrypted config.xml backup: "
            "decrypt it in the firewall GUI before scanning",
        )
    ]


# --- Proxmox API JSON: a junk element or a cut file costs itself, not the export ---------------

_PVESH_CASE = Path(__file__).parent / "cases" / "proxmox-pvesh-json"
_RULE = (
    '  {{\n    "action": "ACCEPT",\n    "dport": "{port}",\n    "pos": {pos},\n'
    '    "proto": "tcp",\n    "type": "in"\n  }}'
)


def _pvesh_tree(tmp_path: Path) -> Path:
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(_PVESH_CASE, tree, ignore=shutil.ignore_patterns("case.yaml"))
    return tree


@pytest.mark.parametrize(
    ("junk", "kind"),
    [
        ('"junk"', "a string"),
        ("42", "a number"),
        ('{"action": "ACCEPT", "dport": "22"}', 'an object without "type"'),
        ('{"type": "in"}', 'an object without "action"'),
    ],
)
def test_junk_element_in_pvesh_rules_json_is_ta001_and_the_good_rules_are_read(
    tmp_path: Path, junk: str, kind: str
) -> None:
    tree = _pvesh_tree(tmp_path)
    rules = tree / "nodes" / "pve" / "qemu" / "101" / "firewall" / "rules.json"
    # line 2: the Talos API rule; line 9: the junk; line 10: kube-apiserver
    rules.write_text(
        "[\n"
        + _RULE.format(port=50000, pos=0)
        + ",\n  "
        + junk
        + ",\n"
        + _RULE.format(port=6443, pos=2)
        + "\n]\n"
    )
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    rel = "tree/nodes/pve/qemu/101/firewall/rules.json"
    assert _problems(findings) == [
        (
            "TA001",
            rel,
            9,
            f'element 2 is {kind}, not a firewall rule object with "type" and "action"; '
            "it is not read (the other elements are)",
        )
    ]
    assert ("TA201", rel, 2) in [f[:3] for f in findings], findings
    assert ("TA202", rel, 10) in [f[:3] for f in findings], findings


def test_truncated_pvesh_guest_config_is_ta001_and_the_rest_is_read(tmp_path: Path) -> None:
    tree = _pvesh_tree(tmp_path)
    (tree / "good.yaml").write_text(GOOD)
    config = tree / "nodes" / "pve" / "qemu" / "101" / "config.json"
    config.write_text(config.read_text()[:200])  # cut inside "ipconfig0" on line 7
    findings = scan_json(["tree"], tmp_path, seconds=20).findings()
    assert _problems(findings) == [
        (
            "TA001",
            "tree/nodes/pve/qemu/101/config.json",
            7,
            "not valid JSON (truncated or damaged?): Unterminated string starting at: line 7 column 16 "
            "(char 170); this file is not read",
        )
    ]
    _assert_good_audited(findings)


# --- live: an endpoint that answers 200 with an HTML page is no clean account ------------------

_PORTAL = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Wi-Fi login</body></html>"
_IDENTITY = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/audit</Arn><UserId>AIDAEXAMPLE</UserId>"
    b"<Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


def _portal(sts_works: bool) -> Any:
    """An HTTP server on 127.0.0.1 answering 200 with an HTML page (a captive portal); with
    ``sts_works`` it answers sts:GetCallerIdentity like AWS, so only EC2 gets the page."""
    import http.server
    import threading

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = self.rfile.read(length) if length else b""
            identity = sts_works and b"Action=GetCallerIdentity" in request
            body, kind = (_IDENTITY, "text/xml") if identity else (_PORTAL, "text/html; charset=utf-8")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.do_POST()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("sts_works", "error"),
    [
        (
            False,
            "Error: cannot read the AWS account: the endpoint did not answer like the STS API (HTML); "
            "is a proxy or captive portal in the way?",
        ),
        (
            True,
            "warning: region us-east-1: the endpoint did not answer like the EC2 API (HTML); "
            "is a proxy or captive portal in the way?\n"
            "Error: no AWS region could be read (see the warnings above)",
        ),
    ],
)
def test_live_against_an_html_answer_is_an_error_not_a_clean_account(
    tmp_path: Path, sts_works: bool, error: str
) -> None:
    server = _portal(sts_works)
    try:
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_PROFILE": "",
            "AWS_SESSION_TOKEN": "",
            "AWS_ENDPOINT_URL_EC2": "",
            "AWS_ENDPOINT_URL_STS": "",
        }
        run = run_cli(["live", "--region", "us-east-1", "--format", "json"], tmp_path, seconds=20, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.strip() == error
