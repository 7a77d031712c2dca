"""Which files make up which node's config.

Three layouts are understood, in this order:

1. A talhelper ``talconfig.yaml``: each ``nodes[]`` entry is a node (hostname, ipAddress,
   controlPlane) whose config is talhelper's generated base plus the ``patches`` it lists
   (global, ``controlPlane``/``worker``, per node). Files it lists are claimed by it.
2. Whole machine configs (``version: v1alpha1``): ``talosctl gen config`` output
   (``controlplane.yaml``, ``worker.yaml``) or per-node files. Patch files in the same
   directory apply to them: a patch whose name or ``machine.type`` names a role applies to
   the configs of that role, any other patch to every config beside it (said so in the
   reasons).
3. Patch files alone: patches whose name names a role form that role's config; when no
   role can be told, the patches form one config that is assumed to apply to every node,
   and a UNRESOLVED problem says so for each patch that carries node-specific content.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from talosaudit.collectors.talos.documents import Doc, DocKind, get, merge_all
from talosaudit.collectors.talos.firewall import has_firewall_documents
from talosaudit.collectors.talos.parse import ParsedFile, collect_documents
from talosaudit.collectors.yamlsafe import YList, YMap, has_placeholder
from talosaudit.model import ProblemKind
from talosaudit.model.addresses import EMPTY, AddressSet
from talosaudit.model.cluster import Role
from talosaudit.model.collection import Problem
from talosaudit.model.source import SourceRef


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The merged documents that configure one node (or every node of one role)."""

    id: str
    name: str
    docs: tuple[Doc, ...]
    #: A whole machine config: Talos defaults apply to what it does not say.
    complete: bool
    #: Where findings about the config as a whole point (its first document).
    anchor: SourceRef
    files: tuple[str, ...]
    #: How the files were put together, for attachment reasons.
    applies: str
    #: The role the layout decided (talconfig ``controlPlane``, a patch's name); None means
    #: "read ``machine.type``".
    role: Role | None = None
    role_reason: str = ""
    addresses: AddressSet = EMPTY
    address_reason: str = ""
    #: No role could be told at all: the config is assumed to apply to every node.
    assumed_all: bool = False
    #: How many nodes run this config, when the layout says (a talconfig node, a Terraform
    #: apply: 1). Otherwise a config that writes static addresses is one node.
    count: int | None = None
    #: Where the config is sent to the node when that is not where it is written (a
    #: ``talos_machine_configuration_apply`` of a ``talos_machine_configuration``): findings
    #: point at the config and name this as a related location.
    applied_at: SourceRef | None = None
    #: Patches of this config that could not be read (a Terraform value unknown before
    #: apply): they may set anything, so no Talos default is claimed for this config.
    unresolved_at: tuple[SourceRef, ...] = ()


#: Reads a file the layout refers to (a talconfig patch) that was not among the inputs.
Reader = Callable[[Path, str], "ParsedFile | None"]


def plan(
    files: Sequence[ParsedFile],
    paths: dict[str, Path],
    read_extra: Reader,
    root: Path,
) -> tuple[list[NodeConfig], list[Problem]]:
    """Group parsed files into node configs; ``paths`` maps a file's rel path to its path."""
    problems: list[Problem] = []
    configs: list[NodeConfig] = []
    by_path = {os.path.normpath(str(paths[f.rel])): f for f in files if f.rel in paths}
    claimed: set[str] = set()
    for parsed in files:
        doc = parsed.talconfig
        if doc is not None and parsed.rel in paths:
            talconfig = _Talconfig(
                parsed, doc, paths[parsed.rel], by_path=by_path, files=files, read_extra=read_extra, root=root
            )
            configs.extend(talconfig.nodes())
            problems.extend(talconfig.problems)
            claimed.update(talconfig.claimed)
    groups: dict[str, list[ParsedFile]] = defaultdict(list)
    for parsed in files:
        if parsed.talconfig is not None or parsed.rel in claimed:
            continue
        if parsed.json_patch is not None and not parsed.patch_docs:
            problems.append(_json_patch_problem(parsed.rel, parsed.json_patch.loc))
            continue
        groups[group_directory(str(PurePosixPath(parsed.rel).parent))].append(parsed)
    talconfigs = [(str(PurePosixPath(f.rel).parent), f.rel) for f in files if f.talconfig is not None]
    for directory in sorted(groups):
        group = sorted(groups[directory], key=lambda f: f.rel)
        governing = next((rel for d, rel in talconfigs if _within(directory, d)), None)
        if governing is not None and not any(f.machine is not None for f in group):
            problems.extend(_unlisted(group, governing))
            continue
        found, found_problems = _directory(directory, group)
        configs.extend(found)
        problems.extend(found_problems)
    return configs, problems


