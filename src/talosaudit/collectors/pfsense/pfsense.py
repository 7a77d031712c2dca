"""Read a pfSense ``config.xml`` (and the parts OPNsense shares with it) into parsed values.

pfSense booleans are *presence* flags: the code tests ``isset()``, so ``<disabled/>``,
``<disabled></disabled>`` and even ``<disabled>0</disabled>`` all disable a rule. OPNsense
tests PHP ``!empty()`` instead; the dialect's ``Flags`` object decides (see opnsense.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from talosaudit.collectors.pfsense.parsed import (
    MATCH,
    PASS,
    Alias,
    Bucket,
    Endpoint,
    FilterRule,
    FirewallConfig,
    Interface,
    InterfaceGroup,
    PortForward,
    ReadProblem,
    VirtualIp,
    is_stateless,
)
from talosaudit.collectors.pfsense.xmlload import XmlElement
from talosaudit.model import ProblemKind

_ACTIONS = frozenset({"pass", "block", "reject", MATCH})


@dataclass(frozen=True, slots=True)
class Flags:
    """How a dialect reads on/off elements."""

    #: True: an element's presence means on (pfSense). False: PHP ``!empty()`` (OPNsense).
    presence: bool

    def on(self, element: XmlElement, tag: str) -> bool:
        child = element.child(tag)
        if child is None:
            return False
        return True if self.presence else child.text not in ("", "0")


PFSENSE_FLAGS = Flags(presence=True)


def read_pfsense(root: XmlElement) -> FirewallConfig:
    """The interfaces, aliases, filter rules and port forwards of a ``<pfsense>`` document."""
    return read_common(root, "pfsense", PFSENSE_FLAGS)


def read_common(root: XmlElement, kind: str, flags: Flags) -> FirewallConfig:
    """Everything the two dialects store in the same elements."""
    problems: list[ReadProblem] = []
    system = root.child("system")
    hostname = ""
    if system is not None:
        host, domain = system.text_of("hostname"), system.text_of("domain")
        hostname = f"{host}.{domain}" if host and domain else host
    return FirewallConfig(
        kind=kind,
        hostname=hostname,
        root_line=root.line,
        root_end_line=root.end_line,
        interfaces=read_interfaces(root, flags),
        vlans=read_vlans(root),
        vips=read_vips(root),
        groups=read_groups(root),
        aliases=read_aliases(root, problems),
        rules=read_filter_rules(root, flags, problems),
        port_forwards=read_port_forwards(root, flags, problems),
        problems=tuple(problems),
    )


def read_interfaces(root: XmlElement, flags: Flags) -> tuple[Interface, ...]:
    section = root.child("interfaces")
    if section is None:
        return ()
    result = []
    for el in section.children:
        result.append(
            Interface(
                name=el.tag,
                descr=el.text_of("descr"),
                device=el.text_of("if"),
                enabled=flags.on(el, "enable"),
                ipaddr=el.text_of("ipaddr").strip(),
                subnet=el.text_of("subnet").strip(),
                ipaddrv6=el.text_of("ipaddrv6").strip(),
                subnetv6=el.text_of("subnetv6").strip(),
                gateway=el.text_of("gateway").strip(),
                blockpriv=flags.on(el, "blockpriv"),
                line=el.line,
                end_line=el.end_line,
                virtual=el.text_of("type") in ("group", "none") and flags.on(el, "virtual"),
            )
        )
    return tuple(result)


def read_vlans(root: XmlElement) -> tuple[tuple[str, int], ...]:
    """``<vlans><vlan>``: the device each VLAN gets and its tag (the same element in both
    dialects); a device without ``vlanif`` gets pfSense's ``<if>.<tag>`` name."""
    section = root.child("vlans")
    if section is None:
        return ()
    out = []
    for vlan in section.children:
        tag = vlan.text_of("tag").strip()
        if not tag.isdigit():
            continue
        device = vlan.text_of("vlanif").strip() or f"{vlan.text_of('if').strip()}.{tag}"
        out.append((device, int(tag)))
    return tuple(out)


def _entries(root: XmlElement, section: str, tag: str) -> tuple[XmlElement, ...]:
    """The ``<tag>`` children of ``<section>`` under ``root``; none when the section is absent."""
    element = root.child(section)
    return () if element is None else element.all(tag)


def read_vips(root: XmlElement) -> tuple[VirtualIp, ...]:
    return tuple(
        VirtualIp(
            interface=vip.text_of("interface").strip(),
            address=vip.text_of("subnet").strip(),
            bits=vip.text_of("subnet_bits").strip(),
            line=vip.line,
        )
        for vip in _entries(root, "virtualip", "vip")
    )


def read_groups(root: XmlElement) -> tuple[InterfaceGroup, ...]:
    return tuple(
        InterfaceGroup(
            name=entry.text_of("ifname").strip(),
            members=tuple(entry.text_of("members").split()),
            line=entry.line,
        )
        for entry in _entries(root, "ifgroups", "ifgroupentry")
        if entry.text_of("ifname").strip()
    )


def read_aliases(root: XmlElement, problems: list[ReadProblem]) -> tuple[Alias, ...]:
    """``<aliases><alias>``: entries are space-separated (pfSense, OPNsense before 20.x)."""
    section = root.child("aliases")
    if section is None:
        return ()
    result = []
    for el in section.all("alias"):
        name = el.text_of("name").strip()
        if not name:
            problems.append(
                ReadProblem(
                    ProblemKind.UNRESOLVED, "alias without a <name> is ignored", el.line, f"alias@{el.line}"
                )
            )
            continue
        result.append(
            Alias(
                name=name,
                type=el.text_of("type").strip().lower(),
                entries=tuple(el.text_of("address").split()),
                descr=el.text_of("descr"),
                line=el.line,
                end_line=el.end_line,
            )
        )
    return tuple(result)


