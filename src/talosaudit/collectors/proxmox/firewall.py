"""Proxmox firewall files: ``cluster.fw``, ``host.fw`` and ``<vmid>.fw``.

Parsed the way pve-firewall's ``generic_fw_config_parser`` reads them: headers are
case-insensitive, ``#`` lines and blank lines are skipped, group/ipset/alias names are
lower-cased. A rule that Proxmox would keep with errors (``-dport`` without ``-p``, an unknown
macro) is kept here with ``errors`` set: the compiler skips it, so the layer builder drops it,
and the parser reports it. Address references (aliases, ipsets) are resolved later, when the
cluster and guest files are both known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypedDict

from talosaudit.model import AddressSet, Problem, ProblemKind, SourceRef, Unresolved
from talosaudit.model.ports import is_ascii_number

_HEADER = re.compile(r"^\[([^\]]*)\]\s*(?:#\s*(.*?)\s*)?$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_]+$")
_RULE_HEAD = re.compile(r"^(\S+)\s+(\S+)\s*")
_MACRO_FORM = re.compile(r"^(\S+)\((ACCEPT|DROP|REJECT)\)$")
_OPTION = re.compile(r"^([A-Za-z_]+):\s*(.*?)\s*$")
_LOG_LEVELS = "emerg|alert|crit|err|warning|notice|info|debug|nolog"
#: Rule options in the order and spelling ``parse_fw_rule`` accepts them.
_RULE_OPTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iface", re.compile(r"^-i (\S+)\s*")),
    ("proto", re.compile(r"^(?:-p|--?proto) (\S+)\s*")),
    ("dport", re.compile(r"^--?dport (\S+)\s*")),
    ("sport", re.compile(r"^--?sport (\S+)\s*")),
    ("source", re.compile(r"^--?source (\S+)\s*")),
    ("dest", re.compile(r"^--?dest (\S+)\s*")),
    ("log", re.compile(rf"^--?log ({_LOG_LEVELS})\s*")),
    ("icmp_type", re.compile(r"^--?icmp-type (\S+)\s*")),
)

#: Sections each file type accepts (pve-firewall: cluster, host, VM/CT).
_SECTIONS = {
    "cluster": frozenset({"options", "aliases", "ipset", "rules", "group"}),
    "host": frozenset({"options", "rules"}),
    "guest": frozenset({"options", "aliases", "ipset", "rules"}),
}

#: Macro name (lower case) -> (canonical name, [(protocol, dport, sport)]), "" where the entry
#: has no such field. Transcribed from pve-firewall ``src/PVE/Firewall.pm``: every macro of
#: ``$pve_fw_macros`` (the IPv4 table, also used for IPv6 unless overridden) plus the two
#: IPv6-only macros of ``$pve_ipv6fw_macros`` (NeighborDiscovery, DHCPv6), so that every name
#: Proxmox accepts is known. Proxmox looks names up lower-cased (``verify_rule``:
#: ``$pve_fw_preferred_macro_names->{lc($rule->{macro})}``) and keeps the canonical spelling.
#: Simplifications: the IPv6 variants of Ping and Trcrt (icmpv6 instead of icmp) and the
#: IPv6-only restriction of NeighborDiscovery/DHCPv6 are not modelled (no Talos port is
#: involved); an icmp entry's "dport" is the icmp type, as in the source.
MACROS: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    name.lower(): (name, entries)
    for name, entries in (
        ("Amanda", (("udp", "10080", ""), ("tcp", "10080", ""))),
        ("Auth", (("tcp", "113", ""),)),
        ("BGP", (("tcp", "179", ""),)),
        ("BitTorrent", (("tcp", "6881:6889", ""), ("udp", "6881", ""))),
        ("BitTorrent32", (("tcp", "6881:6999", ""), ("udp", "6881", ""))),
        ("Ceph", (("tcp", "6789", ""), ("tcp", "3300", ""), ("tcp", "6800:7300", ""))),
        ("CVS", (("tcp", "2401", ""),)),
        ("Citrix", (("tcp", "1494", ""), ("udp", "1604", ""), ("tcp", "2598", ""))),
        ("DAAP", (("tcp", "3689", ""), ("udp", "3689", ""))),
        ("DCC", (("tcp", "6277", ""),)),
        ("DHCPfwd", (("udp", "67:68", "67:68"),)),
        ("DNS", (("udp", "53", ""), ("tcp", "53", ""))),
        ("Distcc", (("tcp", "3632", ""),)),
        ("FTP", (("tcp", "21", ""),)),
        ("Finger", (("tcp", "79", ""),)),
        ("GNUnet", (("tcp", "2086", ""), ("udp", "2086", ""), ("tcp", "1080", ""), ("udp", "1080", ""))),
        ("GRE", (("47", "", ""),)),
        ("Git", (("tcp", "9418", ""),)),
        ("HKP", (("tcp", "11371", ""),)),
        ("HTTP", (("tcp", "80", ""),)),
        ("HTTPS", (("tcp", "443", ""),)),
        ("ICPV2", (("udp", "3130", ""),)),
        ("ICQ", (("tcp", "5190", ""),)),
        ("IMAP", (("tcp", "143", ""),)),
        ("IMAPS", (("tcp", "993", ""),)),
        ("IPIP", (("94", "", ""),)),
        ("IPsec", (("udp", "500", "500"), ("50", "", ""))),
        ("IPsecah", (("udp", "500", "500"), ("51", "", ""))),
        ("IPsecnat", (("udp", "500", ""), ("udp", "4500", ""), ("50", "", ""))),
        ("IRC", (("tcp", "6667", ""),)),
        ("Jetdirect", (("tcp", "9100", ""),)),
        ("L2TP", (("udp", "1701", ""),)),
        ("LDAP", (("tcp", "389", ""),)),
        ("LDAPS", (("tcp", "636", ""),)),
        ("MSNP", (("tcp", "1863", ""),)),
        ("MSSQL", (("tcp", "1433", ""),)),
        ("Mail", (("tcp", "25", ""), ("tcp", "465", ""), ("tcp", "587", ""))),
        ("MDNS", (("udp", "5353", ""),)),
        ("Munin", (("tcp", "4949", ""),)),
        ("MySQL", (("tcp", "3306", ""),)),
        ("NNTP", (("tcp", "119", ""),)),
        ("NNTPS", (("tcp", "563", ""),)),
        ("NTP", (("udp", "123", ""),)),
        ("OSPF", (("89", "", ""),)),
        ("OpenVPN", (("udp", "1194", ""),)),
        ("PCA", (("udp", "5632", ""), ("tcp", "5631", ""))),
        ("PMG", (("tcp", "8006", ""),)),
        ("POP3", (("tcp", "110", ""),)),
        ("POP3S", (("tcp", "995", ""),)),
        ("PPtP", (("47", "", ""), ("tcp", "1723", ""))),
        ("Ping", (("icmp", "echo-request", ""),)),
        ("PostgreSQL", (("tcp", "5432", ""),)),
        ("Printer", (("tcp", "515", ""),)),
        ("RDP", (("tcp", "3389", ""),)),
        ("RIP", (("udp", "520", ""),)),
        ("RNDC", (("tcp", "953", ""),)),
        ("Razor", (("tcp", "2703", ""),)),
        ("Rdate", (("tcp", "37", ""),)),
        ("Rsync", (("tcp", "873", ""),)),
        ("SANE", (("tcp", "6566", ""),)),
        (
            "SMB",
            (
                ("udp", "135,445", ""),
                ("udp", "137:139", ""),
                ("udp", "1024:65535", "137"),
                ("tcp", "135,139,445", ""),
            ),
        ),
        ("SMBswat", (("tcp", "901", ""),)),
        ("SMTP", (("tcp", "25", ""),)),
        ("SMTPS", (("tcp", "465", ""),)),
        ("SNMP", (("udp", "161:162", ""), ("tcp", "161", ""))),
        ("SPAMD", (("tcp", "783", ""),)),
        ("SSH", (("tcp", "22", ""),)),
        ("SVN", (("tcp", "3690", ""),)),
        ("SixXS", (("tcp", "3874", ""), ("udp", "3740", ""), ("41", "", ""), ("udp", "5072,8374", ""))),
        ("SPICEproxy", (("tcp", "3128", ""),)),
        ("Squid", (("tcp", "3128", ""),)),
        ("Submission", (("tcp", "587", ""),)),
        ("Syslog", (("udp", "514", ""), ("tcp", "514", ""))),
        ("TFTP", (("udp", "69", ""),)),
        ("Telnet", (("tcp", "23", ""),)),
        ("Telnets", (("tcp", "992", ""),)),
        ("Time", (("tcp", "37", ""),)),
        ("Trcrt", (("udp", "33434:33524", ""), ("icmp", "echo-request", ""))),
        ("VNC", (("tcp", "5900:5999", ""),)),
        ("VNCL", (("tcp", "5500", ""),)),
        ("Web", (("tcp", "80", ""), ("tcp", "443", ""))),
        ("Webcache", (("tcp", "8080", ""),)),
        ("Webmin", (("tcp", "10000", ""),)),
        ("Whois", (("tcp", "43", ""),)),
        # $pve_ipv6fw_macros: applied by Proxmox to IPv6 traffic only.
        (
            "NeighborDiscovery",
            (
                ("icmpv6", "router-solicitation", ""),
                ("icmpv6", "router-advertisement", ""),
                ("icmpv6", "neighbor-solicitation", ""),
                ("icmpv6", "neighbor-advertisement", ""),
            ),
        ),
        ("DHCPv6", (("udp", "546:547", "546:547"),)),
    )
}


@dataclass(frozen=True, slots=True)
class FwRule:
    """One rule line (or API rule object) as written; ``errors`` set = Proxmox skips it."""

    source: SourceRef
    type: str  # in, out, group, forward
    action: str  # ACCEPT/DROP/REJECT; the group name for type "group"
    enabled: bool = True
    macro: str | None = None
    iface: str | None = None
    src: str | None = None
    dest: str | None = None
    proto: str | None = None
    dport: str | None = None
    sport: str | None = None
    log: str | None = None
    icmp_type: str | None = None
    comment: str = ""
    errors: tuple[str, ...] = ()
    #: Stable identity of the rule: file scope + position, or a Terraform address.
    key: str = ""
    #: Values that could not be resolved (Terraform): the field is then left empty here.
    unresolved: tuple[Unresolved, ...] = ()


#: The option names of a rule that ``rule_options`` reads.
RULE_OPTION_NAMES = ("iface", "source", "dest", "proto", "dport", "sport", "log")


class RuleOptions(TypedDict):
    """The FwRule fields a rule's named options set."""

    iface: str | None
    src: str | None
    dest: str | None
    proto: str | None
    dport: str | None
    sport: str | None
    log: str | None