def _within(directory: str, ancestor: str) -> bool:
    return ancestor in (".", directory) or directory.startswith(ancestor + "/")


def _unlisted(patches: list[ParsedFile], talconfig: str) -> list[Problem]:
    """Patches under a talconfig that it does not list: talhelper applies them to no node."""
    return _network_patch_problems(
        patches,
        ProblemKind.UNRESOLVED,
        "talos-patch-unlisted",
        lambda rel: (
            f"patch {rel} is not listed in the patches of {talconfig}: talhelper applies "
            "it to no node, so it is not audited as part of any node's config"
        ),
    )


def _network_patch_problems(
    patches: Sequence[ParsedFile], kind: ProblemKind, key: str, message: Callable[[str], str]
) -> list[Problem]:
    """A problem ``kind`` (``message`` of the patch's path, key ``key:path``) for each patch
    that holds firewall documents or addresses: the patches that matter to the audit."""
    return [
        Problem(
            kind=kind,
            message=message(patch.rel),
            source=SourceRef(patch.rel, patch.first.start_line, patch.first.end_line, patch.rel),
            key=f"{key}:{patch.rel}",
        )
        for patch in patches
        if has_firewall_documents(patch.patch_docs) or _has_addresses(patch.patch_docs)
    ]


# --- a directory of machine configs and patches --------------------------------------------

_CP_TOKENS = frozenset(
    {
        "controlplane",
        "cp",
        "master",
        "masters",
        "controlplanes",
        "control-plane",
        "control",
        "controller",
        "controllers",
    }
)
_WORKER_TOKENS = frozenset({"worker", "workers"})
#: Directories that only sort a tree's patches: their files belong to the directory above
#: (``talos/patches/common-control.yaml`` sits with ``talos/controlplane/cp-01.yaml``).
_SORTING_DIRS = frozenset({"patches", "patch", "nodes", "node-patches"})


def _name_role(name: str) -> Role | None:
    """The role a file or directory name names (``common-control``, ``controlplane``, ``workers``)."""
    stem = re.sub(r"\.(ya?ml)$", "", name.lower())
    tokens = set(re.split(r"[._\s]+", stem)) | set(re.split(r"[-._\s]+", stem))
    if "control" in tokens and "plane" in tokens:
        tokens.add("controlplane")
    if tokens & _CP_TOKENS:
        return Role.CONTROL_PLANE
    if tokens & _WORKER_TOKENS:
        return Role.WORKER
    return None


def group_directory(directory: str) -> str:
    """The directory whose files make up one tree: role and sorting folders join their parent."""
    path = PurePosixPath(directory)
    while path.name and (path.name.lower() in _SORTING_DIRS or _name_role(path.name) is not None):
        path = path.parent
    return path.as_posix()


def _directory_role(rel: str) -> tuple[Role | None, str]:
    """The role the nearest role-named folder of ``rel`` names (``controlplane/cp-01.yaml``)."""
    for part in reversed(PurePosixPath(rel).parent.parts):
        if part.lower() in _SORTING_DIRS:
            continue
        role = _name_role(part)
        if role is not None:
            return (
                role,
                f"the folder {part}/ of {rel} names "
                + ("the control plane" if role is Role.CONTROL_PLANE else "workers"),
            )
        break
    return None, ""


