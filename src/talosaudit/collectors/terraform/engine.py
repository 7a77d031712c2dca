"""From input files to a ``TerraformConfig``: find root modules, read their variables with
Terraform's precedence, instantiate module calls, expand and evaluate every resource."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from talosaudit.collectors.base import InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.terraform import registry_aws, registry_modules
from talosaudit.collectors.terraform.evaluator import Scope, evaluate, materialize, unknown_from
from talosaudit.collectors.terraform.hcl_parse import SyntaxProblem, parse_expression
from talosaudit.collectors.terraform.kinds import TERRAFORM, TERRAFORM_JSON
from talosaudit.collectors.terraform.loader import Loader, auto_tfvars, config_files
from talosaudit.collectors.terraform.modules import (
    MAX_MODULE_DEPTH,
    CallInstance,
    ConstScope,
    Located,
    ModuleDef,
    ModuleInstance,
    ModuleObject,
    UnreadableModule,
    VariableValue,
    declared_sensitive,
    evaluate_body,
    expand,
    is_local_source,
    key_suffix,
)
from talosaudit.collectors.terraform.syntax import Expr
from talosaudit.collectors.terraform.types import wants_string
from talosaudit.collectors.terraform.values import (
    Lines,
    ResourceInstance,
    TerraformConfig,
    TerraformProblem,
    Unknown,
    Variable,
)
from talosaudit.model import ProblemKind
from talosaudit.model.secrets import secret_texts

_EXPANSION_UNKNOWN = "the number of instances is unknown"


def load_config(files: Sequence[InputFile], root: Path, options: CollectOptions) -> TerraformConfig:
    """Load, parse and evaluate every Terraform root module among ``files``, as one config
    (the root modules' resources side by side; ``load_roots`` keeps them apart)."""
    configs = load_roots(files, root, options)
    return TerraformConfig(
        resources=tuple(r for c in configs for r in c.resources),
        variables=tuple(v for c in configs for v in c.variables),
        problems=tuple(p for c in configs for p in c.problems),
        files=tuple(sorted({f for c in configs for f in c.files})),
        secrets=tuple(dict.fromkeys(s for c in configs for s in c.secrets)),
        extra={"roots": [c.root for c in configs if c.root]},
    )


def load_roots(files: Sequence[InputFile], root: Path, options: CollectOptions) -> list[TerraformConfig]:
    """One evaluated config per root module among ``files`` (``TerraformConfig.root`` its
    directory relative to the scan root), after one config (``root == ""``) holding what
    belongs to no root: files that cannot be parsed."""
    root = Path(os.path.abspath(root))
    loader = Loader(root, options.cache_dir, options.worker_count(), [f.path for f in files])
    engine = Engine(root, options, loader)
    input_dirs = sorted(
        {Path(os.path.abspath(f.path.parent)) for f in files if f.kind in (TERRAFORM, TERRAFORM_JSON)}
    )
    engine.preload(input_dirs)
    configs: list[TerraformConfig] = []
    for root_dir in engine.roots(input_dirs):
        engine.run_root(root_dir)
        configs.append(
            TerraformConfig(
                resources=tuple(engine.resources),
                variables=tuple(engine.variables),
                problems=tuple(engine.problems),
                files=engine.files_of_root(root_dir),
                root=loader.rel(root_dir),
                references=tuple(sorted({_rel_real(p, root) for p in engine.referenced})),
                secrets=tuple(dict.fromkeys(engine.secrets)),
                extra={"roots": [loader.rel(root_dir)], "remote_modules": sorted(engine.remote_modules)},
            )
        )
        engine.resources, engine.variables, engine.problems, engine.secrets = [], [], [], []
        engine.remote_modules = set()
    shared = TerraformConfig(problems=tuple(loader.problems), files=tuple(sorted(set(loader.files_read))))
    return [shared, *configs]


#: Module and resource instances one scan expands in all (nested module counts multiply).
MAX_TOTAL_INSTANCES = 50_000


class Engine:
    def __init__(self, scan_root: Path, options: CollectOptions, loader: Loader) -> None:
        self.scan_root = scan_root
        self.options = options
        self.loader = loader
        self.defs: dict[str, ModuleDef | None] = {}
        self.resources: list[ResourceInstance] = []
        self.variables: list[Variable] = []
        self.problems: list[TerraformProblem] = []
        #: Secret values of the root being evaluated, with their source (values.py).
        self.secrets: list[tuple[str, str]] = []
        #: Problem keys (``module:<address>``) of the remote modules that could not be read:
        #: the collector keeps their problem only where their outputs feed what is mapped.
        self.remote_modules: set[str] = set()
        self._remote: dict[str, dict[str, Path]] = {}
        self._reported: set[tuple[str, int]] = set()
        self._var_files = [Path(os.path.abspath(p)) for p in options.var_files]
        self._pending: list[Callable[[], tuple[list[ResourceInstance], list[TerraformProblem]]]] = []
        #: Module and resource instances made so far: nested counts multiply, the budget
        #: (MAX_TOTAL_INSTANCES) bounds their product.
        self.instances = 0
        #: The files of each module directory, and the directories the root being evaluated
        #: used (what its config lists as read).
        self._files_by_dir: dict[str, list[str]] = {}
        self._used: set[str] = set()
        #: Real paths of the files the root being evaluated reads with file()/templatefile().
        self.referenced: set[str] = set()

    def add_secret(self, value: Any, source: str) -> None:
        """Every text in ``value`` (an Unknown holds none) is secret, named by ``source``."""
        self.secrets.extend((text, source) for text in secret_texts(value))

    # ----------------------------------------------------------------- loading
    def module_def(self, directory: Path) -> ModuleDef | None:
        key = str(directory)
        self._used.add(key)
        if key not in self.defs:
            paths = config_files(directory)
            self._files_by_dir[key] = [self.loader.rel(p) for p in paths]
            self.loader.load(paths)
            trees = []
            for path in paths:
                tree = self.loader.tree(path)
                if tree is not None:
                    trees.append((self.loader.rel(path), tree))
            self.defs[key] = ModuleDef.build(directory, trees) if paths else None
        return self.defs[key]

    def preload(self, input_dirs: list[Path]) -> None:
        """Parse, in as few parallel batches as possible, every file the evaluation will
        need: the input directories, their tfvars, cached remote modules and the
        directories of local module calls (transitively)."""
        wanted: list[Path] = list(self._var_files)
        pending = list(input_dirs)
        for directory in input_dirs:
            wanted.extend(auto_tfvars(directory))
            cached = self._cached(directory)
            pending.extend(cached.values())
        seen: set[str] = set()
        while pending:
            batch = [d for d in dict.fromkeys(pending) if str(d) not in seen]
            seen.update(str(d) for d in batch)
            for directory in batch:
                wanted.extend(config_files(directory))
            self.loader.load(wanted)
            wanted = []
            pending = []
            for directory in batch:
                definition = self.module_def(directory)
                if definition is not None:
                    pending.extend(d for d in definition.local_sources() if str(d) not in seen)

    def _cached(self, root_dir: Path) -> dict[str, Path]:
        key = str(root_dir)
        if key not in self._remote:
            self._remote[key] = self.loader.cached_modules(root_dir)
        return self._remote[key]

    def roots(self, input_dirs: list[Path]) -> list[Path]:
        """Input directories that are not (only) local modules of other directories."""
        edges: dict[str, set[str]] = {}
        for key, definition in self.defs.items():
            if definition is not None:
                edges[key] = {str(d) for d in definition.local_sources() if str(d) != key}
        called = {d for targets in edges.values() for d in targets}
        inputs = [str(d) for d in input_dirs if self.defs.get(str(d)) is not None]
        roots = [d for d in inputs if d not in called]
        reached = _reachable(roots, edges)
        for d in inputs:  # directories that call each other in a cycle: the first is a root
            if d not in reached:
                roots.append(d)
                reached |= _reachable([d], edges)
        return sorted((Path(r) for r in roots), key=self.loader.rel)

    def files_of_root(self, root_dir: Path) -> tuple[str, ...]:
        """The files the root evaluated last read: its modules' and its variable files."""
        files = [f for d in self._used for f in self._files_by_dir.get(d, ())]
        files += [self.loader.rel(p) for p in (*auto_tfvars(root_dir), *self._var_files) if p.is_file()]
        return tuple(sorted(set(files)))

    # --------------------------------------------------------------- evaluation
    def run_root(self, root_dir: Path) -> None:
        """Evaluate one root module alone: what other roots reported is not remembered."""
        self._used = set()
        self._reported = set()
        self.referenced = set()
        definition = self.module_def(root_dir)
        if definition is None:
            return
        sources = self._variable_sources(root_dir)
        instance = ModuleInstance(
            self,
            definition,
            path="",
            call_path=(),
            root_dir=root_dir,
            called_by=None,
            expansion_unknown=None,
            root_variables=lambda m, n, d: _root_var(m, n, d, sources, self),
        )
        self.collect(instance)
        self._finish_synthesised()

    def _variable_sources(self, root_dir: Path) -> list[tuple[str, dict[str, tuple[Expr, Lines]]]]:
        sources = []
        for path in [*auto_tfvars(root_dir), *self._var_files]:
            tree = self.loader.tree(path)
            if tree is None:
                continue
            rel = self.loader.rel(path)
            origin = "-var-file" if path in self._var_files else path.name
            values = {a.name: (a.expr, Lines(rel, a.line, a.end_line)) for a in tree.attrs}
            sources.append((origin, values))
        return sources

    def collect(self, instance: ModuleInstance) -> None:
        definition = instance.definition
        for name in definition.variables:
            found = instance.var(name)
            value = materialize(found.value, f"var.{name}")
            sensitive = declared_sensitive(definition.variables[name].node)
            if sensitive:
                self.add_secret(value, f"{instance.path}.var.{name}" if instance.path else f"var.{name}")
            self.variables.append(Variable(instance.path, name, value, found.origin, found.lines, sensitive))
        for name, decl in definition.outputs.items():
            if declared_sensitive(decl.node):
                where = f"{instance.path}.output.{name}" if instance.path else f"output.{name}"
                try:
                    self.add_secret(materialize(instance.output(name), where), where)
                except Exception:  # an output that cannot be evaluated holds no known text
                    continue
        for key, rdef in definition.resources.items():
            try:
                self._collect_resource(instance, key, rdef)
            except Exception as exc:  # never let one resource stop the scan
                lines = rdef.lines()
                self.problems.append(
                    TerraformProblem(
                        ProblemKind.UNRESOLVED, f"{key[1]}.{key[2]} could not be evaluated: {exc!r}", lines
                    )
                )
        for name in definition.calls:
            for child in instance.children(name)[1]:
                self.collect(child)

    def _collect_resource(self, instance: ModuleInstance, key: tuple[str, str, str], rdef: Located) -> None:
        mode, type_name, name = key
        expansion = instance.expansion(key)
        unknown = instance.expansion_unknown
        what, where = instance.expansion_attr, instance.expansion_lines
        if isinstance(expansion, Unknown):
            unknown = expansion
            what, where = _meta_arg(rdef)
            items: list[tuple[int | str | None, Scope]] = [
                (None, _unknown_iteration(instance.scope, expansion))
            ]
        else:
            items = list(expansion)
        self.instances += len(items)
        if self.instances > MAX_TOTAL_INSTANCES:
            mark = (rdef.rel, rdef.node.line)
            if mark not in self._reported:  # once per resource block, not per module instance
                self._reported.add(mark)
                message = f"{type_name}.{name} not expanded: more than {MAX_TOTAL_INSTANCES} instances in all"
                self.problems.append(
                    TerraformProblem(
                        ProblemKind.UNRESOLVED, message, rdef.lines(), f"budget:{type_name}.{name}"
                    )
                )
            return
        for instance_key, scope in items:
            obj = instance.resource_object(key, instance_key, scope)
            body = evaluate_body(
                rdef.node,
                scope,
                rdef.rel,
                "resource" if mode == "managed" else "data",
                (type_name, name),
                attribute=lambda a, o=obj: o.attribute(a.name),  # type: ignore[misc]
            )
            self.resources.append(
                ResourceInstance(
                    mode,
                    type_name,
                    name,
                    obj.address,
                    instance.path,
                    instance_key,
                    body,
                    unknown,
                    expansion_attr=what if unknown is not None else "",
                    expansion_lines=where if unknown is not None else None,
                )
            )

    # ------------------------------------------------------------------ modules
    def instantiate_call(self, parent: ModuleInstance, name: str) -> tuple[Any, list[ModuleInstance]]:
        call = parent.definition.calls[name]
        base = f"{parent.path}.module.{name}" if parent.path else f"module.{name}"
        source_attr = call.node.attr("source")
        source = source_attr.expr[2] if source_attr is not None and source_attr.expr[0] == "L" else None
        if not isinstance(source, str):
            return self._unreadable(call, base, f'module "{name}" has no literal source')
        call_path = (*parent.call_path, name)
        if is_local_source(source):
            directory: Path | None = Path(os.path.normpath(parent.definition.directory / source))
        else:
            directory = self._cached(parent.root_dir).get(".".join(call_path))
            if directory is None:
                # A well-known registry module (terraform-aws-modules/...) is modelled from
                # its documented inputs; a cached copy (above) still wins.
                modelled = registry_modules.instantiate(
                    parent,
                    name,
                    call,
                    source,
                    base,
                    add=self._synthesised,
                    synthesisers=registry_aws.SYNTHESISERS,
                    irrelevant_inputs=registry_aws.IRRELEVANT,
                )
                if not registry_modules.is_missing(modelled):
                    return modelled, []
                self.remote_modules.add(f"module:{base}")
                return self._unreadable(
                    call,
                    base,
                    f'module "{name}" has the remote source "{source}", which is not in a .terraform/modules '
                    "cache: run terraform init, or scan a plan JSON",
                )
        assert directory is not None
        definition = self.module_def(directory)
        if definition is None:
            return self._unreadable(call, base, f'module "{name}": source "{source}" has no Terraform files')
        if str(directory) in parent.ancestors or len(parent.ancestors) >= MAX_MODULE_DEPTH:
            return self._unreadable(call, base, f'module "{name}" calls itself (directly or through others)')
        if self.instances > MAX_TOTAL_INSTANCES:  # spent: expanding more would be wasted time
            message = f'module "{name}" not expanded: more than {MAX_TOTAL_INSTANCES} instances in all'
            return self._unreadable(call, base, message)
        expansion = expand(call.node, parent.scope, base)
        if isinstance(expansion, Unknown):
            scope = _unknown_iteration(parent.scope, expansion)
            what, where = _meta_arg(call)
            child = self._child(
                parent=parent,
                definition=definition,
                path=base,
                call_path=call_path,
                called_by=CallInstance(call, scope),
                unknown=expansion,
                unknown_at=(f"{base} {what}", where),
            )
            return unknown_from(base, expansion), [child]
        self.instances += len(expansion)
        if self.instances > MAX_TOTAL_INSTANCES:
            message = f'module "{name}" not expanded: more than {MAX_TOTAL_INSTANCES} instances in all'
            return self._unreadable(call, base, message)
        children = []
        for key, scope in expansion:
            path = base + key_suffix(key)
            children.append(
                self._child(
                    parent=parent,
                    definition=definition,
                    path=path,
                    call_path=call_path,
                    called_by=CallInstance(call, scope),
                    unknown=None,
                )
            )
        value: Any
        if call.node.attr("count") is not None:
            value = [ModuleObject(c) for c in children]
        elif call.node.attr("for_each") is not None:
            value = {str(k): ModuleObject(c) for (k, _), c in zip(expansion, children, strict=True)}
        else:
            value = ModuleObject(children[0])
        return value, children

    def _child(
        self,
        *,
        parent: ModuleInstance,
        definition: ModuleDef,
        path: str,
        call_path: tuple[str, ...],
        called_by: CallInstance,
        unknown: Unknown | None,
        unknown_at: tuple[str, Lines | None] = ("", None),
    ) -> ModuleInstance:
        if unknown is None:
            unknown, unknown_at = parent.expansion_unknown, (parent.expansion_attr, parent.expansion_lines)
        child = ModuleInstance(
            self,
            definition,
            path=path,
            call_path=call_path,
            root_dir=parent.root_dir,
            called_by=called_by,
            expansion_unknown=unknown,
            ancestors=parent.ancestors,
        )
        child.expansion_attr, child.expansion_lines = unknown_at
        return child

    def _synthesised(
        self, finish: Callable[[], tuple[list[ResourceInstance], list[TerraformProblem]]]
    ) -> None:
        self._pending.append(finish)

    def _finish_synthesised(self) -> None:
        """Build what registry modules deferred until every module's outputs existed."""
        while self._pending:
            resources, problems = self._pending.pop(0)()
            self.resources.extend(resources)
            self.problems.extend(problems)

    def _unreadable(self, call: Located, address: str, message: str) -> tuple[Any, list[ModuleInstance]]:
        mark = (call.rel, call.node.line)
        if mark not in self._reported:
            self._reported.add(mark)
            self.problems.append(
                TerraformProblem(ProblemKind.UNRESOLVED, message, call.lines(), f"module:{address}")
            )
        return UnreadableModule(address, message), []


def _rel_real(path: str, root: Path) -> str:
    """A real path (as file() resolves it) relative to the scan root, as discovery names it."""
    return Path(os.path.relpath(path, os.path.realpath(root))).as_posix()


def _reachable(starts: list[str], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        stack.extend(edges.get(d, ()))
    return seen


def _meta_arg(located: Located) -> tuple[str, Lines | None]:
    """The count/for_each meta-argument of a resource or module call and where it is."""
    for name in ("for_each", "count"):
        attr = located.node.attr(name)
        if attr is not None:
            return name, Lines(located.rel, attr.line, attr.end_line)
    return "count", None


def _unknown_iteration(scope: Scope, cause: Unknown) -> Scope:
    """The scope of the one instance standing for an unknown number of instances."""
    reason = f"{cause.expression}: {cause.reason}" if not cause.origin else cause.reason
    return scope.bind(
        count={"index": Unknown("count.index", f"{_EXPANSION_UNKNOWN} ({reason})")},
        each={
            "key": Unknown("each.key", f"{_EXPANSION_UNKNOWN} ({reason})"),
            "value": Unknown("each.value", f"{_EXPANSION_UNKNOWN} ({reason})"),
        },
    )


def _root_var(
    instance: ModuleInstance,
    name: str,
    decl: Located,
    sources: list[tuple[str, dict[str, tuple[Expr, Lines]]]],
    engine: Engine,
) -> VariableValue:
    """Terraform's precedence, highest first: -var-file in order given (last wins),
    *.auto.tfvars by name, terraform.tfvars.json, terraform.tfvars, TF_VAR_name, default."""
    const = Scope(ConstScope(instance, "a variable value"), {})
    for origin, values in reversed(sources):
        if name in values:
            expr, lines = values[name]
            return VariableValue(evaluate(expr, const), origin, lines)
    env_name = f"TF_VAR_{name}"
    raw = engine.options.env.get(env_name)
    if raw is not None:
        type_attr = decl.node.attr("type")
        value: Any = raw
        if not wants_string(type_attr.expr if type_attr is not None else None):
            try:
                value = evaluate(parse_expression(raw, decl.node.line), const)
            except SyntaxProblem:
                value = raw
        return VariableValue(value, env_name, decl.lines())
    return instance.default_value(name, decl)