def rule_options(values: Mapping[str, str | None]) -> RuleOptions:
    """The FwRule fields of a rule's options by their Proxmox names (``-source``, ``-dport``,
    ...): ``.fw`` lines, API rule objects and Terraform rule blocks all use these names."""
    return RuleOptions(
        iface=values.get("iface"),
        src=values.get("source"),
        dest=values.get("dest"),
        proto=values.get("proto"),
        dport=values.get("dport"),
        sport=values.get("sport"),
        log=values.get("log"),
    )


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    cidr: str
    source: SourceRef


@dataclass(frozen=True, slots=True)
class IpSetEntry:
    cidr: str
    nomatch: bool
    source: SourceRef


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    source: SourceRef


@dataclass(frozen=True)
class FirewallConfig:
    """A parsed firewall file (or its API/Terraform equivalent).

    ``scope`` is "cluster", "host" or "guest"; ``owner`` is the guest identity for guest
    files (the vmid, or the Terraform address of the VM), the node name for host files.
    """

    scope: str
    owner: str
    source: SourceRef
    options: dict[str, Option] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    ipsets: dict[str, tuple[IpSetEntry, ...]] = field(default_factory=dict)
    rules: tuple[FwRule, ...] = ()
    groups: dict[str, tuple[FwRule, ...]] = field(default_factory=dict)
    group_sources: dict[str, SourceRef] = field(default_factory=dict)
    #: The ``[RULES]`` header of a ``.fw`` file: where findings about the guest's rule set
    #: point (None: no such section, or not a file).
    rules_source: SourceRef | None = None

    def option(self, name: str) -> Option | None:
        return self.options.get(name)


