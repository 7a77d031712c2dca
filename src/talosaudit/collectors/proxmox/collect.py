"""The Proxmox export collector: files of kinds proxmox-conf, proxmox-fw and proxmox-json."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from talosaudit.collectors.base import JSON, InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.proxmox.api_json import (
    ApiDocument,
    firewall_from_documents,
    guest_from_document,
    looks_like_proxmox_json,
    read_document,
)
from talosaudit.collectors.proxmox.conf import Guest, parse_guest_config
from talosaudit.collectors.proxmox.firewall import FirewallConfig, parse_firewall, scope_of
from talosaudit.collectors.proxmox.layers import Inventory, build
from talosaudit.collectors.proxmox.sdn import Vnet, add_subnets, parse_vnets
from talosaudit.model import Collection, Problem, ProblemKind, SourceRef
from talosaudit.regular_files import read_text

PROXMOX_CONF = "proxmox-conf"
PROXMOX_FW = "proxmox-fw"
PROXMOX_JSON = "proxmox-json"
PROXMOX_SDN = "proxmox-sdn"
KINDS = frozenset({PROXMOX_CONF, PROXMOX_FW, PROXMOX_JSON, PROXMOX_SDN})
#: The SDN files read (``/etc/pve/sdn/``): the vnets guest NICs plug into and their subnets.
_SDN_FILES = ("vnets.cfg", "subnets.cfg")


class ProxmoxCollector:
    """Proxmox VE exports: guest configs and ``.fw`` files by name, API JSON by content."""

    kinds = KINDS

    def kind_by_name(self, path: Path) -> str | None:
        name = path.name.lower()
        if name.endswith(".fw"):
            return PROXMOX_FW
        if name.endswith(".conf") and path.parent.name in ("qemu-server", "lxc") and name[:-5].isdigit():
            return PROXMOX_CONF
        if name in _SDN_FILES and path.parent.name == "sdn":
            return PROXMOX_SDN
        return None

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        return PROXMOX_JSON if kind == JSON and looks_like_proxmox_json(rel, text) else None

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        return collect(files, root, options)


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
    #: ``sdn/vnets.cfg`` and ``sdn/subnets.cfg`` as (rel, text): read once all files are in,
    #: since subnets name vnets.
    sdn: list[tuple[str, str]] = field(default_factory=list)


def tree_root(rel: str) -> str:
    """The directory an export tree starts at: above ``qemu-server``/``lxc``/``firewall``/
    ``nodes``/``cluster``/``qemu``/``sdn`` (the pmxcfs and API layouts), else the file's directory."""
    parts = rel.split("/")[:-1]
    for i, part in enumerate(parts):
        if part in ("nodes", "firewall", "qemu-server", "lxc", "cluster", "qemu", "sdn"):
            return "/".join(parts[:i])
    return "/".join(parts)


def collect(files: Sequence[InputFile], root: Path, options: CollectOptions | None = None) -> Collection:
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
            text = read_text(f.path)
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
    hints = options.role_hints if options is not None else None
    parts: list[Collection] = []
    for _, tree in sorted(trees.items()):
        _api_documents(tree, problems)
        inventory = Inventory(
            guests=tuple(sorted(tree.guests.values(), key=_guest_order)),
            cluster=tree.cluster,
            guest_fw=tree.guest_fw,
            firewall_inputs=tree.firewall_inputs,
            vnets=_vnets(tree, problems),
            files=tuple(tree.files),
        )
        parts.append(build(inventory, hints=hints))
    return Collection.combine((Collection(problems=tuple(problems)), *parts))


def _read(tree: _Tree, kind: str, rel: str, text: str, problems: list[Problem]) -> None:
    if kind == "proxmox-conf":
        guest, found = _guest_file(text, rel)
        problems.extend(found)
        _add_guest(tree.guests, replace(guest, identity=tree.prefix + guest.vmid), problems)
    elif kind == PROXMOX_SDN:
        tree.sdn.append((rel, text))
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


def _vnets(tree: _Tree, problems: list[Problem]) -> dict[str, Vnet]:
    vnets: dict[str, Vnet] = {}
    for rel, text in tree.sdn:
        if rel.endswith("vnets.cfg"):
            vnets.update(parse_vnets(text, rel, problems))
    for rel, text in tree.sdn:
        if rel.endswith("subnets.cfg"):
            add_subnets(vnets, text, rel, problems)
    return vnets
