"""Module definitions (one per directory) and module instances (one per call and key).

A ``ModuleInstance`` is the scope expressions are evaluated in: it answers ``var.x``,
``local.x``, ``module.x``, ``data.t.n`` and ``t.n`` lazily and memoises every answer, so
each value is computed once however often it is referenced (no scans over all resources).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talosaudit.collectors.terraform import functions
from talosaudit.collectors.terraform.evaluator import (
    EvalError,
    Lazy,
    Scope,
    evaluate,
    iterate,
    materialize,
    to_number,
    to_string,
    unknown_from,
)
from talosaudit.collectors.terraform.hcl_parse import SyntaxProblem, parse_template_text
from talosaudit.collectors.terraform.syntax import Attr, BlockNode, Expr, render
from talosaudit.collectors.terraform.types import convert
from talosaudit.collectors.terraform.values import Block, Lines, Ref, Unknown

#: Arguments of a resource that say how to make it, not what it is.
META_ARGS = frozenset({"count", "for_each", "depends_on", "provider"})
#: Nested blocks that never describe the resource itself.
META_BLOCKS = frozenset({"lifecycle", "provisioner", "connection"})
MAX_MODULE_DEPTH = 32
#: Instances one ``count``/``for_each`` may make; more is unresolved ("not expanded"), not a hang.
MAX_INSTANCES = 10_000


@dataclass(frozen=True)
class Located:
    """A syntax node and the file (relative path) it was read from."""

    node: Any
    rel: str

    def lines(self) -> Lines:
        return Lines(self.rel, self.node.line, self.node.end_line)


@dataclass
class ModuleDef:
    """The declarations of one module directory, merged across its files."""

    directory: Path
    variables: dict[str, Located] = field(default_factory=dict)
    locals: dict[str, Located] = field(default_factory=dict)
    outputs: dict[str, Located] = field(default_factory=dict)
    calls: dict[str, Located] = field(default_factory=dict)
    resources: dict[tuple[str, str, str], Located] = field(default_factory=dict)
    managed_types: set[str] = field(default_factory=set)
    data_types: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, directory: Path, files: list[tuple[str, BlockNode]]) -> ModuleDef:
        module = cls(directory)
        normal = [f for f in files if not _is_override(f[0])]
        overrides = [f for f in files if _is_override(f[0])]
        for rel, tree in normal:
            module._add(rel, tree, override=False)
        for rel, tree in overrides:
            module._add(rel, tree, override=True)
        return module

    def _add(self, rel: str, tree: BlockNode, override: bool) -> None:
        for block in tree.blocks:
            kind, labels = block.type, block.labels
            if kind == "locals":
                for attr in block.attrs:
                    self.locals[attr.name] = Located(attr, rel)
                continue
            target: dict[Any, Located] | None = None
            key: Any = None
            if kind in ("resource", "data") and len(labels) == 2:
                mode = "managed" if kind == "resource" else "data"
                target, key = self.resources, (mode, labels[0], labels[1])
                (self.managed_types if mode == "managed" else self.data_types).add(labels[0])
            elif kind in ("variable", "output", "module") and len(labels) == 1:
                target = {"variable": self.variables, "output": self.outputs, "module": self.calls}[kind]
                key = labels[0]
            if target is None:
                continue
            if override and key in target:
                base = target[key]
                target[key] = Located(_merge_override(base.node, block), base.rel)
            elif not override or key not in target:
                target[key] = Located(block, rel)

    def local_sources(self) -> list[Path]:
        out = []
        for call in self.calls.values():
            source = _literal_attr(call.node, "source")
            if source is not None and is_local_source(source):
                out.append(Path(os.path.normpath(self.directory / source)))
        return out


def _is_override(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    stem = name.split(".", 1)[0]
    return stem == "override" or stem.endswith("_override")


def _merge_override(base: BlockNode, over: BlockNode) -> BlockNode:
    """Terraform override files: arguments replace arguments; a nested block type present
    in the override replaces all blocks of that type."""
    attrs = {a.name: a for a in base.attrs}
    attrs.update({a.name: a for a in over.attrs})
    replaced = {b.type for b in over.blocks}
    blocks = tuple(b for b in base.blocks if b.type not in replaced) + over.blocks
    return base._replace(attrs=tuple(attrs.values()), blocks=blocks)


def declared_sensitive(block: BlockNode) -> bool:
    """``sensitive = true`` written in a variable or output block."""
    attr = block.attr("sensitive")
    return attr is not None and attr.expr[0] == "L" and attr.expr[2] is True


def _literal_attr(block: BlockNode, name: str) -> str | None:
    attr = block.attr(name)
    if attr is not None and attr.expr[0] == "L" and isinstance(attr.expr[2], str):
        return attr.expr[2]
    return None


def is_local_source(source: str) -> bool:
    return source.startswith(("./", "../", ".\\", "..\\")) or source in (".", "..")


def key_suffix(key: int | str | None) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return f"[{json.dumps(key, ensure_ascii=False)}]"


# ---------------------------------------------------------------------- lazy objects


class _Namespace(Lazy):
    def __init__(self, lookup: Callable[[str, str], Any]) -> None:
        self._lookup = lookup

    def get_attr(self, name: str, text: str) -> Any:
        return self._lookup(name, text)


class ResourceObject(Lazy):
    """One resource instance as a value: written attributes evaluate, others are Refs."""

    def __init__(self, module: ModuleInstance, rdef: Located, mode: str, address: str, scope: Scope) -> None:
        self.module = module
        self.rdef = rdef
        self.mode = mode
        self.address = address
        self.scope = scope
        self._memo: dict[str, Any] = {}
        self._busy: set[str] = set()

    def attribute(self, name: str) -> Any:
        if name in self._memo:
            return self._memo[name]
        attr = self.rdef.node.attr(name)
        if attr is None or name in META_ARGS:
            return None
        if name in self._busy:
            return Unknown(f"{self.address}.{name}", "the value refers to itself")
        self._busy.add(name)
        try:
            value = evaluate(attr.expr, self.scope)
        finally:
            self._busy.discard(name)
        self._memo[name] = value
        return value

    def get_attr(self, name: str, text: str) -> Any:
        if self.rdef.node.attr(name) is not None and name not in META_ARGS:
            return self.attribute(name)
        blocks = [b for b in self.rdef.node.blocks if b.type == name]
        if blocks:
            return [_block_value(b, self.scope) for b in blocks]
        if self.mode == "data" and name not in _IDENTITIES:
            return Unknown(f"{self.address}.{name}", "data source read at plan time")
        # A data source's id/arn is as good an identity as a managed resource's: a rule
        # whose source is data.aws_security_group.x.id is that group, not an unknown.
        return Ref(self.address, name)

    def materialize(self, text: str) -> Any:
        return Unknown(text or self.address, "a whole resource object is not evaluated")


#: Attributes that name the object itself (compare aws.tf_common._IDENTITY_ATTRIBUTES).
_IDENTITIES = frozenset({"id", "arn"})


def _block_value(block: BlockNode, scope: Scope) -> dict[str, Any]:
    return {a.name: evaluate(a.expr, scope) for a in block.attrs}


class ModuleObject(Lazy):
    def __init__(self, instance: ModuleInstance) -> None:
        self.instance = instance

    def get_attr(self, name: str, text: str) -> Any:
        return self.instance.output(name)

    def materialize(self, text: str) -> Any:
        return {
            name: materialize(self.instance.output(name), text) for name in self.instance.definition.outputs
        }


class UnreadableModule(Lazy):
    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason

    def get_attr(self, name: str, text: str) -> Any:
        return Unknown(f"{self.address}.{name}", self.reason)

    def index(self, key: Any, text: str) -> Any:
        return self

    def materialize(self, text: str) -> Any:
        return Unknown(self.address, self.reason)


# ------------------------------------------------------------------- module instances


@dataclass
class CallInstance:
    """How a child module instance was called: the call's scope binds count/each."""

    call: Located
    scope: Scope