def scope_of(rel: str) -> tuple[str, str] | None:
    """(scope, owner) of a ``.fw`` path: ``cluster.fw``, ``nodes/<n>/host.fw``, ``<vmid>.fw``."""
    parts = rel.split("/")
    name = parts[-1].lower()
    if name == "cluster.fw":
        return "cluster", "cluster"
    if name == "host.fw":
        node = parts[-2] if len(parts) >= 2 else ""
        return "host", node
    stem = name[:-3]
    if stem.isdigit():
        return "guest", stem
    return None


def verify_rule(rule: FwRule, scope: str, in_group: bool) -> tuple[str, ...]:
    """The errors pve-firewall's ``verify_rule`` would attach (the rule is then not compiled)."""
    errors: list[str] = []
    allowed = {"in", "out", "group"} if scope == "guest" else {"in", "out", "forward", "group"}
    if in_group:
        allowed = {"in", "out", "forward"}
    if rule.type not in allowed:
        errors.append(f"rule type {rule.type.upper()} is not allowed here")
    if rule.type == "group":
        if not _NAME.match(rule.action):
            errors.append(f"invalid security group name {rule.action!r}")
    elif rule.action not in ("ACCEPT", "DROP", "REJECT"):
        errors.append(f"unknown action {rule.action!r} (ACCEPT, DROP or REJECT, upper case)")
    if rule.macro is not None and rule.macro.lower() not in MACROS:
        errors.append(f"unknown macro {rule.macro!r}")
    if rule.iface is not None and scope == "guest" and not re.fullmatch(r"net\d+", rule.iface):
        errors.append(f"-i {rule.iface}: a guest rule's interface must be netN")
    if rule.iface is not None and in_group:
        errors.append("-i is not allowed inside a security group")
    if rule.proto is None and rule.macro is None and not any(u.field == "protocol" for u in rule.unresolved):
        if rule.dport is not None:
            errors.append("rule dropped by Proxmox: -dport needs -p")
        if rule.sport is not None:
            errors.append("rule dropped by Proxmox: -sport needs -p")
    for option, ports in (("dport", rule.dport), ("sport", rule.sport)):
        port_error = _port_list_error(ports) if ports is not None else None
        if port_error:
            errors.append(f"-{option} {ports}: {port_error}")
    for option, addresses in (("source", rule.src), ("dest", rule.dest)):
        address_error = _address_list_error(addresses) if addresses is not None else None
        if address_error:
            errors.append(f"-{option} {addresses}: {address_error}")
    return tuple(errors)


