"""IPv4 and IPv6 address sets as integer intervals.

``0.0.0.0/1`` + ``128.0.0.0/1`` is the same set as ``0.0.0.0/0``, and an IPv6 rule is never
mistaken for an IPv4 one: the two families are separate interval sets.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from talosaudit.model.intervals import IntervalSet

V4_MAX = (1 << 32) - 1
V6_MAX = (1 << 128) - 1


def _network_interval(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def _blocks(lo: int, hi: int, bits: int) -> Iterable[tuple[int, int]]:
    """(network, prefix length) of the fewest aligned blocks covering ``lo..hi``: the
    algorithm of ``ipaddress.summarize_address_range`` on plain integers."""
    while lo <= hi:
        aligned = (lo & -lo).bit_length() - 1 if lo else bits
        size = min(aligned, (hi - lo + 1).bit_length() - 1)
        yield lo, bits - size
        lo += 1 << size


@functools.lru_cache(maxsize=4096)
def _cidrs(v4: tuple[tuple[int, int], ...], v6: tuple[tuple[int, int], ...]) -> tuple[str, ...]:
    # Cached: policies ask for the CIDRs of the same few sets (a rule's peers, the internet
    # part of them) thousands of times on a large tree; the sets are immutable.
    out = [
        f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}/{prefix}"
        for lo, hi in v4
        for net, prefix in _blocks(lo, hi, 32)
    ]
    out += [f"{ipaddress.IPv6Address(net)}/{prefix}" for lo, hi in v6 for net, prefix in _blocks(lo, hi, 128)]
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AddressSet:
    v4: IntervalSet = IntervalSet()
    v6: IntervalSet = IntervalSet()

    @classmethod
    def parse(cls, cidr: str) -> AddressSet:
        """A CIDR, a single address or an ``a-b`` range; host bits are ignored as AWS does.

        Raises ValueError with a readable message for anything else.
        """
        return _parse_address(cidr)

    @classmethod
    def of(cls, cidrs: Iterable[str]) -> AddressSet:
        return cls.union_all(cls.parse(cidr) for cidr in cidrs)

    @classmethod
    def union_all(cls, sets: Iterable[AddressSet]) -> AddressSet:
        """The union of many sets in one sort (``a | b | c ...`` one at a time is quadratic)."""
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for one in sets:
            v4.extend(one.v4.intervals)
            v6.extend(one.v6.intervals)
        return cls(IntervalSet.of(v4), IntervalSet.of(v6))

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def __or__(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4 | other.v4, self.v6 | other.v6)

    def __and__(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4 & other.v4, self.v6 & other.v6)

    def __sub__(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4 - other.v4, self.v6 - other.v6)

    def __le__(self, other: AddressSet) -> bool:
        return self.v4 <= other.v4 and self.v6 <= other.v6

    def overlaps(self, other: AddressSet) -> bool:
        return self.v4.overlaps(other.v4) or self.v6.overlaps(other.v6)

    def cidrs(self) -> list[str]:
        """The smallest list of CIDRs that covers exactly this set."""
        return list(_cidrs(self.v4.intervals, self.v6.intervals))

    def widest_prefix(self) -> int | None:
        """The prefix length of the largest single network in the set (None when empty)."""
        best: int | None = None
        for cidr in self.cidrs():
            prefix = int(cidr.rsplit("/", 1)[1])
            best = prefix if best is None else min(best, prefix)
        return best

    def describe(self, limit: int = 4) -> str:
        if self == ALL_ADDRESSES:
            return "0.0.0.0/0, ::/0"
        cidrs = self.cidrs()
        if not cidrs:
            return "nothing"
        shown = ", ".join(cidrs[:limit])
        return shown if len(cidrs) <= limit else f"{shown} and {len(cidrs) - limit} more"

    def __str__(self) -> str:
        return self.describe()


@functools.lru_cache(maxsize=16384)
def _parse_address(cidr: str) -> AddressSet:
    # Cached: a large tree repeats the same few CIDRs in thousands of rules, and messages
    # parse a rule's CIDRs again; the result is immutable.
    text = cidr.strip()
    if "-" in text and "/" not in text:
        lo_s, _, hi_s = text.partition("-")
        lo, hi = ipaddress.ip_address(lo_s.strip()), ipaddress.ip_address(hi_s.strip())
        if lo.version != hi.version or int(lo) > int(hi):
            raise ValueError(f"bad address range {cidr!r}")
        span = IntervalSet.span(int(lo), int(hi))
        return AddressSet(v4=span) if lo.version == 4 else AddressSet(v6=span)
    net = ipaddress.ip_network(text, strict=False)
    span = IntervalSet.span(*_network_interval(net))
    return AddressSet(v4=span) if net.version == 4 else AddressSet(v6=span)


EMPTY = AddressSet()
ALL_V4 = AddressSet(v4=IntervalSet.span(0, V4_MAX))
ALL_V6 = AddressSet(v6=IntervalSet.span(0, V6_MAX))
ALL_ADDRESSES = ALL_V4 | ALL_V6

#: Addresses that are not on the public internet: RFC 1918, RFC 6598 (CGNAT), loopback,
#: link-local, "this network", RFC 4193 unique-local, IPv6 loopback/link-local/unspecified,
#: multicast and reserved space.
PRIVATE = AddressSet.of(
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
        "::/127",
        "::ffff:0:0/96",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ]
)

#: Everything that is not private: the zone that "public" means in every rule.
INTERNET = ALL_ADDRESSES - PRIVATE

#: Documentation ranges (RFC 5737 TEST-NET-1/2/3, RFC 3849): public on paper, but no real
#: network uses them, so in a rule they are a placeholder someone forgot to replace.
DOCUMENTATION = AddressSet.of(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"])
