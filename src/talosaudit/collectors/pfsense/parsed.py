"""What pfsense.py and opnsense.py read from a config.xml, before evaluation.

Both dialects are read into these format-neutral values (raw strings where the meaning
depends on the rest of the file: alias names, interface keywords); layers.py resolves them
into the model. Every value keeps the line span of the element it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from talosaudit.model import ProblemKind

#: Rule kinds that pf evaluates; ``match`` rules (floating, pfSense) neither pass nor block.
PASS, BLOCK, REJECT, MATCH = "pass", "block", "reject", "match"


def is_stateless(statetype: str) -> bool:
    """Whether a ``<statetype>`` value keeps no state (pfSense ``none``, OPNsense MVC ``none``)."""
    return statetype.strip().lower() in ("none", "no state")


class Bucket(IntEnum):
    """Where a rule sits in the generated ruleset (pfSense `filter_rules_generate`,
    OPNsense `FilterRuleField::getPriority`): floating, then interface groups, then
    per-interface rules."""

    FLOATING = 2
    GROUP = 3
    INTERFACE = 4


@dataclass(frozen=True, slots=True)
class Interface:
    """One entry of ``<interfaces>``: ``name`` is the key (``wan``, ``lan``, ``opt1``)."""

    name: str
    descr: str
    device: str
    enabled: bool
    ipaddr: str
    subnet: str
    ipaddrv6: str
    subnetv6: str
    gateway: str
    blockpriv: bool
    line: int
    end_line: int
    #: OPNsense marks interface groups and loopback as ``<type>group|none`` + ``<virtual>``.
    virtual: bool = False


@dataclass(frozen=True, slots=True)
class VirtualIp:
    interface: str
    address: str
    bits: str
    line: int


@dataclass(frozen=True, slots=True)
class InterfaceGroup:
    name: str
    members: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Alias:
    """A named table: ``entries`` are raw (addresses, CIDRs, ranges, names, ports)."""

    name: str
    type: str
    entries: tuple[str, ...]
    descr: str
    line: int
    end_line: int
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A rule's source or destination.

    ``any`` is True for ``<any/>`` (or nothing). Otherwise ``values`` holds the written
    items: for ``kind == "network"`` interface keywords (``lan``, ``opt1ip``, ``(self)``) or a
    VIP CIDR; for ``kind == "address"`` CIDRs, addresses or alias names; for ``"mixed"``
    (OPNsense MVC ``source_net``) any of them. ``port`` is the raw port text ("" = any).
    """

    any: bool = True
    kind: str = "address"
    values: tuple[str, ...] = ()
    negated: bool = False
    port: str = ""


@dataclass(frozen=True, slots=True)
class FilterRule:
    """One ``<filter><rule>`` (or OPNsense MVC rule), flags already decoded per dialect."""

    line: int
    end_line: int
    key: str
    action: str
    interfaces: tuple[str, ...]
    bucket: Bucket
    quick: bool
    direction: str
    ipprotocol: str
    protocol: str
    source: Endpoint
    destination: Endpoint
    disabled: bool
    description: str
    tracker: str = ""
    associated_rule_id: str = ""
    tag: str = ""
    tagged: str = ""
    schedule: str = ""
    icmptype: str = ""
    #: OPNsense MVC ``interfacenot``: the rule applies to every interface *but* these.
    interface_not: bool = False
    #: "legacy" (``<filter>``) or "mvc" (``<OPNsense><Firewall><Filter>``).
    form: str = "legacy"
    #: Sort key inside a bucket: MVC ``sequence``; legacy rules keep config order.
    sequence: int = 0
    #: ``<statetype>none</statetype>``: pf keeps no state for what the rule passes, so the
    #: replies need a pass rule of their own.
    stateless: bool = False


@dataclass(frozen=True, slots=True)
class PortForward:
    """A ``<nat><rule>`` port forward (destination NAT)."""

    line: int
    end_line: int
    key: str
    interfaces: tuple[str, ...]
    ipprotocol: str
    protocol: str
    source: Endpoint
    destination: Endpoint
    target: str
    local_port: str
    associated_rule_id: str
    disabled: bool
    nordr: bool
    description: str


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """Something in the file the parser could not take as written (becomes a Problem)."""

    kind: ProblemKind
    message: str
    line: int
    key: str


@dataclass(frozen=True, slots=True)
class FirewallConfig:
    """Everything read from one config.xml."""

    kind: str
    hostname: str
    root_line: int
    root_end_line: int
    interfaces: tuple[Interface, ...] = ()
    vips: tuple[VirtualIp, ...] = ()
    groups: tuple[InterfaceGroup, ...] = ()
    aliases: tuple[Alias, ...] = ()
    rules: tuple[FilterRule, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    problems: tuple[ReadProblem, ...] = ()
    #: ``<vlans>``: each VLAN device (``vlanif``, e.g. ``vtnet1.30`` or OPNsense's ``vlan01``)
    #: and its 802.1Q tag.
    vlans: tuple[tuple[str, int], ...] = ()

    def interface(self, name: str) -> Interface | None:
        for itf in self.interfaces:
            if itf.name == name:
                return itf
        return None