_PORT_RANGE = re.compile(r"^([0-9]{1,20}):([0-9]{1,20})$")  # ASCII digits, as iptables reads them
_ADDRESS_NAME = re.compile(r"^(?:(?:dc|guest)/)?[A-Za-z][A-Za-z0-9\-_]+$")


def _port_list_error(text: str) -> str | None:
    """What pve-firewall's ``parse_port_name_number_or_range`` refuses in a port list (the
    rule then has errors and is not compiled): a number above 65535, a backwards range, an
    empty entry, more than 15 numbers (a range counts 2: the iptables multiport limit).
    Service names are left to the converter: /etc/services is not known here."""
    count = 0
    for item in text.split(","):
        m = _PORT_RANGE.match(item)
        if m:
            count += 2
            low, high = int(m.group(1)), int(m.group(2))
            if max(low, high) > 65535:
                return f"invalid port '{max(low, high)}'"
            if low > high:
                return f"backwards range '{item}' not allowed, did you mean '{high}:{low}'?"
        elif is_ascii_number(item):
            count += 1
            if int(item) > 65535:
                return f"invalid port '{item}'"
        elif not item.strip():
            return "empty entry in the port list"
    if count > 15:
        return "too many entries in port list (> 15 numbers; a range counts as 2)"
    return None


def _address_list_error(text: str) -> str | None:
    """What pve-firewall's ``parse_address_list`` refuses: an entry that is not an address or
    range (unless the whole value is one alias or ``+ipset`` name), IPv4 and IPv6 mixed, a
    range inside a list."""
    if text.startswith("+") or _ADDRESS_NAME.match(text):
        return None
    items = text.split(",")
    families: set[int] = set()
    for item in items:
        try:
            AddressSet.parse(item.strip())
        except ValueError:
            return f"invalid IP address {item!r}"
        families.add(6 if ":" in item else 4)
    if len(families) > 1:
        return "IPv4 and IPv6 addresses mixed in one list"
    if len(items) > 1 and any("-" in item for item in items):
        return "a range cannot be part of a list"
    return None


def dropped_rule_problem(error: str) -> tuple[ProblemKind, str]:
    """The kind and message of the problem reported for one ``verify_rule()`` error: a port
    without ``-p`` is UNRESOLVED, any other error UNREADABLE; the message says Proxmox drops the rule."""
    message = error if error.startswith("rule dropped") else f"rule dropped by Proxmox: {error}"
    return (ProblemKind.UNRESOLVED if "needs -p" in error else ProblemKind.UNREADABLE), message


