from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

from talosaudit.collectors.discover import InputFile, discover
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.terraform import load_config
from talosaudit.collectors.terraform.values import (
    Lines,
    PartialList,
    Ref,
    ResourceInstance,
    TerraformConfig,
    TerraformProblem,
    Unknown,
)


def _write(base: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(dedent(content).lstrip("\n"), encoding="utf-8")


def _load(root: Path, **options: object) -> TerraformConfig:
    files, problems = discover([root], root)
    assert problems == []
    opts = CollectOptions(**{"jobs": 1, **options})  # type: ignore[arg-type]
    return load_config(files, root, opts)


def _by_address(config: TerraformConfig) -> dict[str, ResourceInstance]:
    return {r.address: r for r in config.resources}


def _var(config: TerraformConfig, module: str, name: str) -> tuple[object, str, Lines]:
    found = next(v for v in config.variables if v.module == module and v.name == name)
    return found.value, found.origin, found.lines


# ------------------------------------------------------------------ variables


def test_variable_precedence_follows_terraform(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "a" { default = "default" }
                variable "b" { default = "default" }
                variable "c" { default = "default" }
                variable "d" { default = "default" }
                variable "e" { default = "default" }
                variable "f" { default = "default" }
                variable "g" { default = "default" }
                variable "ports" { type = list(number) }
                variable "none" {}
            """,
            "terraform.tfvars": 'c = "tfvars"\nd = "tfvars"\ne = "tfvars"\nf = "tfvars"\ng = "tfvars"\n',
            "terraform.tfvars.json": json.dumps({"d": "tfvars.json", "e": "tfvars.json"}),
            "a.auto.tfvars": 'e = "a.auto"\nf = "a.auto"\n',
            "b.auto.tfvars": 'f = "b.auto"\n',
            "x.tfvars": 'g = "x"\n',
            "y.tfvars": 'g = "y"\n',
        },
    )
    env = {"TF_VAR_b": "env", "TF_VAR_c": "env", "TF_VAR_ports": "[22, 6443]"}
    config = _load(tmp_path, env=env, var_files=(tmp_path / "x.tfvars", tmp_path / "y.tfvars"))
    values = {v.name: (v.value, v.origin) for v in config.variables}
    assert values == {
        "a": ("default", "default"),
        "b": ("env", "TF_VAR_b"),
        "c": ("tfvars", "terraform.tfvars"),
        "d": ("tfvars.json", "terraform.tfvars.json"),
        "e": ("a.auto", "a.auto.tfvars"),
        "f": ("b.auto", "b.auto.tfvars"),
        "g": ("y", "-var-file"),
        "ports": ([22, 6443], "TF_VAR_ports"),
        "none": (Unknown("var.none", "variable has no value"), "unset"),
    }
    assert _var(config, "", "c")[2] == Lines("terraform.tfvars", 1, 1)
    assert _var(config, "", "g")[2] == Lines("y.tfvars", 1, 1)
    assert _var(config, "", "a")[2] == Lines("main.tf", 1, 1)


def test_tfvars_value_is_converted_to_the_declared_type(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "port" { type = number }
                variable "name" { type = string }
                variable "cidrs" { type = set(string) }
                variable "rule" {
                  type = object({ port = number, cidr = optional(string, "0.0.0.0/0") })
                }
            """,
            "terraform.tfvars": 'port = "6443"\nname = 22\ncidrs = ["b", "a", "b"]\nrule = { port = 1 }\n',
        },
    )
    values = {v.name: v.value for v in _load(tmp_path).variables}
    assert values == {
        "port": 6443,
        "name": "22",
        "cidrs": ["a", "b"],
        "rule": {"port": 1, "cidr": "0.0.0.0/0"},
    }


# ------------------------------------------------------- expansion and references


