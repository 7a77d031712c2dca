"""Proxmox SDN: ``/etc/pve/sdn/vnets.cfg`` and ``subnets.cfg``, the networks guests plug into.

With SDN a guest NIC's ``bridge=`` names a *vnet*, not a Linux bridge. Both files are
section configs: a header line ``<type>: <id>`` opens a section, and the indented lines under
it are ``<key> <value>`` pairs (blank lines end nothing; the next header does).

- ``vnets.cfg``: ``vnet: <name>`` with ``zone <zone>`` and, in VLAN/QinQ/VXLAN zones, ``tag <n>``
  (the VLAN id or VNI every NIC on the vnet gets; a NIC on a vnet carries no tag of its own).
- ``subnets.cfg``: ``subnet: <zone>-<cidr with '/' written as '-'>`` (``lab-192.168.30.0-24``)
  with ``vnet <name>`` and optionally ``gateway <address>``: the networks addressed on that vnet.

talosaudit only needs, per vnet, its VLAN tag and subnets: a NIC on the vnet sits on that
segment, which ``model/segments.py`` joins to the firewall interface as it joins a tagged bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from talosaudit.model import EMPTY, AddressSet, Problem, ProblemKind, SourceRef

_HEADER = re.compile(r"^([a-z][a-z0-9_-]*):\s*(\S+)\s*$")
_PROPERTY = re.compile(r"^\s+([a-z][a-z0-9_-]*)(?:\s+(.*?))?\s*$")
#: The subnet id after the zone: ``<address>-<prefix length>``.
_SUBNET_ID = re.compile(r"^(?:[a-z0-9]+-)?([0-9a-f.:]+)-(\d{1,3})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Vnet:
    """One SDN vnet: the segment guest NICs with ``bridge=<name>`` are on."""

    name: str
    source: SourceRef
    zone: str = ""
    tag: int | None = None
    subnets: AddressSet = EMPTY
    #: Where the subnets came from, for join reasons (``subnets.cfg line 3``).
    subnet_sources: tuple[SourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class _Section:
    kind: str
    ident: str
    line: int
    props: dict[str, tuple[str, int]]


def _sections(text: str, rel: str, problems: list[Problem]) -> list[_Section]:
    sections: list[_Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        header = _HEADER.match(raw)
        if header:
            sections.append(_Section(header.group(1), header.group(2), number, {}))
            continue
        prop = _PROPERTY.match(raw)
        if prop and sections:
            sections[-1].props[prop.group(1)] = (prop.group(2) or "", number)
            continue
        problems.append(
            Problem(
                ProblemKind.UNREADABLE,
                f"line not understood in SDN config (expected '<type>: <id>' or an indented "
                f"'<key> <value>'): {raw.strip()[:60]!r}",
                SourceRef(rel, number),
                key=f"proxmox:{rel}:{number}",
            )
        )
    return sections


def parse_vnets(text: str, rel: str, problems: list[Problem]) -> dict[str, Vnet]:
    """The vnets of a ``vnets.cfg``; other section types are skipped."""
    vnets: dict[str, Vnet] = {}
    for section in _sections(text, rel, problems):
        if section.kind != "vnet":
            continue
        tag: int | None = None
        if "tag" in section.props:
            value, line = section.props["tag"]
            if value.isdigit():
                tag = int(value)
            else:
                problems.append(
                    Problem(
                        ProblemKind.UNREADABLE,
                        f"vnet {section.ident}: tag {value!r} is not a VLAN id",
                        SourceRef(rel, line),
                        key=f"proxmox:{rel}:{section.ident}:tag",
                    )
                )
        vnets[section.ident] = Vnet(
            name=section.ident,
            source=SourceRef(rel, section.line, resource=f"vnet/{section.ident}"),
            zone=section.props.get("zone", ("", 0))[0],
            tag=tag,
        )
    return vnets


def add_subnets(vnets: dict[str, Vnet], text: str, rel: str, problems: list[Problem]) -> None:
    """Add the subnets of a ``subnets.cfg`` to the vnets they name (in place)."""
    for section in _sections(text, rel, problems):
        if section.kind != "subnet":
            continue
        where = SourceRef(rel, section.line, resource=f"subnet/{section.ident}")
        found = _SUBNET_ID.match(section.ident)
        network: AddressSet | None = None
        if found:
            try:
                network = AddressSet.parse(f"{found.group(1)}/{found.group(2)}")
            except ValueError:
                network = None
        vnet_name = section.props.get("vnet", ("", 0))[0]
        if network is None or not vnet_name:
            problems.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"subnet {section.ident}: expected an id '<zone>-<address>-<prefix length>' and a "
                    "'vnet' line; this subnet is skipped",
                    where,
                    key=f"proxmox:{rel}:{section.ident}",
                )
            )
            continue
        vnet = vnets.get(vnet_name)
        if vnet is None:
            problems.append(
                Problem(
                    ProblemKind.UNRESOLVED,
                    f"subnet {section.ident} is on vnet {vnet_name}, which no vnets.cfg among the "
                    "inputs defines: its VLAN tag is unknown",
                    where,
                    key=f"proxmox:{rel}:{section.ident}:vnet",
                )
            )
            vnet = Vnet(name=vnet_name, source=where)
        vnets[vnet_name] = replace(
            vnet, subnets=vnet.subnets | network, subnet_sources=(*vnet.subnet_sources, where)
        )


__all__ = ["Vnet", "add_subnets", "parse_vnets"]
