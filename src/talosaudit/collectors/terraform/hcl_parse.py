"""HCL text -> compact syntax tree: the front of the one-pass builder ``hcl_fast``.

``parse_file`` turns the builder's errors into what the user reads (the grammar's unexpected
token or end of file with its line, a Jinja template that is not Terraform); templates are
scanned by ``hcl_template``. This module runs in parser worker processes (through ``parse``).
"""

from __future__ import annotations

import re

from talosaudit.collectors.terraform import hcl_fast
from talosaudit.collectors.terraform.hcl_template import SyntaxProblem
from talosaudit.collectors.terraform.hcl_template import (
    parse_template_text as _parse_template_text,
)
from talosaudit.collectors.terraform.syntax import BlockNode, Expr, ParseResult

_JINJA_STATEMENT = re.compile(r"\{%-?\s*(?:if|for|set|include|block|extends|macro|endif|endfor|raw)\b")


def parse_file(text: str) -> ParseResult:
    """One HCL file's text as a tree, or the reason it cannot be read. Raises SyntaxProblem
    (a construct that cannot be converted) and RecursionError (nested too deeply)."""
    import lark

    try:
        body = hcl_fast.build(text)
    except lark.exceptions.UnexpectedInput as exc:
        line = min(int(getattr(exc, "line", 0) or 0), text.count("\n") + 1)
        if "{%" in text or "{{" in text:
            return ParseResult(None, "looks like a Jinja template, not Terraform", _jinja_line(text))
        return ParseResult(None, _describe(exc, line), line)
    except lark.exceptions.LarkError as exc:
        return ParseResult(None, f"cannot be parsed: {str(exc).splitlines()[0]}", 0)
    if _JINJA_STATEMENT.search(text):
        return ParseResult(None, "looks like a Jinja template, not Terraform", _jinja_line(text))
    return ParseResult(BlockNode("", (), body.attrs, body.blocks, 1, text.count("\n") + 1))


def parse_expression(text: str, line: int) -> Expr:
    """Parse one expression's text (from a template or a JSON string); lines are shifted."""
    return hcl_fast.expression(text, line)


def parse_template_text(text: str, line: int, escapes: bool = False) -> Expr:
    """Parse template text (a heredoc body, a ``templatefile``, a JSON string)."""
    return _parse_template_text(text, line, hcl_fast.expression, escapes)


def _jinja_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if "{%" in line or "{{" in line:
            return number
    return 1


def _describe(exc: Exception, line: int) -> str:
    token = getattr(exc, "token", None)
    where = f" at line {line}" if line else ""
    if token is not None:
        value = str(token).strip()
        if getattr(token, "type", "") == "$END" or not value:
            return f"unexpected end of file{where}"
        return f"unexpected token {value[:40]!r}{where}"
    char = getattr(exc, "char", None)
    if char is not None:
        return f"unexpected character {char!r}{where}"
    return f"unexpected end of file{where}"


__all__ = ["SyntaxProblem", "parse_expression", "parse_file", "parse_template_text"]
