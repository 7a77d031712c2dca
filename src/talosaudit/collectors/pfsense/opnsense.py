"""Read an OPNsense ``config.xml``: legacy ``<filter>`` rules and the MVC rule/alias models.

Legacy elements are the pfSense ones, but on/off values follow PHP ``!empty()``: ``"0"``
and the empty string are off (``<disabled>0</disabled>`` and ``<disabled/>`` leave a rule
enabled, the reverse of pfSense). The MVC model (``<OPNsense><Firewall><Filter><rules>``)
writes ``enabled``/``quick``/``*_not`` as ``0``/``1``, protocols upper-case, and nets as
comma lists.

Order: OPNsense puts legacy and MVC rules into the same priority buckets (floating /
multi-interface / ``interfacenot`` first, then interface groups, then single-interface
rules). Within a bucket MVC rules come first, sorted by ``sequence``, then legacy rules in
config order: the MVC rules are registered (``plugins_firewall``) before the legacy ones
(``filter_core_rules_user``) and the sort by priority keeps registration order.
"""

from __future__ import annotations

from talosaudit.collectors.pfsense.parsed import (
    PASS,
    Alias,
    Bucket,
    Endpoint,
    FilterRule,
    FirewallConfig,
    ReadProblem,
    is_stateless,
)
from talosaudit.collectors.pfsense.pfsense import Flags, read_common
from talosaudit.collectors.pfsense.xmlload import XmlElement
from talosaudit.model import ProblemKind

OPNSENSE_FLAGS = Flags(presence=False)

_MVC_ACTIONS = frozenset({"pass", "block", "reject"})


def read_opnsense(root: XmlElement) -> FirewallConfig:
    config = read_common(root, "opnsense", OPNSENSE_FLAGS)
    problems = list(config.problems)
    firewall = root.find("OPNsense", "Firewall")
    mvc_rules: tuple[FilterRule, ...] = ()
    mvc_aliases: tuple[Alias, ...] = ()
    if firewall is not None:
        mvc_rules = read_mvc_rules(firewall, problems)
        mvc_aliases = read_mvc_aliases(firewall)
    return FirewallConfig(
        kind=config.kind,
        hostname=config.hostname,
        root_line=config.root_line,
        root_end_line=config.root_end_line,
        interfaces=config.interfaces,
        vlans=config.vlans,
        vips=config.vips,
        groups=config.groups,
        aliases=config.aliases + mvc_aliases,
        rules=mvc_rules + config.rules,
        port_forwards=config.port_forwards,
        problems=tuple(problems),
    )


def _on(el: XmlElement, tag: str, default: bool) -> bool:
    child = el.child(tag)
    if child is None:
        return default
    return child.text not in ("", "0")


def _endpoint(el: XmlElement, side: str) -> Endpoint:
    """A rule's ``side`` ("source" or "destination"): its nets, negation and port."""
    nets = _nets(el.text_of(f"{side}_net", "any"))
    return Endpoint(
        any=nets.any,
        kind=nets.kind,
        values=nets.values,
        negated=_on(el, f"{side}_not", False),
        port=el.text_of(f"{side}_port").strip(),
    )


def _nets(text: str) -> Endpoint:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values or "any" in values:
        return Endpoint()
    return Endpoint(any=False, kind="mixed", values=values)


def read_mvc_rules(firewall: XmlElement, problems: list[ReadProblem]) -> tuple[FilterRule, ...]:
    rules_el = firewall.find("Filter", "rules")
    if rules_el is None:
        return ()
    result = []
    for index, el in enumerate(rules_el.all("rule")):
        uuid = el.attr("uuid").strip()
        key = f"uuid:{uuid}" if uuid else f"mvc[{index}]"
        seq_text = el.text_of("sequence").strip()
        try:
            sequence = int(seq_text)
        except ValueError:
            sequence = 1_000_000
            problems.append(
                ReadProblem(
                    ProblemKind.UNRESOLVED,
                    f"MVC rule {key} has sequence {seq_text!r}, not a number; it is ordered last",
                    el.line,
                    f"{key}:sequence",
                )
            )
        interfaces = tuple(v.strip() for v in el.text_of("interface").split(",") if v.strip())
        interface_not = _on(el, "interfacenot", False)
        floating = len(interfaces) != 1 or interface_not
        action = el.text_of("action").strip().lower()
        protocol = el.text_of("protocol").strip().lower()
        source = _endpoint(el, "source")
        destination = _endpoint(el, "destination")
        result.append(
            FilterRule(
                line=el.line,
                end_line=el.end_line,
                key=key,
                action=action if action in _MVC_ACTIONS else PASS,
                interfaces=interfaces,
                bucket=Bucket.FLOATING if floating else Bucket.INTERFACE,
                quick=_on(el, "quick", True),
                direction=el.text_of("direction").strip().lower() or "in",
                ipprotocol=el.text_of("ipprotocol").strip().lower() or "inet",
                protocol="" if protocol == "any" else protocol,
                source=source,
                destination=destination,
                disabled=not _on(el, "enabled", True),
                description=el.text_of("description").strip(),
                tag=el.text_of("tag").strip(),
                tagged=el.text_of("tagged").strip(),
                schedule=el.text_of("sched").strip(),
                icmptype=el.text_of("icmptype").strip(),
                interface_not=interface_not,
                form="mvc",
                sequence=sequence,
                stateless=is_stateless(el.text_of("statetype")),
            )
        )
    return tuple(result)


def read_mvc_aliases(firewall: XmlElement) -> tuple[Alias, ...]:
    """``<Alias><aliases><alias>``: ``content`` is newline-separated."""
    section = firewall.find("Alias", "aliases")
    if section is None:
        return ()
    result = []
    for el in section.all("alias"):
        name = el.text_of("name").strip()
        if not name:
            continue
        content = el.text_of("content").replace(",", "\n")
        result.append(
            Alias(
                name=name,
                type=el.text_of("type").strip().lower(),
                entries=tuple(v.strip() for v in content.splitlines() if v.strip()),
                descr=el.text_of("description"),
                line=el.line,
                end_line=el.end_line,
                enabled=_on(el, "enabled", True),
            )
        )
    return tuple(result)
