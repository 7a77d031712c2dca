"""Sets of integers as sorted, disjoint, non-adjacent closed intervals.

Everything talosaudit proves about ports and addresses goes through this one class, so
that no code path ever enumerates ports or addresses: every operation is linear in the
number of intervals.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter

Interval = tuple[int, int]


#: Above this size ratio, an intersection walks the smaller set and bisects the larger.
_LOPSIDED = 8
_end = itemgetter(1)


def _lopsided_intersection(small: tuple[Interval, ...], big: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """``small & big`` in O(len(small) * log(len(big)) + output)."""
    out: list[Interval] = []
    nb = len(big)
    j = 0
    for lo, hi in small:
        if j < nb and big[j][1] < lo:
            j = bisect_left(big, lo, j, nb, key=_end)  # the first interval ending at or after lo
        k = j
        while k < nb and big[k][0] <= hi:
            out.append((max(lo, big[k][0]), min(hi, big[k][1])))
            k += 1
        if k > j:
            j = k - 1  # the last one may reach into the next interval of ``small``
    return tuple(out)


def _lopsided_difference(big: tuple[Interval, ...], small: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """``big - small``: the runs of ``big`` that ``small`` does not touch are copied as slices
    (a first-match layer takes one rule's hit at a time out of a set of thousands)."""
    out: list[Interval] = []
    nb = len(big)
    pos = 0
    #: what is left of big[pos - 1] after the previous interval of ``small`` cut it
    carry: Interval | None = None
    for lo, hi in small:
        if carry is not None:
            clo, chi = carry
            if chi < lo:
                out.append(carry)
                carry = None
            else:
                if clo < lo:
                    out.append((clo, lo - 1))
                if chi > hi:
                    carry = (hi + 1, chi)
                    continue  # the rest of big starts after chi: nothing else to cut here
                carry = None
        start = bisect_left(big, lo, pos, nb, key=_end)  # the first interval ending at or after lo
        out.extend(big[pos:start])
        pos = start
        while pos < nb and big[pos][0] <= hi:
            blo, bhi = big[pos]
            pos += 1
            if blo < lo:
                out.append((blo, lo - 1))
            if bhi > hi:
                carry = (hi + 1, bhi)
                break
    if carry is not None:
        out.append(carry)
    out.extend(big[pos:])
    return tuple(out)


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    ordered = sorted((lo, hi) for lo, hi in intervals if lo <= hi)
    merged: list[Interval] = []
    for lo, hi in ordered:
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """An immutable set of integers, stored as closed intervals ``(lo, hi)``."""

    intervals: tuple[Interval, ...] = ()

    @classmethod
    def of(cls, intervals: Iterable[Interval]) -> IntervalSet:
        return cls(_normalise(intervals))

    @classmethod
    def span(cls, lo: int, hi: int) -> IntervalSet:
        return cls(((lo, hi),) if lo <= hi else ())

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __iter__(self) -> Iterator[Interval]:
        return iter(self.intervals)

    def __len__(self) -> int:
        return len(self.intervals)

    def size(self) -> int:
        """How many integers the set holds (arithmetic, not enumeration)."""
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def __or__(self, other: IntervalSet) -> IntervalSet:
        return self.union(other)

    def __and__(self, other: IntervalSet) -> IntervalSet:
        return self.intersection(other)

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        return self.difference(other)

    def __le__(self, other: IntervalSet) -> bool:
        return self.issubset(other)

    def union(self, other: IntervalSet) -> IntervalSet:
        if not other.intervals:
            return self
        if not self.intervals:
            return other
        return IntervalSet(_normalise(self.intervals + other.intervals))

    def intersection(self, other: IntervalSet) -> IntervalSet:
        a, b = self.intervals, other.intervals
        if not a or not b:
            return _EMPTY
        if a is b:
            return self
        if len(a) == 1 and len(b) == 1:
            (alo, ahi), (blo, bhi) = a[0], b[0]
            if blo <= alo and ahi <= bhi:
                return self
            if alo <= blo and bhi <= ahi:
                return other
            lo, hi = max(alo, blo), min(ahi, bhi)
            return IntervalSet(((lo, hi),)) if lo <= hi else _EMPTY
        if a[-1][1] < b[0][0] or b[-1][1] < a[0][0]:
            return _EMPTY
        if len(a) * _LOPSIDED < len(b) or len(b) * _LOPSIDED < len(a):
            return IntervalSet(
                _lopsided_intersection(a, b) if len(a) < len(b) else _lopsided_intersection(b, a)
            )
        out: list[Interval] = []
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def difference(self, other: IntervalSet) -> IntervalSet:
        if not self.intervals or not other.intervals:
            return self
        if len(self.intervals) > _LOPSIDED * len(other.intervals):
            return IntervalSet(_lopsided_difference(self.intervals, other.intervals))
        out: list[Interval] = []
        b = other.intervals
        nb = len(b)
        j = 0
        for lo, hi in self.intervals:
            cur = lo
            if j < nb and b[j][1] < cur:
                # skip what ends before this interval by bisection: a few intervals taken
                # from a set of thousands stay logarithmic, not linear, in its size
                j = bisect_left(b, cur, j, nb, key=_end)
            k = j
            while k < nb and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                if cur > hi:
                    break
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(tuple(out))

    def issubset(self, other: IntervalSet) -> bool:
        return not self.difference(other).intervals

    def overlaps(self, other: IntervalSet) -> bool:
        small, big = sorted((self.intervals, other.intervals), key=len)
        nb = len(big)
        j = 0
        for lo, hi in small:
            if j < nb and big[j][1] < lo:
                j = bisect_left(big, lo, j, nb, key=_end)
            if j == nb:
                return False
            if big[j][0] <= hi:
                return True
        return False

    def contains(self, value: int) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)


_EMPTY = IntervalSet()
