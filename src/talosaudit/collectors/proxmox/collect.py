"""The Proxmox export collector: files of kinds proxmox-conf, proxmox-fw and proxmox-json."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from talosaudit.collectors.proxmox.api_json import (
    ApiDocument,
    firewall_from_documents,
    guest_from_document,
    read_document,
)
from talosaudit.collectors.proxmox.conf import Guest, parse_guest_config
from talosaudit.collectors.proxmox.firewall import FirewallConfig, parse_firewall, scope_of
from talosaudit.collectors.proxmox.layers import Inventory, build
from talosaudit.collectors.roles import RoleHints
from talosaudit.model import Collection, Problem, ProblemKind, SourceRef

KINDS = frozenset({"proxmox-conf", "proxmox-fw", "proxmox-json"})


class InputLike(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def rel(self) -> str: ...
    @property
    def kind(self) -> str: ...


@dataclass
class _Tree:
    """The inputs of one export tree (one Proxmox cluster): vmids are unique only in it."""

    prefix: str
    guests: dict[str, Guest] = field(default_factory=dict)
    cluster: FirewallConfig | None = None
    guest_fw: dict[str, FirewallConfig] = field(default_factory=dict)
    documents: list[ApiDocument] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    firewall_inputs: bool = False


def tree_root(rel: str) -> str:
    """The directory an export tree starts at: above ``qemu-server``/``lxc``/``firewall``/
    ``nodes``/``cluster``/``qemu`` (the pmxcfs and API layouts), else the file's directory."""
    parts = rel.split("/")[:-1]
    for i, part in enumerate(parts):
        if part in ("nodes", "firewall", "qemu-server", "lxc", "cluster", "qemu"):
            return "/".join(parts[:i])
    return "/".join(parts)


def collect(files: Sequence[InputLike], root: Path, options: Any = None) -> Collection:
    """Everything the Proxmox inputs among ``files`` say; other kinds are ignored.

    Inputs are grouped by export tree, so two clusters scanned together (each with its own
    vm 100) stay apart; ids of guests outside the scan root's own tree carry the tree path.
    """
    del root  # paths are already relative to it
    problems: list[Problem] = []
    trees: dict[str, _Tree] = {}
    for f in files:
        if f.kind not in KINDS:
            continue
        try:
            text = f.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            where = SourceRef(f.rel, 1)
            problems.append(
                Problem(ProblemKind.UNREADABLE, f"cannot read: {exc}", where, key=f"input:{f.rel}")
            )
            continue
        top = tree_root(f.rel)
        tree = trees.setdefault(top, _Tree(prefix=f"{top}/" if top else ""))
        tree.files.append(f.rel)
        try:
            _read(tree, f.kind, f.rel, text, problems)
        except Exception as exc:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"talosaudit could not read this Proxmox file ({type(exc).__name__}: {exc})",
                    SourceRef(f.rel, 1),
                    key=f"proxmox:{f.rel}:internal",
                )
            )
    hints = getattr(options, "role_hints", None)
    parts: list[Collection] = []
    for _, tree in sorted(trees.items()):
        _api_documents(tree, problems)
        inventory = Inventory(
            guests=tuple(sorted(tree.guests.values(), key=_guest_order)),
            cluster=tree.cluster,
            guest_fw=tree.guest_fw,
            firewall_inputs=tree.firewall_inputs,
            files=tuple(tree.files),
        )
        parts.append(build(inventory, hints=hints if isinstance(hints, RoleHints) else None))
    return Collection(
        node_groups=tuple(g for c in parts for g in c.node_groups),
        layers=tuple(lay for c in parts for lay in c.layers),
        segments=tuple(s for c in parts for s in c.segments),
        node_networks=tuple(n for c in parts for n in c.node_networks),
        problems=(*problems, *(p for c in parts for p in c.problems)),
        attachments=tuple(a for c in parts for a in c.attachments),
        files=tuple(f for c in parts for f in c.files),
    )


