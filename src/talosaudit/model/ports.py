"""Port sets and IP protocols."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from talosaudit.model.intervals import IntervalSet

MAX_PORT = 65535

#: IANA protocol numbers used by the rules and flows talosaudit knows.
ICMP = 1
IPIP = 4
TCP = 6
UDP = 17
ICMPV6 = 58
SCTP = 132

PROTOCOL_NAMES: dict[int, str] = {
    ICMP: "icmp",
    IPIP: "ipip",
    TCP: "tcp",
    UDP: "udp",
    ICMPV6: "icmpv6",
    SCTP: "sctp",
}
PROTOCOL_NUMBERS: dict[str, int] = {name: number for number, name in PROTOCOL_NAMES.items()}
PROTOCOL_NUMBERS.update({"ipencap": IPIP, "ipv6-icmp": ICMPV6, "icmp6": ICMPV6})

#: Protocols whose traffic has ports; for all others a rule's port set is irrelevant.
PORTED = frozenset({TCP, UDP, SCTP})


def protocol_name(number: int | None) -> str:
    if number is None:
        return "all"
    return PROTOCOL_NAMES.get(number, str(number))


#: A number as Go's strconv, iptables and pf read it: ASCII digits only (``"１２３"`` and
#: ``"²"`` are digits to Python's ``int()``, not to them), and short enough that no
#: 5,000-digit literal is ever converted.
_ASCII_NUMBER = re.compile(r"[+-]?[0-9]{1,20}")


def ascii_int(text: str) -> int:
    """``int(text)`` for ASCII digits (surrounding spaces allowed); ValueError otherwise."""
    stripped = text.strip()
    if not _ASCII_NUMBER.fullmatch(stripped):
        raise ValueError(f"not a number: {stripped[:40]!r}")
    return int(stripped)


def is_ascii_number(text: str) -> bool:
    """``text`` is 1-20 ASCII digits (no sign, no spaces): what ``str.isdigit`` should mean."""
    return _ASCII_NUMBER.fullmatch(text) is not None and text[:1] not in ("+", "-")


def parse_protocol(text: str | int) -> int | None:
    """``tcp``/``"6"``/``-1``/``all``... to a protocol number, ``None`` meaning every protocol.

    Raises ValueError for names it does not know, so collectors can report them.
    """
    if isinstance(text, int):
        value = text
    else:
        key = text.strip().lower()
        if key in ("-1", "all", "any", "*", ""):
            return None
        if key in PROTOCOL_NUMBERS:
            return PROTOCOL_NUMBERS[key]
        value = ascii_int(key)
    if value == -1:
        return None
    if not 0 <= value <= 255:
        raise ValueError(f"protocol number {value} is out of range 0-255")
    return value


@dataclass(frozen=True, slots=True)
class PortSet:
    """A set of ports 0-65535 as intervals."""

    values: IntervalSet = IntervalSet()

    @classmethod
    def all(cls) -> PortSet:
        return ALL_PORTS

    @classmethod
    def range(cls, lo: int, hi: int) -> PortSet:
        lo, hi = max(lo, 0), min(hi, MAX_PORT)
        return cls(IntervalSet.span(lo, hi))

    @classmethod
    def single(cls, port: int) -> PortSet:
        return cls.range(port, port)

    @classmethod
    def parse(cls, text: str) -> PortSet:
        """``"6443"``, ``"2379-2380"``, ``"80,443,30000-32767"``, ``"any"``/``"*"``."""
        text = text.strip()
        if text.lower() in ("", "any", "*", "all"):
            return ALL_PORTS
        parts: list[tuple[int, int]] = []
        for chunk in text.replace(" ", "").split(","):
            if not chunk:
                continue
            lo_s, sep, hi_s = chunk.partition("-") if "-" in chunk else chunk.partition(":")
            lo = ascii_int(lo_s)
            hi = ascii_int(hi_s) if sep else lo
            if not (0 <= lo <= MAX_PORT and 0 <= hi <= MAX_PORT) or lo > hi:
                raise ValueError(f"bad port range {chunk!r}")
            parts.append((lo, hi))
        return cls(IntervalSet.of(parts))

    def __bool__(self) -> bool:
        return bool(self.values)

    def __or__(self, other: PortSet) -> PortSet:
        return PortSet(self.values | other.values)

    def __and__(self, other: PortSet) -> PortSet:
        return PortSet(self.values & other.values)

    def __sub__(self, other: PortSet) -> PortSet:
        return PortSet(self.values - other.values)

    def __le__(self, other: PortSet) -> bool:
        return self.values <= other.values

    def is_all(self) -> bool:
        return self.values.intervals == ((0, MAX_PORT),)

    def is_every_port(self) -> bool:
        """Every usable port: ``0-65535`` or ``1-65535`` (port 0 is reserved and never
        carries traffic, so a rule that starts at 1 opens exactly as much as "all ports")."""
        return PortSet(IntervalSet.span(1, MAX_PORT)) <= self

    def __str__(self) -> str:
        return _port_text(self.values.intervals)


@functools.lru_cache(maxsize=4096)
def _port_text(intervals: tuple[tuple[int, int], ...]) -> str:
    # Cached: messages name the same few port sets thousands of times on a large tree.
    if intervals == ((0, MAX_PORT),):
        return "all ports"
    if not intervals:
        return "no ports"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in intervals)


ALL_PORTS = PortSet(IntervalSet.span(0, MAX_PORT))
NO_PORTS = PortSet()


@dataclass(frozen=True)
class NodePorts:
    """What a Talos node serves, by protocol: the ports of the flows the policy files
    require into nodes or forbid from outside (built from the catalogue by the scan, never
    written in a collector). A protocol without ports (IP-in-IP) maps to every port."""

    by_protocol: tuple[tuple[int, PortSet], ...] = ()

    def admits(self, protocol: int | None, ports: PortSet) -> bool:
        """Whether an allow for ``protocol``/``ports`` could let some of them in."""
        if protocol is None:
            return True
        return any(p == protocol and bool(ports & served) for p, served in self.by_protocol)


def flow_text(protocol: int | None, ports: PortSet) -> str:
    """The one notation of flows in every message, matrix and trace: ``tcp/6443``,
    ``tcp/2379-2380``, ``udp/4789``, ``tcp/all``, ``icmp``, ``all``; ports only where the
    protocol has them."""
    if protocol is None:
        return "all" if ports.is_all() else f"all/{ports}"
    name = protocol_name(protocol)
    if protocol not in PORTED:
        return name
    return f"{name}/all" if ports.is_all() else f"{name}/{ports}"
