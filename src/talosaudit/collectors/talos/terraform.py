"""Map the Terraform Talos provider (``siderolabs/talos``) to Talos node configs.

``data "talos_machine_configuration"`` (and the provider's older
``talos_machine_configuration_controlplane``/``_worker`` resources) generate a whole machine
config from ``machine_type`` and ``cluster_endpoint``, then apply ``config_patches``;
``talos_machine_configuration_apply`` sends such a config (``machine_configuration_input``)
plus its own ``config_patches`` to one ``node``. Each apply becomes one node config at the
node's address; a generated config that no apply uses becomes a config for every node of its
machine type. The configs go through the Talos collector (``build_nodes``), so the host
firewall, roles and facts are the same as for machine config files.

Where each patch's lines come from (the evaluated string has none):

- a heredoc (``<<EOT``): the YAML starts on the line after the marker, so lines are exact;
- ``yamlencode({...})``: every key is located at the line where the HCL object writes it;
- ``file("...")``/``templatefile("...", {...})``: the referenced file (a template's lines
  shift where an interpolation inserts line breaks);
- anything else (``local.patch``, ``var.patch``): the line of the list item.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from talosaudit.collectors.talos import (
    Doc,
    DocKind,
    NodeConfig,
    build_nodes,
    collect_documents,
    from_plain,
    merge_all,
)
from talosaudit.collectors.talos.documents import classify
from talosaudit.collectors.terraform.hcl_parse import SyntaxProblem, parse_expression
from talosaudit.collectors.terraform.mapping import source, where
from talosaudit.collectors.terraform.syntax import Expr
from talosaudit.collectors.terraform.values import Lines, Ref, ResourceInstance, TerraformConfig, Unknown
from talosaudit.collectors.yamlsafe import YList, YMap, load_documents
from talosaudit.model import EMPTY, AddressSet, Collection, Problem, ProblemKind, Role, SourceRef
from talosaudit.regular_files import read_text

#: Resource types that generate a machine config, and the machine type their name implies.
GENERATORS: Mapping[str, Role | None] = {
    "talos_machine_configuration": None,
    "talos_machine_configuration_controlplane": Role.CONTROL_PLANE,
    "talos_machine_configuration_worker": Role.WORKER,
}
APPLY = "talos_machine_configuration_apply"
_MACHINE_TYPES = {"controlplane": Role.CONTROL_PLANE, "init": Role.CONTROL_PLANE, "worker": Role.WORKER}
_INPUT_ATTRS = ("machine_configuration_input", "machine_configuration")
_MAX_SOURCE_BYTES = 10 * 1024 * 1024
_ENDS_WITH_CONFIG = re.compile(r"^(?P<address>.+?)\.machine_configuration$")


def map_talos(config: TerraformConfig, root: Path | None = None) -> Collection:
    """Node configs of the Talos provider resources, built like Talos machine config files.

    ``root`` is the scan root: the ``.tf`` files are read again from it to locate heredoc
    and ``yamlencode`` patches (without it, every patch points at its list item's line).
    """
    mapper = _Mapper(config, root)
    return mapper.run()


@dataclass(frozen=True, slots=True)
class _Generated:
    """A generated machine config: its documents (base + patches) and what it says."""

    resource: ResourceInstance
    docs: tuple[Doc, ...]
    files: tuple[str, ...]
    complete: bool
    role: Role | None
    role_reason: str
    unresolved_at: tuple[SourceRef, ...] = ()


class _Mapper:
    def __init__(self, config: TerraformConfig, root: Path | None) -> None:
        self.config = config
        self.root = root
        self.problems: list[Problem] = []
        self._texts: dict[str, list[str] | None] = {}
        #: Files read by ``file()``/``templatefile()`` patches (scan-relative).
        self.read_files: set[str] = set()
        roots = config.extra.get("roots", [])
        self.roots: list[str] = [str(r) for r in roots] if isinstance(roots, list) else []
        #: Per resource address, the patches whose value could not be resolved.
        self.unresolved: dict[str, list[SourceRef]] = {}

    def run(self) -> Collection:
        generated = {
            r.address: self.generated(r)
            for r in self.config.resources
            if r.type in GENERATORS and r.mode in ("data", "managed")
        }
        configs: list[NodeConfig] = []
        used: set[str] = set()
        for r in self.config.resources:
            if r.type != APPLY or r.mode != "managed":
                continue
            base = self.input_of(r, generated)
            if base is not None:
                used.add(base.resource.address)
            configs.append(self.applied(r, base))
        for address, gen in generated.items():
            if address not in used:
                configs.append(self.standalone(gen))
        if not configs:
            return Collection()
        built = build_nodes(configs)
        return Collection(
            layers=built.layers,
            facts=built.facts,
            node_networks=built.node_networks,
            problems=(*self.problems, *built.problems),
            attachments=built.attachments,
            files=tuple(sorted(self.read_files)),
            consumed=tuple(sorted(self.read_files)),
        )

    # --- generated configs -----------------------------------------------------------

    def generated(self, r: ResourceInstance) -> _Generated:
        body = r.body
        role = GENERATORS[r.type]
        type_lines = body.line_of("machine_type")
        role_reason = f"{r.type} {r.address} at {where(body.lines)}" if role is not None else ""
        raw_type = body.attrs.get("machine_type")
        complete = True
        if role is None:
            if isinstance(raw_type, str) and raw_type.strip().lower() in _MACHINE_TYPES:
                role = _MACHINE_TYPES[raw_type.strip().lower()]
                role_reason = f'machine_type = "{raw_type}" at {where(type_lines)}'
            else:
                complete = False  # which defaults apply depends on the machine type
                self.problems.append(
                    Problem(
                        ProblemKind.UNRESOLVED,
                        f"{r.address}: machine_type {_shown(raw_type)} is not controlplane or worker; "
                        "the role of its nodes is unknown (assumed both)",
                        source(type_lines, f"{r.address}.machine_type"),
                        key=f"talos-tf:{r.address}:machine_type",
                    )
                )
        base = _base_document(r, role)
        patches, files = self.patches(r)
        docs = merge_all([base], patches)
        unresolved = tuple(self.unresolved.get(r.address, ()))
        return _Generated(r, tuple(docs), (body.lines.path, *files), complete, role, role_reason, unresolved)

    def input_of(self, r: ResourceInstance, generated: Mapping[str, _Generated]) -> _Generated | None:
        for attr in _INPUT_ATTRS:
            value = r.body.attrs.get(attr)
            if value is None:
                continue
            address = ""
            if isinstance(value, Ref):
                address = value.address
            elif isinstance(value, Unknown):
                found = _ENDS_WITH_CONFIG.match(value.origin or value.expression)
                address = found.group("address") if found else ""
            if address in generated:
                return generated[address]
            # ``data.x.cp[each.key]``: the generated instance with the apply's own key.
            bare = re.sub(r"\[[^\]]*\]$", "", address)
            same = [g for a, g in generated.items() if re.sub(r"\[[^\]]*\]$", "", a) == bare]
            keyed = [g for g in same if g.resource.key == r.key]
            if len(same) == 1 or len(keyed) == 1:
                return (keyed or same)[0]
            if address or not isinstance(value, str):
                lines = r.body.line_of(attr)
                self.problems.append(
                    Problem(
                        ProblemKind.UNRESOLVED,
                        f"{r.address}: {attr} ({_shown(value)}) names no talos_machine_configuration "
                        "in the configuration; only its config_patches are audited",
                        source(lines, f"{r.address}.{attr}"),
                        key=f"talos-tf:{r.address}:{attr}",
                    )
                )
            return None
        return None

    def standalone(self, gen: _Generated) -> NodeConfig:
        r = gen.resource
        return NodeConfig(
            id=r.address,
            name=r.address,
            docs=gen.docs,
            complete=gen.complete,
            anchor=source(r.body.lines, r.address),
            files=gen.files,
            applies=f"{r.address} (applied by no talos_machine_configuration_apply here)",
            role=gen.role,
            role_reason=gen.role_reason,
            assumed_all=gen.role is None,
            unresolved_at=gen.unresolved_at,
        )

    def applied(self, r: ResourceInstance, base: _Generated | None) -> NodeConfig:
        patches, files = self.patches(r)
        docs = merge_all(base.docs if base else [], patches)
        node = r.body.attrs.get("node")
        addresses = _address(node)
        address_reason = f'node = "{node}" at {where(r.body.line_of("node"))}' if addresses else ""
        if not addresses and node is not None:
            what = "a host name" if isinstance(node, str) else _shown(node)
            address_reason = f"node is {what}, not an address"
        applies = f"{r.address}" + (
            f" with the machine configuration of {base.resource.address}" if base else ""
        )
        applied_at = source(r.body.lines, r.address)
        return NodeConfig(
            id=r.address,
            name=r.address,
            docs=tuple(docs),
            complete=base.complete if base else False,
            # Findings about the config point where it is written (the generator the user adds
            # a NetworkDefaultActionConfig patch to); the apply is a related location.
            anchor=source(base.resource.body.lines, base.resource.address) if base else applied_at,
            applied_at=applied_at if base else None,
            unresolved_at=(*(base.unresolved_at if base else ()), *self.unresolved.get(r.address, ())),
            files=tuple(dict.fromkeys((*(base.files if base else ()), r.body.lines.path, *files))),
            applies=applies,
            role=base.role if base else None,
            role_reason=base.role_reason if base else "",
            addresses=addresses,
            address_reason=address_reason,
            assumed_all=base is None or base.role is None,
            count=1,  # an apply configures one node
        )

    # --- config_patches --------------------------------------------------------------

    def patches(self, r: ResourceInstance) -> tuple[list[tuple[Doc, ...]], list[str]]:
        """Each patch's documents, in order, and the files they came from."""
        value = r.body.attrs.get("config_patches")
        if value is None:
            return [], []
        lines = r.body.line_of("config_patches")
        where = f"{r.address}.config_patches"
        if not isinstance(value, list):
            self.unresolved.setdefault(r.address, []).append(source(lines, where))
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"{where} ({_shown(value)}) could not be resolved: the patches are not audited",
                    source(lines, where),
                    key=f"talos-tf:{where}",
                )
            )
            return [], []
        items = self.item_expressions(lines, len(value))
        out: list[tuple[Doc, ...]] = []
        files: list[str] = []
        for i, (item, expr) in enumerate(zip(value, items, strict=True)):
            item_lines = Lines(lines.path, expr[1], expr[1]) if expr is not None and expr[1] else lines
            docs, file_rel = self.patch(r, f"{where}[{i}]", item, expr, item_lines)
            out.append(docs)
            if file_rel is not None:
                files.append(file_rel)
                self.read_files.add(file_rel)
        return out, files

    def item_expressions(self, lines: Lines, count: int) -> list[Expr | None]:
        """The syntax of each list item of the attribute, when it is written as a list."""
        source = self.source_lines(lines.path)
        if source is None or lines.end > len(source):
            return [None] * count
        text = "\n".join(source[lines.start - 1 : lines.end])
        head, sep, rest = text.partition("=")
        if not sep or not head.strip().isidentifier():
            return [None] * count
        try:
            expr = parse_expression(rest, lines.start)
        except (SyntaxProblem, RecursionError):
            return [None] * count
        items: list[Expr] = list(expr[2]) if expr[0] == "U" else []
        if expr[0] == "C" and expr[2] == "concat":
            items = [item for arg in expr[3] if arg[0] == "U" for item in arg[2]]
        return list(items) if len(items) == count else [None] * count

    def patch(
        self, r: ResourceInstance, where: str, value: Any, expr: Expr | None, lines: Lines
    ) -> tuple[tuple[Doc, ...], str | None]:
        item_loc = source(lines, where)
        if not isinstance(value, str):
            self.unresolved.setdefault(r.address, []).append(item_loc)
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"{where} ({_shown(value)}) could not be resolved: this patch is not audited",
                    item_loc,
                    key=f"talos-tf:{where}",
                )
            )
            return (), None
        tag = expr[0] if expr is not None else ""
        if expr is not None and tag == "C" and expr[2] == "yamlencode" and expr[3]:
            return self.yamlencoded(value, expr[3][0], item_loc), None
        if expr is not None and tag == "C" and expr[2] in ("file", "templatefile") and expr[3]:
            target = self.file_target(r, expr[3][0])
            if target is not None:
                docs, problems = collect_documents(value, target)
                return self.kept(docs, problems, where, item_loc), target
        if expr is not None and tag in ("L", "T") and self.is_heredoc(lines.path, expr[1]):
            docs, problems = collect_documents(value, lines.path, expr[1] - 1)
            return self.kept(docs, problems, where, item_loc), None
        docs, problems = collect_documents(value, lines.path)
        relocated = [Doc(d.kind, _relocated(d.value, item_loc), item_loc, d.type_name, d.name) for d in docs]
        problems = [Problem(p.kind, p.message, item_loc, p.key, p.related) for p in problems]
        return self.kept(relocated, problems, where, item_loc), None

    def kept(
        self, docs: Sequence[Doc], problems: Sequence[Problem], where: str, loc: SourceRef
    ) -> tuple[Doc, ...]:
        self.problems.extend(problems)
        if any(d.kind is DocKind.JSON_PATCH for d in docs):
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"{where} is an RFC 6902 JSON patch; talosaudit does not apply JSON patches, "
                    "so its changes are not audited",
                    loc,
                    key=f"talos-tf-json-patch:{where}",
                )
            )
        return tuple(d for d in docs if d.kind in (DocKind.MACHINE, DocKind.PATCH, DocKind.TYPED))

    def yamlencoded(self, text: str, arg: Expr, loc: SourceRef) -> tuple[Doc, ...]:
        loaded = load_documents(text, loc.path)
        if loaded.error is not None or not loaded.documents:
            return ()
        plain = _plain(loaded.documents[0][0])
        value = _located(plain, arg, loc)
        doc = classify(value, loc)
        return (doc,) if doc is not None and doc.kind is not DocKind.JSON_PATCH else ()

    def is_heredoc(self, path: str, first_body_line: int) -> bool:
        source = self.source_lines(path)
        if source is None or not 2 <= first_body_line <= len(source) + 1:
            return False
        return "<<" in source[first_body_line - 2]

    def file_target(self, r: ResourceInstance, arg: Expr) -> str | None:
        """The scan-relative path of the file a ``file()``/``templatefile()`` call reads."""
        tf_dir = str(PurePosixPath(r.body.lines.path).parent)
        root_dir = tf_dir if not r.module else self.root_module_dir(tf_dir)
        if root_dir is None:
            return None
        module_dir = os.path.relpath(tf_dir, root_dir)
        text = _path_text(arg, {"module": module_dir, "root": ".", "cwd": "."})
        if text is None or os.path.isabs(text):
            return None
        rel = os.path.normpath(os.path.join(root_dir, text))
        if rel.startswith(".."):
            return None
        if self.root is not None and not (self.root / rel).is_file():
            return None
        return PurePosixPath(Path(rel)).as_posix()

    def root_module_dir(self, tf_dir: str) -> str | None:
        ancestors = [d for d in self.roots if d in (".", tf_dir) or tf_dir.startswith(d + "/")]
        if ancestors:
            return max(ancestors, key=len)
        return self.roots[0] if len(self.roots) == 1 else None

    def source_lines(self, path: str) -> list[str] | None:
        if path not in self._texts:
            self._texts[path] = _read_lines(self.root / path) if self.root is not None else None
        return self._texts[path]


