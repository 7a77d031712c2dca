"""The compact syntax tree the evaluator works on, and its canonical text.

Lark trees are big, slow to pickle and tied to the grammar; this tree is what parser
workers return and what the cache stores. Expressions are plain tuples ``(tag, line, ...)``
(cheap to build and to pickle); bodies are NamedTuples. Every expression keeps its line;
``render()`` gives the expression's text for messages (``var.admin_cidrs[count.index]``).

Expression tags::

    ("L", line, value)                     literal: str, int, float, bool, None
    ("T", line, parts)                     template; a part is a str, an expression, or
                                           ("%if", cond, then_parts, else_parts) /
                                           ("%for", key_name|None, value_name, coll, parts)
    ("N", line, name)                      a bare name: var, local, aws_vpc, each, a for variable
    ("A", line, obj, name)                 attribute access obj.name
    ("I", line, obj, key)                  index obj[key]
    ("S", line, obj, ops, full)            splat obj[*]<ops> (full) or obj.*<ops>; an op is
                                           ("A", name) or ("I", key_expr)
    ("U", line, items)                     tuple [a, b]
    ("O", line, items)                     object {k = v}; items are (key_expr, value_expr)
    ("C", line, name, args, expand_last)   function call
    ("?", line, cond, then, else)          conditional
    ("B", line, op, left, right)           binary operator
    ("!", line, op, operand)               unary operator (! or -)
    ("F", line, key_name|None, value_name, coll, key_expr|None, value_expr, cond|None, grouped)
                                           for expression; key_expr None makes a tuple
    ("P", line, inner)                     parentheses (they make an object key an expression)
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

#: Bump when the shape of the tree (or which files parse) changes: it is part of every cache
#: key. 2: one converter (hcl_fast) decides alone; its nesting limit is its own.
AST_VERSION = "2"

Expr = tuple[Any, ...]


class Attr(NamedTuple):
    name: str
    expr: Expr
    line: int
    end_line: int


class BlockNode(NamedTuple):
    """A block (``type "label" ... { }``); a whole file is a block of type ``""``."""

    type: str
    labels: tuple[str, ...]
    attrs: tuple[Attr, ...]
    blocks: tuple[BlockNode, ...]
    line: int
    end_line: int

    def attr(self, name: str) -> Attr | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None


class ParseResult(NamedTuple):
    """What parsing one file gives: a tree, or an error message with its line (0: none)."""

    tree: BlockNode | None
    error: str = ""
    error_line: int = 0


def literal(value: Any, line: int = 0) -> Expr:
    return ("L", line, value)


# --------------------------------------------------------------------------- rendering

_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5}
_MAX_RENDER = 200


def render(node: Expr) -> str:
    """The canonical HCL text of an expression (shortened past ~200 characters)."""
    text = _render(node)
    return text if len(text) <= _MAX_RENDER else text[: _MAX_RENDER - 3] + "..."


def _render(node: Expr) -> str:
    tag = node[0]
    if tag == "L":
        return _render_literal(node[2])
    if tag == "N":
        return str(node[2])
    if tag == "A":
        return f"{_render(node[2])}.{node[3]}"
    if tag == "I":
        return f"{_render(node[2])}[{_render(node[3])}]"
    if tag == "S":
        ops = "".join(f".{op[1]}" if op[0] == "A" else f"[{_render(op[1])}]" for op in node[3])
        return f"{_render(node[2])}{'[*]' if node[4] else '.*'}{ops}"
    if tag == "U":
        return "[" + ", ".join(_render(i) for i in node[2]) + "]"
    if tag == "O":
        return "{" + ", ".join(f"{_render(k)} = {_render(v)}" for k, v in node[2]) + "}"
    if tag == "C":
        args = ", ".join(_render(a) for a in node[3])
        return f"{node[2]}({args}{'...' if node[4] else ''})"
    if tag == "?":
        return f"{_render(node[2])} ? {_render(node[3])} : {_render(node[4])}"
    if tag == "B":
        return f"{_render(node[3])} {node[2]} {_render(node[4])}"
    if tag == "!":
        return f"{node[2]}{_render(node[3])}"
    if tag == "P":
        return f"({_render(node[2])})"
    if tag == "T":
        return '"' + _render_parts(node[2]) + '"'
    if tag == "F":
        return _render_for(node)
    return "?"


def _render_for(node: Expr) -> str:
    _, _, key_name, value_name, coll, key_expr, value_expr, cond, grouped = node
    names = f"{key_name}, {value_name}" if key_name else value_name
    intro = f"for {names} in {_render(coll)} : "
    cond_text = f" if {_render(cond)}" if cond is not None else ""
    if key_expr is None:
        return f"[{intro}{_render(value_expr)}{cond_text}]"
    dots = "..." if grouped else ""
    return f"{{{intro}{_render(key_expr)} => {_render(value_expr)}{dots}{cond_text}}}"


def _render_parts(parts: tuple[Any, ...]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
        elif part[0] == "%if":
            out.append(f"%{{if {_render(part[1])}}}{_render_parts(part[2])}")
            if part[3]:
                out.append(f"%{{else}}{_render_parts(part[3])}")
            out.append("%{endif}")
        elif part[0] == "%for":
            names = f"{part[1]}, {part[2]}" if part[1] else part[2]
            out.append(f"%{{for {names} in {_render(part[3])}}}{_render_parts(part[4])}%{{endfor}}")
        else:
            out.append(f"${{{_render(part)}}}")
    return "".join(out)


def _render_literal(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
