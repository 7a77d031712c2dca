"""HCL text -> compact syntax tree: the one-pass builder first, python-hcl2's tree second.

``parse_file`` and ``parse_expression`` try ``hcl_fast`` (one pass, no lark trees) and fall
back to converting python-hcl2's lark tree here whenever the builder cannot vouch for the
text (a template error, a label that is not a plain string, deep nesting), so that error
messages, lines and recursion limits are those of the tree path. Templates are scanned by
``hcl_template``. This module runs in parser worker processes (through ``parse``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from talosaudit.collectors.terraform import hcl_fast
from talosaudit.collectors.terraform.hcl_template import (
    SyntaxProblem,
    assemble_template,
    heredoc_body,
    unescape,
)
from talosaudit.collectors.terraform.hcl_template import (
    parse_template_text as _parse_template_text,
)
from talosaudit.collectors.terraform.syntax import Attr, BlockNode, Expr, ParseResult

_JINJA_STATEMENT = re.compile(r"\{%-?\s*(?:if|for|set|include|block|extends|macro|endif|endfor|raw)\b")


def parse_file(text: str) -> ParseResult:
    """One HCL file's text as a tree, or the reason it cannot be read. Raises SyntaxProblem."""
    import lark

    try:
        tree = _fast_file(text)
        if tree is None:  # the one-pass builder gave up: the tree path decides
            tree = _Converter(text).file(parse_tree(text))
    except lark.exceptions.UnexpectedInput as exc:
        line = min(int(getattr(exc, "line", 0) or 0), text.count("\n") + 1)
        if "{%" in text or "{{" in text:
            return ParseResult(None, "looks like a Jinja template, not Terraform", _jinja_line(text))
        return ParseResult(None, _describe(exc, line), line)
    except lark.exceptions.LarkError as exc:
        return ParseResult(None, f"cannot be parsed: {str(exc).splitlines()[0]}", 0)
    if _JINJA_STATEMENT.search(text):
        return ParseResult(None, "looks like a Jinja template, not Terraform", _jinja_line(text))
    return ParseResult(tree)


def _fast_file(text: str) -> BlockNode | None:
    """The file's tree built in one pass (hcl_fast), or None when the tree path must decide.

    The grammar's own errors (UnexpectedInput) are the tree path's too: they propagate.
    """
    import lark

    try:
        body = hcl_fast.build(text)
    except lark.exceptions.UnexpectedInput:
        raise
    except Exception:  # Fallback, SyntaxProblem, RecursionError...: the tree path re-parses
        return None
    return BlockNode("", (), body.attrs, body.blocks, 1, text.count("\n") + 1)


def parse_tree(text: str) -> Any:
    import hcl2

    return hcl2.parses_to_tree(text)


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


def parse_template_text(text: str, line: int, escapes: bool = False) -> Expr:
    """Parse template text (a heredoc body, a ``templatefile``, a JSON string)."""
    return _parse_template_text(text, line, parse_expression, escapes)


def parse_expression(text: str, line: int) -> Expr:
    """Parse one expression's text (from a template or a JSON string); lines are shifted."""
    import lark

    try:
        fast = hcl_fast.build(f"x = {text}", line - 1)
    except Exception:  # errors and Fallback: the tree path decides below
        pass
    else:
        if fast.attrs:
            return fast.attrs[0].expr
    try:
        tree = parse_tree(f"x = {text}")
    except lark.exceptions.LarkError as exc:
        raise SyntaxProblem(f"invalid expression {text.strip()[:60]!r}", line) from exc
    body = tree.children[0]
    for child in body.children:
        if getattr(child, "data", None) == "attribute":
            return _Converter(text, line - 1).expression(child.children[2])
    raise SyntaxProblem(f"invalid expression {text.strip()[:60]!r}", line)


# ------------------------------------------------------------------------- conversion


def _is_tree(node: Any) -> bool:
    return hasattr(node, "data")


def _trees(node: Any) -> list[Any]:
    """The sub-trees of a node that carry meaning (no newlines/comments, no tokens)."""
    return [c for c in node.children if hasattr(c, "data") and c.data != "new_line_or_comment"]