def _read_lines(path: Path) -> list[str] | None:
    try:
        if path.stat().st_size > _MAX_SOURCE_BYTES:
            return None
        return read_text(path, encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _base_document(r: ResourceInstance, role: Role | None) -> Doc:
    """The v1alpha1 document the provider generates, with the lines its values come from."""
    body = r.body
    loc = source(body.lines, r.address)
    root = YMap(loc)
    _put(root, "version", "v1alpha1", loc)
    machine = YMap(loc)
    if role is not None:
        _put(machine, "type", role.value, source(body.line_of("machine_type"), r.address))
    _put(root, "machine", machine, loc)
    endpoint = body.attrs.get("cluster_endpoint")
    if isinstance(endpoint, str):
        endpoint_loc = source(body.line_of("cluster_endpoint"), r.address)
        control = YMap(endpoint_loc)
        _put(control, "endpoint", endpoint, endpoint_loc)
        cluster = YMap(loc)
        _put(cluster, "controlPlane", control, endpoint_loc)
        _put(root, "cluster", cluster, loc)
    return Doc(DocKind.MACHINE, root, loc)


def _put(mapping: YMap, key: str, value: Any, loc: SourceRef) -> None:
    mapping[key] = value
    mapping.key_locs[key] = loc


def _located(value: Any, expr: Expr | None, loc: SourceRef) -> Any:
    """``value`` (from ``yamlencode``) as YMap/YList, each entry at the line the HCL writes it."""
    while expr is not None and expr[0] == "P":
        expr = expr[2]
    here = SourceRef(loc.path, expr[1], expr[1], loc.resource) if expr is not None and expr[1] else loc
    if isinstance(value, dict) and expr is not None and expr[0] == "O":
        written: dict[str, tuple[int, Expr]] = {}
        for key_expr, value_expr in expr[2]:
            name = _key_name(key_expr)
            if name is not None:
                written[name] = (key_expr[1] or here.start_line, value_expr)
        out = YMap(here)
        for key, val in value.items():
            line, sub = written.get(str(key), (here.start_line, None))
            key_loc = SourceRef(loc.path, line, line, loc.resource)
            out[key] = _located(val, sub, key_loc)
            out.key_locs[key] = key_loc
        return out
    if isinstance(value, list) and expr is not None and expr[0] == "U" and len(expr[2]) == len(value):
        seq = YList(here)
        for val, sub in zip(value, expr[2], strict=True):
            item = _located(val, sub, here)
            seq.append(item)
            seq.item_locs.append(SourceRef(loc.path, sub[1] or here.start_line, sub[1] or here.start_line))
        return seq
    return from_plain(value, here)


def _key_name(expr: Expr) -> str | None:
    while expr[0] == "P":
        expr = expr[2]
    if expr[0] in ("L", "N") and isinstance(expr[2], str):
        return expr[2]
    if expr[0] == "T" and all(isinstance(p, str) for p in expr[2]):
        return "".join(expr[2])
    return None


def _path_text(expr: Expr, path_values: Mapping[str, str]) -> str | None:
    """A literal path, or a template of literals and ``path.module``/``path.root``/``path.cwd``."""
    if expr[0] == "L" and isinstance(expr[2], str):
        return str(expr[2])
    if expr[0] == "A" and expr[2][0] == "N" and expr[2][2] == "path":
        return path_values.get(expr[3])
    if expr[0] == "T":
        parts: list[str] = []
        for part in expr[2]:
            if isinstance(part, str):
                parts.append(part)
                continue
            found = _path_text(part, path_values) if isinstance(part, tuple) else None
            if found is None:
                return None
            parts.append(found)
        return "".join(parts)
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, YMap):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, YList):
        return [_plain(v) for v in value]
    return value


def _relocated(value: Any, loc: SourceRef) -> Any:
    """The same YAML value with every location moved to ``loc`` (text whose lines are unknown)."""
    return from_plain(_plain(value), loc)


def _address(node: Any) -> AddressSet:
    if not isinstance(node, str):
        return EMPTY
    try:
        ipaddress.ip_address(node.strip())
    except ValueError:
        return EMPTY
    return AddressSet.parse(node.strip())


def _shown(value: Any) -> str:
    if isinstance(value, Unknown):
        return f"{value.expression}: {value.reason}" if value.reason else value.expression
    if isinstance(value, Ref):
        return str(value)
    return repr(value)