def role_hint(parsed: ParsedFile) -> tuple[Role | None, str]:
    """The role a patch is meant for: from ``machine.type`` inside it, else from its name."""
    for doc in parsed.docs:
        if doc.kind is DocKind.PATCH:
            raw = get(doc.value, "machine", "type")
            if isinstance(raw, str):
                value = raw.strip().lower()
                if value in ("controlplane", "init"):
                    return Role.CONTROL_PLANE, f"machine.type: {raw} in {parsed.rel}"
                if value in ("worker", "join"):
                    return Role.WORKER, f"machine.type: {raw} in {parsed.rel}"
    name = PurePosixPath(parsed.rel).name
    role = _name_role(name)
    if role is Role.CONTROL_PLANE:
        return Role.CONTROL_PLANE, f"the file name {name} names the control plane"
    if role is Role.WORKER:
        return Role.WORKER, f"the file name {name} names workers"
    return _directory_role(parsed.rel)


def _directory(directory: str, files: list[ParsedFile]) -> tuple[list[NodeConfig], list[Problem]]:
    bases = [f for f in files if f.machine is not None]
    patches = [f for f in files if f.machine is None and f.patch_docs]
    hints = {p.rel: role_hint(p) for p in patches}
    base_roles = {_machine_role(b) for b in bases}
    configs: list[NodeConfig] = []
    for base in bases:
        role = _machine_role(base)
        applied = [p for p in patches if hints[p.rel][0] in (None, role)]
        configs.append(_from_base(base, applied, hints, len(bases) > 1))
    hinted_roles = sorted({r for r, _ in hints.values() if r is not None and r not in base_roles})
    for role in hinted_roles:
        applied = [p for p in patches if hints[p.rel][0] in (None, role)]
        # Per-node files in a role folder (``controlplane/cp-01.yaml``) are one node each, on
        # top of the role's shared patches (``patches/common-control.yaml``).
        nodes = [p for p in applied if hints[p.rel][0] is role and _is_node_file(p, directory)]
        # Order as talosctl applies them: patches for every role, then the role's, then the node's.
        shared = [p for p in applied if hints[p.rel][0] is None] + [
            p for p in applied if hints[p.rel][0] is role and p not in nodes
        ]
        machines: list[ParsedFile | None] = list(nodes) if nodes else [None]
        for node in machines:
            files_of = [*shared, node] if node is not None else shared
            reasons = sorted({hints[p.rel][1] for p in files_of if hints[p.rel][0] is role})
            what = f"the {role.label} patches in {directory}/"
            configs.append(
                _from_patches(
                    directory,
                    files_of,
                    role=role,
                    role_reason="; ".join(reasons),
                    applies=_patch_applies(
                        files_of, hints, what if node is None else f"{node.rel} with {what}"
                    ),
                    node=node,
                )
            )
    problems: list[Problem] = []
    if not configs and patches:
        config = _from_patches(
            directory,
            patches,
            role=None,
            role_reason="",
            applies=(
                f"patches in {directory}/ with no machine config or role beside them: "
                "assumed to apply to all nodes"
            ),
        )
        configs.append(config)
        problems += _network_patch_problems(
            patches,
            ProblemKind.ROLE_UNKNOWN,
            "talos-patch-target",
            lambda rel: (
                f"patch {rel}: cannot tell which nodes it applies to; assumed all "
                "(no machine config, talconfig or role name beside it)"
            ),
        )
    return configs, problems


def _machine_role(parsed: ParsedFile) -> Role | None:
    doc = parsed.machine
    raw = get(doc.value, "machine", "type") if doc is not None else None
    value = str(raw).strip().lower() if raw is not None else ""
    if value in ("controlplane", "init"):
        return Role.CONTROL_PLANE
    if value in ("worker", "join", ""):
        return Role.WORKER
    return None


