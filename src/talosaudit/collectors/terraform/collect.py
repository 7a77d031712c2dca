"""The Terraform collector: the interpreter evaluates the configuration, and each platform's
mapper (in its own room) turns the evaluated resources into model layers and nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from talosaudit.collectors.aws.terraform import NOT_READ as AWS_NOT_READ
from talosaudit.collectors.aws.terraform import TERRAFORM_TYPES as AWS_TYPES
from talosaudit.collectors.aws.terraform import map_aws
from talosaudit.collectors.base import InputFile, SniffsNothing
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.proxmox.terraform import map_proxmox
from talosaudit.collectors.roles import RoleHints
from talosaudit.collectors.talos.terraform import map_talos
from talosaudit.collectors.terraform.engine import load_roots
from talosaudit.collectors.terraform.facts import facts_from_variables
from talosaudit.collectors.terraform.kinds import TERRAFORM, TERRAFORM_JSON, TFVARS
from talosaudit.collectors.terraform.remote_modules import split_remote_modules
from talosaudit.collectors.terraform.values import TerraformConfig
from talosaudit.collectors.unmodelled.terraform import FIREWALL_TYPES, map_unmodelled
from talosaudit.model import Collection, Problem, SourceRef
from talosaudit.model.ports import NodePorts


class TerraformCollector(SniffsNothing):
    """``.tf``/``.tofu`` files, their JSON syntax and variable files."""

    kinds = frozenset({TERRAFORM, TERRAFORM_JSON, TFVARS})

    def kind_by_name(self, path: Path) -> str | None:
        name = path.name.lower()
        if name.endswith((".tf.json", ".tofu.json")):
            return TERRAFORM_JSON
        if name.endswith((".tf", ".tofu")):
            return TERRAFORM
        if name.endswith((".tfvars", ".tfvars.json")):
            return TFVARS
        return None

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        return collect(files, root, options)


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
    """Read the Terraform files under ``root`` and map what they define: one collection per
    root module (``Collection.roots``) when there are several, else one for all."""
    unrooted, *configs = load_roots(files, root, options)
    parts = [
        (c.root, collection_from_config(c, options.role_hints, root, options.node_ports)) for c in configs
    ]
    outside = Collection(problems=evaluator_problems(unrooted), files=unrooted.files)
    if len(parts) <= 1:
        return Collection.combine([outside, *(part for _, part in parts)])
    everything = Collection.combine([outside, *(part for _, part in parts)])
    return Collection(
        problems=outside.problems,
        files=everything.files,
        consumed=everything.consumed,
        roots=tuple(parts),
        secrets=everything.secrets,
    )


def collection_from_config(
    config: TerraformConfig,
    hints: RoleHints | None = None,
    root: Path | None = None,
    node_ports: NodePorts | None = None,
) -> Collection:
    """Everything the evaluated configuration says: AWS, Proxmox and Talos provider layers and
    nodes, facts, problems. ``root`` (the scan root) lets the Talos mapping locate patches."""
    variables = facts_from_variables(config.variables)
    remote = split_remote_modules(config, mapped)
    return Collection.combine(
        (
            Collection(
                problems=evaluator_problems(replace(config, problems=remote.problems)),
                files=config.files,
                references=config.references,
                secrets=config.secrets,
                notices=(remote.notice,) if remote.notice else (),
            ),
            map_aws(config, hints, node_ports or NodePorts()),
            map_proxmox(config, hints),
            map_talos(config, root),
            map_unmodelled(config),
            Collection(facts=variables.facts, admin=variables.admin, problems=variables.problems),
        )
    )


#: Resource type prefixes some mapper reads (AWS, Proxmox, the Talos provider, the firewalls
#: of platforms not modelled): an unread module feeding one of them keeps its problem.
_MODELLED_PREFIXES = (
    *AWS_TYPES,
    "proxmox_",
    "talos_machine_configuration",
    *(prefix for prefix, _ in FIREWALL_TYPES),
)


def mapped(resource_type: str, attribute: str) -> bool:
    """Whether a mapper reads ``attribute`` of a ``resource_type`` ("" : the resource at all)."""
    if not resource_type.startswith(_MODELLED_PREFIXES):
        return False
    return attribute not in AWS_NOT_READ if resource_type.startswith("aws_") else True


def evaluator_problems(config: TerraformConfig) -> tuple[Problem, ...]:
    """What the interpreter could not read or evaluate, as problems at their resource."""
    return tuple(
        Problem(
            p.kind,
            p.message,
            SourceRef(p.lines.path, p.lines.start, p.lines.end, resource=p.key),
            key=p.key,
        )
        for p in config.problems
    )