def test_count_rules_indexed_into_a_variable_without_value(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "admin_cidrs" {
                  type = list(string)
                }
                resource "aws_security_group" "cp" {
                  name = "cp"
                }
                resource "aws_vpc_security_group_ingress_rule" "admin" {
                  count             = 2
                  security_group_id = aws_security_group.cp.id
                  cidr_ipv4         = var.admin_cidrs[count.index]
                  from_port         = 50000
                }
            """
        },
    )
    config = _load(tmp_path)
    rules = [r for r in config.resources if r.type == "aws_vpc_security_group_ingress_rule"]
    assert [(r.address, r.key) for r in rules] == [
        ("aws_vpc_security_group_ingress_rule.admin[0]", 0),
        ("aws_vpc_security_group_ingress_rule.admin[1]", 1),
    ]
    cidr = rules[0].body.attrs["cidr_ipv4"]
    assert cidr == Unknown("var.admin_cidrs[count.index]", "var.admin_cidrs: variable has no value")
    assert cidr.origin == "var.admin_cidrs"
    assert rules[0].body.attrs["security_group_id"] == Ref("aws_security_group.cp", "id")
    assert rules[1].body.attr_lines["cidr_ipv4"] == Lines("main.tf", 10, 10)
    assert rules[1].body.lines == Lines("main.tf", 7, 12)
    assert "count" not in rules[0].body.attrs


def test_for_each_over_a_map_of_ports_and_known_attribute_references(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                locals {
                  ports = { apid = 50000, trustd = 50001, k8s = 6443 }
                }
                resource "aws_vpc" "main" {
                  cidr_block = "10.20.0.0/16"
                }
                resource "aws_vpc_security_group_ingress_rule" "cp" {
                  for_each          = local.ports
                  security_group_id = aws_security_group.cp.id
                  cidr_ipv4         = aws_vpc.main.cidr_block
                  from_port         = each.value
                  to_port           = each.value
                  description       = "talos ${each.key}"
                  ipv6              = aws_vpc.main.ipv6_cidr_block
                }
                resource "aws_security_group" "cp" {}
            """
        },
    )
    rules = [r for r in _load(tmp_path).resources if r.name == "cp" and r.type.endswith("rule")]
    assert [(r.address, r.key, r.body.attrs["from_port"], r.body.attrs["description"]) for r in rules] == [
        ('aws_vpc_security_group_ingress_rule.cp["apid"]', "apid", 50000, "talos apid"),
        ('aws_vpc_security_group_ingress_rule.cp["k8s"]', "k8s", 6443, "talos k8s"),
        ('aws_vpc_security_group_ingress_rule.cp["trustd"]', "trustd", 50001, "talos trustd"),
    ]
    assert rules[0].body.attrs["cidr_ipv4"] == "10.20.0.0/16"
    assert rules[0].body.attrs["ipv6"] == Ref("aws_vpc.main", "ipv6_cidr_block")


def test_dynamic_block_over_a_local_map(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "sg.tf": """
                locals {
                  rules = {
                    api   = { port = 6443, cidrs = ["0.0.0.0/0"] }
                    talos = { port = 50000, cidrs = ["10.0.0.0/8"] }
                  }
                }
                resource "aws_security_group" "cp" {
                  name = "cp"
                  ingress {
                    from_port = 22
                    to_port   = 22
                  }
                  dynamic "ingress" {
                    for_each = local.rules
                    iterator = rule
                    content {
                      from_port   = rule.value.port
                      to_port     = rule.value.port
                      cidr_blocks = rule.value.cidrs
                      description = rule.key
                    }
                  }
                }
            """
        },
    )
    sg = _by_address(_load(tmp_path))["aws_security_group.cp"]
    ingress = sg.body.blocks_of("ingress")
    assert [(b.attrs, b.from_dynamic, b.lines) for b in ingress] == [
        ({"from_port": 22, "to_port": 22}, False, Lines("sg.tf", 9, 12)),
        (
            {"from_port": 6443, "to_port": 6443, "cidr_blocks": ["0.0.0.0/0"], "description": "api"},
            True,
            Lines("sg.tf", 16, 21),
        ),
        (
            {"from_port": 50000, "to_port": 50000, "cidr_blocks": ["10.0.0.0/8"], "description": "talos"},
            True,
            Lines("sg.tf", 16, 21),
        ),
    ]
    assert ingress[1].attr_lines["cidr_blocks"] == Lines("sg.tf", 19, 19)


