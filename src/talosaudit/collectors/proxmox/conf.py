"""Proxmox guest configs: ``qemu-server/<vmid>.conf`` and ``lxc/<vmid>.conf``.

Only the main section is the running configuration. ``[PENDING]`` (qemu) / ``[pve:pending]``
(lxc) is what the guest gets on its next restart: it is kept as notes, and a pending change of
a NIC's firewall flag is kept apart so the collector can report it. Snapshot sections are
frozen copies and never feed reachability. ``#`` lines are the percent-encoded description.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace

from talosaudit.model import AddressSet, Problem, ProblemKind, SourceRef

#: Proxmox's liberal booleans in property strings (JSONSchema ``parse_boolean``).
_TRUE = frozenset({"1", "on", "yes", "true"})
_FALSE = frozenset({"0", "off", "no", "false"})

#: NIC models that PVE writes as ``<model>=<MAC>``.
_NIC_MODELS = frozenset(
    {
        "e1000",
        "e1000-82540em",
        "e1000-82544gc",
        "e1000-82545em",
        "e1000e",
        "i82551",
        "i82557b",
        "i82559er",
        "ne2k_isa",
        "ne2k_pci",
        "pcnet",
        "rtl8139",
        "virtio",
        "vmxnet3",
    }
)

_KEY_LINE = re.compile(r"^([a-z][a-z_\-]*\d*):\s*(.*?)\s*$")
_LXC_RAW = re.compile(r"^(lxc\.[a-z0-9_.\-]+)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_SNAPSHOT = re.compile(r"^[a-z][a-z0-9_\-]+$", re.IGNORECASE)
_NET_KEY = re.compile(r"^net(\d+)$")
_IPCONFIG_KEY = re.compile(r"^ipconfig(\d+)$")


def parse_bool(text: str) -> bool | None:
    """``1|on|yes|true`` / ``0|off|no|false`` (any case); None for anything else."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_property_string(text: str, default_key: str) -> dict[str, str]:
    """``virtio=BC:..,bridge=vmbr0,firewall=1`` to a dict; a bare token is ``default_key``.

    Raises ValueError on a duplicate key (Proxmox refuses those too).
    """
    out: dict[str, str] = {}
    for chunk in text.split(","):
        part = chunk.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, value = default_key, part
        key = key.strip()
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value.strip()
    return out


@dataclass(frozen=True, slots=True)
class Nic:
    """One guest NIC (``netN``) and the addresses configured for it."""

    key: str
    index: int
    source: SourceRef
    model: str = ""
    mac: str = ""
    bridge: str | None = None
    tag: int | None = None
    #: None when the flag could not be read (a Terraform value talosaudit could not resolve).
    firewall: bool | None = False
    link_down: bool = False
    #: Addresses as written (``10.0.30.11/24``), from ``ipconfigN`` (qemu) or ``ip=`` (lxc).
    addresses: tuple[str, ...] = ()
    #: Where the addresses came from, e.g. ``ipconfig0 line 12``.
    address_reason: str = ""
    dhcp: bool = False

    @property
    def segment_id(self) -> str | None:
        if self.bridge is None:
            return None
        return f"proxmox:{self.bridge}" + (f".{self.tag}" if self.tag else "")


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A pending change of a NIC's firewall flag: what the guest gets on its next start."""

    nic: str
    firewall: bool
    source: SourceRef


@dataclass(frozen=True, slots=True)
class Guest:
    """A VM or container, from a config file, API JSON or Terraform."""

    #: The key that links the guest to its firewall config: the vmid for exports, the
    #: Terraform address when the vmid is only known after apply.
    identity: str
    vmid: str
    kind: str  # "qemu" or "lxc"
    name: str
    source: SourceRef
    nics: tuple[Nic, ...] = ()
    tags: tuple[str, ...] = ()
    node: str | None = None
    template: bool = False
    description: str = ""
    pending: tuple[str, ...] = ()
    pending_firewall: tuple[PendingChange, ...] = ()
    #: How the guest was found: "qemu-server config", "pvesh JSON", "proxmox_vm_qemu"...
    origin: str = ""

    def label(self) -> str:
        kind = "vm" if self.kind == "qemu" else "ct"
        return f"{kind} {self.vmid} ({self.name})" if self.name else f"{kind} {self.vmid}"


def split_tags(text: str) -> tuple[str, ...]:
    """``a;b``, ``a,b`` and ``a b`` are all written by users and tools."""
    return tuple(t for t in re.split(r"[;,\s]+", text.strip()) if t)


