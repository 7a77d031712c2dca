"""One Terraform file's bytes -> syntax tree: the entry point of the parser workers.

It dispatches on the file's syntax: HCL (``hcl_parse``) or JSON (``json_syntax``).
"""

from __future__ import annotations

from talosaudit.collectors.terraform.hcl_parse import parse_file
from talosaudit.collectors.terraform.hcl_template import SyntaxProblem
from talosaudit.collectors.terraform.json_syntax import parse_json, parse_tfvars_json
from talosaudit.collectors.terraform.syntax import ParseResult


def parse_source(kind: str, data: bytes) -> ParseResult:
    """Parse one file's bytes (``kind``: ``hcl``, ``json`` or ``tfvars-json``). Never raises."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ParseResult(None, f"file is not valid UTF-8 (byte {exc.start}, line {line})", line)
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        if kind in ("json", "tfvars-json"):
            return ParseResult(parse_json(text) if kind == "json" else parse_tfvars_json(text))
        return parse_file(text)
    except SyntaxProblem as exc:
        return ParseResult(None, str(exc), exc.line)
    except RecursionError:
        return ParseResult(None, "file is nested too deeply to parse", 0)