def test_nested_dynamic_and_unknown_dynamic_for_each(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "extra" {}
                resource "aws_network_acl" "a" {
                  dynamic "ingress" {
                    for_each = [{ ports = [1, 2] }]
                    content {
                      dynamic "port" {
                        for_each = ingress.value.ports
                        content { number = port.value * 10 }
                      }
                    }
                  }
                  dynamic "egress" {
                    for_each = var.extra
                    content { cidr_block = egress.value }
                  }
                }
            """
        },
    )
    acl = _load(tmp_path).resources[0]
    (ingress,) = acl.body.blocks_of("ingress")
    assert [b.attrs for b in ingress.blocks_of("port")] == [{"number": 10}, {"number": 20}]
    (egress,) = acl.body.blocks_of("egress")
    assert egress.expansion_unknown == Unknown("var.extra", "variable has no value")
    assert egress.attrs["cidr_block"] == Unknown("egress.value", "for_each of dynamic 'egress' is unknown")
    assert egress.from_dynamic is True


def test_unknown_count_makes_one_instance_marked_expansion_unknown(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "n" {}
                resource "aws_security_group_rule" "r" {
                  count = var.n
                  from_port = count.index
                }
                resource "aws_security_group_rule" "zero" {
                  count = 0
                }
            """
        },
    )
    (rule,) = _load(tmp_path).resources
    assert rule.address == "aws_security_group_rule.r"
    assert rule.key is None
    assert rule.expansion_unknown == Unknown("var.n", "variable has no value")
    assert isinstance(rule.body.attrs["from_port"], Unknown)
    assert rule.body.attrs["from_port"].expression == "count.index"


def test_unknown_expansion_names_the_meta_argument_and_where_it_is(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "cidrs" {}
                variable "n" {}
                resource "aws_security_group_rule" "each" {
                  for_each = toset(var.cidrs)
                  from_port = 1
                }
                module "m" {
                  source = "./m"
                  count  = var.n
                }
            """,
            "m/main.tf": """
                resource "aws_security_group_rule" "inner" {
                  from_port = 2
                }
            """,
        },
    )
    found = _by_address(_load(tmp_path))
    each = found["aws_security_group_rule.each"]
    assert each.expansion_attr == "for_each"
    assert each.expansion_lines == Lines("main.tf", 4, 4)
    inner = found["module.m.aws_security_group_rule.inner"]
    assert inner.expansion_unknown == Unknown("var.n", "variable has no value")
    assert inner.expansion_attr == "module.m count"
    assert inner.expansion_lines == Lines("main.tf", 9, 9)


def test_concat_of_a_known_and_an_unknown_list_passes_its_known_part_through_locals_and_modules(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "extra" {
                  type = list(string)
                }
                locals {
                  cidrs = concat(["0.0.0.0/0"], var.extra)
                }
                module "m" {
                  source = "./m"
                  cidrs  = local.cidrs
                }
            """,
            "m/main.tf": """
                variable "cidrs" {
                  type = list(string)
                }
                resource "aws_security_group_rule" "r" {
                  cidr_blocks = var.cidrs
                  description = "n=${length(var.cidrs)}"
                }
            """,
        },
    )
    (rule,) = _load(tmp_path).resources
    cidrs = rule.body.attrs["cidr_blocks"]
    assert isinstance(cidrs, PartialList)
    assert cidrs.known == ("0.0.0.0/0",)
    assert cidrs.reason == "var.extra: variable has no value"
    assert type(rule.body.attrs["description"]) is Unknown


