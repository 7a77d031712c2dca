"""Generators of large firewall inputs (issue 12): shared by tests/test_hostile_inputs.py and
benchmarks/large_layers.py. Each writes a scan tree under ``target`` and returns it.

The base is the ``pfsense-wan-50000`` golden case (a pfSense lab whose WAN rule opens the
Talos API to the internet): the generated aliases and rules are added to it, so the case's
own TA201 at the WAN rule must still be found.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CASES = Path(__file__).parent / "cases"
PFSENSE_CASE = CASES / "pfsense-wan-50000"
_WAN_SOURCE = (
    "\t\t\t<source>\n\t\t\t\t<any></any>\n\t\t\t</source>\n"
    "\t\t\t<destination>\n\t\t\t\t<network>opt1</network>\n\t\t\t\t<port>50000</port>"
)


def _alias(name: str, entries: list[str]) -> str:
    return (
        f"\t\t<alias>\n\t\t\t<name>{name}</name>\n\t\t\t<type>network</type>\n"
        f"\t\t\t<address>{' '.join(entries)}</address>\n\t\t</alias>\n"
    )


def _host(i: int) -> str:
    """A distinct public IPv4 host address per ``i`` (11.0.0.0 onwards)."""
    value = (11 << 24) + i
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def pfsense_tree(target: Path, *, aliases: str = "", rules: str = "", wan_source: str = "") -> Path:
    """The pfSense case with ``aliases`` and ``rules`` (XML) added, the WAN rule's source
    replaced by alias ``wan_source`` when given."""
    shutil.copytree(PFSENSE_CASE, target, ignore=shutil.ignore_patterns("case.yaml"))
    config = target / "config.xml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("\t</aliases>", aliases + "\t</aliases>", 1)
    text = text.replace(
        "\t\t<rule>\n\t\t\t<tracker>1700000301</tracker>",
        rules + "\t\t<rule>\n\t\t\t<tracker>1700000301</tracker>",
        1,
    )
    if wan_source:
        assert _WAN_SOURCE in text
        text = text.replace(
            _WAN_SOURCE, _WAN_SOURCE.replace("<any></any>", f"<address>{wan_source}</address>"), 1
        )
    config.write_text(text, encoding="utf-8")
    return target


def pfsense_alias_chain(target: Path, length: int) -> Path:
    """CHAIN0 -> CHAIN1 -> ... -> CHAIN{length-1} -> 0.0.0.0/0, used by the WAN rule."""
    aliases = "".join(_alias(f"CHAIN{i}", [f"CHAIN{i + 1}"]) for i in range(length - 1))
    aliases += _alias(f"CHAIN{length - 1}", ["0.0.0.0/0"])
    return pfsense_tree(target, aliases=aliases, wan_source="CHAIN0")


def pfsense_alias_dag(target: Path, levels: int) -> Path:
    """Two aliases per level, each naming both of the next level: 2**levels paths."""
    aliases = ""
    for i in range(levels - 1):
        nxt = [f"L{i + 1}A", f"L{i + 1}B"]
        aliases += _alias(f"L{i}A", nxt) + _alias(f"L{i}B", nxt)
    last = levels - 1
    aliases += _alias(f"L{last}A", ["0.0.0.0/1"]) + _alias(f"L{last}B", ["128.0.0.0/1"])
    return pfsense_tree(target, aliases=aliases, wan_source="L0A")


def pfsense_big_alias(target: Path, entries: int) -> Path:
    """One alias of ``entries`` host addresses plus 0.0.0.0/0, used by the WAN rule."""
    aliases = _alias("BIG", [*(_host(i) for i in range(entries)), "0.0.0.0/0"])
    return pfsense_tree(target, aliases=aliases, wan_source="BIG")


def pfsense_many_rules(target: Path, count: int) -> Path:
    """``count`` WAN block rules (one host each, one port each) before the case's WAN rule."""
    rules = "".join(
        f"\t\t<rule>\n\t\t\t<tracker>{1800000000 + i}</tracker>\n\t\t\t<type>block</type>\n"
        f"\t\t\t<interface>wan</interface>\n\t\t\t<ipprotocol>inet</ipprotocol>\n\t\t\t<protocol>tcp</protocol>\n"
        f"\t\t\t<source>\n\t\t\t\t<address>{_host(i)}</address>\n\t\t\t</source>\n"
        f"\t\t\t<destination>\n\t\t\t\t<network>opt1</network>\n\t\t\t\t<port>{1024 + i % 60000}</port>\n"
        f"\t\t\t</destination>\n\t\t\t<descr><![CDATA[block {i}]]></descr>\n\t\t</rule>\n"
        for i in range(count)
    )
    return pfsense_tree(target, rules=rules)


def wan_rule_line(tree: Path) -> int:
    """The line of the case's WAN ``<rule>`` (tracker 1700000301) in the generated file."""
    lines = (tree / "config.xml").read_text(encoding="utf-8").splitlines()
    tracker = lines.index("\t\t\t<tracker>1700000301</tracker>")
    return tracker  # the <rule> line is the one before: index + 1 - 1


PROXMOX_CASE = CASES / "proxmox-good-rules"


def _proxmox_tree(target: Path, *, vm_rules: str = "", cluster_extra: str = "") -> Path:
    """The ``proxmox-good-rules`` case with ``vm_rules`` placed first in VM 101's [RULES] and
    ``cluster_extra`` (sections) added to cluster.fw: the case has no finding, and the added
    DROP rules for public hosts change no cluster flow, so a scan must still find nothing."""
    shutil.copytree(PROXMOX_CASE, target, ignore=shutil.ignore_patterns("case.yaml"))
    vm = target / "firewall" / "101.fw"
    text = vm.read_text(encoding="utf-8")
    vm.write_text(text.replace("[RULES]\n", "[RULES]\n" + vm_rules, 1), encoding="utf-8")
    if cluster_extra:
        with (target / "firewall" / "cluster.fw").open("a", encoding="utf-8") as handle:
            handle.write("\n" + cluster_extra)
    return target


#: The line of the first generated rule in VM 101's firewall (after [OPTIONS] and [RULES]).
PROXMOX_FIRST_RULE_LINE = 6


def proxmox_many_rules(target: Path, count: int) -> Path:
    """``count`` DROP rules (one public host, one port each) first in VM 101's firewall, then
    a repeat of the first one, which the shadowing check (TA403) must find at line
    ``PROXMOX_FIRST_RULE_LINE + count``."""
    rules = "".join(
        f"IN DROP -source {_host(i)} -p tcp -dport {1024 + i % 60000} # block {i}\n" for i in range(count)
    )
    rules += f"IN DROP -source {_host(0)} -p tcp -dport 1024 # block 0 again\n"
    return _proxmox_tree(target, vm_rules=rules)


def proxmox_big_ipset(target: Path, entries: int) -> Path:
    """An IP set of ``entries`` public hosts, dropped by the first rule of VM 101; the second
    rule drops one of them again (TA403 at ``PROXMOX_FIRST_RULE_LINE + 1``)."""
    ipset = "[IPSET blocked] # many hosts\n" + "".join(f"{_host(i)}\n" for i in range(entries))
    rules = (
        f"IN DROP -source +blocked # the block list\nIN DROP -source {_host(entries // 2)} # one of them\n"
    )
    return _proxmox_tree(target, vm_rules=rules, cluster_extra=ipset)
