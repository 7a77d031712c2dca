"""Terraform JSON syntax (``.tf.json``, ``.tofu.json``, ``.tfvars.json``) -> the syntax tree.

JSON cannot say whether an object is a nested block or a map argument; Terraform asks the
provider schema. We have no schema, so objects under the block names in ``BLOCK_TYPES``
(the nested blocks of the resources talosaudit reads) become blocks, everything else an
argument. Strings are templates (``"${var.x}"``). Line numbers are found by scanning the text
for each key in document order (best effort).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import Any

from talosaudit.collectors.terraform.hcl_parse import SyntaxProblem, parse_expression, parse_template_text
from talosaudit.collectors.terraform.syntax import Attr, BlockNode, Expr

BLOCK_TYPES = frozenset(
    {
        "ingress", "egress", "dynamic", "content", "lifecycle", "timeouts", "filter", "tag",
        "network_interface", "root_block_device", "ebs_block_device", "launch_template",
        "metadata_options", "entry", "subnet_mapping", "disk", "network_device", "rule",
        "initialization", "ip_config", "ipv4", "ipv6", "dns", "cpu", "memory", "agent",
        "operating_system", "clone", "network", "security_group", "options", "log",
        "mixed_instances_policy", "instance_refresh", "block_device_mappings", "ebs",
        "placement", "vga", "serial_device", "efi_disk", "startup", "features", "rootfs",
        "mount_point", "console", "ipconfig0", "ipconfig1", "ipconfig", "machine_config",
        "config_patches_yaml", "node", "inline_policy", "policy", "validation",
    }
)  # fmt: skip
#: Top-level keys and how many labels their blocks have.
_LABELS = {"resource": 2, "data": 2, "module": 1, "variable": 1, "output": 1, "provider": 1, "locals": 0}
#: Arguments that are literal values, not templates.
_LITERAL_ARGS = {"variable": frozenset({"default", "description", "sensitive", "nullable", "ephemeral"})}


def parse_json(text: str) -> BlockNode:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 0)
        msg = getattr(exc, "msg", str(exc))
        raise SyntaxProblem(f"invalid JSON: {msg} at line {line}", line) from exc
    if not isinstance(doc, dict):
        raise SyntaxProblem("a Terraform JSON file must hold one object", 1)
    return _JsonConverter(text).file(doc)


def parse_tfvars_json(text: str) -> BlockNode:
    """A ``.tfvars.json`` holds literal values only (no templates)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 0)
        raise SyntaxProblem(f"invalid JSON: {getattr(exc, 'msg', exc)} at line {line}", line) from exc
    if not isinstance(doc, dict):
        raise SyntaxProblem("a .tfvars.json file must hold one object", 1)
    conv = _JsonConverter(text)
    attrs = []
    for key, value in doc.items():
        line = conv.key_line(key)
        attrs.append(Attr(key, conv.literal_expr(value, line), line, conv.last_line))
    return BlockNode("", (), tuple(attrs), (), 1, text.count("\n") + 1)


class _JsonConverter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self.last_line = 1

    def key_line(self, key: str) -> int:
        found = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(self.text, self.pos)
        if found is None:
            return self.last_line
        self.pos = found.end()
        self.last_line = bisect_right(self._newlines, found.start()) + 1
        return self.last_line

    # ------------------------------------------------------------------ structure
    def file(self, doc: dict[str, Any]) -> BlockNode:
        blocks: list[BlockNode] = []
        for key, value in doc.items():
            line = self.key_line(key)
            if key.startswith("//") or key not in _LABELS:
                self._skip(value)
                continue
            blocks.extend(self._labelled(key, value, _LABELS[key], (), line))
        return BlockNode("", (), (), tuple(blocks), 1, self.text.count("\n") + 1)

    def _labelled(
        self, kind: str, value: Any, depth: int, labels: tuple[str, ...], line: int
    ) -> list[BlockNode]:
        if isinstance(value, list):
            out: list[BlockNode] = []
            for item in value:
                out.extend(self._labelled(kind, item, depth, labels, line))
            return out
        if not isinstance(value, dict):
            raise SyntaxProblem(f"{kind} {' '.join(labels)}: expected an object", line)
        if depth == 0:
            return [self._body(kind, labels, value, line, kind)]
        out = []
        for label, inner in value.items():
            label_line = self.key_line(label)
            if label.startswith("//"):
                self._skip(inner)
                continue
            out.extend(self._labelled(kind, inner, depth - 1, (*labels, label), label_line))
        return out

    def _body(
        self, kind: str, labels: tuple[str, ...], body: dict[str, Any], line: int, top: str
    ) -> BlockNode:
        if not isinstance(body, dict):
            raise SyntaxProblem(f"{kind}: expected an object", line)
        attrs: list[Attr] = []
        blocks: list[BlockNode] = []
        literal_args = _LITERAL_ARGS.get(top, frozenset()) if kind == top else frozenset()
        for key, value in body.items():
            key_line = self.key_line(key)
            if key.startswith("//"):
                self._skip(value)
                continue
            if kind == "variable" and key == "type" and isinstance(value, str):
                attrs.append(Attr(key, parse_expression(value, key_line), key_line, key_line))
            elif key in literal_args:
                attrs.append(Attr(key, self.literal_expr(value, key_line), key_line, self.last_line))
            elif kind not in ("locals", "module", "output") and key == "dynamic" and isinstance(value, dict):
                blocks.extend(self._labelled("dynamic", value, 1, (), key_line))
            elif (
                kind not in ("locals", "module", "output", "variable")
                and key in BLOCK_TYPES
                and _blocky(value)
            ):
                items = value if isinstance(value, list) else [value]
                for item in items:
                    blocks.append(self._body(key, (), item, key_line, top))
            else:
                attrs.append(Attr(key, self.expr(value, key_line), key_line, self.last_line))
        return BlockNode(kind, labels, tuple(attrs), tuple(blocks), line, max(self.last_line, line))

    def _skip(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                self.key_line(key)
                self._skip(inner)
        elif isinstance(value, list):
            for inner in value:
                self._skip(inner)

    # ---------------------------------------------------------------- expressions
    def expr(self, value: Any, line: int) -> Expr:
        if isinstance(value, str):
            if "${" in value or "%{" in value:
                return parse_template_text(value, line)
            return ("L", line, value)
        if isinstance(value, list):
            return ("U", line, tuple(self.expr(v, line) for v in value))
        if isinstance(value, dict):
            items = []
            for key, inner in value.items():
                key_line = self.key_line(key)
                key_expr = self.expr(key, key_line)
                items.append((key_expr, self.expr(inner, key_line)))
            return ("O", line, tuple(items))
        return ("L", line, _number(value))

    def literal_expr(self, value: Any, line: int) -> Expr:
        if isinstance(value, list):
            return ("U", line, tuple(self.literal_expr(v, line) for v in value))
        if isinstance(value, dict):
            items = []
            for key, inner in value.items():
                key_line = self.key_line(key)
                items.append((("L", key_line, key), self.literal_expr(inner, key_line)))
            return ("O", line, tuple(items))
        return ("L", line, _number(value))


def _blocky(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