def test_a_data_source_id_is_an_identity_other_attributes_are_unknown(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                data "aws_security_group" "bastion" {
                  name = "bastion"
                }
                resource "aws_security_group_rule" "r" {
                  source_security_group_id = data.aws_security_group.bastion.id
                  description              = data.aws_security_group.bastion.description
                  cidr_blocks              = [data.aws_security_group.bastion.arn]
                }
            """
        },
    )
    rule = _by_address(_load(tmp_path))["aws_security_group_rule.r"]
    assert rule.body.attrs["source_security_group_id"] == Ref("data.aws_security_group.bastion", "id")
    assert rule.body.attrs["cidr_blocks"] == [Ref("data.aws_security_group.bastion", "arn")]
    assert rule.body.attrs["description"] == Unknown(
        "data.aws_security_group.bastion.description", "data source read at plan time"
    )


def test_data_sources_splats_conditionals_and_for_expressions(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                variable "public" { default = false }
                data "aws_vpc" "x" {
                  id = "vpc-123"
                }
                resource "aws_subnet" "s" {
                  count      = 2
                  cidr_block = cidrsubnet("10.0.0.0/16", 8, count.index)
                }
                resource "aws_security_group_rule" "r" {
                  cidr_blocks = aws_subnet.s[*].cidr_block
                  ids         = aws_subnet.s[*].id
                  vpc         = data.aws_vpc.x.cidr_block
                  vpc_id      = data.aws_vpc.x.id
                  ports       = [for p in [22, 80, 443] : p if p != 80]
                  names       = { for i, c in aws_subnet.s[*].cidr_block : "s${i}" => c }
                  open        = var.public ? ["0.0.0.0/0"] : ["10.0.0.0/8"]
                  workspace   = terraform.workspace
                  module_path = path.module
                  heredoc     = <<-EOT
                    port ${22 + 1}
                  EOT
                }
            """
        },
    )
    attrs = _by_address(_load(tmp_path))["aws_security_group_rule.r"].body.attrs
    assert attrs == {
        "cidr_blocks": ["10.0.0.0/24", "10.0.1.0/24"],
        "ids": [Ref("aws_subnet.s[0]", "id"), Ref("aws_subnet.s[1]", "id")],
        "vpc": Unknown("data.aws_vpc.x.cidr_block", "data source read at plan time"),
        "vpc_id": "vpc-123",
        "ports": [22, 443],
        "names": {"s0": "10.0.0.0/24", "s1": "10.0.1.0/24"},
        "open": ["10.0.0.0/8"],
        "workspace": "default",
        "module_path": ".",
        "heredoc": "port 23\n",
    }


def test_local_cycle_is_unknown_not_a_crash(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                locals {
                  a = local.b
                  b = local.a
                }
                resource "x" "y" { v = local.a }
            """
        },
    )
    value = _load(tmp_path).resources[0].body.attrs["v"]
    assert isinstance(value, Unknown)
    assert value.expression == "local.a"
    assert "refers to itself" in value.reason


# --------------------------------------------------------------------- modules


def test_public_cidr_through_nested_local_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "envs/prod/main.tf": """
                module "network" {
                  source      = "../../modules/network"
                  admin_cidrs = ["0.0.0.0/0"]
                }
                output "sg" { value = module.network.sg_id }
                resource "aws_instance" "cp" {
                  vpc_security_group_ids = [module.network.sg_id]
                  subnet_cidr            = module.network.cidr
                }
            """,
            "modules/network/main.tf": """
                variable "admin_cidrs" { type = list(string) }
                module "rules" {
                  source = "./rules"
                  sg_id  = aws_security_group.cp.id
                  cidrs  = var.admin_cidrs
                }
                resource "aws_security_group" "cp" { name = "cp" }
                output "sg_id" { value = aws_security_group.cp.id }
                output "cidr" { value = module.rules.first }
            """,
            "modules/network/rules/main.tf": """
                variable "sg_id" {}
                variable "cidrs" {}
                resource "aws_vpc_security_group_ingress_rule" "api" {
                  security_group_id = var.sg_id
                  cidr_ipv4         = var.cidrs[0]
                  from_port         = 6443
                }
                output "first" { value = var.cidrs[0] }
            """,
        },
    )
    config = _load(tmp_path)
    assert config.extra["roots"] == ["envs/prod"]
    resources = _by_address(config)
    assert sorted(resources) == [
        "aws_instance.cp",
        "module.network.aws_security_group.cp",
        "module.network.module.rules.aws_vpc_security_group_ingress_rule.api",
    ]
    rule = resources["module.network.module.rules.aws_vpc_security_group_ingress_rule.api"]
    assert rule.module == "module.network.module.rules"
    assert rule.body.attrs == {
        "security_group_id": Ref("module.network.aws_security_group.cp", "id"),
        "cidr_ipv4": "0.0.0.0/0",
        "from_port": 6443,
    }
    assert rule.body.lines == Lines("modules/network/rules/main.tf", 3, 7)
    instance = resources["aws_instance.cp"]
    assert instance.body.attrs["vpc_security_group_ids"] == [
        Ref("module.network.aws_security_group.cp", "id")
    ]
    assert instance.body.attrs["subnet_cidr"] == "0.0.0.0/0"
    assert _var(config, "module.network", "admin_cidrs") == (
        ["0.0.0.0/0"],
        "module input",
        Lines("envs/prod/main.tf", 3, 3),
    )
    assert config.problems == ()


def test_module_count_and_for_each_addresses(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                module "m" {
                  source   = "./m"
                  for_each = { a = 1, b = 2 }
                  port     = each.value
                }
                module "c" {
                  source = "./m"
                  count  = 2
                  port   = count.index + 100
                }
                resource "x" "uses" {
                  ports = [module.m["b"].port, module.c[1].port]
                }
            """,
            "m/main.tf": """
                variable "port" {}
                resource "aws_security_group_rule" "r" {
                  count     = 1
                  from_port = var.port
                }
                output "port" { value = var.port }
            """,
        },
    )
    config = _load(tmp_path)
    assert [(r.address, r.body.attrs.get("from_port")) for r in config.resources] == [
        ("x.uses", None),
        ('module.m["a"].aws_security_group_rule.r[0]', 1),
        ('module.m["b"].aws_security_group_rule.r[0]', 2),
        ("module.c[0].aws_security_group_rule.r[0]", 100),
        ("module.c[1].aws_security_group_rule.r[0]", 101),
    ]
    assert config.resources[0].body.attrs["ports"] == [2, 101]
    assert config.extra["roots"] == ["."]