@dataclass
class VariableValue:
    value: Any
    origin: str
    lines: Lines


Expansion = list[tuple[int | str | None, Scope]]


class ModuleInstance:
    def __init__(
        self,
        engine: Any,
        definition: ModuleDef,
        *,
        path: str,
        call_path: tuple[str, ...],
        root_dir: Path,
        called_by: CallInstance | None,
        expansion_unknown: Unknown | None,
        root_variables: Callable[[ModuleInstance, str, Located], VariableValue] | None = None,
        ancestors: tuple[str, ...] = (),
    ) -> None:
        self.engine = engine
        self.definition = definition
        self.path = path
        self.call_path = call_path
        self.root_dir = root_dir
        self.called_by = called_by
        self.expansion_unknown = expansion_unknown
        #: The meta-argument behind ``expansion_unknown`` and where it is written.
        self.expansion_attr = ""
        self.expansion_lines: Lines | None = None
        self.ancestors = (*ancestors, str(definition.directory))
        self._root_variables = root_variables
        self._vars: dict[str, VariableValue] = {}
        self._locals: dict[str, Any] = {}
        self._busy: set[str] = set()
        self._outputs: dict[str, Any] = {}
        self._resources: dict[tuple[str, str, str], Any] = {}
        self._expansions: dict[tuple[str, str, str], Expansion | Unknown] = {}
        self._objects: dict[str, ResourceObject] = {}
        self._children: dict[str, tuple[Any, list[ModuleInstance]]] = {}
        self.scope = Scope(self, {})
        rel_dir = os.path.relpath(definition.directory, root_dir)
        self._path_obj = {"module": Path(rel_dir).as_posix(), "root": ".", "cwd": "."}
        self._var_ns = _Namespace(lambda n, t: self.var(n).value)
        self._local_ns = _Namespace(lambda n, t: self.local(n))
        self._module_ns = _Namespace(lambda n, t: self.module_value(n))
        self._data_ns = _Namespace(self._data_type)
        self._files = functions.FileAccess(
            engine.scan_root, root_dir, self._render_template, engine.referenced.add
        )

    # --------------------------------------------------------------- ModuleScope
    def root_name(self, name: str) -> Any:
        if name == "var":
            return self._var_ns
        if name == "local":
            return self._local_ns
        if name == "module":
            return self._module_ns
        if name == "data":
            return self._data_ns
        if name == "path":
            return self._path_obj
        if name == "terraform":
            return {"workspace": "default"}
        if name == "self":
            return Unknown("self", "self is not evaluated")
        if name in ("count", "each"):
            raise EvalError(f"{name} is only available in a resource or module with {name}")
        if name in self.definition.managed_types:
            return _Namespace(lambda n, t: self.resource_value("managed", name, n))
        raise EvalError(f"reference to undeclared name {name!r}")

    def call_function(self, name: str, args: list[Any], text: str) -> Any:
        if name == "sensitive" and args:
            self.engine.add_secret(args[0], "")  # the call's text holds the value itself
        return functions.call(name, args, text, self._files)

    def _data_type(self, type_name: str, text: str) -> Any:
        if type_name not in self.definition.data_types:
            raise EvalError(f"reference to undeclared data source type {type_name!r}")
        return _Namespace(lambda n, t: self.resource_value("data", type_name, n))

    def _render_template(self, content: str, variables: dict[str, Any]) -> Any:
        try:
            node = parse_template_text(content, 1)
        except SyntaxProblem as exc:
            raise EvalError(f"template: {exc}") from exc
        return evaluate(node, Scope(ConstScope(self, "a template"), dict(variables)))

    # ------------------------------------------------------------------ values
    def var(self, name: str) -> VariableValue:
        found = self._vars.get(name)
        if found is not None:
            return found
        decl = self.definition.variables.get(name)
        if decl is None:
            raise EvalError(f"reference to undeclared input variable {name!r}")
        if self._root_variables is not None:
            result = self._root_variables(self, name, decl)
        else:
            result = self._child_variable(name, decl)
        type_attr = decl.node.attr("type")
        if type_attr is not None:
            result.value = convert(result.value, type_attr.expr)
        self._vars[name] = result
        return result

    def _child_variable(self, name: str, decl: Located) -> VariableValue:
        assert self.called_by is not None
        arg = self.called_by.call.node.attr(name)
        if arg is not None:
            value = evaluate(arg.expr, self.called_by.scope)
            lines = Lines(self.called_by.call.rel, arg.line, arg.end_line)
            return VariableValue(value, "module input", lines)
        return self.default_value(name, decl)

    def default_value(self, name: str, decl: Located) -> VariableValue:
        default = decl.node.attr("default")
        if default is not None:
            return VariableValue(evaluate(default.expr, self.scope), "default", decl.lines())
        return VariableValue(Unknown(f"var.{name}", "variable has no value"), "unset", decl.lines())

    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        decl = self.definition.locals.get(name)
        if decl is None:
            raise EvalError(f"reference to undeclared local value {name!r}")
        if name in self._busy:
            return Unknown(f"local.{name}", "local value refers to itself")
        self._busy.add(name)
        try:
            value = evaluate(decl.node.expr, self.scope)
        finally:
            self._busy.discard(name)
        self._locals[name] = value
        return value

    def output(self, name: str) -> Any:
        if name in self._outputs:
            return self._outputs[name]
        decl = self.definition.outputs.get(name)
        if decl is None:
            raise EvalError(f"module has no output {name!r}")
        attr = decl.node.attr("value")
        key = f"output:{name}"
        if attr is None:
            value: Any = None
        elif key in self._busy:
            value = Unknown(f"{self.path}.{name}", "output refers to itself")
        else:
            self._busy.add(key)
            try:
                value = evaluate(attr.expr, self.scope)
            finally:
                self._busy.discard(key)
        self._outputs[name] = value
        return value

    # --------------------------------------------------------------- resources
    def expansion(self, key: tuple[str, str, str]) -> Expansion | Unknown:
        found = self._expansions.get(key)
        if found is None:
            found = expand(self.definition.resources[key].node, self.scope, _address(key))
            self._expansions[key] = found
        return found

    def address(self, key: tuple[str, str, str], instance_key: int | str | None) -> str:
        local = _address(key) + key_suffix(instance_key)
        return f"{self.path}.{local}" if self.path else local

    def resource_object(
        self, key: tuple[str, str, str], instance_key: int | str | None, scope: Scope
    ) -> ResourceObject:
        address = self.address(key, instance_key)
        found = self._objects.get(address)
        if found is None:
            found = ResourceObject(self, self.definition.resources[key], key[0], address, scope)
            self._objects[address] = found
        return found

    def resource_value(self, mode: str, type_name: str, name: str) -> Any:
        key = (mode, type_name, name)
        if key in self._resources:
            return self._resources[key]
        if key not in self.definition.resources:
            raise EvalError(f"reference to undeclared resource {_address(key)}")
        rdef = self.definition.resources[key]
        expanded = self.expansion(key)
        value: Any
        if isinstance(expanded, Unknown):
            value = unknown_from(_address(key), expanded)
        elif rdef.node.attr("count") is not None:
            value = [self.resource_object(key, k, s) for k, s in expanded]
        elif rdef.node.attr("for_each") is not None:
            value = {str(k): self.resource_object(key, k, s) for k, s in expanded}
        else:
            k, s = expanded[0]
            value = self.resource_object(key, k, s)
        self._resources[key] = value
        return value

    # ----------------------------------------------------------------- modules
    def module_value(self, name: str) -> Any:
        if name not in self.definition.calls:
            raise EvalError(f"reference to undeclared module module.{name}")
        return self.children(name)[0]

    def children(self, name: str) -> tuple[Any, list[ModuleInstance]]:
        found = self._children.get(name)
        if found is None:
            found = self.engine.instantiate_call(self, name)
            self._children[name] = found
        return found


