"""HCL template text -> syntax tree: heredoc bodies, ``templatefile`` text, JSON strings.

The HCL converter (``hcl_fast``, for heredocs) and, through ``hcl_parse``, the JSON syntax
and ``templatefile`` use this scanner. The expressions inside ``${...}``/``%{...}`` are
parsed by the ``expression`` function the caller passes (``hcl_fast.expression``), so this
module imports no converter and the converter can import it (no import circle).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from talosaudit.collectors.terraform.syntax import Expr

#: Parses one expression's text at a line: ``(text, line) -> Expr``.
ExpressionParser = Callable[[str, int], Expr]


class SyntaxProblem(Exception):  # noqa: N818 - it is reported, not raised to users
    """A construct the grammar accepts but that cannot be converted (bad template)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE.sub(one, text)


def heredoc_body(raw: str, trim: bool) -> str:
    """The template text of a heredoc token (``<<EOF`` ... ``EOF``; ``<<-`` trims indents)."""
    first_nl = raw.index("\n")
    marker = raw[2:first_nl].lstrip("-").strip()
    body_lines = raw[first_nl + 1 :].split("\n")
    # drop the closing marker line (and the empty string after its newline)
    while body_lines and body_lines[-1].strip() in ("", marker):
        last = body_lines.pop()
        if last.strip() == marker:
            break
    lines = [ln.rstrip("\r") for ln in body_lines]
    if trim:
        indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
        cut = min(indents) if indents else 0
        lines = [ln[cut:] for ln in lines]
    return "\n".join(lines) + ("\n" if lines else "")


def parse_template_text(text: str, line: int, expression: ExpressionParser, escapes: bool = False) -> Expr:
    """Parse template text (a heredoc body, a ``templatefile``, a JSON string)."""
    flat: list[tuple[Any, ...]] = []
    i = 0
    n = len(text)
    buf: list[str] = []
    while i < n:
        ch = text[i]
        if ch in "$%" and text.startswith("{", i + 1):
            if buf:
                flat.append(("lit", "".join(buf)))
                buf = []
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise SyntaxProblem("unterminated template sequence", line + text.count("\n", 0, i))
            inner = text[i + 2 : end]
            at = line + text.count("\n", 0, i)
            flat.append(_scan_directive(ch, inner, at, expression))
            i = end + 1
            continue
        if ch in "$%" and text.startswith(ch + "{", i + 1):  # $${ and %%{ are literal
            buf.append(ch + "{")
            i += 3
            continue
        if escapes and ch == "\\" and i + 1 < n:
            j = i + 2
            if text[i + 1] == "u":
                j = i + 6
            elif text[i + 1] == "U":
                j = i + 10
            buf.append(unescape(text[i:j]))
            i = j
            continue
        buf.append(ch)
        i += 1
    if buf:
        flat.append(("lit", "".join(buf)))
    return assemble_template(flat, line)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${``/``%{`` opened just before ``start``; -1 if none."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i = _string_end(text, i + 1)
            if i < 0:
                return -1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _string_end(text: str, start: int) -> int:
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        if ch == "$" and text.startswith("{", i + 1):
            end = _closing_brace(text, i + 2)
            if end < 0:
                return -1
            i = end + 1
            continue
        i += 1
    return -1


_FOR_DIRECTIVE = re.compile(r"for\s+([A-Za-z_][\w-]*)(?:\s*,\s*([A-Za-z_][\w-]*))?\s+in\s+(.*)", re.DOTALL)


def _scan_directive(
    opener: str, inner: str, line: int, parse_expression: ExpressionParser
) -> tuple[Any, ...]:
    left = inner.startswith("~")
    right = inner.endswith("~") and len(inner) > 1
    body = inner[1 if left else 0 : len(inner) - 1 if right else len(inner)].strip()
    if opener == "$":
        return ("interp", parse_expression(body, line), left, right)
    word = body.split(None, 1)[0] if body else ""
    if word == "if":
        return ("if", parse_expression(body[2:], line), left, right)
    if word in ("else", "endif", "endfor") and body == word:
        return (word, left, right)
    if word == "for":
        m = _FOR_DIRECTIVE.fullmatch(body)
        if m:
            first, second, coll = m.groups()
            key_name, value_name = (first, second) if second else (None, first)
            return ("for", key_name, value_name, parse_expression(coll, line), left, right)
    raise SyntaxProblem(f"invalid template directive %{{{inner.strip()[:40]}}}", line)


def assemble_template(flat: list[tuple[Any, ...]], line: int) -> Expr:
    """Apply strip markers and nest ``%{if}``/``%{for}`` sections; a template without
    interpolation is a literal string."""
    _apply_strip(flat)
    parts, stop, rest = _sequence(flat, 0, (), line)
    if stop is not None:
        raise SyntaxProblem(f"template has %{{{stop}}} without its opening directive", line)
    del rest
    merged = _merge_literals(parts)
    if not merged:
        return ("L", line, "")
    if len(merged) == 1 and isinstance(merged[0], str):
        return ("L", line, merged[0])
    return ("T", line, tuple(merged))


def _apply_strip(flat: list[tuple[Any, ...]]) -> None:
    for i, item in enumerate(flat):
        if item[0] == "lit":
            continue
        left, right = item[-2], item[-1]
        if left and i > 0 and flat[i - 1][0] == "lit":
            flat[i - 1] = ("lit", flat[i - 1][1].rstrip())
        if right and i + 1 < len(flat) and flat[i + 1][0] == "lit":
            flat[i + 1] = ("lit", flat[i + 1][1].lstrip())


def _sequence(
    flat: list[tuple[Any, ...]], i: int, stops: tuple[str, ...], line: int
) -> tuple[list[Any], str | None, int]:
    parts: list[Any] = []
    while i < len(flat):
        item = flat[i]
        kind = item[0]
        if kind in stops:
            return parts, kind, i + 1
        if kind in ("lit", "interp"):
            parts.append(item[1])
            i += 1
        elif kind == "if":
            then, stop, i = _sequence(flat, i + 1, ("else", "endif"), line)
            other: list[Any] = []
            if stop == "else":
                other, stop, i = _sequence(flat, i, ("endif",), line)
            if stop != "endif":
                raise SyntaxProblem("template has %{if} without %{endif}", line)
            parts.append(("%if", item[1], tuple(_merge_literals(then)), tuple(_merge_literals(other))))
        elif kind == "for":
            body, stop, i = _sequence(flat, i + 1, ("endfor",), line)
            if stop != "endfor":
                raise SyntaxProblem("template has %{for} without %{endfor}", line)
            parts.append(("%for", item[1], item[2], item[3], tuple(_merge_literals(body))))
        else:
            if stops:
                raise SyntaxProblem(f"unexpected %{{{kind}}} in template", line)
            return parts, kind, i + 1
    return parts, None, i


def _merge_literals(parts: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += part
                continue
        merged.append(part)
    return merged