def parse_rule_line(line: str) -> FwRule | str:
    """A rule line to an FwRule (source/key filled in by the caller), or an error message."""
    comment = ""
    hash_at = line.find("#")
    if hash_at >= 0:
        comment = line[hash_at + 1 :].strip()
        line = line[:hash_at]
    line = line.strip()
    enabled = True
    if line.startswith("|"):
        enabled = False
        line = line[1:]
    head = _RULE_HEAD.match(line)
    if not head:
        return f"unable to parse rule: {line!r}"
    rtype, action = head.group(1).lower(), head.group(2)
    if rtype not in ("in", "out", "group", "forward"):
        return f"unable to parse rule: {line!r} (a rule starts with IN, OUT, GROUP or FORWARD)"
    rest = line[head.end() :]
    macro: str | None = None
    if rtype in ("in", "out", "forward"):
        mm = _MACRO_FORM.match(action)
        if mm:
            macro, action = mm.group(1), mm.group(2)
    values: dict[str, str] = {}
    while rest:
        for name, pattern in _RULE_OPTIONS:
            if rtype == "group" and name != "iface":
                continue
            m = pattern.match(rest)
            if m:
                values[name] = m.group(1)
                rest = rest[m.end() :]
                break
        else:
            return f"unable to parse rule parameters: {rest.strip()!r}"
    return FwRule(
        source=SourceRef(""),
        type=rtype,
        action=action,
        enabled=enabled,
        macro=macro,
        **rule_options(values),
        icmp_type=values.get("icmp_type"),
        comment=comment,
    )


def parse_firewall(text: str, rel: str, scope: str, owner: str) -> tuple[FirewallConfig, list[Problem]]:
    """Parse a ``.fw`` file. Every problem names ``rel:line``; the rest of the file goes on."""
    problems: list[Problem] = []
    options: dict[str, Option] = {}
    aliases: dict[str, Alias] = {}
    ipsets: dict[str, list[IpSetEntry]] = {}
    rules: list[FwRule] = []
    groups: dict[str, list[FwRule]] = {}
    group_sources: dict[str, SourceRef] = {}
    section: str | None = None
    name = ""
    resource = f"{scope}:{owner}"
    rules_source: SourceRef | None = None

    def problem(problem_kind: ProblemKind, number: int, message: str, key: str) -> None:
        problems.append(
            Problem(
                problem_kind, message, SourceRef(rel, number, resource=resource), key=f"proxmox:{rel}:{key}"
            )
        )

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header:
            words = header.group(1).split()
            kind = words[0].lower() if words else ""
            section, name = None, ""
            if kind not in ("options", "aliases", "rules", "ipset", "group") or (
                kind in ("ipset", "group") and len(words) != 2
            ):
                problem(
                    ProblemKind.UNREADABLE,
                    number,
                    f"unknown section [{header.group(1)}]: its lines are skipped",
                    line,
                )
                continue
            if kind not in _SECTIONS[scope]:
                problem(
                    ProblemKind.UNREADABLE,
                    number,
                    f"section [{header.group(1)}] is not allowed in a {scope} firewall file: "
                    "Proxmox skips it",
                    line,
                )
                continue
            if kind in ("ipset", "group"):
                name = words[1].lower()
                if not _NAME.match(name):
                    problem(
                        ProblemKind.UNREADABLE,
                        number,
                        f"invalid {kind} name {words[1]!r}: section skipped",
                        line,
                    )
                    continue
                if kind == "ipset":
                    ipsets[name] = []
                else:
                    groups[name] = []
                    group_sources[name] = SourceRef(rel, number, resource=f"group:{name}")
            if kind == "rules" and rules_source is None:
                rules_source = SourceRef(rel, number, resource=resource)
            section = kind
            continue
        if section is None:
            problem(
                ProblemKind.UNREADABLE,
                number,
                f"line outside any known section is skipped: {line[:60]!r}",
                line[:40],
            )
            continue
        if section == "options":
            m = _OPTION.match(line)
            if not m:
                problem(
                    ProblemKind.UNREADABLE, number, f"option line not understood: {line[:60]!r}", line[:40]
                )
                continue
            options[m.group(1).lower()] = Option(m.group(2), SourceRef(rel, number, resource=resource))
        elif section == "aliases":
            words = line.split("#", 1)[0].split()
            if len(words) != 2:
                problem(
                    ProblemKind.UNREADABLE,
                    number,
                    f"alias line must be 'name cidr': {line[:60]!r}",
                    line[:40],
                )
                continue
            aliases[words[0].lower()] = Alias(
                words[0].lower(), words[1], SourceRef(rel, number, resource=f"alias:{words[0].lower()}")
            )
        elif section == "ipset":
            body = line.split("#", 1)[0].strip()
            nomatch = body.startswith("!")
            cidr = body[1:].strip() if nomatch else body
            if not cidr or " " in cidr:
                problem(
                    ProblemKind.UNREADABLE, number, f"ipset entry not understood: {line[:60]!r}", line[:40]
                )
                continue
            if re.search(r"/0+$", cidr):
                problem(
                    ProblemKind.UNREADABLE,
                    number,
                    f"ipset {name}: a zero prefix ({cidr}) is not allowed",
                    cidr,
                )
                continue
            ipsets[name].append(IpSetEntry(cidr, nomatch, SourceRef(rel, number, resource=f"ipset:{name}")))
        else:
            parsed = parse_rule_line(line)
            if isinstance(parsed, str):
                problem(ProblemKind.UNREADABLE, number, f"{parsed}; Proxmox skips this line", line[:40])
                continue
            in_group = section == "group"
            owner_list = groups[name] if in_group else rules
            position = len(owner_list)
            rule_key = f"{resource}:group/{name}/{position}" if in_group else f"{resource}:rule/{position}"
            rule = _finish(parsed, SourceRef(rel, number, resource=rule_key), rule_key, scope, in_group)
            for error in rule.errors:
                problem_kind, message = dropped_rule_problem(error)
                problem(problem_kind, number, message, f"{position}:{error}")
            owner_list.append(rule)
    config = FirewallConfig(
        scope=scope,
        owner=owner,
        source=SourceRef(rel, 1, resource=resource),
        options=options,
        aliases=aliases,
        ipsets={k: tuple(v) for k, v in ipsets.items()},
        rules=tuple(rules),
        groups={k: tuple(v) for k, v in groups.items()},
        group_sources=group_sources,
        rules_source=rules_source,
    )
    problems.extend(check_options(config))
    return config, problems