class _Converter:
    def __init__(self, text: str, line_offset: int = 0) -> None:
        self.text = text
        self.offset = line_offset
        self._expr: dict[str, Callable[[Any, int], Expr]] = {
            "expr_term": self._expr_term,
            "conditional": self._conditional,
            "binary_op": self._binary,
            "unary_op": self._unary,
        }
        self._term: dict[str, Callable[[Any, int], Expr]] = {
            "int_lit": lambda t, ln: ("L", ln, int(t.children[0])),
            "float_lit": self._float,
            "literal_value": self._literal_value,
            "identifier": lambda t, ln: ("N", ln, str(t.children[0])),
            "string": self._string,
            "template_string": lambda t, ln: ("L", ln, unescape(str(t.children[0])[2:-2])),
            "tuple": lambda t, ln: ("U", ln, tuple(self.expression(c) for c in _trees(t))),
            "object": self._object,
            "function_call": self._call,
            "heredoc_template": self._heredoc,
            "heredoc_template_trim": self._heredoc,
            "get_attr_expr_term": self._get_attr,
            "index_expr_term": self._index,
            "attr_splat_expr_term": self._splat,
            "full_splat_expr_term": self._splat,
            "for_tuple_expr": self._for,
            "for_object_expr": self._for,
        }

    def _line(self, tree: Any, default: int = 0) -> int:
        meta = tree.meta
        return (meta.line + self.offset) if not meta.empty else default

    # ------------------------------------------------------------------ structure
    def file(self, tree: Any) -> BlockNode:
        body = tree.children[0]
        attrs, blocks = self._body(body)
        end = self.text.count("\n") + 1
        return BlockNode("", (), attrs, blocks, 1, end)

    def _body(self, body: Any) -> tuple[tuple[Attr, ...], tuple[BlockNode, ...]]:
        attrs: list[Attr] = []
        blocks: list[BlockNode] = []
        for child in body.children:
            data = getattr(child, "data", None)
            if data == "attribute":
                line = self._line(child)
                name = self._name(child.children[0])
                expr = self.expression(child.children[2], line)
                attrs.append(Attr(name, expr, line, self._end_line(child)))
            elif data == "block":
                blocks.append(self._block(child))
        return tuple(attrs), tuple(blocks)

    def _block(self, tree: Any) -> BlockNode:
        children = _trees(tree)
        kind = self._name(children[0])
        labels: list[str] = []
        body = None
        for child in children[1:]:
            if child.data == "body":
                body = child
            elif child.data == "string":
                labels.append(self._plain_string(child))
            else:
                labels.append(self._name(child))
        attrs, blocks = self._body(body) if body is not None else ((), ())
        line = self._line(tree)
        return BlockNode(kind, tuple(labels), attrs, blocks, line, self._end_line(tree))

    def _end_line(self, tree: Any) -> int:
        meta = tree.meta
        end = int(meta.end_line)
        # a heredoc token ends with its newline: the span ends on the marker's line
        if meta.end_pos > 0 and self.text[meta.end_pos - 1 : meta.end_pos] == "\n":
            end -= 1
        return max(end, int(meta.line)) + self.offset

    @staticmethod
    def _name(tree: Any) -> str:
        return str(tree.children[0])

    def _plain_string(self, tree: Any) -> str:
        expr = self._string(tree, self._line(tree))
        if expr[0] != "L":
            raise SyntaxProblem("a block label cannot contain a template", self._line(tree))
        return str(expr[2])

    # ---------------------------------------------------------------- expressions
    def expression(self, tree: Any, line: int = 0) -> Expr:
        line = self._line(tree, line)
        handler = self._expr.get(tree.data)
        if handler is None:
            raise SyntaxProblem(f"unsupported expression {tree.data}", line)
        return handler(tree, line)

    def _expr_term(self, tree: Any, line: int) -> Expr:
        children = tree.children
        if len(children) == 1 and _is_tree(children[0]):
            inner = children[0]
            handler = self._term.get(inner.data)
            if handler is None:
                raise SyntaxProblem(f"unsupported expression {inner.data}", line)
            return handler(inner, self._line(inner, line))
        # ( expression )
        return ("P", line, self.expression(_trees(tree)[0], line))

    def _conditional(self, tree: Any, line: int) -> Expr:
        cond, then, other = _trees(tree)
        return (
            "?",
            line,
            self.expression(cond, line),
            self.expression(then, line),
            self.expression(other, line),
        )

    def _binary(self, tree: Any, line: int) -> Expr:
        left, term = _trees(tree)[:2]
        op_tree, right = _trees(term)
        op = str(op_tree.children[0]).strip()
        # The post-lexer glues a preceding newline/comment to the operator token.
        op = op.split()[-1] if op else op
        if op.startswith(("#", "//", "/*")):
            op = op.rsplit("\n", 1)[-1].strip()
        return ("B", line, op, self.expression(left, line), self.expression(right, line))

    def _unary(self, tree: Any, line: int) -> Expr:
        op = str(tree.children[0]).strip()
        operand = self.expression(_trees(tree)[0], line)
        if op == "-" and operand[0] == "L" and isinstance(operand[2], int | float) and operand[2] is not True:
            return ("L", line, -operand[2])
        return ("!", line, op, operand)

    def _float(self, tree: Any, line: int) -> Expr:
        value = float(str(tree.children[0]))
        return ("L", line, int(value) if value.is_integer() else value)

    @staticmethod
    def _literal_value(tree: Any, line: int) -> Expr:
        word = str(tree.children[0])
        return ("L", line, {"true": True, "false": False, "null": None}[word])

    def _object(self, tree: Any, line: int) -> Expr:
        items = []
        for elem in _trees(tree):
            key_tree, value_tree = _trees(elem)
            key_inner = _trees(key_tree)
            if not key_inner:  # a keyword used as a key (`in = 1`)
                key: Expr = ("L", line, str(key_tree.children[0].children[0]))
            else:
                key_expr_tree = key_inner[0]
                if key_expr_tree.data == "keyword":
                    key = ("L", line, str(key_expr_tree.children[0]))
                else:
                    key = self.expression(key_expr_tree, line)
                    if key[0] == "N":  # a bare identifier key is its own name
                        key = ("L", key[1], key[2])
            items.append((key, self.expression(value_tree, self._line(elem, line))))
        return ("O", line, tuple(items))

    def _call(self, tree: Any, line: int) -> Expr:
        names = [str(c.children[0]) for c in tree.children if _is_tree(c) and c.data == "identifier"]
        name = "::".join(names)
        args: list[Expr] = []
        expand = False
        for child in tree.children:
            if _is_tree(child) and child.data == "arguments":
                for arg in child.children:
                    if _is_tree(arg):
                        if arg.data != "new_line_or_comment":
                            args.append(self.expression(arg, line))
                    elif getattr(arg, "type", "") == "ELLIPSIS":
                        expand = True
        return ("C", line, name, tuple(args), expand)

    def _get_attr(self, tree: Any, line: int) -> Expr:
        obj_tree, get_attr = _trees(tree)
        return ("A", line, self.expression(obj_tree, line), self._attr_name(get_attr))

    def _attr_name(self, get_attr: Any) -> str:
        return str(_trees(get_attr)[0].children[0])

    def _index(self, tree: Any, line: int) -> Expr:
        obj_tree, index = _trees(tree)
        return ("I", line, self.expression(obj_tree, line), self._index_key(index, line))

    def _index_key(self, index: Any, line: int) -> Expr:
        if index.data == "short_index":
            return ("L", line, int(str(index.children[1])))
        return self.expression(_trees(index)[0], line)

    def _splat(self, tree: Any, line: int) -> Expr:
        obj_tree, splat = _trees(tree)
        ops: list[tuple[str, Any]] = []
        for op in _trees(splat):
            if op.data == "get_attr":
                ops.append(("A", self._attr_name(op)))
            else:
                ops.append(("I", self._index_key(op, line)))
        return ("S", line, self.expression(obj_tree, line), tuple(ops), splat.data == "full_splat")

    def _for(self, tree: Any, line: int) -> Expr:
        parts = _trees(tree)
        intro = parts[0]
        names = [str(c.children[0]) for c in intro.children if _is_tree(c) and c.data == "identifier"]
        coll_tree = next(c for c in _trees(intro) if c.data != "identifier")
        key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        coll = self.expression(coll_tree, line)
        cond = None
        if parts[-1].data == "for_cond":
            cond = self.expression(_trees(parts[-1])[0], line)
            parts = parts[:-1]
        if tree.data == "for_tuple_expr":
            return ("F", line, key_name, value_name, coll, None, self.expression(parts[1], line), cond, False)
        grouped = any(getattr(c, "type", "") == "ELLIPSIS" for c in tree.children)
        key_expr = self.expression(parts[1], line)
        value_expr = self.expression(parts[2], line)
        return ("F", line, key_name, value_name, coll, key_expr, value_expr, cond, grouped)

    # ------------------------------------------------------------------ templates
    def _string(self, tree: Any, line: int) -> Expr:
        flat: list[tuple[Any, ...]] = []
        for part in tree.children:
            if not _is_tree(part):
                continue  # the quotes
            inner = part.children[0]
            if not _is_tree(inner):
                kind = inner.type
                value = str(inner)
                if kind == "STRING_CHARS":
                    flat.append(("lit", unescape(value)))
                else:  # $${ or %%{: a literal ${ / %{
                    flat.append(("lit", value[1:]))
                continue
            flat.append(self._directive(inner, line))
        return assemble_template(flat, line)

    def _directive(self, tree: Any, line: int) -> tuple[Any, ...]:
        data = tree.data
        tokens = [c for c in tree.children if not _is_tree(c)]
        types = [t.type for t in tokens]
        # A strip marker before the keyword strips on the left, one after it on the right.
        first_kw = next((i for i, t in enumerate(types) if t in ("IF", "ELSE", "ENDIF", "FOR", "ENDFOR")), 0)
        left = "STRIP_MARKER" in types[:first_kw]
        right = "STRIP_MARKER" in types[first_kw:]
        if data == "interpolation":
            return ("interp", self.expression(_trees(tree)[0], line), False, False)
        if data == "template_if_start":
            return ("if", self.expression(_trees(tree)[0], line), left, right)
        if data == "template_else":
            return ("else", left, right)
        if data == "template_endif":
            return ("endif", left, right)
        if data == "template_endfor":
            return ("endfor", left, right)
        if data == "template_for_start":
            subs = _trees(tree)
            names = [str(s.children[0]) for s in subs if s.data == "identifier"]
            coll = self.expression(next(s for s in subs if s.data != "identifier"), line)
            key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
            return ("for", key_name, value_name, coll, left, right)
        raise SyntaxProblem(f"unsupported template part {data}", line)

    def _heredoc(self, tree: Any, line: int) -> Expr:
        body = heredoc_body(str(tree.children[0]), tree.data == "heredoc_template_trim")
        return parse_template_text(body, line + 1)


__all__ = ["SyntaxProblem", "parse_expression", "parse_file", "parse_template_text", "parse_tree"]