def read_endpoint(el: XmlElement | None, flags: Flags) -> Endpoint:
    """``<source>``/``<destination>``.

    pfSense (`filter_generate_address`): ``<any>`` wins, then ``<network>``, then
    ``<address>``. OPNsense legacy: a non-empty ``<network>`` wins, then a non-empty
    ``<address>``, else any (so ``<any>1</any>``, ``<any/>`` and nothing all mean any).
    """
    if el is None:
        return Endpoint()
    negated = flags.on(el, "not")
    port = el.text_of("port").strip()
    network, address = el.text_of("network").strip(), el.text_of("address").strip()
    if flags.presence and el.has("any"):
        return Endpoint(any=True, negated=negated, port=port)
    if network:
        return Endpoint(any=False, kind="network", values=(network,), negated=negated, port=port)
    if address:
        return Endpoint(any=False, kind="address", values=(address,), negated=negated, port=port)
    return Endpoint(any=True, negated=negated, port=port)


def read_filter_rules(root: XmlElement, flags: Flags, problems: list[ReadProblem]) -> tuple[FilterRule, ...]:
    section = root.child("filter")
    if section is None:
        return ()
    per_interface: Counter[str] = Counter()
    result = []
    for el in section.all("rule"):
        result.append(read_filter_rule(el, flags, per_interface, problems))
    return tuple(result)


def _interfaces(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip() and part.strip() != "any")


def read_filter_rule(
    el: XmlElement, flags: Flags, per_interface: Counter[str], problems: list[ReadProblem]
) -> FilterRule:
    interface_text = el.text_of("interface").strip()
    interfaces = _interfaces(interface_text)
    floating = flags.on(el, "floating")
    action = el.text_of("type").strip().lower()
    if action not in _ACTIONS:
        # NAT-generated rules often have no <type>; pfSense treats missing/unknown as pass.
        action = PASS
    if flags.presence:
        # pfSense: interface rules are always quick and inbound; floating ones only when set.
        quick = flags.on(el, "quick") if floating else True
        direction = (el.text_of("direction").strip().lower() or "any") if floating else "in"
    else:
        # OPNsense: quick unset = true for interface rules, false for floating; an explicit
        # <quick>0</quick> makes an interface rule non-quick. Direction applies everywhere.
        quick = flags.on(el, "quick") if el.has("quick") else not floating
        direction = el.text_of("direction").strip().lower() or ("any" if floating else "in")
    scope = "floating" if floating else (interface_text or "none")
    index = per_interface[scope]
    per_interface[scope] += 1
    tracker = el.text_of("tracker").strip()
    uuid = el.attr("uuid").strip()
    key = f"tracker:{tracker}" if tracker else f"uuid:{uuid}" if uuid else f"{scope}[{index}]"
    if not floating and not interfaces:
        problems.append(
            ReadProblem(
                ProblemKind.UNRESOLVED,
                f"filter rule {key} is not floating and names no interface; it is not evaluated",
                el.line,
                f"{key}:interface",
            )
        )
    return FilterRule(
        line=el.line,
        end_line=el.end_line,
        key=key,
        action=action,
        interfaces=interfaces,
        bucket=Bucket.FLOATING if floating else Bucket.INTERFACE,
        quick=quick,
        direction=direction if direction in ("in", "out", "any") else "any",
        ipprotocol=el.text_of("ipprotocol").strip().lower() or "inet",
        protocol=el.text_of("protocol").strip().lower(),
        source=read_endpoint(el.child("source"), flags),
        destination=read_endpoint(el.child("destination"), flags),
        disabled=flags.on(el, "disabled"),
        description=el.text_of("descr").strip(),
        tracker=tracker,
        associated_rule_id=el.text_of("associated-rule-id").strip(),
        tag=el.text_of("tag").strip(),
        tagged=el.text_of("tagged").strip(),
        schedule=el.text_of("sched").strip(),
        icmptype=el.text_of("icmptype").strip(),
        form="legacy",
        stateless=is_stateless(el.text_of("statetype")),
    )


def read_port_forwards(
    root: XmlElement, flags: Flags, problems: list[ReadProblem]
) -> tuple[PortForward, ...]:
    """``<nat><rule>`` (direct children only: ``<nat><outbound><rule>`` is source NAT)."""
    section = root.child("nat")
    if section is None:
        return ()
    result = []
    for index, el in enumerate(section.all("rule")):
        associated = el.text_of("associated-rule-id").strip()
        uuid = el.attr("uuid").strip()
        key = (
            f"nat:{associated}"
            if associated.startswith("nat_")
            else f"uuid:{uuid}"
            if uuid
            else f"nat[{index}]"
        )
        target = el.text_of("target").strip()
        if not target:
            problems.append(
                ReadProblem(
                    ProblemKind.UNRESOLVED,
                    f"port forward {key} has no <target>; it is ignored",
                    el.line,
                    f"{key}:target",
                )
            )
        result.append(
            PortForward(
                line=el.line,
                end_line=el.end_line,
                key=key,
                interfaces=_interfaces(el.text_of("interface").strip()),
                ipprotocol=el.text_of("ipprotocol").strip().lower() or "inet",
                protocol=el.text_of("protocol").strip().lower(),
                source=read_endpoint(el.child("source"), flags),
                destination=read_endpoint(el.child("destination"), flags),
                target=target,
                local_port=el.text_of("local-port").strip(),
                associated_rule_id=associated,
                disabled=flags.on(el, "disabled"),
                nordr=flags.on(el, "nordr"),
                description=el.text_of("descr").strip(),
            )
        )
    return tuple(result)