def _from_base(
    base: ParsedFile, patches: list[ParsedFile], hints: dict[str, tuple[Role | None, str]], many: bool
) -> NodeConfig:
    docs = merge_all(base.patch_docs, [p.patch_docs for p in patches])
    applies = f"machine config {base.rel}"
    if patches:
        names = ", ".join(p.rel for p in patches)
        shared = [p.rel for p in patches if hints[p.rel][0] is None]
        applies += f" with patches {names}"
        if shared and many:
            applies += f" (applied to every config beside them: {', '.join(shared)} name no role)"
    return NodeConfig(
        id=base.rel,
        name=base.rel,
        docs=tuple(docs),
        complete=True,
        anchor=base.first,
        files=(base.rel, *(p.rel for p in patches)),
        applies=applies,
    )


def _from_patches(
    directory: str,
    patches: list[ParsedFile],
    *,
    role: Role | None,
    role_reason: str,
    applies: str,
    node: ParsedFile | None = None,
) -> NodeConfig:
    docs = merge_all([], [p.patch_docs for p in patches])
    suffix = f"[{role.value}]" if role is not None else ""
    first = next((p for p in patches if has_firewall_documents(p.patch_docs)), patches[0])
    prefix = "" if directory == "." else f"{directory}/"
    name = f"patches in {directory}/" + (f" for {role.label} nodes" if role else "")
    return NodeConfig(
        id=node.rel if node is not None else f"{prefix}(patches){suffix}",
        name=f"{node.rel} with the {role.label if role else ''} patches in {directory}/" if node else name,
        docs=tuple(docs),
        complete=False,
        anchor=first.first,
        files=tuple(p.rel for p in patches),
        applies=applies,
        role=role,
        role_reason=role_reason,
        assumed_all=role is None,
        count=1 if node is not None else None,
    )


def _is_node_file(parsed: ParsedFile, directory: str) -> bool:
    """A file in a role folder below the tree's directory that names one machine (its
    hostname or interface addresses): ``controlplane/cp-01.yaml``."""
    rel = parsed.rel
    if str(PurePosixPath(rel).parent) == directory or _directory_role(rel)[0] is None:
        return False
    hostname = any(
        d.kind is DocKind.PATCH and get(d.value, "machine", "network", "hostname") is not None
        for d in parsed.patch_docs
    )
    return hostname or _has_addresses(parsed.patch_docs)


def _patch_applies(patches: list[ParsedFile], hints: dict[str, tuple[Role | None, str]], what: str) -> str:
    shared = [p.rel for p in patches if hints[p.rel][0] is None]
    text = f"{what}: {', '.join(p.rel for p in patches)}"
    if shared:
        text += f" ({', '.join(shared)} name no role and are applied to every role beside them)"
    return text


def _has_addresses(docs: Sequence[Doc]) -> bool:
    for doc in docs:
        if doc.kind is DocKind.PATCH and get(doc.value, "machine", "network", "interfaces"):
            return True
        if doc.kind is DocKind.TYPED and isinstance(doc.value.get("addresses"), YList):
            return True
    return False


def _json_patch_problem(rel: str, loc: SourceRef) -> Problem:
    return Problem(
        kind=ProblemKind.UNRESOLVED,
        message=(
            f"{rel} is an RFC 6902 JSON patch; talosaudit does not apply JSON patches, "
            "so its changes are not audited"
        ),
        source=SourceRef(rel, loc.start_line, loc.end_line, rel),
        key=f"talos-json-patch:{rel}",
    )


# --- talhelper talconfig.yaml ---------------------------------------------------------------


