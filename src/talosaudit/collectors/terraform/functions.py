"""Terraform's built-in functions, as far as firewall rules need them.

Each function takes evaluated arguments. Functions registered as *strict* never see an
Unknown or Ref: the caller turns the call into an Unknown first. The others (``length``,
``concat``, ``merge``, ``coalesce``...) handle unknown parts themselves, because their
result is often known anyway. ``try``/``can`` are handled by the evaluator (lazy args).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import itertools
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2

from talosaudit.collectors.terraform.evaluator import (
    MAX_STRING,
    EvalError,
    Lazy,
    equal,
    has_unknown,
    normalize_number,
    to_bool,
    to_number,
    to_string,
    type_name,
    unknown_from,
)
from talosaudit.collectors.terraform.values import PartialList, Ref, Unknown
from talosaudit.regular_files import NOT_REGULAR, NotRegularFileError, read_bytes


class FileAccess:
    """Where ``file()``/``templatefile()`` may read: inside the scan root only."""

    def __init__(
        self,
        scan_root: Path,
        base_dir: Path,
        render_template: Callable[[str, dict[str, Any]], Any],
        on_read: Callable[[str], None] | None = None,
    ):
        self.scan_root = os.path.realpath(scan_root)
        self.base_dir = base_dir
        self.render_template = render_template
        #: Told the real path of every file read (the root module that reads it owns it).
        self.on_read = on_read

    def read(self, name: str) -> str | None:
        path = os.path.realpath(self.base_dir / name)
        if os.path.commonpath([self.scan_root, path]) != self.scan_root:
            return None
        if self.on_read is not None:
            self.on_read(path)
        try:
            return read_bytes(path, 10 * 1024 * 1024).decode("utf-8")
        except NotRegularFileError as exc:
            raise EvalError(f"cannot read file {name!r}: {NOT_REGULAR}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise EvalError(f"cannot read file {name!r}") from exc


Fn = Callable[..., Any]
_STRICT: dict[str, Fn] = {}
_LENIENT: dict[str, Fn] = {}
_NEEDS_FILES = frozenset({"file", "templatefile", "fileexists"})


def strict(*names: str) -> Callable[[Fn], Fn]:
    def register(fn: Fn) -> Fn:
        for name in names:
            _STRICT[name] = fn
        return fn

    return register


def lenient(*names: str) -> Callable[[Fn], Fn]:
    def register(fn: Fn) -> Fn:
        for name in names:
            _LENIENT[name] = fn
        return fn

    return register


def call(name: str, args: list[Any], text: str, files: FileAccess | None) -> Any:
    """Call a function; an unsupported one is an Unknown naming it."""
    short = name.rsplit("::", maxsplit=1)[-1] if name.startswith("provider::") else name
    if name in _LENIENT:
        result = _LENIENT[name](*args)
        if name == "concat" and isinstance(result, Unknown):
            return _partial_concat(args, text, result)
        return _bounded(name, result)
    fn = _STRICT.get(name)
    if fn is None:
        return Unknown(text, f"function {short} is not supported")
    if name == "yamlencode" and len(args) == 1 and isinstance(args[0], dict | list):
        # A document with one unknown leaf (a certSAN known after apply) is still a document:
        # each unknown leaf is written as its own ``${expression}`` so that readers of the
        # YAML (Talos patches) count the known fields and see the unknown ones as unresolved.
        args = [_leaves_marked(args[0])]
    for arg in args:
        found = has_unknown(arg)
        if isinstance(found, Unknown):
            return unknown_from(text, found)
        if isinstance(found, Ref):
            return Unknown(text, f"{found} is known only after apply", origin=str(found))
    args = [a.materialize(text) if isinstance(a, Lazy) else a for a in args]
    if name in _NEEDS_FILES:
        if files is None:
            return Unknown(text, "files are not read here")
        return fn(files, text, *args)
    try:
        return _bounded(name, fn(*args))
    except TypeError as exc:
        raise EvalError(f"{name}(): wrong number or kind of arguments") from exc
    except OverflowError as exc:
        raise EvalError(f"{name}(): not expanded: value larger than a number can hold") from exc


#: The most items a list or map a function returns may hold: each call is checked, so
#: doubling through locals (``concat(local.a, local.a)``) stops at twice this, not at 2**40.
MAX_ITEMS = 100_000


def _bounded(name: str, result: Any) -> Any:
    if isinstance(result, str) and len(result) > MAX_STRING:
        raise EvalError(f"{name}(): not expanded: value larger than {MAX_STRING} characters")
    if isinstance(result, list | dict) and len(result) > MAX_ITEMS:
        raise EvalError(f"{name}(): not expanded: more than {MAX_ITEMS} items")
    return result


def _width(value: int, fn: str) -> int:
    """A padding or indent width that cannot build a string over MAX_STRING."""
    if value > MAX_STRING:
        raise EvalError(f"{fn}(): not expanded: value larger than {MAX_STRING} characters")
    return value


def _leaves_marked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _leaves_marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_leaves_marked(v) for v in value]
    if isinstance(value, Unknown):
        return "${" + (value.origin or value.expression) + "}"
    if isinstance(value, Ref):
        return "${" + str(value) + "}"
    return value


def _list(value: Any, fn: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise EvalError(f"{fn}() expects a list, not {type_name(value)}")


def _map(value: Any, fn: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise EvalError(f"{fn}() expects a map, not {type_name(value)}")


def _int(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise EvalError(f"{number} is not a whole number")
        return int(number)
    return number


# ------------------------------------------------------------- collections (lenient)


@lenient("length")
def _length(value: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Lazy):
        value = value.materialize("")
    if isinstance(value, list | dict):
        return len(value)
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Ref):
        return Unknown(str(value), "known only after apply")
    raise EvalError(f"length() of a {type_name(value)}")


def _first_unknown(*values: Any) -> Unknown | None:
    for value in values:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Ref):
            return Unknown(str(value), "known only after apply")
    return None


@lenient("concat")
def _concat(*lists: Any) -> Any:
    out: list[Any] = []
    for item in lists:
        found = _first_unknown(item)
        if found:
            return found
        out.extend(_list(item, "concat"))
    return out


def _partial_concat(lists: list[Any], text: str, cause: Unknown) -> Unknown:
    """``concat()`` of known and unknown lists: unknown, but surely holding the known ones."""
    known: list[Any] = []
    for item in lists:
        if isinstance(item, PartialList):
            known += item.known
        elif isinstance(item, list):
            known += item
        elif not isinstance(item, Unknown | Ref):
            return cause
    if not known:
        return cause
    base = unknown_from(text, cause.plain() if isinstance(cause, PartialList) else cause)
    return PartialList(base.expression, base.reason, origin=base.origin, known=tuple(known))


@lenient("merge")
def _merge(*maps: Any) -> Any:
    out: dict[str, Any] = {}
    for item in maps:
        if item is None:
            continue
        found = _first_unknown(item)
        if found:
            return found
        out.update(_map(item, "merge"))
    return out


@lenient("coalesce")
def _coalesce(*values: Any) -> Any:
    for value in values:
        if isinstance(value, Unknown | Ref):
            return value if isinstance(value, Unknown) else Unknown(str(value), "known only after apply")
        if value is not None and value != "":
            return value
    raise EvalError("coalesce(): no non-null, non-empty argument")


@lenient("coalescelist")
def _coalescelist(*values: Any) -> Any:
    for value in values:
        found = _first_unknown(value)
        if found:
            return found
        if _list(value, "coalescelist"):
            return value
    raise EvalError("coalescelist(): no non-empty list")


@lenient("tolist")
def _tolist(value: Any) -> Any:
    found = _first_unknown(value)
    if found:
        return found
    return _list(value, "tolist")


@lenient("toset")
def _toset(value: Any) -> Any:
    found = _first_unknown(value)
    if found:
        return found
    return _set(_list(value, "toset"))


def _set(items: list[Any]) -> list[Any]:
    """Terraform sets: no duplicates; sets of known strings are ordered lexically."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, Unknown | Ref) or not any(equal(item, seen) for seen in out):
            out.append(item)
    if all(isinstance(i, str) for i in out):
        return sorted(out)
    return out