class ConstScope:
    """Where no names but the bound ones exist (templatefile, tfvars): functions only."""

    def __init__(self, module: ModuleInstance, where: str) -> None:
        self.module = module
        self.where = where

    def root_name(self, name: str) -> Any:
        raise EvalError(f"{self.where} cannot refer to {name!r}")

    def call_function(self, name: str, args: list[Any], text: str) -> Any:
        return self.module.call_function(name, args, text)


def _address(key: tuple[str, str, str]) -> str:
    mode, type_name, name = key
    return f"data.{type_name}.{name}" if mode == "data" else f"{type_name}.{name}"


def expand(block: BlockNode, scope: Scope, what: str) -> Expansion | Unknown:
    """The instances ``count``/``for_each`` make, each with its scope (count.index,
    each.key/each.value); an Unknown when the number of instances is not known."""
    count = block.attr("count")
    for_each = block.attr("for_each")
    if count is not None:
        value = materialize(evaluate(count.expr, scope), render(count.expr))
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Ref):
            return Unknown(render(count.expr), f"{value} is known only after apply", origin=str(value))
        try:
            n = to_number(value)
        except EvalError:
            return Unknown(render(count.expr), f"count is not a number: {value!r}")
        if not isinstance(n, int) or n < 0:
            return Unknown(render(count.expr), f"count is not a whole number: {value!r}")
        if n > MAX_INSTANCES:
            return Unknown(
                render(count.expr), f"not expanded: more than {MAX_INSTANCES} instances (count = {n})"
            )
        return [(i, scope.bind(count={"index": i})) for i in range(n)]
    if for_each is not None:
        return _expand_for_each(evaluate(for_each.expr, scope), for_each.expr, scope)
    return [(None, scope)]


