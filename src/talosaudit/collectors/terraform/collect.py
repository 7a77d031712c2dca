"""The Terraform collector: evaluate the configuration, then map it to the model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from talosaudit.collectors.discover import InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.roles import RoleHints
from talosaudit.collectors.terraform import load_config
from talosaudit.collectors.terraform.aws import map_aws
from talosaudit.collectors.terraform.facts import facts_from_variables
from talosaudit.collectors.terraform.proxmox import map_proxmox
from talosaudit.collectors.terraform.values import TerraformConfig
from talosaudit.model import Collection, Problem, SourceRef


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
    """Read the Terraform files under ``root`` and map what they define."""
    config = load_config(files, root, options)
    hints = options.role_hints
    return collection_from_config(config, hints if isinstance(hints, RoleHints) else None)


def collection_from_config(config: TerraformConfig, hints: RoleHints | None = None) -> Collection:
    """Everything the evaluated configuration says: AWS and Proxmox layers and nodes, facts,
    problems."""
    aws = map_aws(config, hints)
    pve = map_proxmox(config, hints)
    facts = facts_from_variables(config.variables)
    evaluator_problems = tuple(
        Problem(
            p.rule_id,
            p.message,
            SourceRef(p.lines.path, p.lines.start, p.lines.end, resource=p.key),
            key=p.key,
        )
        for p in config.problems
    )
    return Collection(
        node_groups=aws.node_groups + pve.node_groups,
        layers=aws.layers + pve.layers,
        segments=aws.segments + pve.segments,
        facts=facts.facts,
        admin=facts.admin,
        node_networks=aws.node_networks + pve.node_networks,
        problems=evaluator_problems + aws.problems + pve.problems + facts.problems,
        attachments=aws.attachments + pve.attachments,
        files=tuple(config.files),
    )
