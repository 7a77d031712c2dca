"""Helpers every Terraform mapper uses (aws/terraform.py, proxmox/terraform.py,
talos/terraform.py): where a value was written, an address without its instance key, and
nested blocks in either spelling."""

from __future__ import annotations

import re
from typing import Any

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


def as_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def as_bool(value: Any, numeric: bool = False) -> bool | None:
    """A boolean from a bool or ``"true"``/``"false"``; with ``numeric`` (providers that
    follow Proxmox's 0/1 flags) also from 0, 1, ``"0"`` and ``"1"``; else None."""
    if isinstance(value, bool):
        return value
    words = ("true", "false", "1", "0") if numeric else ("true", "false")
    if numeric and isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in words:
        return value.strip().lower() in ("true", "1")
    return None