def _expand_for_each(value: Any, expr: Expr, scope: Scope) -> Expansion | Unknown:
    text = render(expr)
    if isinstance(value, Lazy):
        value = value.materialize(text)
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Ref):
        return Unknown(text, f"{value} is known only after apply", origin=str(value))
    if value is None:
        return Unknown(text, "for_each is null")
    if isinstance(value, dict | list) and len(value) > MAX_INSTANCES:
        return Unknown(
            text, f"not expanded: more than {MAX_INSTANCES} instances ({len(value)} for_each items)"
        )
    out: Expansion = []
    if isinstance(value, dict):
        for key in sorted(value):
            out.append((key, scope.bind(each={"key": key, "value": value[key]})))
        return out
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Unknown):
                return unknown_from(text, item)
            if isinstance(item, Ref):
                return Unknown(text, f"{item} is known only after apply", origin=str(item))
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                return Unknown(text, "for_each needs a map or a set of strings")
        for key in sorted({to_string(i) for i in value}):
            out.append((key, scope.bind(each={"key": key, "value": key})))
        return out
    return Unknown(text, "for_each needs a map or a set of strings")


# ----------------------------------------------------------------------- blocks


def evaluate_body(
    node: BlockNode,
    scope: Scope,
    rel: str,
    block_type: str,
    labels: tuple[str, ...],
    *,
    attribute: Callable[[Attr], Any] | None = None,
    from_dynamic: bool = False,
    expansion_unknown: Unknown | None = None,
) -> Block:
    """Evaluate a resource body or nested block into a ``Block``; ``dynamic`` blocks
    become ordinary blocks."""
    top = attribute is not None
    attrs: dict[str, Any] = {}
    attr_lines: dict[str, Lines] = {}
    for attr in node.attrs:
        if top and attr.name in META_ARGS:
            continue
        value = attribute(attr) if attribute is not None else evaluate(attr.expr, scope)
        if isinstance(value, Lazy | list | dict):  # render the text only when it may be needed
            value = materialize(value, render(attr.expr))
        attrs[attr.name] = value
        attr_lines[attr.name] = Lines(rel, attr.line, attr.end_line)
    blocks: list[Block] = []
    for child in node.blocks:
        if child.type == "dynamic":
            blocks.extend(_expand_dynamic(child, scope, rel))
        elif top and child.type in META_BLOCKS:
            continue
        else:
            blocks.append(evaluate_body(child, scope, rel, child.type, child.labels))
    return Block(
        type=block_type,
        labels=labels,
        attrs=attrs,
        attr_lines=attr_lines,
        blocks=tuple(blocks),
        lines=Lines(rel, node.line, node.end_line),
        from_dynamic=from_dynamic,
        expansion_unknown=expansion_unknown,
    )