@dataclass(frozen=True, slots=True)
class _Value:
    text: str
    line: int


def parse_guest_config(
    text: str, rel: str, vmid: str, kind: str, node: str | None = None
) -> tuple[Guest, list[Problem]]:
    """Parse one guest config file. Problems carry ``rel:line``; nothing raises."""
    problems: list[Problem] = []
    main: dict[str, _Value] = {}
    pending: dict[str, _Value] = {}
    description: list[str] = []
    section = "main"
    pending_names = ("pending",) if kind == "qemu" else ("pve:pending",)
    seen_sections: set[str] = set()

    def unreadable(number: int, message: str, key: str) -> None:
        where = SourceRef(rel, number, resource=f"{kind}/{vmid}")
        problems.append(Problem(ProblemKind.UNREADABLE, message, where, key=f"proxmox:{rel}:{key}"))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        header = _SECTION.match(line)
        if header:
            name = header.group(1).strip()
            lowered = name.lower()
            if lowered in pending_names or lowered in ("pending", "pve:pending"):
                section = "pending"
            elif lowered.startswith("special:"):
                section = "special"
            elif _SNAPSHOT.match(name):
                section = "snapshot"
            else:
                section = "unknown"
                unreadable(
                    number,
                    f"unknown section [{name}] in guest config: its lines are skipped",
                    f"section:{lowered}",
                )
            if lowered in seen_sections:
                unreadable(
                    number, f"section [{name}] appears twice; Proxmox keeps the last one", f"dup:{lowered}"
                )
            seen_sections.add(lowered)
            continue
        if section not in ("main", "pending"):
            continue
        if line.startswith("#"):
            if section == "main":
                description.append(urllib.parse.unquote(line[1:]))
            continue
        match = _KEY_LINE.match(line) or _LXC_RAW.match(line)
        if not match:
            unreadable(
                number,
                f"line not understood in guest config (expected 'key: value'): {line[:60]!r}",
                f"garbage:{line[:40]}",
            )
            continue
        target = main if section == "main" else pending
        target[match.group(1).lower()] = _Value(match.group(2), number)
    if "description" in main:
        description.insert(0, urllib.parse.unquote(main["description"].text))
    guest = _guest_from_values(
        main,
        pending,
        rel=rel,
        vmid=vmid,
        kind=kind,
        node=node,
        description="\n".join(description),
        problems=problems,
    )
    return guest, problems


def guest_from_mapping(
    values: Mapping[str, tuple[str, int]],
    *,
    rel: str,
    vmid: str,
    kind: str,
    node: str | None,
    origin: str,
    identity: str | None = None,
) -> tuple[Guest, list[Problem]]:
    """A guest from already split ``key -> (value, line)`` pairs (API JSON)."""
    problems: list[Problem] = []
    main = {k.lower(): _Value(v, line) for k, (v, line) in values.items()}
    description = main.pop("description", _Value("", 1)).text
    guest = _guest_from_values(
        main, {}, rel=rel, vmid=vmid, kind=kind, node=node, description=description, problems=problems
    )
    return replace(guest, origin=origin, identity=identity or guest.identity), problems


def _guest_from_values(
    main: dict[str, _Value],
    pending: dict[str, _Value],
    *,
    rel: str,
    vmid: str,
    kind: str,
    node: str | None,
    description: str,
    problems: list[Problem],
) -> Guest:
    resource = f"{kind}/{vmid}"
    name_key = "name" if kind == "qemu" else "hostname"
    name = main.get(name_key, main.get("name", _Value("", 0))).text
    tags = split_tags(main["tags"].text) if "tags" in main else ()
    ipconfigs = {int(m.group(1)): value for key, value in main.items() if (m := _IPCONFIG_KEY.match(key))}
    nics: list[Nic] = []
    for key, value in sorted(main.items(), key=lambda kv: kv[1].line):
        m = _NET_KEY.match(key)
        if not m:
            continue
        nic = _parse_nic(
            key,
            int(m.group(1)),
            value,
            kind=kind,
            rel=rel,
            resource=resource,
            ipconfigs=ipconfigs,
            problems=problems,
        )
        if nic is not None:
            nics.append(nic)
    nics.sort(key=lambda n: n.index)
    notes: list[str] = []
    pending_fw: list[PendingChange] = []
    current = {n.key: n for n in nics}
    for key, value in sorted(pending.items(), key=lambda kv: kv[1].line):
        notes.append(f"pending {key}: {value.text}")
        if not _NET_KEY.match(key):
            continue
        try:
            props = parse_property_string(value.text, "model" if kind == "qemu" else "name")
        except ValueError:
            continue
        new_flag = parse_bool(props.get("firewall", "0")) or False
        old = current.get(key)
        old_flag = bool(old.firewall) if old else False
        if new_flag != old_flag:
            pending_fw.append(PendingChange(key, new_flag, SourceRef(rel, value.line, resource=resource)))
    if "delete" in pending:
        for word in re.split(r"[,;\s]+", pending["delete"].text):
            key = word.lstrip("!")
            old = current.get(key)
            if old is not None and old.firewall:
                pending_fw.append(
                    PendingChange(key, False, SourceRef(rel, pending["delete"].line, resource=resource))
                )
    template = parse_bool(main["template"].text) is True if "template" in main else False
    return Guest(
        identity=vmid,
        vmid=vmid,
        kind=kind,
        name=name,
        source=SourceRef(rel, main[name_key].line if name_key in main else 1, resource=resource),
        nics=tuple(nics),
        tags=tags,
        node=node,
        template=template,
        description=description,
        pending=tuple(notes),
        pending_firewall=tuple(pending_fw),
        origin="qemu-server config" if kind == "qemu" else "lxc config",
    )


