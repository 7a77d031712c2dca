"""Well-known registry modules read without ``terraform init``.

A call of ``terraform-aws-modules/security-group/aws`` (or ``ec2-instance``, ``autoscaling``,
``elb``, ``alb``) whose code is not in a ``.terraform/modules`` cache would otherwise be one
unresolved "remote module" problem. These modules have a public, documented interface, so we model it:
the call's inputs become the resources the module would create (an ``aws_security_group``
and its ``aws_security_group_rule``\\ s, an ``aws_instance``...), located at the call's lines
(each rule at the input element that makes it), and the module's outputs become references
to them, so ``vpc_security_group_ids = [module.sg.security_group_id]`` links the instance to
the group. The AWS mappers then treat them like resources written by hand.

An input that changes the network but is not modelled keeps an unresolved problem naming it; inputs that do
not (AMI, instance type, IAM, disks...) are ignored. A module present in the cache is read
from its code instead (the engine only asks here when it is not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.terraform.evaluator import Lazy, Scope, evaluate, materialize, unknown_from
from talosaudit.collectors.terraform.modules import Located, ModuleInstance, expand, key_suffix
from talosaudit.collectors.terraform.registry_presets import PRESETS, SUBMODULE_INGRESS
from talosaudit.collectors.terraform.syntax import Attr, Expr, render
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    Ref,
    ResourceInstance,
    TerraformProblem,
    Unknown,
)
from talosaudit.model import ProblemKind

#: Arguments of a module call that are not inputs of the module.
_CALL_META = frozenset({"source", "version", "count", "for_each", "providers", "depends_on"})
_MISSING = object()


# ------------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class RegistrySource:
    """A recognised module: its name (``security-group``), submodule and major version."""

    module: str
    submodule: str
    major: int | None


_REGISTRY = re.compile(
    r"^(?:registry\.terraform\.io/|registry\.opentofu\.org/)?terraform-aws-modules/([a-z0-9-]+)/aws$"
)
_GIT = re.compile(r"(?:^|[/:])terraform-aws-modules/terraform-aws-([a-z0-9-]+?)(?:\.git)?$")
_KNOWN = ("security-group", "ec2-instance", "autoscaling", "elb", "alb")


def recognise(source: str, version: str | None) -> RegistrySource | None:
    """The well-known module a ``source`` names (registry, GitHub or git URL), if any."""
    text = source.strip()
    ref = ""
    if "?" in text:
        text, query = text.split("?", 1)
        found = re.search(r"(?:^|&)ref=([^&]+)", query)
        ref = found.group(1) if found else ""
    text = re.sub(r"^git::", "", text)
    sub = ""
    # "//" after a scheme's "://" separates the submodule path
    scheme_end = text.find("://")
    split_at = text.find("//", scheme_end + 3 if scheme_end >= 0 else 0)
    if split_at >= 0:
        text, sub = text[:split_at], text[split_at + 2 :].strip("/")
    text = re.sub(r"^[a-z+]+://", "", text).rstrip("/")
    match = _REGISTRY.match(text)
    name = match.group(1) if match else None
    if name is None:
        git = _GIT.search(text)
        name = git.group(1) if git else None
    if name not in _KNOWN:
        return None
    submodule = ""
    if sub:
        parts = sub.split("/")
        if len(parts) != 2 or parts[0] != "modules" or name != "security-group":
            return None
        submodule = parts[1]
        if submodule not in SUBMODULE_INGRESS:
            return None
    assert name is not None
    return RegistrySource(name, submodule, _major(version) if version else _major(ref))


def _major(text: str) -> int | None:
    found = re.search(r"(\d+)", text or "")
    return int(found.group(1)) if found else None


# ----------------------------------------------------------------------- module values


class RegistryModuleObject(Lazy):
    """The outputs of one synthesised module instance."""

    def __init__(self, address: str, outputs: dict[str, Any], what: str) -> None:
        self.address = address
        self.outputs = outputs
        self.what = what

    def get_attr(self, name: str, text: str) -> Any:
        if name in self.outputs:
            return self.outputs[name]
        return Unknown(f"{self.address}.{name}", f"output {name!r} of {self.what} is not modelled")

    def materialize(self, text: str) -> Any:
        return dict(self.outputs)


# ----------------------------------------------------------------------- call context


@dataclass
class Item:
    """One element of a list input: its value and where it is written."""

    value: Any
    lines: Lines
    fields: dict[str, Lines] = field(default_factory=dict)


@dataclass
class Call:
    """One instance of a module call being synthesised."""

    parent: ModuleInstance
    located: Located
    name: str
    path: str
    scope: Scope
    source: RegistrySource
    unknown: Unknown | None
    unknown_attr: str
    unknown_lines: Lines | None
    resources: list[ResourceInstance] = field(default_factory=list)
    problems: list[TerraformProblem] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    deferred: list[Callable[[], None]] = field(default_factory=list)

    def later(self, build: Callable[[], None]) -> None:
        """Run ``build`` once every module's outputs exist (see ``instantiate``)."""
        self.deferred.append(build)

    @property
    def rel(self) -> str:
        return self.located.rel

    def lines(self) -> Lines:
        return self.located.lines()

    def attr(self, name: str) -> Attr | None:
        found: Attr | None = self.located.node.attr(name)
        return found

    def has(self, name: str) -> bool:
        return self.attr(name) is not None

    def arg(self, name: str, default: Any = None) -> Any:
        """The evaluated input (plain values), or ``default`` when it is not written."""
        self.used.add(name)
        attr = self.attr(name)
        if attr is None:
            return default
        return materialize(evaluate(attr.expr, self.scope), render(attr.expr))

    def arg_lines(self, name: str) -> Lines:
        attr = self.attr(name)
        if attr is None:
            return Lines(self.rel, self.located.node.line, self.located.node.line)
        return Lines(self.rel, attr.line, attr.end_line)

    def source_lines(self) -> Lines:
        return self.arg_lines("source")

    def written(self, names: tuple[str, ...]) -> dict[str, tuple[Any, Lines]]:
        """The inputs of ``names`` that the call writes, as resource attributes at their lines
        (inputs the module passes through to its resource unchanged)."""
        return {name: (self.arg(name), self.arg_lines(name)) for name in names if self.has(name)}

    def items(self, name: str, default: list[Any] | None = None) -> list[Item] | Unknown:
        """The elements of a list input, each at its own line when the list is written out."""
        self.used.add(name)
        attr = self.attr(name)
        if attr is None:
            return [Item(v, self.source_lines()) for v in (default or [])]
        whole = self.arg_lines(name)
        expr = attr.expr
        if expr[0] == "U":
            out = []
            for element in expr[2]:
                value = materialize(evaluate(element, self.scope), render(element))
                out.append(
                    Item(value, Lines(self.rel, element[1], element[1]), _field_lines(self.rel, element))
                )
            return out
        value = self.arg(name)
        if isinstance(value, Unknown | Ref):
            return (
                value
                if isinstance(value, Unknown)
                else Unknown(render(expr), f"{value} is known only after apply")
            )
        if isinstance(value, dict):
            return [Item({"key": k, **v} if isinstance(v, dict) else v, whole) for k, v in value.items()]
        if not isinstance(value, list):
            return [] if value is None else [Item(value, whole)]
        return [Item(v, whole) for v in value]

    def address(self, type_name: str, name: str, key: int | str | None) -> str:
        return f"{self.path}.{type_name}.{name}{key_suffix(key)}"

    def add(
        self,
        type_name: str,
        name: str,
        key: int | str | None,
        lines: Lines,
        attrs: dict[str, tuple[Any, Lines]],
        *,
        blocks: tuple[Block, ...] = (),
        unknown: Unknown | None = None,
        unknown_attr: str = "",
        unknown_lines: Lines | None = None,
    ) -> str:
        address = self.address(type_name, name, key)
        body = Block(
            type="resource",
            labels=(type_name, name),
            attrs={k: v for k, (v, _) in attrs.items()},
            attr_lines={k: at for k, (_, at) in attrs.items()},
            blocks=blocks,
            lines=lines,
        )
        own = unknown or self.unknown
        self.resources.append(
            ResourceInstance(
                "managed",
                type_name,
                name,
                address,
                self.path,
                key,
                body,
                own,
                expansion_attr=(unknown_attr if unknown is not None else self.unknown_attr) if own else "",
                expansion_lines=(unknown_lines if unknown is not None else self.unknown_lines)
                if own
                else None,
            )
        )
        return address

    def problem(self, input_name: str, message: str) -> None:
        self.problems.append(
            TerraformProblem(
                ProblemKind.UNRESOLVED,
                f'module "{self.name}" ({self.source.module}): {message}',
                self.arg_lines(input_name),
                f"module:{self.path}:{input_name}",
            )
        )

    def report_unmodelled(self, irrelevant: frozenset[str]) -> None:
        for attr in self.located.node.attrs:
            name = attr.name
            if name in _CALL_META or name in self.used or name in irrelevant:
                continue
            self.problem(
                name,
                f'input "{name}" is not modelled by talosaudit\'s reading of this registry module: its '
                "effect on security groups and nodes is not evaluated (run terraform init to scan the "
                "module's code, or scan a plan JSON)",
            )
        for block in self.located.node.blocks:
            if block.type not in ("lifecycle",):
                self.problems.append(
                    TerraformProblem(
                        ProblemKind.UNRESOLVED,
                        f'module "{self.name}" ({self.source.module}): block "{block.type}" is not modelled',
                        Lines(self.rel, block.line, block.end_line),
                        f"module:{self.path}:{block.type}",
                    )
                )