def _expand_dynamic(node: BlockNode, scope: Scope, rel: str) -> list[Block]:
    if not node.labels:
        return []
    block_type = node.labels[0]
    content = next((b for b in node.blocks if b.type == "content"), None)
    if content is None:
        return []
    iterator = block_type
    iterator_attr = node.attr("iterator")
    if iterator_attr is not None and iterator_attr.expr[0] in ("N", "L"):
        iterator = str(iterator_attr.expr[2])
    for_each = node.attr("for_each")
    label_attr = node.attr("labels")
    if for_each is None:
        return []
    text = render(for_each.expr)
    coll = evaluate(for_each.expr, scope)
    if isinstance(coll, Lazy):
        coll = coll.materialize(text)
    if coll is None:
        return []
    if isinstance(coll, Ref):
        coll = Unknown(text, f"{coll} is known only after apply", origin=str(coll))
    if not isinstance(coll, Unknown):
        try:
            pairs = iterate(coll)
        except EvalError as exc:
            coll = Unknown(text, f"error: {exc}")
    if isinstance(coll, Unknown):
        unknown = unknown_from(text, coll)
        item = {
            "key": Unknown(f"{iterator}.key", f"for_each of dynamic {block_type!r} is unknown"),
            "value": Unknown(f"{iterator}.value", f"for_each of dynamic {block_type!r} is unknown"),
        }
        inner = scope.bind(**{iterator: item})
        return [
            evaluate_body(content, inner, rel, block_type, (), from_dynamic=True, expansion_unknown=unknown)
        ]
    blocks = []
    for key, value in pairs:
        inner = scope.bind(**{iterator: {"key": key, "value": value}})
        labels: tuple[str, ...] = ()
        if label_attr is not None:
            label_values = evaluate(label_attr.expr, inner)
            if isinstance(label_values, list):
                labels = tuple(str(v) for v in label_values)
        blocks.append(evaluate_body(content, inner, rel, block_type, labels, from_dynamic=True))
    return blocks