@lenient("tomap")
def _tomap(value: Any) -> Any:
    found = _first_unknown(value)
    return found if found else dict(_map(value, "tomap"))


@lenient("element")
def _element(items: Any, idx: Any) -> Any:
    found = _first_unknown(items, idx)
    if found:
        return found
    items = _list(items, "element")
    if not items:
        raise EvalError("element() of an empty list")
    return items[_int(idx) % len(items)]


@lenient("lookup")
def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    found = _first_unknown(mapping, key)
    if found:
        return found
    mapping = _map(mapping, "lookup")
    skey = to_string(key)
    if skey in mapping:
        return mapping[skey]
    if default:
        return default[0]
    raise EvalError(f"lookup(): key {skey!r} not found")


@lenient("flatten")
def _flatten(items: Any) -> Any:
    found = _first_unknown(items)
    if found:
        return found
    out: list[Any] = []
    for item in _list(items, "flatten"):
        if isinstance(item, Unknown):
            return item  # it may be a list: the result's length is unknown
        if isinstance(item, list):
            inner = _flatten(item)
            if isinstance(inner, Unknown):
                return inner
            out.extend(inner)
        else:
            out.append(item)
    return out


@lenient("keys")
def _keys(mapping: Any) -> Any:
    found = _first_unknown(mapping)
    return found if found else sorted(_map(mapping, "keys"))