def test_remote_module_without_cache_is_one_ta002_and_unknown_outputs(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                module "vpc" {
                  source  = "terraform-aws-modules/vpc/aws"
                  version = "5.0.0"
                }
                resource "aws_security_group_rule" "r" {
                  cidr_blocks = [module.vpc.vpc_cidr_block]
                }
            """
        },
    )
    config = _load(tmp_path)
    assert config.problems == (
        TerraformProblem(
            "unresolved",
            'module "vpc" has the remote source "terraform-aws-modules/vpc/aws", which is not in a '
            ".terraform/modules cache: run terraform init, or scan a plan JSON",
            Lines("main.tf", 1, 4),
            "module:module.vpc",
        ),
    )
    (cidr,) = config.resources[0].body.attrs["cidr_blocks"]
    assert isinstance(cidr, Unknown)
    assert cidr.expression == "module.vpc.vpc_cidr_block"


def test_remote_module_from_terraform_init_cache(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": """
                module "sg" {
                  source = "terraform-aws-modules/security-group/aws"
                  cidr   = "192.168.0.0/16"
                }
            """,
            ".terraform/modules/modules.json": json.dumps(
                {
                    "Modules": [
                        {"Key": "", "Source": "", "Dir": "."},
                        {"Key": "sg", "Dir": ".terraform/modules/sg"},
                    ]
                }
            ),
            ".terraform/modules/sg/main.tf": """
                variable "cidr" {}
                resource "aws_security_group_rule" "r" { cidr_blocks = [var.cidr] }
            """,
        },
    )
    config = _load(tmp_path)
    assert config.problems == ()
    assert [(r.address, r.body.attrs, r.body.lines.path) for r in config.resources] == [
        (
            "module.sg.aws_security_group_rule.r",
            {"cidr_blocks": ["192.168.0.0/16"]},
            ".terraform/modules/sg/main.tf",
        )
    ]


# -------------------------------------------------------------- inputs and files


def test_malformed_file_is_ta001_with_line_and_the_rest_is_evaluated(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "good.tf": 'resource "aws_security_group" "ok" { name = "ok" }\n',
            "bad.tf": 'resource "aws_security_group" "bad" {\n  name = "x"\n  cidr = [\n}\n',
            "jinja.tf": 'resource "x" "y" {\n{% if public %}\n  cidr = "0.0.0.0/0"\n{% endif %}\n}\n',
        },
    )
    config = _load(tmp_path)
    assert [r.address for r in config.resources] == ["aws_security_group.ok"]
    assert config.problems == (
        TerraformProblem(
            "unreadable", "unexpected token '}' at line 4", Lines("bad.tf", 4, 4), "parse:bad.tf"
        ),
        TerraformProblem(
            "unreadable",
            "looks like a Jinja template, not Terraform",
            Lines("jinja.tf", 2, 2),
            "parse:jinja.tf",
        ),
    )


def test_bad_utf8_named_as_input_is_ta001(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tf"
    path.write_bytes(b'resource "x" "y" {\n  name = "caf\xe9"\n}\n')
    files = [InputFile(path=path, rel="latin1.tf", kind="terraform")]
    config = load_config(files, tmp_path, CollectOptions(jobs=1))
    assert config.resources == ()
    assert config.problems == (
        TerraformProblem(
            "unreadable",
            "file is not valid UTF-8 (byte 32, line 2)",
            Lines("latin1.tf", 2, 2),
            "parse:latin1.tf",
        ),
    )


def test_tofu_overrides_tf_of_the_same_name_and_override_files_merge(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.tf": 'resource "aws_security_group" "a" { name = "from-tf" }\n',
            "main.tofu": """
                resource "aws_security_group" "a" {
                  name = "from-tofu"
                  ingress { from_port = 1 }
                }
            """,
            "z_override.tf": 'resource "aws_security_group" "a" {\n  ingress { from_port = 2 }\n}\n',
        },
    )
    config = _load(tmp_path)
    (sg,) = config.resources
    assert sg.body.attrs == {"name": "from-tofu"}
    assert [b.attrs for b in sg.body.blocks] == [{"from_port": 2}]
    assert config.files == ("main.tofu", "z_override.tf")


def test_tf_json_is_evaluated_like_hcl(tmp_path: Path) -> None:
    doc = {
        "variable": {"cidr": {"default": "10.1.0.0/16"}},
        "resource": {
            "aws_security_group": {
                "cp": {
                    "name": "cp",
                    "ingress": [{"from_port": 50000, "cidr_blocks": ["${var.cidr}"]}],
                    "tags": {"Role": "control-plane"},
                }
            },
            "aws_vpc_security_group_ingress_rule": {
                "r": {"for_each": '${toset(["a", "b"])}', "description": "rule ${each.key}"}
            },
        },
    }
    _write(tmp_path, {"main.tf.json": json.dumps(doc, indent=2)})
    resources = _by_address(_load(tmp_path))
    sg = resources["aws_security_group.cp"]
    assert sg.body.attrs == {"name": "cp", "tags": {"Role": "control-plane"}}
    assert [b.attrs for b in sg.body.blocks_of("ingress")] == [
        {"from_port": 50000, "cidr_blocks": ["10.1.0.0/16"]}
    ]
    assert sg.body.lines.start == 9
    assert sg.body.attr_lines["name"] == Lines("main.tf.json", 10, 10)
    assert resources['aws_vpc_security_group_ingress_rule.r["b"]'].body.attrs == {"description": "rule b"}


def test_cache_hit_gives_an_identical_result(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _write(
        root,
        {
            "main.tf": 'variable "c" { default = "1.2.3.4/32" }\nresource "r" "a" { cidr = var.c }\n',
            "bad.tf": "resource {\n",
        },
    )
    cache = tmp_path / "cache"
    cold = _load(root, cache_dir=cache)
    entries = sorted(p.name for p in (cache / "terraform-ast").iterdir())
    assert len(entries) == 2
    warm = _load(root, cache_dir=cache)
    assert warm == cold
    assert cold.resources[0].body.attrs == {"cidr": "1.2.3.4/32"}
    # a corrupt entry is ignored and rewritten
    for entry in (cache / "terraform-ast").iterdir():
        entry.write_bytes(b"not a pickle")
    assert _load(root, cache_dir=cache) == cold
    assert all(e.read_bytes() != b"not a pickle" for e in (cache / "terraform-ast").iterdir())


def test_parallel_parsing_gives_the_same_result_as_in_process(tmp_path: Path) -> None:
    files = {
        f"r{i:02d}.tf": f'resource "aws_security_group_rule" "r{i}" {{\n  from_port = {i}\n}}\n'
        for i in range(12)
    }
    files["broken.tf"] = "resource {\n"
    _write(tmp_path, files)
    serial = _load(tmp_path, jobs=1)
    parallel = _load(tmp_path, jobs=2)
    assert parallel == serial
    assert [r.body.attrs["from_port"] for r in serial.resources] == list(range(12))
    assert [p.lines.path for p in serial.problems] == ["broken.tf"]
