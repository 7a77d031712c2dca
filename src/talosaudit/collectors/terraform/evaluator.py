"""Evaluate expressions of the syntax tree to plain values, ``Unknown`` and ``Ref``.

Evaluation never raises out of ``evaluate()``: a Terraform error (missing attribute, index
out of range, wrong type) raises ``EvalError`` internally, which ``try``/``can`` catch and
which becomes an ``Unknown`` at the attribute that was being evaluated.

Names that stand for more than a value (``var``, ``local``, ``module``, ``data``, resource
types, resources, module instances) evaluate to ``Lazy`` objects whose attributes are only
computed when accessed; ``materialize()`` turns what is left of them into plain values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from talosaudit.collectors.terraform.syntax import Expr, render
from talosaudit.collectors.terraform.values import PartialList, Ref, Unknown


class EvalError(Exception):
    """A Terraform evaluation error (caught by try/can, else an Unknown)."""


class Lazy:
    """A value whose parts are computed on access (namespaces, resources, modules)."""

    def get_attr(self, name: str, text: str) -> Any:
        raise EvalError(f"unsupported attribute {name!r}")

    def index(self, key: Any, text: str) -> Any:
        raise EvalError("value cannot be indexed")

    def materialize(self, text: str) -> Any:
        return Unknown(text, "not a value")


class ModuleScope(Protocol):
    """What the evaluator needs from a module instance."""

    def root_name(self, name: str) -> Any: ...

    def call_function(self, name: str, args: list[Any], text: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Scope:
    module: ModuleScope
    #: count, each, for-expression variables, dynamic iterators, template variables
    names: dict[str, Any]

    def bind(self, **names: Any) -> Scope:
        return Scope(self.module, {**self.names, **names})


def unknown_from(node_text: str, inner: Unknown) -> Unknown:
    """An Unknown for an expression whose value depends on ``inner``; the reason names the
    innermost expression that could not be resolved."""
    if inner.expression == node_text:
        return inner
    if inner.origin:
        return Unknown(node_text, inner.reason, origin=inner.origin)
    return Unknown(node_text, f"{inner.expression}: {inner.reason}", origin=inner.expression)


def after_apply(node_text: str, ref: Ref) -> Unknown:
    return Unknown(node_text, f"{ref} is known only after apply", origin=str(ref))


def _not_known(value: Any, node: Expr) -> Unknown | None:
    """What an expression over ``value`` gives when ``value`` is not known before apply
    (an unknown stays itself, a reference becomes an unknown named by ``node``'s text);
    None when ``value`` is known."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Ref):
        return after_apply(render(node), value)
    return None


def has_unknown(value: Any) -> Unknown | Ref | None:
    """The first Unknown/Ref anywhere in a value (for functions that need known input)."""
    if isinstance(value, Unknown | Ref):
        return value
    if isinstance(value, list):
        for item in value:
            found = has_unknown(item)
            if found is not None:
                return found
    elif isinstance(value, dict):
        for item in value.values():
            found = has_unknown(item)
            if found is not None:
                return found
    return None


def materialize(value: Any, text: str) -> Any:
    """Replace what is left of lazy objects by plain values."""
    if isinstance(value, Lazy):
        return value.materialize(text)
    if isinstance(value, list):
        if any(isinstance(v, Lazy | list | dict) for v in value):
            return [materialize(v, text) for v in value]
        return value
    if isinstance(value, dict):
        if any(isinstance(v, Lazy | list | dict) for v in value.values()):
            return {k: materialize(v, text) for k, v in value.items()}
        return value
    return value


# ------------------------------------------------------------------------ conversions


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "value"


def to_string(value: Any) -> str:
    """Terraform's automatic conversion of a primitive to a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise EvalError(f"cannot convert {type_name(value)} to string")


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise EvalError("cannot convert bool to number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError as exc:
            raise EvalError(f"cannot convert {value!r} to number") from exc
        if math.isfinite(number) and number.is_integer() and "." not in value and "e" not in value.lower():
            return int(number)
        return int(number) if number.is_integer() else number
    raise EvalError(f"cannot convert {type_name(value)} to number")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    raise EvalError(f"cannot convert {type_name(value)} to bool")


def normalize_number(value: float) -> int | float:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


# -------------------------------------------------------------------------- evaluator


#: The largest string an expression may build; longer is "not expanded" (unresolved), never gigabytes.
MAX_STRING = 1_000_000


def evaluate(node: Expr, scope: Scope) -> Any:
    """The value of an expression (may contain Unknown, Ref and Lazy values)."""
    try:
        return _eval(node, scope)
    except EvalError as exc:
        return Unknown(render(node), f"error: {exc}")
    except RecursionError:
        return Unknown(render(node), "expression nested too deeply")
    except (MemoryError, OverflowError):
        return Unknown(render(node), "not expanded: the value is too large")


def _eval(node: Expr, scope: Scope) -> Any:
    value = _HANDLERS[node[0]](node, scope)
    if type(value) is Unknown and node[0] not in _KEEP_TEXT and not _passes_through(node):
        return unknown_from(render(node), value)
    if type(value) is PartialList and node[0] not in _KEEP_TEXT and not _passes_through(node):
        return _partial_at(node, value)
    return value


#: Functions whose result is the list they were given, or holds all its elements.
_KEEPS_PARTIAL = frozenset(
    {"concat", "tolist", "toset", "distinct", "compact", "try", "sensitive", "nonsensitive"}
)


def _partial_at(node: Expr, value: PartialList) -> Unknown:
    """A PartialList passes on only where the node's value is that list (or holds it all);
    elsewhere (``length(x)``, ``x == y``, a template) it becomes a plain Unknown."""
    text = render(node)
    keeps = node[0] in ("A", "I", "?") or (node[0] == "C" and node[2] in _KEEPS_PARTIAL)
    if not keeps:
        return unknown_from(text, value.plain())
    if value.expression == text:
        return value
    base = unknown_from(text, value.plain())
    return PartialList(base.expression, base.reason, origin=base.origin, known=value.known)


def _passes_through(node: Expr) -> bool:
    """``"${x}"`` is ``x`` itself: its Unknown keeps the inner text."""
    return node[0] == "T" and len(node[2]) == 1 and not isinstance(node[2][0], str)


def _literal(node: Expr, scope: Scope) -> Any:
    return node[2]


def _name(node: Expr, scope: Scope) -> Any:
    name = node[2]
    if name in scope.names:
        return scope.names[name]
    return scope.module.root_name(name)


def _step_into_other(obj: Any, suffix: Callable[[], str], cannot: str) -> Any:
    """An attribute or element of a value that is neither a dict nor lazy: a partial list
    gives its plain form, an unknown stays unknown, a reference grows by ``suffix()`` (called
    only then, so a key is rendered only for references); anything else is an error that
    starts with ``cannot`` ("cannot index")."""
    if isinstance(obj, PartialList):
        return obj.plain()
    if isinstance(obj, Unknown):
        return obj
    if isinstance(obj, Ref):
        return Ref(obj.address, f"{obj.attribute}{suffix()}")
    if obj is None:
        raise EvalError(f"{cannot} null")
    raise EvalError(f"{cannot} a {type_name(obj)}")


def get_attr(obj: Any, name: str, text: str) -> Any:
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        raise EvalError(f"object has no attribute {name!r}")
    if isinstance(obj, Lazy):
        return obj.get_attr(name, text)
    return _step_into_other(obj, lambda: f".{name}", f"cannot read attribute {name!r} of")


def index(obj: Any, key: Any, text: str) -> Any:
    if isinstance(key, PartialList):
        return key.plain()
    if isinstance(key, Unknown):
        return key
    if isinstance(key, Ref):
        return after_apply(text, key)
    if isinstance(obj, list):
        try:
            i = to_number(key)
        except EvalError as exc:
            raise EvalError(f"a list index must be a number, not {type_name(key)}") from exc
        if not isinstance(i, int) or i < 0 or i >= len(obj):
            raise EvalError(f"index {key} out of range for a list of {len(obj)} elements")
        return obj[i]
    if isinstance(obj, dict):
        skey = to_string(key)
        if skey in obj:
            return obj[skey]
        raise EvalError(f"key {skey!r} not found")
    if isinstance(obj, Lazy):
        return obj.index(key, text)
    return _step_into_other(obj, lambda: f"[{to_string(key)!r}]", "cannot index")


def _attr(node: Expr, scope: Scope) -> Any:
    return get_attr(_eval(node[2], scope), node[3], _lazy_text(node))


def _index(node: Expr, scope: Scope) -> Any:
    obj = _eval(node[2], scope)
    key = _eval(node[3], scope)
    return index(obj, key, _lazy_text(node))


def _lazy_text(node: Expr) -> str:
    return render(node)


def _splat(node: Expr, scope: Scope) -> Any:
    obj = _eval(node[2], scope)
    if isinstance(obj, Unknown):
        return obj
    if obj is None:
        return []
    items = obj if isinstance(obj, list) else [obj]
    out = []
    text = _lazy_text(node)
    for item in items:
        value = item
        for op in node[3]:
            value = get_attr(value, op[1], text) if op[0] == "A" else index(value, _eval(op[1], scope), text)
        out.append(value)
    return out


def _tuple(node: Expr, scope: Scope) -> Any:
    return [_eval(item, scope) for item in node[2]]


def _object(node: Expr, scope: Scope) -> Any:
    out: dict[str, Any] = {}
    for key_node, value_node in node[2]:
        key = _eval(key_node, scope)
        if isinstance(key, Unknown | Ref):
            return Unknown(render(node), f"object key {render(key_node)} is unknown")
        out[to_string(key)] = _eval(value_node, scope)
    return out


def _conditional(node: Expr, scope: Scope) -> Any:
    cond = _eval(node[2], scope)
    if (pending := _not_known(cond, node)) is not None:
        return pending
    return _eval(node[3] if to_bool(cond) else node[4], scope)


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": math.fmod,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _binary(node: Expr, scope: Scope) -> Any:
    op = node[2]
    left = _eval(node[3], scope)
    if op in ("&&", "||"):
        return _logic(op, left, node, scope)
    right = _eval(node[4], scope)
    for side in (left, right):
        if (pending := _not_known(side, node)) is not None:
            return pending
        if isinstance(side, Lazy) and op not in ("==", "!="):
            raise EvalError(f"operator {op} needs primitive values")
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    a, b = to_number(left), to_number(right)
    if op in ("/", "%") and b == 0:
        raise EvalError("division by zero")
    result = _ARITH[op](a, b)
    return normalize_number(result) if isinstance(result, float) else result


def _logic(op: str, left: Any, node: Expr, scope: Scope) -> Any:
    # A known side that decides the result wins over an unknown other side.
    decisive = op == "||"
    if isinstance(left, bool) and left is decisive:
        return decisive
    right = _eval(node[4], scope)
    if isinstance(right, bool) and right is decisive:
        return decisive
    for side in (left, right):
        if (pending := _not_known(side, node)) is not None:
            return pending
    return to_bool(right)


def _unary(node: Expr, scope: Scope) -> Any:
    value = _eval(node[3], scope)
    if (pending := _not_known(value, node)) is not None:
        return pending
    if node[2] == "!":
        return not to_bool(value)
    return -to_number(value)


def _paren(node: Expr, scope: Scope) -> Any:
    return _eval(node[2], scope)


# ------------------------------------------------------------------------- templates


def _template(node: Expr, scope: Scope) -> Any:
    parts = node[2]
    if len(parts) == 1 and not isinstance(parts[0], str) and parts[0][0] not in ("%if", "%for"):
        return _eval(parts[0], scope)  # "${x}" is x itself, not its string form
    out: list[str] = []
    problem = _render_parts(parts, scope, out)
    if problem is not None:
        return problem if isinstance(problem, Unknown) else after_apply(render(node), problem)
    if sum(len(part) for part in out) > MAX_STRING:  # "${local.s}${local.s}" doubling through locals
        raise EvalError(f"not expanded: value larger than {MAX_STRING} characters")
    return "".join(out)


def _render_parts(parts: tuple[Any, ...], scope: Scope, out: list[str]) -> Unknown | Ref | None:
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        tag = part[0]
        if tag == "%if":
            cond = _eval(part[1], scope)
            if isinstance(cond, Unknown | Ref):
                return cond
            problem = _render_parts(part[2] if to_bool(cond) else part[3], scope, out)
            if problem is not None:
                return problem
        elif tag == "%for":
            coll = _eval(part[3], scope)
            if isinstance(coll, Unknown | Ref):
                return coll
            for key, value in iterate(coll):
                names = {part[2]: value}
                if part[1]:
                    names[part[1]] = key
                problem = _render_parts(part[4], scope.bind(**names), out)
                if problem is not None:
                    return problem
        else:
            value = _eval(part, scope)
            if isinstance(value, Unknown | Ref):
                return value
            if value is None:
                raise EvalError("a template cannot interpolate null")
            if isinstance(value, list | dict | Lazy):
                raise EvalError(f"a template cannot interpolate a {type_name(value)}")
            out.append(to_string(value))
    return None


def iterate(coll: Any) -> list[tuple[Any, Any]]:
    """(key, value) pairs of a collection in Terraform's order (maps by key)."""
    if isinstance(coll, list):
        return list(enumerate(coll))
    if isinstance(coll, dict):
        return [(k, coll[k]) for k in sorted(coll)]
    if isinstance(coll, Lazy):
        value = coll.materialize("")
        if isinstance(value, list | dict):
            return iterate(value)
    if coll is None:
        raise EvalError("cannot iterate over null")
    raise EvalError(f"cannot iterate over a {type_name(coll)}")


# -------------------------------------------------------------------- for expressions


def _for(node: Expr, scope: Scope) -> Any:
    _, _, key_name, value_name, coll_node, key_expr, value_expr, cond, grouped = node
    coll = _eval(coll_node, scope)
    if (pending := _not_known(coll, node)) is not None:
        return pending
    as_list: list[Any] = []
    as_map: dict[str, Any] = {}
    for key, value in iterate(coll):
        names = {value_name: value}
        if key_name:
            names[key_name] = key
        inner = scope.bind(**names)
        if cond is not None:
            keep = _eval(cond, inner)
            if isinstance(keep, Unknown | Ref):
                return keep if isinstance(keep, Unknown) else after_apply(render(node), keep)
            if not to_bool(keep):
                continue
        if key_expr is None:
            as_list.append(_eval(value_expr, inner))
            continue
        out_key = _eval(key_expr, inner)
        if isinstance(out_key, Unknown | Ref):
            return out_key if isinstance(out_key, Unknown) else after_apply(render(node), out_key)
        skey = to_string(out_key)
        out_value = _eval(value_expr, inner)
        if grouped:
            as_map.setdefault(skey, []).append(out_value)
        elif skey in as_map:
            raise EvalError(f"duplicate key {skey!r} in for expression")
        else:
            as_map[skey] = out_value
    return as_list if key_expr is None else as_map


# ---------------------------------------------------------------------- function calls


def _call(node: Expr, scope: Scope) -> Any:
    name = node[2]
    if name in ("try", "can"):
        return _try_can(name, node, scope)
    args = [_eval(arg, scope) for arg in node[3]]
    if node[4] and args:  # f(a, list...)
        last = args.pop()
        if isinstance(last, Unknown):
            return last
        if not isinstance(last, list):
            raise EvalError("only a list can be expanded into arguments")
        args.extend(last)
    return scope.module.call_function(name, args, render(node))


def _try_can(name: str, node: Expr, scope: Scope) -> Any:
    for arg in node[3]:
        try:
            value = _eval(arg, scope)
        except EvalError:
            if name == "can":
                return False
            continue
        if name == "can":
            if isinstance(value, Unknown):
                return value
            return True
        return value
    if name == "can":
        return False
    raise EvalError("no argument of try() could be evaluated")


_HANDLERS: dict[str, Callable[[Expr, Scope], Any]] = {
    "L": _literal,
    "N": _name,
    "A": _attr,
    "I": _index,
    "S": _splat,
    "U": _tuple,
    "O": _object,
    "C": _call,
    "?": _conditional,
    "B": _binary,
    "!": _unary,
    "P": _paren,
    "T": _template,
    "F": _for,
}
#: Tags whose Unknown result is passed on under its own text.
_KEEP_TEXT = frozenset({"P", "N", "L"})


def evaluate_strict(node: Expr, scope: Scope) -> Any:
    """Like ``evaluate`` but lets EvalError through (for try/can-like callers)."""
    return _eval(node, scope)
