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
from talosaudit.collectors.terraform.talos import map_talos
from talosaudit.collectors.terraform.values import TerraformConfig
from talosaudit.model import Collection, Problem, SourceRef


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
    """Read the Terraform files under ``root`` and map what they define."""
    config = load_config(files, root, options)
    hints = options.role_hints
    return collection_from_config(config, hints if isinstance(hints, RoleHints) else None, root)


def collection_from_config(
    config: TerraformConfig, hints: RoleHints | None = None, root: Path | None = None
) -> Collection:
    """Everything the evaluated configuration says: AWS, Proxmox and Talos provider layers and
    nodes, facts, problems. ``root`` (the scan root) lets the Talos mapping locate patches."""
    aws = map_aws(config, hints)
    pve = map_proxmox(config, hints)
    talos = map_talos(config, root)
    facts = facts_from_variables(config.variables)
    evaluator_problems = tuple(
        Problem(
            p.kind,
            p.message,
            SourceRef(p.lines.path, p.lines.start, p.lines.end, resource=p.key),
            key=p.key,
        )
        for p in config.problems
    )
    return Collection(
        node_groups=aws.node_groups + pve.node_groups,
        layers=aws.layers + pve.layers + talos.layers,
        segments=aws.segments + pve.segments,
        facts=facts.facts + talos.facts,
        admin=facts.admin,
        node_networks=aws.node_networks + pve.node_networks + talos.node_networks,
        problems=evaluator_problems + aws.problems + pve.problems + talos.problems + facts.problems,
        attachments=aws.attachments + pve.attachments + talos.attachments,
        files=tuple(dict.fromkeys((*config.files, *talos.files))),
        consumed=talos.consumed,
    )