class _Talconfig:
    """The nodes of a talhelper config, each with talhelper's generated base and its patches."""

    def __init__(
        self,
        parsed: ParsedFile,
        doc: Doc,
        path: Path,
        *,
        by_path: dict[str, ParsedFile],
        files: Sequence[ParsedFile],
        read_extra: Reader,
        root: Path,
    ) -> None:
        self.parsed = parsed
        self.value: YMap = doc.value
        self.path = path
        self.by_path = by_path
        self.files = files
        self.read_extra = read_extra
        self.root = root
        self.problems: list[Problem] = []
        self.claimed: set[str] = set()
        self._resolved: dict[str, tuple[ParsedFile | None, str]] = {}

    def nodes(self) -> list[NodeConfig]:
        nodes = self.value.get("nodes")
        configs: list[NodeConfig] = []
        if not isinstance(nodes, YList):
            return configs
        for i, node in enumerate(nodes):
            if isinstance(node, YMap):
                configs.append(self._node(node, nodes.loc_of(i), i))
        return configs

    def _node(self, node: YMap, loc: SourceRef, index: int) -> NodeConfig:
        rel = self.parsed.rel
        hostname = str(node.get("hostname") or f"nodes[{index}]")
        control_plane = node.get("controlPlane") is True
        role = Role.CONTROL_PLANE if control_plane else Role.WORKER
        role_loc = node.loc_of("controlPlane") if "controlPlane" in node else loc
        role_reason = (
            f"controlPlane: {str(control_plane).lower()} for node {hostname} at {rel}:{role_loc.start_line}"
            if "controlPlane" in node
            else f"node {hostname} at {rel}:{loc.start_line} has no controlPlane: talhelper makes it a worker"
        )
        base = Doc(DocKind.MACHINE, self._base(node, role, role_loc, loc), loc)
        patch_lists: list[tuple[Any, str]] = [(self.value.get("patches"), "patches")]
        section = self.value.get("controlPlane" if control_plane else "worker")
        if isinstance(section, YMap):
            patch_lists.append(
                (section.get("patches"), "controlPlane.patches" if control_plane else "worker.patches")
            )
        patch_lists.append((node.get("patches"), f"nodes[{index}].patches"))
        patch_docs: list[tuple[Doc, ...]] = []
        used: list[str] = []
        files: list[str] = [rel]
        for entries, _where in patch_lists:
            for entry_docs, name, file_rel in self._patches(entries):
                patch_docs.append(entry_docs)
                used.append(name)
                if file_rel is not None and file_rel not in files:
                    files.append(file_rel)
        if node.get("ingressFirewall") is not None:
            fw_loc = node.loc_of("ingressFirewall")
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"node {hostname}: talhelper ingressFirewall is not evaluated; "
                    "write the firewall as NetworkRuleConfig patches to have it audited",
                    fw_loc,
                    key=f"talconfig-ingress-firewall:{rel}:{hostname}",
                )
            )
        addresses = EMPTY
        address_reason = ""
        ip = node.get("ipAddress")
        if isinstance(ip, str):
            for part in ip.split(","):
                if has_placeholder(part):
                    self.problems.append(
                        Problem(
                            ProblemKind.UNRESOLVED,
                            f"node {hostname}: ipAddress {part.strip()!r} is an unrendered placeholder "
                            "(talenv/SOPS); the node's address is unknown",
                            node.loc_of("ipAddress"),
                            key=f"talconfig-ip:{rel}:{hostname}:{part.strip()}",
                        )
                    )
                    continue
                try:
                    addresses = addresses | AddressSet.parse(part.strip())
                except ValueError:
                    continue
            if addresses:
                address_reason = (
                    f"ipAddress {ip} of node {hostname} at {rel}:{node.loc_of('ipAddress').start_line}"
                )
        applies = f"node {hostname} of {rel}" + (f" with patches {', '.join(used)}" if used else "")
        return NodeConfig(
            id=f"{rel}#{hostname}",
            name=f"{hostname} ({rel})",
            docs=tuple(merge_all([base], patch_docs)),
            complete=True,
            anchor=loc,
            files=tuple(files),
            applies=applies,
            role=role,
            role_reason=role_reason,
            addresses=addresses,
            address_reason=address_reason,
            count=1,
        )

    def _base(self, node: YMap, role: Role, role_loc: SourceRef, loc: SourceRef) -> YMap:
        """The v1alpha1 document talhelper generates, with the lines the values came from."""
        machine = YMap(loc)
        _put(machine, "type", role.value, role_loc)
        interfaces = node.get("networkInterfaces")
        if isinstance(interfaces, YList):
            network = YMap(node.loc_of("networkInterfaces"))
            _put(network, "interfaces", interfaces, node.loc_of("networkInterfaces"))
            _put(machine, "network", network, node.loc_of("networkInterfaces"))
        cluster = YMap(loc)
        network = YMap(loc)
        cni = self.value.get("cniConfig")
        if isinstance(cni, YMap) and "name" in cni:
            cni_map = YMap(cni.loc)
            _put(cni_map, "name", cni["name"], cni.loc_of("name"))
            _put(network, "cni", cni_map, cni.loc)
        for source_key, key in (("clusterPodNets", "podSubnets"), ("clusterSvcNets", "serviceSubnets")):
            if isinstance(self.value.get(source_key), YList):
                _put(network, key, self.value[source_key], self.value.loc_of(source_key))
        if network:
            _put(cluster, "network", network, loc)
        endpoint = self.value.get("endpoint")
        if isinstance(endpoint, str):
            control = YMap(self.value.loc_of("endpoint"))
            _put(control, "endpoint", endpoint, self.value.loc_of("endpoint"))
            _put(cluster, "controlPlane", control, self.value.loc_of("endpoint"))
        root = YMap(loc)
        _put(root, "version", "v1alpha1", loc)
        _put(root, "machine", machine, loc)
        _put(root, "cluster", cluster, loc)
        return root

    def _patches(self, entries: Any) -> list[tuple[tuple[Doc, ...], str, str | None]]:
        """Each patch entry's documents, how to name it, and the file it came from."""
        out: list[tuple[tuple[Doc, ...], str, str | None]] = []
        if not isinstance(entries, YList):
            return out
        for i, entry in enumerate(entries):
            loc = entries.loc_of(i)
            if isinstance(entry, str) and entry.strip().startswith("@"):
                parsed, name = self._file(entry.strip()[1:].strip(), loc)
                if parsed is not None:
                    out.append((parsed.patch_docs, name, parsed.rel))
            elif isinstance(entry, str):
                # An inline patch: YAML text written in the talconfig itself.
                offset = loc.start_line if "\n" in entry else loc.start_line - 1
                docs, problems = collect_documents(entry, self.parsed.rel, offset)
                self.problems.extend(problems)
                kept = tuple(d for d in docs if d.kind in (DocKind.MACHINE, DocKind.PATCH, DocKind.TYPED))
                if any(d.kind is DocKind.JSON_PATCH for d in docs):
                    self.problems.append(_json_patch_problem(self.parsed.rel, loc))
                out.append((kept, f"inline patch at {self.parsed.rel}:{loc.start_line}", None))
        return out

    def _file(self, reference: str, loc: SourceRef) -> tuple[ParsedFile | None, str]:
        if reference in self._resolved:
            return self._resolved[reference]
        target = os.path.normpath(os.path.join(self.path.parent, reference))
        parsed = self.by_path.get(target)
        name = reference
        if parsed is None and Path(target).is_file() and _inside(Path(target), self.root):
            parsed = self.read_extra(Path(target), _relative(Path(target), self.root))
        if parsed is None:
            # Configs are often copied without their directory layout: accept one file of the
            # same name under the talconfig's directory, and say so.
            base_dir = str(PurePosixPath(self.parsed.rel).parent)
            same = [
                f
                for f in self.files
                if PurePosixPath(f.rel).name == PurePosixPath(reference).name
                and (base_dir == "." or f.rel.startswith(base_dir + "/"))
                and f.talconfig is None
            ]
            if len(same) == 1:
                parsed = same[0]
                name = f"{parsed.rel} (found by file name for @{reference})"
        if parsed is None:
            self.problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"talconfig patch @{reference} is not among the scanned files; "
                    "its content is not audited",
                    SourceRef(loc.path, loc.start_line, loc.end_line, f"{self.parsed.rel}:@{reference}"),
                    key=f"talconfig-patch:{self.parsed.rel}:{reference}",
                )
            )
        else:
            self.claimed.add(parsed.rel)
            if name == reference:
                name = parsed.rel
        self._resolved[reference] = (parsed, name)
        return parsed, name


def _put(mapping: YMap, key: str, value: Any, loc: SourceRef) -> None:
    mapping[key] = value
    mapping.key_locs[key] = loc


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
    except ValueError:
        return False
    return True


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