def _finish(rule: FwRule, source: SourceRef, key: str, scope: str, in_group: bool) -> FwRule:
    done = replace(rule, source=source, key=key)
    return replace(done, errors=verify_rule(done, scope, in_group))


_OPTION_VALUES = {
    "enable": re.compile(r"^[0-9]+$"),
    "policy_in": re.compile(r"^(ACCEPT|DROP|REJECT)$", re.IGNORECASE),
    "policy_out": re.compile(r"^(ACCEPT|DROP|REJECT)$", re.IGNORECASE),
}


def check_options(config: FirewallConfig) -> list[Problem]:
    """Options whose value Proxmox would refuse (and so ignore: the default applies)."""
    out: list[Problem] = []
    for key, pattern in _OPTION_VALUES.items():
        opt = config.options.get(key)
        if opt is not None and not pattern.match(opt.value):
            out.append(
                Problem(
                    ProblemKind.UNREADABLE,
                    f"option {key}: {opt.value!r} is not valid; Proxmox ignores it and uses the default",
                    opt.source,
                    key=f"proxmox:{config.source.path}:option:{key}",
                )
            )
    return out


def enable_value(config: FirewallConfig | None, default: bool) -> tuple[bool, SourceRef | None, str]:
    """(enabled, where it was set, how it was decided) for a file's ``enable`` option.

    A value above 1 is a UNIX time the API wrote; Proxmox counts it as enabled only within
    60 s of that time, so in any export it means off.
    """
    if config is None:
        return default, None, "no firewall file"
    opt = config.options.get("enable")
    if opt is None or not is_ascii_number(opt.value):
        return default, None, f"enable not set (default {int(default)})"
    value = int(opt.value)
    if value > 1:
        return False, opt.source, f"enable: {value} (an API timestamp, expired: off)"
    return value == 1, opt.source, f"enable: {value}"


def policy(config: FirewallConfig | None, key: str, default: str) -> tuple[str, SourceRef | None]:
    if config is None:
        return default, None
    opt = config.options.get(key)
    if opt is None or not _OPTION_VALUES[key].match(opt.value):
        return default, None
    return opt.value.upper(), opt.source
