"""HCL text -> compact syntax tree in one pass, without lark ``Tree`` objects: the one
HCL converter (``hcl_parse`` is its front: error messages, Jinja detection).

python-hcl2's grammar and post-lexer parse the text; lark calls ``_Builder`` at every
reduction (an inline transformer), which builds the tree of ``syntax`` directly. That
avoids materialising the lark tree and its position metadata, which cost about half of the
parse time.

Lark gives an inline transformer no positions (``v_args(meta=True)`` only works on trees),
so they come from the tokens: a node's line is the line of its first token, and the end of
an attribute or a block is the last token shifted before the parser reduced it (an LALR
parser reduces a rule when it sees the token after it, so that is the rule's last token).
These are the positions lark's ``propagate_positions`` gives the tree path.

A construct the grammar accepts but that cannot be converted (a bad template, a block
label that is a template) is a ``SyntaxProblem``. It is raised only once the whole text has
parsed, so that a grammar error anywhere in the file is reported first, and it is the
problem nearest the start of the file: what a conversion of the finished tree in document
order would meet first. Trees nested deeper than the rest of the pipeline can walk
(``MAX_DEPTH``) raise ``RecursionError``, which callers report as "nested too deeply".
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, NamedTuple

import lark
from lark import Token

from talosaudit.collectors.terraform.hcl_template import (
    SyntaxProblem,
    assemble_template,
    heredoc_body,
    parse_template_text,
    unescape,
)
from talosaudit.collectors.terraform.syntax import Attr, BlockNode, Expr

#: How deeply the tuples of one expression, or blocks, may nest. The evaluator and the
#: mappers walk trees recursively; python-hcl2's own tree conversion, which this builder
#: replaced, ran out of stack at about this depth too (about 200 nested brackets, 450 terms
#: of a sum).
MAX_DEPTH = 400
#: An attribute of at most this many tokens cannot nest deeper than MAX_DEPTH tuples.
_SMALL_ATTRIBUTE = MAX_DEPTH // 2

_WORDS = {"true": True, "false": False, "null": None}
_WORD_OF = {True: "true", False: "false", None: "null"}
_KEYWORD_TYPES = ("IF", "ELSE", "ENDIF", "FOR", "ENDFOR")


class Unsupported(SyntaxProblem):
    """A reduction the builder has no rule for (python-hcl2's grammar grew a construct)."""


# --------------------------------------------------------------------- intermediate values
# Exprs are plain tuples; everything else the builder passes up is one of these classes, so
# ``x.__class__ is tuple`` tells an expression from a token, a newline or a part.


class _Newline:
    __slots__ = ()


_NL = _Newline()


class _Splice:
    """Children of an inlined rule, for lark's child filter (not a Tree: lark then computes
    no positions for it)."""

    __slots__ = ("children",)

    def __init__(self, children: list[Any]) -> None:
        self.children = children


class _Keyword(NamedTuple):
    line: int
    word: str


class _Body(NamedTuple):
    attrs: tuple[Attr, ...]
    blocks: tuple[BlockNode, ...]


class _Elem(NamedTuple):
    key: Any
    value: Expr


class _Args(NamedTuple):
    args: tuple[Expr, ...]
    expand: bool


class _GetAttr(NamedTuple):
    name: str


class _ShortIndex(NamedTuple):
    value: int


class _BracesIndex(NamedTuple):
    expr: Expr


class _Splat(NamedTuple):
    ops: tuple[Any, ...]
    full: bool


class _BinTerm(NamedTuple):
    op: str
    right: Expr


class _ForIntro(NamedTuple):
    key_name: str | None
    value_name: str
    coll: Expr


class _ForCond(NamedTuple):
    expr: Expr


# ------------------------------------------------------------------------- parse state


class _State:
    """One parse: the tokens around the current reduction and the file's text."""

    __slots__ = (
        "block_depth",
        "boundary",
        "count",
        "current",
        "heredocs",
        "last",
        "offset",
        "problems",
        "text",
    )

    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.offset = offset
        self.last: Token | None = None
        self.current: Token | None = None
        self.count = 0
        self.boundary = 0
        #: id -> (expr, line of its token): a heredoc's expression starts a line later.
        self.heredocs: dict[int, tuple[Expr, int]] = {}
        self.block_depth: dict[int, int] = {}
        #: Conversion problems, raised when the parse has finished (see the module doc).
        self.problems: list[SyntaxProblem] = []


class _Recorder:
    """python-hcl2's post-lexer, noting the tokens it hands to the parser."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.state = _State("", 0)

    @property
    def always_accept(self) -> Any:
        return self.inner.always_accept

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        state = self.state  # read at the first token, inside the parse that owns it
        for token in self.inner.process(stream):
            state.last = state.current
            state.current = token
            state.count += 1
            yield token
        state.last = state.current  # the end: what is reduced now ends at the last token


def _tuple_depth(expr: Any) -> int:
    """How deeply tuples nest in ``expr`` (iterative: it must not recurse itself)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in node:
            if isinstance(child, tuple):
                stack.append((child, depth + 1))
    return deepest


def _name(node: Any) -> str:
    """The word of an identifier, keyword or literal used as a name."""
    if node.__class__ is _Keyword:
        return str(node.word)
    if node[0] == "N":
        return str(node[2])
    return _WORD_OF[node[2]]


class _Builder(lark.Transformer[Token, Any]):
    """The callbacks lark runs at each reduction, named after the grammar's rules."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __default__(self, data: Any, children: Any, meta: Any) -> Any:
        if data[0] == "_":
            # an inlined rule (``_attribute_name``, lark's ``__body_star_0`` repetitions):
            # its parent's child filter splices its children
            return _Splice(children)
        raise Unsupported(f"unsupported syntax {data}")

    def _problem(self, problem: SyntaxProblem) -> None:
        self.recorder.state.problems.append(problem)

    # -- positions
    def _line(self, token: Token) -> int:
        return int(token.line or 0) + self.recorder.state.offset

    def _first(self, node: Any) -> int:
        """Line of the first token of an expression (a heredoc's value starts a line later)."""
        heredocs = self.recorder.state.heredocs
        if heredocs:
            found = heredocs.get(id(node))
            if found is not None:
                return found[1]
        return int(node[1])

    def _end(self, line: int) -> int:
        state = self.recorder.state
        token = state.last
        if token is None:
            raise Unsupported("a construct without tokens")
        end = int(token.end_line)  # type: ignore[arg-type]
        end_pos = int(token.end_pos)  # type: ignore[arg-type]
        # a heredoc token ends with its newline: the span ends on the marker's line
        if end_pos > 0 and state.text[end_pos - 1 : end_pos] == "\n":
            end -= 1
        return max(end + state.offset, line)

    # -- structure
    def start(self, c: list[Any]) -> Any:
        return c[0]

    def body(self, c: list[Any]) -> _Body:
        attrs = [x for x in c if x.__class__ is Attr]
        blocks = [x for x in c if x.__class__ is BlockNode]
        return _Body(tuple(attrs), tuple(blocks))

    def attribute(self, c: list[Any]) -> Attr:
        name_node, expr = c[0], c[2]
        line = name_node[1] if name_node.__class__ is tuple else name_node.line
        state = self.recorder.state
        if state.count - state.boundary > _SMALL_ATTRIBUTE and _tuple_depth(expr) > MAX_DEPTH:
            raise RecursionError("expression nested too deeply")
        state.boundary = state.count - 1
        return Attr(_name(name_node), expr, line, self._end(line))

    def block(self, c: list[Any]) -> BlockNode:
        head = c[0]
        line = head[1] if head.__class__ is tuple else head.line
        labels: list[str] = []
        body = _Body((), ())
        for x in c[1:]:
            cls = x.__class__
            if cls is _Body:
                body = x
            elif cls is tuple:
                if x[0] == "L" and isinstance(x[2], str):
                    labels.append(x[2])
                elif x[0] in ("N", "L"):
                    labels.append(_name(x))
                else:
                    self._problem(SyntaxProblem("a block label cannot contain a template", int(x[1])))
                    labels.append("")
            elif cls is _Keyword:
                labels.append(x.word)
        state = self.recorder.state
        depth = 1 + max((state.block_depth.get(id(b), 1) for b in body.blocks), default=0)
        if depth > MAX_DEPTH:
            raise RecursionError("blocks nested too deeply")
        state.boundary = state.count - 1
        node = BlockNode(_name(head), tuple(labels), body.attrs, body.blocks, line, self._end(line))
        state.block_depth[id(node)] = depth
        return node

    def new_line_or_comment(self, c: list[Any]) -> _Newline:
        return _NL

    # -- names and literals
    def identifier(self, c: list[Any]) -> Expr:
        return ("N", self._line(c[0]), str(c[0]))

    def keyword(self, c: list[Any]) -> _Keyword:
        return _Keyword(self._line(c[0]), str(c[0]))

    def literal_value(self, c: list[Any]) -> Expr:
        return ("L", self._line(c[0]), _WORDS[str(c[0])])

    def int_lit(self, c: list[Any]) -> Expr:
        return ("L", self._line(c[0]), int(c[0]))

    def float_lit(self, c: list[Any]) -> Expr:
        value = float(str(c[0]))
        return ("L", self._line(c[0]), int(value) if value.is_integer() else value)

    def template_string(self, c: list[Any]) -> Expr:
        return ("L", self._line(c[0]), unescape(str(c[0])[2:-2]))

    # -- strings and templates
    def string(self, c: list[Any]) -> Expr:
        line = self._line(c[0])
        try:
            return assemble_template(list(c[1:-1]), line)
        except SyntaxProblem as problem:
            self._problem(problem)
            return ("L", line, "")

    def string_part(self, c: list[Any]) -> Any:
        inner = c[0]
        if inner.__class__ is Token:
            value = str(inner)
            if inner.type == "STRING_CHARS":
                return ("lit", unescape(value))
            return ("lit", value[1:])  # $${ or %%{: a literal ${ / %{
        return inner

    def interpolation(self, c: list[Any]) -> Any:
        return ("interp", c[1], False, False)

    @staticmethod
    def _strips(c: list[Any]) -> tuple[bool, bool]:
        # A strip marker before the keyword strips on the left, one after it on the right.
        types = [t.type for t in c if t.__class__ is Token]
        first_kw = next((i for i, t in enumerate(types) if t in _KEYWORD_TYPES), 0)
        return "STRIP_MARKER" in types[:first_kw], "STRIP_MARKER" in types[first_kw:]

    def template_if_start(self, c: list[Any]) -> Any:
        left, right = self._strips(c)
        expr = next(x for x in c if x.__class__ is tuple)
        return ("if", expr, left, right)

    def template_else(self, c: list[Any]) -> Any:
        return ("else", *self._strips(c))

    def template_endif(self, c: list[Any]) -> Any:
        return ("endif", *self._strips(c))

    def template_endfor(self, c: list[Any]) -> Any:
        return ("endfor", *self._strips(c))

    def template_for_start(self, c: list[Any]) -> Any:
        left, right = self._strips(c)
        subs = [x for x in c if x.__class__ is tuple]
        names = [str(s[2]) for s in subs[:-1]]
        key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return ("for", key_name, value_name, subs[-1], left, right)

    def heredoc_template(self, c: list[Any]) -> Expr:
        return self._heredoc(c[0], trim=False)

    def heredoc_template_trim(self, c: list[Any]) -> Expr:
        return self._heredoc(c[0], trim=True)

    def _heredoc(self, token: Token, trim: bool) -> Expr:
        line = self._line(token)
        try:
            expr = parse_template_text(heredoc_body(str(token), trim), line + 1, expression)
        except SyntaxProblem as problem:
            self._problem(problem)
            expr = ("L", line + 1, "")
        if _tuple_depth(expr) > MAX_DEPTH:
            raise RecursionError("heredoc nested too deeply")
        self.recorder.state.heredocs[id(expr)] = (expr, line)
        return expr

    # -- expressions
    def expr_term(self, c: list[Any]) -> Expr:
        if len(c) == 1:
            return c[0]  # type: ignore[no-any-return]
        inner = next(x for x in c if x.__class__ is tuple)
        return ("P", self._line(c[0]), inner)  # ( expression )

    def conditional(self, c: list[Any]) -> Expr:
        cond, then, other = [x for x in c if x.__class__ is tuple]
        return ("?", self._first(cond), cond, then, other)

    def binary_op(self, c: list[Any]) -> Expr:
        left, term = c[0], c[1]
        op = term.op.strip()
        # The post-lexer glues a preceding newline/comment to the operator token.
        op = op.split()[-1] if op else op
        if op.startswith(("#", "//", "/*")):
            op = op.rsplit("\n", 1)[-1].strip()
        return ("B", self._first(left), op, left, term.right)

    def binary_term(self, c: list[Any]) -> _BinTerm:
        return _BinTerm(str(c[0]), c[-1])

    def binary_operator(self, c: list[Any]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def unary_op(self, c: list[Any]) -> Expr:
        line = self._line(c[0])
        op = str(c[0]).strip()
        operand = c[1]
        if op == "-" and operand[0] == "L" and isinstance(operand[2], int | float) and operand[2] is not True:
            return ("L", line, -operand[2])
        return ("!", line, op, operand)

    def tuple(self, c: list[Any]) -> Expr:
        return ("U", self._line(c[0]), tuple(x for x in c if x.__class__ is tuple))

    def object(self, c: list[Any]) -> Expr:
        line = self._line(c[0])
        items = []
        for elem in c:
            if elem.__class__ is not _Elem:
                continue
            key = elem.key
            if key.__class__ is _Keyword:  # a keyword used as a key (`in = 1`)
                key = ("L", line, key.word)
            elif key[0] == "N":  # a bare identifier key is its own name
                key = ("L", key[1], key[2])
            items.append((key, elem.value))
        return ("O", line, tuple(items))

    def object_elem(self, c: list[Any]) -> _Elem:
        return _Elem(c[0], c[2])

    def object_elem_key(self, c: list[Any]) -> Any:
        return c[0]

    def function_call(self, c: list[Any]) -> Expr:
        names = [str(x[2]) for x in c if x.__class__ is tuple]
        args = next((x for x in c if x.__class__ is _Args), _Args((), False))
        return ("C", c[0][1], "::".join(names), args.args, args.expand)

    def arguments(self, c: list[Any]) -> _Args:
        args = tuple(x for x in c if x.__class__ is tuple)
        expand = any(x.__class__ is Token and x.type == "ELLIPSIS" for x in c)
        return _Args(args, expand)

    @staticmethod
    def _index_key(index: Any, line: int) -> Expr:
        if index.__class__ is _ShortIndex:
            return ("L", line, index.value)
        return index.expr  # type: ignore[no-any-return]

    def index_expr_term(self, c: list[Any]) -> Expr:
        obj = c[0]
        line = self._first(obj)
        return ("I", line, obj, self._index_key(c[1], line))

    def braces_index(self, c: list[Any]) -> _BracesIndex:
        return _BracesIndex(next(x for x in c if x.__class__ is tuple))

    def short_index(self, c: list[Any]) -> _ShortIndex:
        return _ShortIndex(int(str(c[1])))

    def get_attr_expr_term(self, c: list[Any]) -> Expr:
        obj = c[0]
        return ("A", self._first(obj), obj, c[1].name)

    def get_attr(self, c: list[Any]) -> _GetAttr:
        return _GetAttr(_name(c[1]))

    def attr_splat(self, c: list[Any]) -> _Splat:
        return _Splat(tuple(c[1:]), False)

    def full_splat(self, c: list[Any]) -> _Splat:
        return _Splat(tuple(c[1:]), True)

    def _splat(self, c: list[Any]) -> Expr:
        obj, splat = c[0], c[1]
        line = self._first(obj)
        ops = tuple(
            ("A", op.name) if op.__class__ is _GetAttr else ("I", self._index_key(op, line))
            for op in splat.ops
        )
        return ("S", line, obj, ops, splat.full)

    def attr_splat_expr_term(self, c: list[Any]) -> Expr:
        return self._splat(c)

    def full_splat_expr_term(self, c: list[Any]) -> Expr:
        return self._splat(c)

    # -- for expressions
    def for_intro(self, c: list[Any]) -> _ForIntro:
        names: list[str] = []
        coll: Expr | None = None
        seen_in = False
        for x in c:
            if x.__class__ is Token:
                seen_in = seen_in or x.type == "IN"
            elif x.__class__ is tuple:
                if seen_in:
                    coll = x
                else:
                    names.append(str(x[2]))
        if coll is None:
            raise Unsupported("a for expression without its collection")
        key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return _ForIntro(key_name, value_name, coll)

    def for_cond(self, c: list[Any]) -> _ForCond:
        return _ForCond(next(x for x in c if x.__class__ is tuple))

    def for_tuple_expr(self, c: list[Any]) -> Expr:
        intro = next(x for x in c if x.__class__ is _ForIntro)
        value = next(x for x in c if x.__class__ is tuple)
        cond = next((x.expr for x in c if x.__class__ is _ForCond), None)
        return ("F", self._line(c[0]), intro.key_name, intro.value_name, intro.coll, None, value, cond, False)

    def for_object_expr(self, c: list[Any]) -> Expr:
        intro = next(x for x in c if x.__class__ is _ForIntro)
        key_expr, value_expr = [x for x in c if x.__class__ is tuple]
        cond = next((x.expr for x in c if x.__class__ is _ForCond), None)
        grouped = any(x.__class__ is Token and x.type == "ELLIPSIS" for x in c)
        line = self._line(c[0])
        return ("F", line, intro.key_name, intro.value_name, intro.coll, key_expr, value_expr, cond, grouped)


# --------------------------------------------------------------------------- the parser


class _Parser(NamedTuple):
    lark: lark.Lark
    recorder: _Recorder


@lru_cache(maxsize=1)
def _parser() -> _Parser:
    """The LALR parser of python-hcl2's grammar with the builder inlined.

    It loads python-hcl2's own grammar cache (``hcl2.parser.PARSER_FILE``): lark keys that
    file on the grammar and the options it hashes, which leave out the transformer and the
    post-lexer, so passing python-hcl2's options in its order finds the tables it built.
    """
    from hcl2 import parser as hcl2_parser
    from hcl2.postlexer import PostLexer

    recorder = _Recorder(PostLexer())
    parser = lark.Lark.open(
        "hcl2.lark",
        parser="lalr",
        cache=str(hcl2_parser.PARSER_FILE),
        rel_to=hcl2_parser.__file__,
        propagate_positions=True,
        postlex=recorder,
        transformer=_Builder(recorder),
    )
    _streamline(parser)
    _linear_string_chars(parser)
    return _Parser(parser, recorder)


#: python-hcl2's STRING_CHARS matches one character per iteration of a group with lookaheads
#: (``(?:(?!\$\{)...[^"\\]|...)+``): Python's ``re`` saves backtracking state for each
#: iteration, so a 9 MB quoted string took ~2 GB and 15 s to lex. This is the same language
#: (a ``$``/``%`` is a literal unless it starts ``${``, ``$${``, ``%{``, ``%%{``), matched by
#: runs of plain characters under possessive quantifiers: no state is kept, memory stays flat.
_STRING_CHARS = r'(?:[^"\\$%]++|\\.|\$(?!\$?\{)|%(?!%?\{))++'


def _linear_string_chars(parser: lark.Lark) -> None:
    """Swap the STRING_CHARS pattern for :data:`_STRING_CHARS` before the lexers compile."""
    from lark.lexer import PatternRE

    for terminal in parser.terminals:
        if terminal.name == "STRING_CHARS" and isinstance(terminal.pattern, PatternRE):
            terminal.pattern = PatternRE(_STRING_CHARS, terminal.pattern.flags)
    frontend = getattr(parser, "parser", None)
    lexer = getattr(getattr(frontend, "lexer", None), "lexer", None)
    # The contextual lexer's per-state lexers share the terminal objects; a scanner already
    # compiled (none is, before the first parse) is dropped so it is built from the new one.
    for sub in [*getattr(lexer, "lexers", {}).values(), getattr(lexer, "root_lexer", None)]:
        if sub is not None and hasattr(sub, "_scanner"):
            sub._scanner = None


def _streamline(parser: lark.Lark) -> None:
    """Drop the work lark's callbacks do for trees this builder never makes.

    ``propagate_positions`` is only passed to find python-hcl2's grammar cache: its wrapper
    computes positions of ``Tree`` results only, and the builder returns none, so it is
    unwrapped. A ``?rule`` reduced from one non-terminal returns that child unchanged (lark's
    ExpandSingleChild), so its callback becomes ``itemgetter(0)``; the precedence ladder of the
    grammar makes that most reductions. Lark keeps these callbacks in ``Lark._callbacks``
    (the dict its LALR parser reads); if a lark version does not, nothing is changed.
    """
    from lark.grammar import NonTerminal, Rule
    from lark.parse_tree_builder import PropagatePositions

    callbacks = getattr(parser, "_callbacks", None)
    if not isinstance(callbacks, dict):
        return
    first = operator.itemgetter(0)
    for rule, callback in list(callbacks.items()):
        if not isinstance(rule, Rule):
            continue
        lean = callback.node_builder if isinstance(callback, PropagatePositions) else callback
        expansion = rule.expansion
        if (
            rule.options.expand1
            and not rule.alias
            and len(expansion) == 1
            and isinstance(expansion[0], NonTerminal)
            and not expansion[0].name.startswith("_")
        ):
            lean = first
        callbacks[rule] = lean


def expression(text: str, line: int) -> Expr:
    """Parse one expression's text (from a template or a JSON string); lines are shifted."""
    try:
        body = build(f"x = {text}", line - 1)
    except lark.exceptions.LarkError as exc:
        raise SyntaxProblem(f"invalid expression {text.strip()[:60]!r}", line) from exc
    if not body.attrs:
        raise SyntaxProblem(f"invalid expression {text.strip()[:60]!r}", line)
    return body.attrs[0].expr


def warm() -> None:
    """Build the parser (before forking workers, so that they inherit it)."""
    _parser()


def build(text: str, offset: int = 0) -> _Body:
    """Parse ``text`` (a whole file, or ``x = <expression>``) into a body.

    Raises lark's errors for text the grammar rejects, then ``SyntaxProblem`` for what
    cannot be converted, ``RecursionError`` for trees nested too deeply.
    """
    parser = _parser()
    recorder = parser.recorder
    saved = recorder.state
    state = recorder.state = _State(text, offset)
    try:
        # python-hcl2 appends a newline too: lark has no end-of-file terminal
        result: Any = parser.lark.parse(text + "\n")
    finally:
        recorder.state = saved
    if state.problems:
        raise min(state.problems, key=lambda problem: problem.line)
    if not isinstance(result, _Body):
        raise Unsupported("a file without a body")
    return result