@lenient("values")
def _values(mapping: Any) -> Any:
    found = _first_unknown(mapping)
    if found:
        return found
    mapping = _map(mapping, "values")
    return [mapping[k] for k in sorted(mapping)]


@lenient("contains")
def _contains(items: Any, value: Any) -> Any:
    found = _first_unknown(items, value)
    if found:
        return found
    unsure = None
    for item in _list(items, "contains"):
        if isinstance(item, Unknown | Ref):
            unsure = item
        elif equal(item, value):
            return True
    return Unknown(str(unsure), "list element is unknown") if unsure is not None else False


@lenient("distinct")
def _distinct(items: Any) -> Any:
    found = _first_unknown(items)
    if found:
        return found
    out: list[Any] = []
    seen_scalars: set[tuple[str, Any]] = set()
    for item in _list(items, "distinct"):
        if isinstance(item, Unknown | Ref):
            out.append(item)
        elif isinstance(item, str | int | float | bool):
            # Scalars by a hashed key (linear); `equal` treats 1 and 1.0 alike, bools apart.
            key = (
                ("b", item)
                if isinstance(item, bool)
                else ("s", item)
                if isinstance(item, str)
                else ("n", item)
            )
            if key not in seen_scalars:
                seen_scalars.add(key)
                out.append(item)
        elif not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


@lenient("compact")
def _compact(items: Any) -> Any:
    found = _first_unknown(items)
    if found:
        return found
    return [i for i in _list(items, "compact") if i is not None and i != ""]


@lenient("slice")
def _slice(items: Any, start: Any, end: Any) -> Any:
    found = _first_unknown(items, start, end)
    if found:
        return found
    items = _list(items, "slice")
    a, b = _int(start), _int(end)
    if a < 0 or b > len(items) or a > b:
        raise EvalError("slice(): index out of range")
    return items[a:b]


@lenient("reverse")
def _reverse(items: Any) -> Any:
    found = _first_unknown(items)
    return found if found else list(reversed(_list(items, "reverse")))


@lenient("one")
def _one(items: Any) -> Any:
    found = _first_unknown(items)
    if found:
        return found
    items = _list(items, "one")
    if len(items) > 1:
        raise EvalError("one(): more than one element")
    return items[0] if items else None


