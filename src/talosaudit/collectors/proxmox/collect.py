"""The Proxmox export collector: files of kinds proxmox-conf, proxmox-fw and proxmox-json."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
from talosaudit.model import Collection, Problem, SourceRef

KINDS = frozenset({"proxmox-conf", "proxmox-fw", "proxmox-json"})


class InputLike(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def rel(self) -> str: ...
    @property
    def kind(self) -> str: ...


def collect(files: Sequence[InputLike], root: Path, options: Any = None) -> Collection:
    """Everything the Proxmox inputs among ``files`` say; other kinds are ignored."""
    del root  # paths are already relative to it
    problems: list[Problem] = []
    guests: dict[str, Guest] = {}
    cluster: FirewallConfig | None = None
    guest_fw: dict[str, FirewallConfig] = {}
    documents: list[ApiDocument] = []
    read: list[str] = []
    firewall_inputs = False
    for f in files:
        if f.kind not in KINDS:
            continue
        try:
            text = f.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                Problem("TA001", f"cannot read: {exc}", SourceRef(f.rel, 1), key=f"input:{f.rel}")
            )
            continue
        read.append(f.rel)
        try:
            if f.kind == "proxmox-conf":
                guest, found = _guest_file(text, f.rel)
                problems.extend(found)
                _add_guest(guests, guest, problems)
            elif f.kind == "proxmox-fw":
                firewall_inputs = True
                cluster = _fw_file(text, f.rel, cluster, guest_fw, problems)
            else:
                doc = read_document(text, f.rel)
                if isinstance(doc, Problem):
                    problems.append(doc)
                else:
                    documents.append(doc)
        except Exception as exc:
            problems.append(
                Problem(
                    "TA001",
                    f"talosaudit could not read this Proxmox file ({type(exc).__name__}: {exc})",
                    SourceRef(f.rel, 1),
                    key=f"proxmox:{f.rel}:internal",
                )
            )
    cluster, firewall_inputs = _api_documents(
        documents,
        guests=guests,
        cluster=cluster,
        guest_fw=guest_fw,
        problems=problems,
        firewall_inputs=firewall_inputs,
    )
    inventory = Inventory(
        guests=tuple(sorted(guests.values(), key=_guest_order)),
        cluster=cluster,
        guest_fw=guest_fw,
        firewall_inputs=firewall_inputs,
        files=tuple(read),
        problems=tuple(problems),
    )
    hints = getattr(options, "role_hints", None)
    return build(inventory, hints=hints if isinstance(hints, RoleHints) else None)


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
            "TA001",
            f"{guest.label()} is defined again here; the first definition ({first.source}) is used",
            guest.source,
            key=f"proxmox:{guest.identity}:duplicate:{guest.source.path}",
            related=(first.source,),
        )
    )


def _fw_file(
    text: str,
    rel: str,
    cluster: FirewallConfig | None,
    guest_fw: dict[str, FirewallConfig],
    problems: list[Problem],
) -> FirewallConfig | None:
    scope = scope_of(rel)
    if scope is None:
        problems.append(
            Problem(
                "TA001",
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
                    "TA001",
                    f"a second cluster.fw; the first ({cluster.source.path}) is used",
                    config.source,
                    key=f"proxmox:{rel}:duplicate",
                )
            )
            return cluster
        return config
    if config.scope == "guest":
        if config.owner in guest_fw:
            problems.append(
                Problem(
                    "TA001",
                    f"a second {config.owner}.fw; the first ({guest_fw[config.owner].source.path}) is used",
                    config.source,
                    key=f"proxmox:{rel}:duplicate",
                )
            )
        else:
            guest_fw[config.owner] = config
    # host.fw filters the Proxmox host itself, never a guest: parsed for its problems only.
    return cluster


def _api_documents(
    documents: list[ApiDocument],
    *,
    guests: dict[str, Guest],
    cluster: FirewallConfig | None,
    guest_fw: dict[str, FirewallConfig],
    problems: list[Problem],
    firewall_inputs: bool,
) -> tuple[FirewallConfig | None, bool]:
    by_scope: dict[str, list[ApiDocument]] = {}
    for doc in documents:
        if doc.what == "guest-config":
            guest, found = guest_from_document(doc)
            problems.extend(found)
            _add_guest(guests, guest, problems)
        else:
            by_scope.setdefault(doc.scope, []).append(doc)
    for scope, docs in sorted(by_scope.items()):
        firewall_inputs = True
        if scope == "cluster":
            config, found = firewall_from_documents(docs, "cluster", "cluster")
            problems.extend(found)
            cluster = cluster or config
        elif re.fullmatch(r"\d+", scope):
            config, found = firewall_from_documents(docs, "guest", scope)
            problems.extend(found)
            guest_fw.setdefault(scope, config)
    return cluster, firewall_inputs