def _read(tree: _Tree, kind: str, rel: str, text: str, problems: list[Problem]) -> None:
    if kind == "proxmox-conf":
        guest, found = _guest_file(text, rel)
        problems.extend(found)
        _add_guest(tree.guests, replace(guest, identity=tree.prefix + guest.vmid), problems)
    elif kind == "proxmox-fw":
        tree.firewall_inputs = True
        tree.cluster = _fw_file(text, rel, tree, problems)
    else:
        doc = read_document(text, rel)
        if isinstance(doc, Problem):
            problems.append(doc)
        else:
            tree.documents.append(doc)


def _guest_order(guest: Guest) -> tuple[int, str]:
    return (int(guest.vmid) if guest.vmid.isdigit() else 0, guest.identity)


def _guest_file(text: str, rel: str) -> tuple[Guest, list[Problem]]:
    parts = rel.split("/")
    vmid = parts[-1].removesuffix(".conf")
    kind = "lxc" if len(parts) >= 2 and parts[-2] == "lxc" else "qemu"
    node = parts[parts.index("nodes") + 1] if "nodes" in parts[:-3] else None
    return parse_guest_config(text, rel, vmid, kind, node)


def _add_guest(guests: dict[str, Guest], guest: Guest, problems: list[Problem]) -> None:
    first = guests.get(guest.identity)
    if first is None:
        guests[guest.identity] = guest
        return
    problems.append(
        Problem(
            ProblemKind.UNREADABLE,
            f"{guest.label()} is defined again here; the first definition ({first.source}) is used",
            guest.source,
            key=f"proxmox:{guest.identity}:duplicate:{guest.source.path}",
            related=(first.source,),
        )
    )


def _fw_file(text: str, rel: str, tree: _Tree, problems: list[Problem]) -> FirewallConfig | None:
    cluster, guest_fw = tree.cluster, tree.guest_fw
    scope = scope_of(rel)
    if scope is None:
        problems.append(
            Problem(
                ProblemKind.UNREADABLE,
                "a .fw file must be cluster.fw, host.fw or <vmid>.fw (SDN VNet files are not read)",
                SourceRef(rel, 1),
                key=f"proxmox:{rel}:name",
            )
        )
        return cluster
    config, found = parse_firewall(text, rel, *scope)
    problems.extend(found)
    if config.scope == "cluster":
        if cluster is not None:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"a second cluster.fw; the first ({cluster.source.path}) is used",
                    config.source,
                    key=f"proxmox:{rel}:duplicate",
                )
            )
            return cluster
        return config
    if config.scope == "guest":
        owner = tree.prefix + config.owner
        if owner in guest_fw:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"a second {config.owner}.fw; the first ({guest_fw[owner].source.path}) is used",
                    config.source,
                    key=f"proxmox:{rel}:duplicate",
                )
            )
        else:
            guest_fw[owner] = config
    # host.fw filters the Proxmox host itself, never a guest: parsed for its problems only.
    return cluster


def _api_documents(tree: _Tree, problems: list[Problem]) -> None:
    by_scope: dict[str, list[ApiDocument]] = {}
    for doc in tree.documents:
        if doc.what == "guest-config":
            guest, found = guest_from_document(doc)
            problems.extend(found)
            _add_guest(tree.guests, replace(guest, identity=tree.prefix + guest.vmid), problems)
        else:
            by_scope.setdefault(doc.scope, []).append(doc)
    for scope, docs in sorted(by_scope.items()):
        tree.firewall_inputs = True
        if scope == "cluster":
            config, found = firewall_from_documents(docs, "cluster", "cluster")
            problems.extend(found)
            tree.cluster = tree.cluster or config
        elif re.fullmatch(r"\d+", scope):
            config, found = firewall_from_documents(docs, "guest", scope)
            problems.extend(found)
            tree.guest_fw.setdefault(tree.prefix + scope, config)