def _field_lines(rel: str, element: Expr) -> dict[str, Lines]:
    if element[0] != "O":
        return {}
    out: dict[str, Lines] = {}
    for key, value in element[2]:
        if key[0] in ("N", "L") and isinstance(key[2], str):
            out[key[2]] = Lines(rel, value[1], value[1])
    return out


def as_bool(value: Any, default: bool) -> bool | Unknown:
    if value is None:
        return default
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return default


# ----------------------------------------------------------------------- entry point


Synthesiser = Callable[[Call], dict[str, Any]]


def instantiate(
    parent: ModuleInstance,
    name: str,
    located: Located,
    source: str,
    base: str,
    *,
    add: Callable[[Callable[[], tuple[list[ResourceInstance], list[TerraformProblem]]]], None],
    synthesisers: dict[str, Synthesiser],
    irrelevant_inputs: dict[str, Any],
) -> Any:
    """The value of ``module.<name>`` for a recognised registry module, or ``_MISSING``
    when the source is not one we model. ``synthesisers``/``irrelevant_inputs`` are the
    per-module readers (``registry_aws``), passed in so that they may import this module.

    The outputs are known at once; what may refer to other modules' outputs (the rules of a
    group naming another group that names it back) is built later: ``add`` receives a
    function the engine calls once the root is evaluated, which gives the resources and
    problems."""
    version_attr = located.node.attr("version")
    version = version_attr.expr[2] if version_attr is not None and version_attr.expr[0] == "L" else None
    recognised = recognise(source, version if isinstance(version, str) else None)
    if recognised is None:
        return _MISSING
    synthesiser = synthesisers[recognised.module]
    irrelevant = irrelevant_inputs[recognised.module]
    what = f"terraform-aws-modules/{recognised.module}/aws"
    expansion = expand(located.node, parent.scope, base)

    def one(path: str, scope: Scope, unknown: Unknown | None, attr: str, where: Lines | None) -> Any:
        if unknown is None and parent.expansion_unknown is not None:
            unknown, attr, where = parent.expansion_unknown, parent.expansion_attr, parent.expansion_lines
        call = Call(parent, located, name, path, scope, recognised, unknown, attr, where)
        outputs = synthesiser(call)

        def finish() -> tuple[list[ResourceInstance], list[TerraformProblem]]:
            try:
                for build in call.deferred:
                    build()
            except Exception as exc:  # never let one module stop the scan
                call.problem("source", f"could not be evaluated: {exc!r}")
            call.report_unmodelled(irrelevant)
            return call.resources, call.problems

        add(finish)
        return RegistryModuleObject(path, outputs, what)

    if isinstance(expansion, Unknown):
        meta = "for_each" if located.node.attr("for_each") is not None else "count"
        meta_attr = located.node.attr(meta)
        where = Lines(located.rel, meta_attr.line, meta_attr.end_line) if meta_attr is not None else None
        reason = f"the number of instances is unknown ({expansion.expression}: {expansion.reason})"
        scope = parent.scope.bind(
            count={"index": Unknown("count.index", reason)},
            each={"key": Unknown("each.key", reason), "value": Unknown("each.value", reason)},
        )
        one(base, scope, expansion, f"{base} {meta}", where)
        return unknown_from(base, expansion)
    objects = [(key, one(base + key_suffix(key), scope, None, "", None)) for key, scope in expansion]
    if located.node.attr("count") is not None:
        return [o for _, o in objects]
    if located.node.attr("for_each") is not None:
        return {str(k): o for k, o in objects}
    return objects[0][1]


def is_missing(value: Any) -> bool:
    return value is _MISSING


def preset(name: Any) -> tuple[int, int, str, str] | None:
    return PRESETS.get(name) if isinstance(name, str) else None
