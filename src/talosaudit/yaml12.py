"""YAML scalars as Talos reads them: Go's ``gopkg.in/yaml.v3``, the YAML 1.2 core schema.

PyYAML resolves plain scalars by YAML 1.1, which Talos does not: ``on``/``off``/``yes``/``no``
would be booleans there (Talos reads the strings), ``1:30`` a sexagesimal number (PyYAML's
``1:1:...:1.5`` even overflows) and ``2024-01-01`` a date. The loaders here resolve only what
yaml.v3 resolves: ``null``/``~``/empty, ``true``/``false`` (three spellings each), integers in
ASCII digits (``0x``, ``0o``, ``0b`` and Go's ``0777`` octal, ``_`` separators) within 64 bits,
and 1.2 floats (``.inf``, ``.nan``). Everything else is a string.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
#: Go's int64/uint64 range: a longer literal is a string to yaml.v3 (and to us, so no
#: 5,000-digit integer is ever built or printed).
_INT_LIMIT = 1 << 64
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int | str:
    text = str(node.value)
    if len(text) > 100 or not _INT.match(text):
        return text
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if digits.startswith(("0b", "0o", "0x")):
        value = int(digits[2:], {"0b": 2, "0o": 8, "0x": 16}[digits[:2]])
    elif len(digits) > 1 and digits.startswith("0") and set(digits) <= set("01234567"):
        value = int(digits, 8)  # Go's 1.1-style octal, which yaml.v3 still reads
    else:
        value = int(digits, 10)
    return sign * value if value < _INT_LIMIT else text


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float | str:
    text = str(node.value)
    if len(text) > 100:
        return text
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text.replace("_", ""))


def core_schema(base: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """A subclass of ``base`` whose implicit resolvers and numbers follow yaml.v3."""
    namespace: dict[str, Any] = {
        "yaml_implicit_resolvers": {},
        "yaml_constructors": dict(base.yaml_constructors),
    }
    loader: Any = type(f"Core{base.__name__}", (base,), namespace)
    loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
    loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
    loader.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
    loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+.0123456789"))
    loader.add_constructor(_INT_TAG, _construct_int)
    loader.add_constructor(_FLOAT_TAG, _construct_float)
    # A YAML 1.1 timestamp is a string to yaml.v3 (decoded into a string field).
    loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    return loader  # type: ignore[no-any-return]


#: The pure-Python safe loader with the core schema (for small files such as the config).
CoreSafeLoader = core_schema(yaml.SafeLoader)
#: libyaml's event parser when PyYAML was built with it, with the core schema.
CoreFastLoader = core_schema(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the core schema."""
    return yaml.load(text, Loader=CoreSafeLoader)
