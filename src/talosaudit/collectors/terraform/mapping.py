"""Helpers every Terraform mapper uses (aws/terraform.py, proxmox/terraform.py,
talos/terraform.py): where a value was written, an address without its instance key, and
nested blocks in either spelling."""

from __future__ import annotations

import re

from talosaudit.collectors.terraform.values import Block, Lines
from talosaudit.model import SourceRef


def source(lines: Lines, resource: str = "") -> SourceRef:
    return SourceRef(lines.path, lines.start, lines.end, resource=resource)


def where(lines: Lines) -> str:
    return f"{lines.path}:{lines.start}"


def strip_key(address: str) -> str:
    """``module.x.aws_instance.cp[0]`` -> ``module.x.aws_instance.cp``."""
    return re.sub(r"\[[^\]]*\]$", "", address)


def nested_blocks(body: Block, block_type: str) -> list[Block]:
    """Nested blocks of one type, also when written as an attribute (``ingress = [{...}]``)."""
    found = list(body.blocks_of(block_type))
    written = body.attrs.get(block_type)
    if isinstance(written, list):
        lines = body.line_of(block_type)
        for entry in written:
            if isinstance(entry, dict):
                found.append(Block(block_type, (), dict(entry), {}, (), lines))
    return found
