"""``terraform show -json`` output, a saved plan or the state, as an input.

A plan or a state is fully evaluated: variables, locals, modules, ``count``/``for_each`` and
``dynamic`` blocks are already expanded by Terraform, so the resources are read as they are
and handed to the same resource mappers as a ``.tf`` scan (``collection_from_config``).

- Plan (``planned_values``): what the configuration will be after apply. Values that exist
  only after apply (ids) are missing there and marked in ``resource_changes[].change.
  after_unknown``; the configuration's expression ``references`` say what such a value points
  at (``security_group_id`` -> ``aws_security_group.cp.id``), so it becomes a ``Ref`` to that
  resource, followed through module outputs. When the references do not name exactly what
  the value is, it stays ``Unknown`` (UNRESOLVED). Data sources read during planning are taken
  from ``prior_state``.
- State (``values``): real ids (``sg-…``). A string equal to the id of a resource in the
  file becomes a ``Ref`` to that resource, so a rule that names ``sg-…`` joins that group's
  layer instead of an external one.
- In both, a security group's or network ACL's ``ingress``/``egress`` list is, once it exists,
  AWS's view of *all* its rules, standalone rule resources included. That list is dropped
  for a direction in which standalone rule resources of the file target the group (they are
  read themselves), and when it is unknown and the configuration writes no inline rules.

Lines: JSON has no source lines of the configuration. A resource points at the line of its
``"address"`` key in ``planned_values`` (``values`` for a state) of this file, an attribute at
the line of its key, a nested block at its object. ``terraform show -json`` writes one line;
pretty-print it (``jq .``) for useful lines, or scan the ``.tf`` files for the best ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talosaudit.collectors.base import JSON, ClaimsNoNames, InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.terraform.collect import collection_from_config
from talosaudit.collectors.terraform.kinds import TERRAFORM_PLAN
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    Ref,
    ResourceInstance,
    TerraformConfig,
    TerraformProblem,
    Unknown,
    Variable,
)
from talosaudit.model import Collection, ProblemKind
from talosaudit.regular_files import read_text

AFTER_APPLY = "known only after apply"
_SUPPORTED_MAJORS = ("0", "1")
#: Only these top-level sections are located (the configuration is read, never pointed at).
_LOCATED = frozenset({"planned_values", "values", "prior_state", "variables", "errored", "complete"})

#: Nested block types, per resource type, that the mappers read as blocks (JSON gives every
#: block as a list of objects). The value lists each block's own nested blocks.
Spec = Mapping[str, "Spec"]
_RULE_LISTS: Spec = {"ingress": {}, "egress": {}}
_PROXMOX: Spec = {
    "network_device": {},
    "network_interface": {},
    "network": {},
    "initialization": {"ip_config": {"ipv4": {}, "ipv6": {}}},
    "rule": {},
    "cidr": {},
}
_BLOCKS: Mapping[str, Spec] = {
    "aws_security_group": _RULE_LISTS,
    "aws_default_security_group": _RULE_LISTS,
    "aws_network_acl": _RULE_LISTS,
    "aws_default_network_acl": _RULE_LISTS,
    "aws_launch_template": {"network_interfaces": {}, "tag_specifications": {}},
    "aws_instance": {"launch_template": {}},
    "aws_autoscaling_group": {
        "launch_template": {},
        "tag": {},
        "mixed_instances_policy": {"launch_template": {"launch_template_specification": {}, "override": {}}},
    },
    "aws_ec2_managed_prefix_list": {"entry": {}},
}
_RULE_LIST_TYPES = frozenset(t for t, spec in _BLOCKS.items() if spec is _RULE_LISTS)
#: Standalone rule resources: the attribute naming their group or ACL.
_STANDALONE = {
    "aws_security_group_rule": "security_group_id",
    "aws_vpc_security_group_ingress_rule": "security_group_id",
    "aws_vpc_security_group_egress_rule": "security_group_id",
    "aws_network_acl_rule": "network_acl_id",
}
#: AWS resource ids (``sg-0123…``, ``vpc-…``, ``lt-…``), the only strings rewritten to a Ref;
#: ``123456789012/sg-…`` is a group named with its account.
_AWS_ID = re.compile(r"(?:\d{12}/)?([a-z][a-z0-9]*(?:-[a-z0-9]+)*-[0-9a-f]{8,17})")
#: How much of a file content sniffing reads.
_SNIFF_BYTES = 64 * 1024
_TAGS = frozenset({"tags", "tags_all"})
#: A resource's own identity is not a reference to itself.
_OWN_ATTRIBUTES = _TAGS | {"id", "arn"}

_KEY = r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]'
_NAME = r"[A-Za-z_][\w-]*"
_RESOURCE_REF = re.compile(rf"(?P<res>(?:data\.)?{_NAME}\.{_NAME})(?P<key>{_KEY})?(?:\.(?P<attr>{_NAME}))?")
_OUTPUT_REF = re.compile(rf"module\.(?P<call>{_NAME})(?P<key>{_KEY})?(?:\.(?P<out>{_NAME}))?")
_NAME_ONLY = re.compile(_NAME)
_MODULE_STEP = re.compile(rf"module\.({_NAME})(?:{_KEY})?")
_CONTEXT_REF = ("count.", "each.", "path.", "terraform.", "self.")
_NOT_RESOURCES = ("var.", "local.", "module.")


class PlanCollector(ClaimsNoNames):
    """``terraform show -json`` plans and states: ``.json`` files recognised by content."""

    kinds = frozenset({TERRAFORM_PLAN})

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        del rel
        return TERRAFORM_PLAN if kind == JSON and is_plan(text) else None

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        return collect(files, root, options)


def is_plan(text: str) -> bool:
    """Whether JSON text is ``terraform show -json`` output (also its head only, or a plan cut
    short: that must still reach the plan reader, which reports it as unreadable)."""
    head = text[:_SNIFF_BYTES]
    if '"format_version"' not in head:
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return '"terraform_version"' in head or '"planned_values"' in head
    return isinstance(doc, dict) and "format_version" in doc and ("planned_values" in doc or "values" in doc)


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
    """Read every plan/state JSON file, each on its own, and map what it holds."""
    del root  # a plan names no files of its own to read
    return Collection.combine(
        collection_from_config(read_plan_file(f.path, f.rel), options.role_hints, None, options.node_ports)
        for f in files
    )


def read_plan_file(path: Path, rel: str) -> TerraformConfig:
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        return _unreadable(rel, f"file cannot be read: {exc}")
    return read_plan(text, rel)


def read_plan(text: str, rel: str) -> TerraformConfig:
    """The resources and variables of a ``terraform show -json`` document (``rel`` is its
    path relative to the scan root). Bad input gives a config with one UNREADABLE problem."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return _unreadable(rel, _json_error(text, exc), getattr(exc, "lineno", 1))
    except RecursionError:
        return _unreadable(rel, "JSON nested too deeply to read")
    if not isinstance(doc, dict):
        return _unreadable(rel, "not a terraform show -json document (the top level is not an object)")
    version = doc.get("format_version")
    if not isinstance(version, str):
        return _unreadable(rel, "not a terraform show -json document: no format_version")
    if version.split(".")[0] not in _SUPPORTED_MAJORS:
        return _unreadable(
            rel,
            f"format_version {version} is not supported: talosaudit reads terraform show -json "
            "format versions 0.x and 1.x",
        )
    section = "planned_values" if "planned_values" in doc else "values"
    values = doc.get(section)
    if not isinstance(values, dict) or not isinstance(values.get("root_module"), dict):
        missing = section if not isinstance(values, dict) else f"{section}.root_module"
        return _unreadable(rel, f"terraform show -json document without {missing}: nothing to read")
    return _Reader(doc, section, rel, _index_positions(text)).config()