def _parse_nic(
    key: str,
    index: int,
    value: _Value,
    *,
    kind: str,
    rel: str,
    resource: str,
    ipconfigs: dict[int, _Value],
    problems: list[Problem],
) -> Nic | None:
    where = SourceRef(rel, value.line, resource=f"{resource}/{key}")
    try:
        props = parse_property_string(value.text, "model" if kind == "qemu" else "name")
    except ValueError as exc:
        problems.append(
            Problem(
                ProblemKind.UNREADABLE,
                f"{key}: {exc}; Proxmox rejects this NIC",
                where,
                key=f"proxmox:{resource}:{key}",
            )
        )
        return None
    model, mac = props.pop("model", ""), props.pop("macaddr", props.pop("hwaddr", ""))
    for alias in [k for k in props if k in _NIC_MODELS]:
        model, mac = alias, props.pop(alias)
    flags: dict[str, bool] = {}
    for flag in ("firewall", "link_down"):
        if flag not in props:
            flags[flag] = False
            continue
        parsed = parse_bool(props[flag])
        if parsed is None:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"{key}: {flag}={props[flag]!r} is not a boolean (1/0, yes/no, on/off, true/false)",
                    where,
                    key=f"proxmox:{resource}:{key}:{flag}",
                )
            )
        flags[flag] = bool(parsed)
    tag: int | None = None
    if props.get("tag"):
        try:
            tag = int(props["tag"])
        except ValueError:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"{key}: tag={props['tag']!r} is not a VLAN id",
                    where,
                    key=f"proxmox:{resource}:{key}:tag",
                )
            )
    addresses: list[str] = []
    reason = ""
    dhcp = False
    if kind == "lxc":
        ip_source = props
        reason_key = f"{key} line {value.line}"
    else:
        ipcfg = ipconfigs.get(index)
        ip_source = {}
        if ipcfg is not None:
            try:
                ip_source = parse_property_string(ipcfg.text, "ip")
            except ValueError as exc:
                problems.append(
                    Problem(
                        ProblemKind.UNREADABLE,
                        f"ipconfig{index}: {exc}",
                        SourceRef(rel, ipcfg.line, resource=f"{resource}/ipconfig{index}"),
                        key=f"proxmox:{resource}:ipconfig{index}",
                    )
                )
        reason_key = f"ipconfig{index} line {ipcfg.line}" if ipcfg else ""
    for ip_key in ("ip", "ip6"):
        ip_text = ip_source.get(ip_key, "").strip()
        if not ip_text:
            continue
        if ip_text.lower() in ("dhcp", "auto", "manual"):
            dhcp = dhcp or ip_text.lower() == "dhcp"
            continue
        try:
            AddressSet.parse(ip_text)
        except ValueError:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"{key}: {ip_key}={ip_text!r} is not an address ({reason_key})",
                    where,
                    key=f"proxmox:{resource}:{key}:{ip_key}",
                )
            )
            continue
        addresses.append(ip_text)
    if addresses:
        reason = f"{', '.join(addresses)} from {reason_key}"
    return Nic(
        key=key,
        index=index,
        source=where,
        model=model,
        mac=mac,
        bridge=props.get("bridge") or None,
        tag=tag,
        firewall=flags["firewall"],
        link_down=flags["link_down"],
        addresses=tuple(addresses),
        address_reason=reason,
        dhcp=dhcp,
    )