@lenient("zipmap")
def _zipmap(keys: Any, values: Any) -> Any:
    found = _first_unknown(keys, values) or has_unknown(keys)
    if found:
        return found if isinstance(found, Unknown) else Unknown(str(found), "known only after apply")
    keys, values = _list(keys, "zipmap"), _list(values, "zipmap")
    if len(keys) != len(values):
        raise EvalError("zipmap(): lists of different lengths")
    return {to_string(k): v for k, v in zip(keys, values, strict=True)}


@lenient("setunion")
def _setunion(*sets: Any) -> Any:
    found = _first_unknown(*sets)
    if found:
        return found
    return _set([i for s in sets for i in _list(s, "setunion")])


@lenient("sensitive", "nonsensitive")
def _identity(value: Any) -> Any:
    return value


@lenient("chunklist")
def _chunklist(items: Any, size: Any) -> Any:
    found = _first_unknown(items, size)
    if found:
        return found
    items, n = _list(items, "chunklist"), _int(size)
    if n <= 0:
        return [items]
    return [items[i : i + n] for i in range(0, len(items), n)]


# --------------------------------------------------------------------- strict: lists


@strict("setintersection")
def _setintersection(first: Any, *rest: Any) -> Any:
    out = [i for i in _list(first, "setintersection") if all(any(equal(i, j) for j in r) for r in rest)]
    return _set(out)


@strict("setsubtract")
def _setsubtract(a: Any, b: Any) -> Any:
    return _set([i for i in _list(a, "setsubtract") if not any(equal(i, j) for j in _list(b, "setsubtract"))])


@strict("setproduct")
def _setproduct(*sets: Any) -> Any:
    """Every combination, one element from each argument, in argument order (Terraform's
    order for lists; sets are already kept sorted)."""
    if len(sets) < 2:
        raise EvalError("setproduct() needs at least two arguments")
    lists = [_list(s, "setproduct") for s in sets]
    if math.prod(len(items) for items in lists) > 4096:
        raise EvalError("setproduct(): more than 4096 elements")
    return [list(combo) for combo in itertools.product(*lists)]


@strict("sort")
def _sort(items: Any) -> Any:
    return sorted(to_string(i) for i in _list(items, "sort"))


@strict("range")
def _range(*args: Any) -> Any:
    nums: list[int | float] = [to_number(a) for a in args]
    start: int | float
    end: int | float
    step: int | float
    if len(nums) == 1:
        start, end, step = 0, nums[0], 1
    elif len(nums) == 2:
        start, end, step = nums[0], nums[1], (1 if nums[1] >= nums[0] else -1)
    elif len(nums) == 3:
        start, end, step = nums
    else:
        raise EvalError("range() takes 1 to 3 arguments")
    if step == 0:
        raise EvalError("range(): step must not be zero")
    count = max(0, math.ceil((end - start) / step))
    if count > 1024:
        raise EvalError("range(): more than 1024 elements")
    return [normalize_number(start + i * step) for i in range(count)]


@strict("index")
def _index_of(items: Any, value: Any) -> Any:
    for i, item in enumerate(_list(items, "index")):
        if equal(item, value):
            return i
    raise EvalError("index(): value not found")


@strict("sum")
def _sum(items: Any) -> Any:
    values = [to_number(i) for i in _list(items, "sum")]
    if not values:
        raise EvalError("sum() of an empty list")
    total = sum(values)
    return normalize_number(total) if isinstance(total, float) else total


@strict("alltrue")
def _alltrue(items: Any) -> Any:
    return all(to_bool(i) for i in _list(items, "alltrue"))


@strict("anytrue")
def _anytrue(items: Any) -> Any:
    return any(to_bool(i) for i in _list(items, "anytrue"))


@strict("matchkeys")
def _matchkeys(values: Any, keys: Any, search: Any) -> Any:
    pairs = zip(_list(values, "matchkeys"), _list(keys, "matchkeys"), strict=True)
    return [v for v, k in pairs if any(equal(k, s) for s in _list(search, "matchkeys"))]


@strict("transpose")
def _transpose(mapping: Any) -> Any:
    out: dict[str, list[str]] = {}
    for key, items in sorted(_map(mapping, "transpose").items()):
        for item in _list(items, "transpose"):
            out.setdefault(to_string(item), []).append(key)
    return out