def _unreadable(rel: str, message: str, line: int = 1) -> TerraformConfig:
    problem = TerraformProblem(ProblemKind.UNREADABLE, message, Lines(rel, line, line), key=f"input:{rel}")
    return TerraformConfig(problems=(problem,), files=(rel,))


def _json_error(text: str, exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(text.rstrip()):
            return "JSON ends before the document is complete (the file is truncated)"
        return f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
    return f"not valid JSON: {exc}"


# -- positions ------------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],]')
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class _Positions:
    #: path of an object member -> line of its key
    keys: dict[JsonPath, int]
    #: path of an object or array -> lines of its opening and closing bracket
    spans: dict[JsonPath, tuple[int, int]]


def _index_positions(text: str) -> _Positions:
    """Lines of keys and containers, by JSON path, in one pass over the tokens of valid JSON."""
    keys: dict[JsonPath, int] = {}
    opened: dict[JsonPath, int] = {}
    spans: dict[JsonPath, tuple[int, int]] = {}
    #: per open container: [is object, path, current key or index, expecting a key]
    stack: list[list[Any]] = []
    line, last = 1, 0
    for match in _TOKEN.finditer(text):
        pos = match.start()
        line += text.count("\n", last, pos)
        last = pos
        token = match.group()
        char = token[0]
        if char == '"':
            if stack and stack[-1][0] and stack[-1][3]:
                frame = stack[-1]
                frame[2] = token[1:-1] if "\\" not in token else json.loads(token)
                frame[3] = False
                path = (*frame[1], frame[2])
                if path[0] in _LOCATED:
                    keys[path] = line
        elif char in "{[":
            path = (*stack[-1][1], stack[-1][2]) if stack else ()
            stack.append([char == "{", path, None if char == "{" else 0, True])
            if path and path[0] in _LOCATED:
                opened[path] = line
        elif char in "}]":
            frame = stack.pop()
            if frame[1] in opened:
                spans[frame[1]] = (opened.pop(frame[1]), line)
        elif stack:  # ","
            frame = stack[-1]
            if frame[0]:
                frame[3] = True
            else:
                frame[2] += 1
    return _Positions(keys, spans)


# -- reading ----------------------------------------------------------------------------------


@dataclass
class _Raw:
    """One resource instance as the file gives it, before values are filled in."""

    address: str
    mode: str
    type: str
    name: str
    module: str
    key: int | str | None
    values: dict[str, Any]
    path: JsonPath
    unknown: dict[str, Any]
    #: The configuration's expressions of the resource; None when the file has none for it.
    exprs: dict[str, Any] | None


class _Reader:
    def __init__(self, doc: dict[str, Any], section: str, rel: str, positions: _Positions) -> None:
        self.doc = doc
        self.section = section
        self.rel = rel
        self.pos = positions
        self.problems: list[TerraformProblem] = []
        configuration = doc.get("configuration")
        root = configuration.get("root_module") if isinstance(configuration, dict) else None
        self.config_root: dict[str, Any] | None = root if isinstance(root, dict) else None
        self.raws: dict[str, _Raw] = {}
        self.by_base: dict[str, list[str]] = {}

    def config(self) -> TerraformConfig:
        module = self.doc[self.section]["root_module"]
        for raw in self._resources(module, (self.section, "root_module"), ""):
            self.raws.setdefault(raw.address, raw)
        prior = self.doc.get("prior_state")
        prior_root = prior.get("values", {}).get("root_module") if isinstance(prior, dict) else None
        if self.section == "planned_values" and isinstance(prior_root, dict):
            # Data sources read while planning are in the prior state only.
            for raw in self._resources(prior_root, ("prior_state", "values", "root_module"), ""):
                if raw.mode == "data":
                    self.raws.setdefault(raw.address, raw)
        for raw in self.raws.values():
            base = re.sub(rf"{_KEY}$", "", raw.address)
            self.by_base.setdefault(base, []).append(raw.address)
        self._attach_changes()
        for raw in self.raws.values():
            raw.values = self._filled(raw)
        self._rewrite_ids()
        self._drop_computed_rule_lists()
        resources = tuple(self._instance(raw) for raw in self.raws.values())
        return TerraformConfig(
            resources=resources,
            variables=self._variables(),
            problems=(*self._status_problems(), *self.problems),
            files=(self.rel,),
        )

    # -- structure --------------------------------------------------------------------

    def _lines(self, path: JsonPath) -> Lines:
        start, end = self.pos.spans.get(path, (1, 1))
        return Lines(self.rel, start, end)

    def _key_line(self, path: JsonPath, fallback: Lines) -> Lines:
        line = self.pos.keys.get(path)
        return Lines(self.rel, line, line) if line is not None else fallback

    def _malformed(self, path: JsonPath, what: str) -> None:
        lines = self._lines(path)
        where = ".".join(str(p) for p in path)
        self.problems.append(
            TerraformProblem(
                ProblemKind.UNREADABLE,
                f"{where}: {what}; it is skipped",
                lines,
                key=f"plan:{self.rel}:{where}",
            )
        )

    def _list_at(self, module: dict[str, Any], name: str, path: JsonPath) -> list[Any]:
        """``module[name]`` (absent: empty); anything but a list is reported and read as empty."""
        value = module.get(name, [])
        if isinstance(value, list):
            return value
        self._malformed((*path, name), f"{name} is not a list")
        return []

    def _resources(self, module: dict[str, Any], path: JsonPath, module_address: str) -> Iterator[_Raw]:
        for i, entry in enumerate(self._list_at(module, "resources", path)):
            rpath = (*path, "resources", i)
            raw = self._raw(entry, rpath, module_address)
            if raw is not None:
                yield raw
        for j, child in enumerate(self._list_at(module, "child_modules", path)):
            cpath = (*path, "child_modules", j)
            if not isinstance(child, dict) or not isinstance(child.get("address"), str):
                self._malformed(cpath, "a child module without an address")
                continue
            yield from self._resources(child, cpath, child["address"])

    def _raw(self, entry: Any, path: JsonPath, module_address: str) -> _Raw | None:
        if not isinstance(entry, dict):
            self._malformed(path, "a resource that is not an object")
            return None
        address, mode, type_, name = (entry.get(k) for k in ("address", "mode", "type", "name"))
        values = entry.get("values", {})
        if not all(isinstance(v, str) and v for v in (address, mode, type_, name)):
            self._malformed(path, "a resource without address, mode, type or name")
            return None
        if not isinstance(values, dict):
            self._malformed(path, f"{address}: values is not an object")
            return None
        key = entry.get("index")
        return _Raw(
            address=str(address),
            mode=str(mode),
            type=str(type_),
            name=str(name),
            module=module_address,
            key=key if isinstance(key, int | str) and not isinstance(key, bool) else None,
            values=dict(values),
            path=path,
            unknown={},
            exprs=self._expressions(module_address, str(mode), str(type_), str(name)),
        )

    def _config_module(self, module_address: str) -> dict[str, Any] | None:
        module = self.config_root
        for call in _MODULE_STEP.findall(module_address):
            calls = module.get("module_calls") if isinstance(module, dict) else None
            entry = calls.get(call) if isinstance(calls, dict) else None
            module = entry.get("module") if isinstance(entry, dict) else None
        return module if isinstance(module, dict) else None

    def _expressions(self, module_address: str, mode: str, type_: str, name: str) -> dict[str, Any] | None:
        module = self._config_module(module_address)
        resources = module.get("resources") if module is not None else None
        for r in resources if isinstance(resources, list) else []:
            if isinstance(r, dict) and (r.get("mode"), r.get("type"), r.get("name")) == (mode, type_, name):
                exprs = r.get("expressions", {})
                return exprs if isinstance(exprs, dict) else {}
        return None

    def _attach_changes(self) -> None:
        changes = self.doc.get("resource_changes", [])
        for change in changes if isinstance(changes, list) else []:
            address = change.get("address") if isinstance(change, dict) else None
            if not isinstance(address, str) or address not in self.raws:
                continue
            body = change.get("change")
            unknown = body.get("after_unknown") if isinstance(body, dict) else None
            if isinstance(unknown, dict):
                self.raws[address].unknown = unknown

    # -- unknown values and references -------------------------------------------------

    def _filled(self, raw: _Raw) -> dict[str, Any]:
        values = _without_empty_strings(raw.values) if raw.type.startswith("aws_") else dict(raw.values)
        exprs = raw.exprs or {}
        spec = _spec(raw.type)
        for attr, unknown in raw.unknown.items():
            if unknown is True and raw.exprs is not None and attr not in raw.exprs and attr not in spec:
                continue  # computed by the provider, not set by the configuration: as in a .tf scan
            if _has_unknown(unknown):
                where = f"{raw.address}.{attr}"
                values[attr] = self._fill(
                    raw, values.get(attr), unknown, where=where, attr=attr, expr=exprs.get(attr)
                )
        return values

    def _fill(self, raw: _Raw, value: Any, unknown: Any, *, where: str, attr: str, expr: Any) -> Any:
        """``value`` with its unknown parts (``unknown``, from after_unknown) replaced by the
        Refs the configuration's references name, or by Unknown."""
        written = expr.get("references") if isinstance(expr, dict) else None
        refs = [r for r in written if isinstance(r, str)] if isinstance(written, list) else []
        if refs:
            targets = self._targets(raw, refs, attr)
            if targets and unknown is not True:
                # Parts of a value are unknown only where a target's attribute is.
                targets = [t for t in targets if self.raws[t.address].unknown.get(t.attribute) is True]
            if targets:
                assigned = _assign(value, unknown, attr, targets)
                if assigned is not None:
                    return assigned
            origin = ", ".join(r for r in refs if not _is_companion(r, refs))
            return _unknowns(value, unknown, where, origin)
        if unknown is True:
            return Unknown(where, AFTER_APPLY)
        if isinstance(unknown, list):
            items = list(value) if isinstance(value, list) else []
            items += [None] * (len(unknown) - len(items))
            # Per-block expressions match planned blocks only when there is one of each
            # (a set of blocks is not in the order of the configuration).
            single = expr[0] if isinstance(expr, list) and len(expr) == 1 == len(items) else None
            return [
                self._fill(raw, item, u, where=f"{where}[{i}]", attr=attr, expr=single)
                if _has_unknown(u)
                else item
                for i, (item, u) in enumerate(zip(items, unknown + [False] * len(items), strict=False))
            ]
        if isinstance(unknown, dict):
            obj = dict(value) if isinstance(value, dict) else {}
            inner = expr if isinstance(expr, dict) else {}
            for k, u in unknown.items():
                if _has_unknown(u):
                    obj[k] = self._fill(raw, obj.get(k), u, where=f"{where}.{k}", attr=k, expr=inner.get(k))
            return obj
        return value

    def _targets(self, raw: _Raw, refs: list[str], attr: str) -> list[Ref] | None:
        """The resource attributes ``refs`` (one expression's references) point at, or None
        when any reference is something else (a variable, a local, an unknown instance)."""
        return self._resolve(refs, raw.module, raw.key, _is_id_attribute(attr), 0)

    def _resolve(
        self, refs: list[str], module: str, key: int | str | None, id_like: bool, depth: int
    ) -> list[Ref] | None:
        found: list[Ref] = []
        for ref in refs:
            if ref.startswith(_CONTEXT_REF) or _is_companion(ref, refs):
                continue
            out = _OUTPUT_REF.fullmatch(ref)
            if out is not None:
                if out["out"] is None or depth > 16:
                    return None
                inner = self._output(module, out["call"], out["key"] or "", out["out"], depth)
                if inner is None:
                    return None
                found += inner
                continue
            if ref.startswith("var.") and _NAME_ONLY.fullmatch(ref[4:]) and depth <= 16:
                inner = self._input(module, ref[4:], id_like, depth)
                if inner is None:
                    return None
                found += inner
                continue
            res = _RESOURCE_REF.fullmatch(ref)
            if res is None or ref.startswith(_NOT_RESOURCES):
                return None
            target = self._instance_address(module, res["res"] + (res["key"] or ""), key)
            if target is None:
                return None
            if res["attr"] is not None:
                found.append(Ref(target, res["attr"]))
            elif id_like and res["key"] is None and target.endswith("]"):
                # ``aws_security_group.sg[count.index].id`` lists only the resource; the
                # instance with this resource's own key is meant.
                found.append(Ref(target, "id"))
            else:
                return None
        return list(dict.fromkeys(found)) or None

    def _output(self, module: str, call: str, key: str, output: str, depth: int) -> list[Ref] | None:
        child = f"{module}.module.{call}{key}" if module else f"module.{call}{key}"
        definition = self._config_module(child)
        outputs = definition.get("outputs") if definition is not None else None
        entry = outputs.get(output) if isinstance(outputs, dict) else None
        expression = entry.get("expression") if isinstance(entry, dict) else None
        refs = expression.get("references") if isinstance(expression, dict) else None
        if not isinstance(refs, list) or not refs:
            return None
        return self._resolve([r for r in refs if isinstance(r, str)], child, None, False, depth + 1)

    def _input(self, module: str, variable: str, id_like: bool, depth: int) -> list[Ref] | None:
        """What a module input variable is given by its module call (a root module variable
        has a value in the plan, so it is never the unknown part)."""
        steps = list(_MODULE_STEP.finditer(module))
        if not steps:
            return None
        last = steps[-1]
        parent = module[: last.start()].rstrip(".")
        definition = self._config_module(parent)
        calls = definition.get("module_calls") if definition is not None else None
        call = calls.get(last.group(1)) if isinstance(calls, dict) else None
        inputs = call.get("expressions") if isinstance(call, dict) else None
        expression = inputs.get(variable) if isinstance(inputs, dict) else None
        refs = expression.get("references") if isinstance(expression, dict) else None
        if not isinstance(refs, list) or not refs:
            return None
        return self._resolve([r for r in refs if isinstance(r, str)], parent, None, id_like, depth + 1)

    def _instance_address(self, module: str, ref: str, key: int | str | None) -> str | None:
        full = f"{module}.{ref}" if module else ref
        if full in self.raws:
            return full
        instances = self.by_base.get(full, [])
        if key is not None and f"{full}[{json.dumps(key)}]" in self.raws:
            return f"{full}[{json.dumps(key)}]"
        return instances[0] if len(instances) == 1 else None

    # -- ids and rule lists --------------------------------------------------------------

    def _rewrite_ids(self) -> None:
        """Strings that are the id of a resource in the file become a Ref to it."""
        owners: dict[str, list[str]] = {}
        for raw in sorted(self.raws.values(), key=lambda r: r.mode != "managed"):
            ident = raw.values.get("id")
            if not (raw.type.startswith("aws_") and isinstance(ident, str) and _AWS_ID.fullmatch(ident)):
                continue
            if raw.mode == "managed":
                owners.setdefault(ident, []).append(raw.address)
            elif ident not in owners:
                owners[ident] = [raw.address]  # two lookups of one group are the same group
        ids = {ident: Ref(addrs[0], "id") for ident, addrs in owners.items() if len(addrs) == 1}
        if not ids:
            return
        for raw in self.raws.values():
            raw.values = {k: v if k in _OWN_ATTRIBUTES else _with_refs(v, ids) for k, v in raw.values.items()}

    def _drop_computed_rule_lists(self) -> None:
        targeted: set[tuple[str, str]] = set()
        for raw in self.raws.values():
            attr = _STANDALONE.get(raw.type)
            owner = raw.values.get(attr) if attr else None
            if raw.mode == "managed" and isinstance(owner, Ref):
                for direction in _directions(raw):
                    targeted.add((owner.address, direction))
        for raw in self.raws.values():
            if raw.mode != "managed" or raw.type not in _RULE_LIST_TYPES:
                continue
            for direction in _RULE_LISTS:
                value = raw.values.get(direction)
                if (raw.address, direction) in targeted:
                    raw.values.pop(direction, None)
                elif isinstance(value, Unknown):
                    raw.values.pop(direction)
                    if raw.exprs is None or direction in raw.exprs:
                        self.problems.append(
                            TerraformProblem(
                                ProblemKind.UNRESOLVED,
                                f"{raw.address}: its inline {direction} rules are {AFTER_APPLY}; "
                                "they are not audited (scan the .tf files)",
                                self._resource_lines(raw),
                                key=f"{raw.address}:{direction}",
                            )
                        )

    # -- building ------------------------------------------------------------------------

    def _resource_lines(self, raw: _Raw) -> Lines:
        return self._key_line((*raw.path, "address"), self._lines(raw.path))

    def _instance(self, raw: _Raw) -> ResourceInstance:
        lines = self._resource_lines(raw)
        body = self._block(
            raw, "resource", raw.values, path=(*raw.path, "values"), lines=lines, spec=_spec(raw.type)
        )
        return ResourceInstance(raw.mode, raw.type, raw.name, raw.address, raw.module, raw.key, body)

    def _block(
        self, raw: _Raw, type_: str, values: dict[str, Any], *, path: JsonPath, lines: Lines, spec: Spec
    ) -> Block:
        """A resource body (``type_`` "resource") or a nested block, with its nested blocks."""
        labels = (raw.type, raw.name) if type_ == "resource" else ()
        attrs: dict[str, Any] = {}
        attr_lines: dict[str, Lines] = {}
        blocks: list[Block] = []
        for name, value in values.items():
            if (*path, name) in self.pos.keys:
                attr_lines[name] = self._key_line((*path, name), lines)
            if name not in spec:
                attrs[name] = value
                continue
            if isinstance(value, Unknown):
                self._unknown_blocks(raw, name, value, attr_lines.get(name, lines))
                continue
            for i, item in enumerate(value if isinstance(value, list) else []):
                item_path = (*path, name, i)
                if isinstance(item, dict):
                    item_lines = self._lines(item_path) if item_path in self.pos.spans else lines
                    blocks.append(
                        self._block(raw, name, item, path=item_path, lines=item_lines, spec=spec[name])
                    )
                elif isinstance(item, Unknown):
                    self._unknown_blocks(raw, f"{name}[{i}]", item, attr_lines.get(name, lines))
        return Block(type_, labels, attrs, attr_lines, tuple(blocks), lines)

    def _unknown_blocks(self, raw: _Raw, name: str, value: Unknown, lines: Lines) -> None:
        self.problems.append(
            TerraformProblem(
                ProblemKind.UNRESOLVED,
                f"{raw.address}: {name} = {value.expression} could not be resolved: "
                f"{value.reason or AFTER_APPLY}; those blocks are not audited",
                lines,
                key=f"{raw.address}:{name}",
            )
        )

    def _variables(self) -> tuple[Variable, ...]:
        variables = self.doc.get("variables")
        if not isinstance(variables, dict):
            return ()
        out: list[Variable] = []
        for name, entry in variables.items():
            if isinstance(entry, dict) and "value" in entry:
                lines = self._key_line(("variables", name), Lines(self.rel, 1, 1))
                out.append(Variable("", name, entry["value"], "plan", lines))
        return tuple(out)

    def _status_problems(self) -> list[TerraformProblem]:
        out: list[TerraformProblem] = []
        for key, bad, what in (
            ("errored", True, "the plan was saved from a terraform plan that failed (errored: true)"),
            ("complete", False, "the plan is not complete (complete: false: deferred or targeted)"),
        ):
            if self.doc.get(key) is bad:
                lines = self._key_line((key,), Lines(self.rel, 1, 1))
                out.append(
                    TerraformProblem(
                        ProblemKind.UNRESOLVED,
                        f"{what}; resources it did not plan are not audited",
                        lines,
                        key=f"plan:{self.rel}:{key}",
                    )
                )
        return out


# -- helpers ------------------------------------------------------------------------------------


def _spec(resource_type: str) -> Spec:
    if resource_type in _BLOCKS:
        return _BLOCKS[resource_type]
    return _PROXMOX if resource_type.startswith("proxmox_") else {}


def _has_unknown(unknown: Any) -> bool:
    if unknown is True:
        return True
    if isinstance(unknown, list):
        return any(_has_unknown(u) for u in unknown)
    if isinstance(unknown, dict):
        return any(_has_unknown(u) for u in unknown.values())
    return False


def _leaves(unknown: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths of the unknown parts of an after_unknown value."""
    if unknown is True:
        yield path
    elif isinstance(unknown, list):
        for i, u in enumerate(unknown):
            yield from _leaves(u, (*path, i))
    elif isinstance(unknown, dict):
        for k, u in unknown.items():
            yield from _leaves(u, (*path, k))


def _is_companion(ref: str, refs: list[str]) -> bool:
    """Terraform lists ``aws_x.y`` (and ``module.m``) next to ``aws_x.y.id``: not a reference
    of its own."""
    return any(other != ref and other.startswith(ref) and other[len(ref)] in ".[" for other in refs)


def _is_id_attribute(attr: str) -> bool:
    return attr.endswith(("_id", "_ids")) or attr == "security_groups"


def _is_plural(attr: str) -> bool:
    return (attr.endswith("s") and not attr.endswith("ss")) or attr == "vpc_zone_identifier"


def _assign(value: Any, unknown: Any, attr: str, targets: list[Ref]) -> Any:
    """Put ``targets`` where ``unknown`` says the value is unknown, when that is unambiguous:
    the whole value, each unknown element of a list in order, or the one unknown part."""
    if unknown is True:
        if _is_plural(attr):
            return list(targets)
        return targets[0] if len(targets) == 1 else None
    leaves = list(_leaves(unknown))
    if all(len(p) == 1 and isinstance(p[0], int) for p in leaves) and len(leaves) == len(targets):
        items = list(value) if isinstance(value, list) else []
        items += [None] * (len(unknown) - len(items))
        for (i,), target in zip(leaves, targets, strict=True):
            items[int(i)] = target
        return items
    if len(leaves) != 1:
        return None
    leaf = leaves[0]
    last = leaf[-1]
    if isinstance(last, str):
        part: Any = list(targets) if _is_plural(last) else (targets[0] if len(targets) == 1 else None)
    else:
        part = targets[0] if len(targets) == 1 else None
    return None if part is None else _put(value, unknown, leaf, part)


def _put(value: Any, unknown: Any, path: tuple[str | int, ...], part: Any) -> Any:
    if not path:
        return part
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        items = list(value) if isinstance(value, list) else []
        items += [None] * (len(unknown) - len(items))
        items[step] = _put(items[step], unknown[step], rest, part)
        return items
    obj = dict(value) if isinstance(value, dict) else {}
    obj[step] = _put(obj.get(step), unknown[step], rest, part)
    return obj


def _unknowns(value: Any, unknown: Any, where: str, origin: str) -> Any:
    """``value`` with every unknown part an Unknown (``origin``: what it refers to)."""
    if unknown is True:
        return Unknown(where, AFTER_APPLY, origin=origin)
    if isinstance(unknown, list):
        items = list(value) if isinstance(value, list) else []
        items += [None] * (len(unknown) - len(items))
        return [
            _unknowns(items[i], u, f"{where}[{i}]", origin) if _has_unknown(u) else items[i]
            for i, u in enumerate(unknown)
        ] + items[len(unknown) :]
    if isinstance(unknown, dict):
        obj = dict(value) if isinstance(value, dict) else {}
        for k, u in unknown.items():
            if _has_unknown(u):
                obj[k] = _unknowns(obj.get(k), u, f"{where}.{k}", origin)
        return obj
    return value


def _without_empty_strings(values: dict[str, Any]) -> dict[str, Any]:
    """The AWS provider stores an optional string that is not set (``ipv6_cidr_block``,
    ``subnet_id``) as ``""``; the mappers read not set as null. Nested blocks too."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, list) and v and all(isinstance(item, dict) for item in v):
            out[k] = [_without_empty_strings(item) for item in v]
        else:
            out[k] = None if v == "" else v
    return out


def _with_refs(value: Any, ids: Mapping[str, Ref]) -> Any:
    if isinstance(value, str):
        found = _AWS_ID.fullmatch(value)
        return ids.get(found.group(1), value) if found else value
    if isinstance(value, list):
        return [_with_refs(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _TAGS else _with_refs(v, ids) for k, v in value.items()}
    return value


def _directions(raw: _Raw) -> tuple[str, ...]:
    if raw.type == "aws_vpc_security_group_ingress_rule":
        return ("ingress",)
    if raw.type == "aws_vpc_security_group_egress_rule":
        return ("egress",)
    if raw.type == "aws_network_acl_rule":
        egress = raw.values.get("egress", False)
        return ("egress",) if egress is True else ("ingress",) if egress is False else ("ingress", "egress")
    kind = raw.values.get("type")
    return (kind,) if kind in ("ingress", "egress") else ("ingress", "egress")
