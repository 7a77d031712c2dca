"""Conversion of a value to a variable's declared ``type`` (what Terraform does on input).

Only what changes a value matters here: ``"22"`` -> ``22`` for a number, ``22`` -> ``"22"``
for a string, sets deduplicated and ordered, object attributes filled from ``optional()``
defaults and extra attributes dropped. A value that does not fit is left as it is.
"""

from __future__ import annotations

from typing import Any

from talosaudit.collectors.terraform.evaluator import EvalError, to_bool, to_number, to_string
from talosaudit.collectors.terraform.syntax import Expr
from talosaudit.collectors.terraform.values import Ref, Unknown


def convert(value: Any, type_expr: Expr | None) -> Any:
    if type_expr is None or value is None or isinstance(value, Unknown | Ref):
        return value
    try:
        return _convert(value, type_expr)
    except (EvalError, TypeError, ValueError):
        return value


def _convert(value: Any, t: Expr) -> Any:
    if isinstance(value, Unknown | Ref) or value is None:
        return value
    tag = t[0]
    if tag == "P":
        return _convert(value, t[2])
    if tag == "N":
        name = t[2]
        if name == "string" and not isinstance(value, list | dict):
            return to_string(value)
        if name == "number":
            return to_number(value)
        if name == "bool":
            return to_bool(value)
        return value
    if tag != "C" or not t[3]:
        return value
    name, args = t[2], t[3]
    if name in ("list", "set") and isinstance(value, list):
        items = [_convert(v, args[0]) for v in value]
        return _as_set(items) if name == "set" else items
    if name == "map" and isinstance(value, dict):
        return {k: _convert(v, args[0]) for k, v in value.items()}
    if name == "tuple" and isinstance(value, list) and args[0][0] == "U":
        types = args[0][2]
        return [_convert(v, types[i]) if i < len(types) else v for i, v in enumerate(value)]
    if name == "object" and isinstance(value, dict) and args[0][0] == "O":
        return _object(value, args[0])
    if name == "optional":
        return _convert(value, args[0])
    return value


def _object(value: dict[str, Any], spec: Expr) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key_expr, attr_type in spec[2]:
        if key_expr[0] != "L":
            continue
        key = str(key_expr[2])
        optional = attr_type[0] == "C" and attr_type[2] == "optional"
        if key in value:
            out[key] = _convert(value[key], attr_type)
        elif optional:
            default = attr_type[3][1] if len(attr_type[3]) > 1 else None
            out[key] = _convert(_constant(default), attr_type[3][0]) if default is not None else None
        else:
            raise EvalError(f"attribute {key!r} is required")
    return out


def _constant(expr: Expr) -> Any:
    """The value of a literal default inside ``optional(type, default)``."""
    tag = expr[0]
    if tag == "L":
        return expr[2]
    if tag == "U":
        return [_constant(e) for e in expr[2]]
    if tag == "O":
        return {str(k[2]): _constant(v) for k, v in expr[2] if k[0] == "L"}
    if tag == "!" and expr[2] == "-":
        return -to_number(_constant(expr[3]))
    raise EvalError("a non-literal default")


def _as_set(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out or isinstance(item, Unknown | Ref):
            out.append(item)
    if all(isinstance(i, str) for i in out):
        return sorted(out)
    return out


def wants_string(type_expr: Expr | None) -> bool:
    """Whether a ``TF_VAR_x`` value is taken literally (string or no declared type)."""
    return type_expr is None or (type_expr[0] == "N" and type_expr[2] in ("string", "any"))