# ------------------------------------------------------------------- strict: strings


@strict("tostring")
def _tostring(value: Any) -> Any:
    return None if value is None else to_string(value)


@strict("tonumber")
def _tonumber(value: Any) -> Any:
    return None if value is None else to_number(value)


@strict("tobool")
def _tobool(value: Any) -> Any:
    return None if value is None else to_bool(value)


@strict("join")
def _join(sep: Any, *lists: Any) -> Any:
    return to_string(sep).join(to_string(i) for lst in lists for i in _list(lst, "join"))


@strict("split")
def _split(sep: Any, text: Any) -> Any:
    text = to_string(text)
    return text.split(to_string(sep)) if text else [""]


@strict("lower")
def _lower(text: Any) -> Any:
    return to_string(text).lower()


@strict("upper")
def _upper(text: Any) -> Any:
    return to_string(text).upper()


@strict("title")
def _title(text: Any) -> Any:
    return re.sub(r"\b\w", lambda m: m.group(0).upper(), to_string(text))


@strict("trimspace")
def _trimspace(text: Any) -> Any:
    return to_string(text).strip()


@strict("chomp")
def _chomp(text: Any) -> Any:
    return re.sub(r"[\r\n]+$", "", to_string(text))


@strict("trim")
def _trim(text: Any, chars: Any) -> Any:
    return to_string(text).strip(to_string(chars))


@strict("trimprefix")
def _trimprefix(text: Any, prefix: Any) -> Any:
    return to_string(text).removeprefix(to_string(prefix))


@strict("trimsuffix")
def _trimsuffix(text: Any, suffix: Any) -> Any:
    return to_string(text).removesuffix(to_string(suffix))


@strict("startswith")
def _startswith(text: Any, prefix: Any) -> Any:
    return to_string(text).startswith(to_string(prefix))


@strict("endswith")
def _endswith(text: Any, suffix: Any) -> Any:
    return to_string(text).endswith(to_string(suffix))


@strict("strcontains")
def _strcontains(text: Any, sub: Any) -> Any:
    return to_string(sub) in to_string(text)


@strict("substr")
def _substr(text: Any, offset: Any, length: Any) -> Any:
    text, start, size = to_string(text), _int(offset), _int(length)
    if start < 0:
        start += len(text)
    return text[start:] if size < 0 else text[start : start + size]


@strict("strrev")
def _strrev(text: Any) -> Any:
    return to_string(text)[::-1]


@strict("indent")
def _indent(spaces: Any, text: Any) -> Any:
    text = to_string(text)
    spaces = _int(spaces)
    _width(len(text) + text.count("\n") * max(spaces, 0), "indent")
    return text.replace("\n", "\n" + " " * spaces)


@strict("replace")
def _replace(text: Any, search: Any, replacement: Any) -> Any:
    text, search, replacement = to_string(text), to_string(search), to_string(replacement)
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        pattern = _regex(search[1:-1])
        return pattern.sub(re.sub(r"\$(\d+)", r"\\\1", replacement), text)
    return text.replace(search, replacement)


@strict("format")
def _format(spec: Any, *args: Any) -> Any:
    return _format_one(to_string(spec), list(args))


@strict("formatlist")
def _formatlist(spec: Any, *args: Any) -> Any:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise EvalError("formatlist(): lists of different lengths")
    n = lengths.pop() if lengths else 1
    return [
        _format_one(to_string(spec), [a[i] if isinstance(a, list) else a for a in args]) for i in range(n)
    ]


