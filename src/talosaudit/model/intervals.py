"""Sets of integers as sorted, disjoint, non-adjacent closed intervals.

Everything talosaudit proves about ports and addresses goes through this one class, so
that no code path ever enumerates ports or addresses: every operation is linear in the
number of intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

Interval = tuple[int, int]


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
        out: list[Interval] = []
        b = other.intervals
        j = 0
        for lo, hi in self.intervals:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi:
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
        a, b = self.intervals, other.intervals
        i = j = 0
        while i < len(a) and j < len(b):
            if a[i][0] <= b[j][1] and b[j][0] <= a[i][1]:
                return True
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return False

    def contains(self, value: int) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)


_EMPTY = IntervalSet()