_VERB = re.compile(r"%(?:\[(\d+)\])?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _format_one(spec: str, args: list[Any]) -> str:
    position = 0

    def one(m: re.Match[str]) -> str:
        nonlocal position
        explicit, flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        if explicit:
            position = int(explicit) - 1
        if position >= len(args):
            raise EvalError("format(): not enough arguments")
        value = args[position]
        position += 1
        if verb in ("s", "v"):
            text = json.dumps(value) if isinstance(value, list | dict) else to_string(value)
        elif verb == "d":
            number = _int(value)
            if abs(number) >= 10**300:
                raise EvalError("format(): not expanded: number larger than 300 digits")
            text = str(number)
        elif verb in ("f", "e", "g"):
            text = f"{to_number(value):.{precision or 6}{verb}}"
        elif verb == "q":
            text = json.dumps(to_string(value))
        elif verb == "t":
            text = "true" if to_bool(value) else "false"
        elif verb in ("x", "X", "o", "b"):
            text = format(_int(value), verb)
        else:
            raise EvalError(f"format(): unsupported verb %{verb}")
        if width:
            _width(int(width), "format")
            text = (
                text.ljust(int(width))
                if "-" in flags
                else text.rjust(int(width), "0" if "0" in flags else " ")
            )
        return text

    return _VERB.sub(one, spec)


def _regex(pattern: str) -> Any:
    """Terraform's own dialect, RE2 (Go's regexp): linear time whatever the pattern, so a
    hostile ``regex("^(a|aa)+$", ...)`` cannot hang the scan as a backtracking engine would."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise EvalError(f"invalid regular expression: {detail}") from exc


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print parse errors on stderr; ours say it once
    return options


_RE2_OPTIONS = _re2_options()


def _match_value(pattern: Any, m: Any) -> Any:
    if pattern.groupindex:
        return {k: m.group(k) for k in pattern.groupindex}
    if pattern.groups:
        return list(m.groups())
    return m.group(0)


@strict("regex")
def _regex_fn(pattern: Any, text: Any) -> Any:
    compiled = _regex(to_string(pattern))
    m = compiled.search(to_string(text))
    if m is None:
        raise EvalError("regex(): no match")
    return _match_value(compiled, m)


@strict("regexall")
def _regexall(pattern: Any, text: Any) -> Any:
    compiled = _regex(to_string(pattern))
    return [_match_value(compiled, m) for m in compiled.finditer(to_string(text))]


# ------------------------------------------------------------------- strict: numbers


@strict("min")
def _min(*values: Any) -> Any:
    return min(to_number(v) for v in values)


@strict("max")
def _max(*values: Any) -> Any:
    return max(to_number(v) for v in values)


@strict("abs")
def _abs(value: Any) -> Any:
    return abs(to_number(value))


@strict("ceil")
def _ceil(value: Any) -> Any:
    return math.ceil(to_number(value))


@strict("floor")
def _floor(value: Any) -> Any:
    return math.floor(to_number(value))


@strict("signum")
def _signum(value: Any) -> Any:
    number = to_number(value)
    return (number > 0) - (number < 0)


@strict("pow")
def _pow(a: Any, b: Any) -> Any:
    # In floats, as Terraform's numbers: pow(7, 300000000) overflows at once instead of
    # computing a 250-million-digit integer.
    return normalize_number(math.pow(float(to_number(a)), float(to_number(b))))


@strict("parseint")
def _parseint(text: Any, base: Any) -> Any:
    try:
        return int(to_string(text), _int(base))
    except ValueError as exc:
        raise EvalError(f"parseint(): {exc}") from exc


# ---------------------------------------------------------------------- strict: CIDR


def _network(prefix: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(to_string(prefix), strict=False)
    except ValueError as exc:
        raise EvalError(f"invalid CIDR {prefix!r}") from exc


@strict("cidrsubnet")
def _cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> Any:
    net = _network(prefix)
    bits, num = _int(newbits), _int(netnum)
    new_prefix = net.prefixlen + bits
    if bits < 0 or new_prefix > net.max_prefixlen or num < 0 or num >= (1 << bits):
        raise EvalError(f"cidrsubnet(): cannot make subnet {num} with {bits} more bits of {net}")
    base = int(net.network_address) + (num << (net.max_prefixlen - new_prefix))
    return f"{ipaddress.ip_address(base) if net.version == 4 else ipaddress.IPv6Address(base)}/{new_prefix}"


@strict("cidrsubnets")
def _cidrsubnets(prefix: Any, *newbits: Any) -> Any:
    net = _network(prefix)
    out: list[str] = []
    current = int(net.network_address)
    for bits in newbits:
        size = 1 << (net.max_prefixlen - net.prefixlen - _int(bits))
        current = (current + size - 1) // size * size
        addr = ipaddress.ip_address(current) if net.version == 4 else ipaddress.IPv6Address(current)
        out.append(f"{addr}/{net.prefixlen + _int(bits)}")
        current += size
    return out


@strict("cidrhost")
def _cidrhost(prefix: Any, hostnum: Any) -> Any:
    net = _network(prefix)
    num = _int(hostnum)
    if num < 0:
        num += net.num_addresses
    if num < 0 or num >= net.num_addresses:
        raise EvalError(f"cidrhost(): host {hostnum} is outside {net}")
    return str(net.network_address + num)


@strict("cidrnetmask")
def _cidrnetmask(prefix: Any) -> Any:
    net = _network(prefix)
    if net.version != 4:
        raise EvalError("cidrnetmask() needs an IPv4 prefix")
    return str(net.netmask)


# ----------------------------------------------------------------- strict: encodings


@strict("jsonencode")
def _jsonencode(value: Any) -> Any:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@strict("jsondecode")
def _jsondecode(text: Any) -> Any:
    try:
        return _numbers(json.loads(to_string(text)))
    except ValueError as exc:
        raise EvalError(f"jsondecode(): {exc}") from exc


@strict("yamlencode")
def _yamlencode(value: Any) -> Any:
    import yaml

    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False)


@strict("yamldecode")
def _yamldecode(text: Any) -> Any:
    # The bounded loader of Talos configs: an alias bomb or deep nesting stops at its node
    # and depth limits (an error here, an unresolved expression) instead of exhausting memory.
    from talosaudit.collectors.yamlsafe import load_documents

    loaded = load_documents(to_string(text), "yamldecode")
    if loaded.error is not None:
        raise EvalError(f"yamldecode(): {loaded.error.message}")
    if len(loaded.documents) != 1:
        raise EvalError("yamldecode(): expects exactly one YAML document")
    return _numbers(_plain(loaded.documents[0][0]))


def _plain(value: Any) -> Any:
    """Plain dicts and lists (the loader's values remember lines, which HCL values do not)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _numbers(v) for k, v in value.items()}
    if not isinstance(value, str | int | bool) and value is not None:
        return str(value)  # YAML dates and the like
    return value


@strict("base64encode")
def _b64encode(text: Any) -> Any:
    return base64.b64encode(to_string(text).encode()).decode()


@strict("base64decode")
def _b64decode(text: Any) -> Any:
    try:
        return base64.b64decode(to_string(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalError("base64decode(): invalid input") from exc


def _hasher(algorithm: str) -> Fn:
    def digest(text: Any) -> str:
        return hashlib.new(algorithm, to_string(text).encode()).hexdigest()

    return digest


for _algorithm in ("md5", "sha1", "sha256", "sha512"):
    _STRICT[_algorithm] = _hasher(_algorithm)


@strict("basename")
def _basename(path: Any) -> Any:
    return os.path.basename(to_string(path))


@strict("dirname")
def _dirname(path: Any) -> Any:
    return os.path.dirname(to_string(path)) or "."


# --------------------------------------------------------------------- strict: files


@strict("file")
def _file(files: FileAccess, text: str, name: Any) -> Any:
    content = files.read(to_string(name))
    if content is None:
        return Unknown(text, "file outside the scanned directory is not read")
    return content


@strict("fileexists")
def _fileexists(files: FileAccess, text: str, name: Any) -> Any:
    try:
        return files.read(to_string(name)) is not None or Unknown(text, "file outside the scanned directory")
    except EvalError:
        return False


@strict("templatefile")
def _templatefile(files: FileAccess, text: str, name: Any, variables: Any) -> Any:
    content = files.read(to_string(name))
    if content is None:
        return Unknown(text, "file outside the scanned directory is not read")
    return files.render_template(content, _map(variables, "templatefile"))
