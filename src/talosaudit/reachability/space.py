"""Exact sets of flows: unions of disjoint boxes, each box a product of interval sets.

A flow box has four dimensions: IP protocol, source address, destination address and
destination port. Addresses of both families share one number line (IPv4 at 0..2^32-1,
IPv6 above it) so that one ``IntervalSet`` holds an ``AddressSet`` and the algebra stays
per dimension. Nothing here enumerates ports or addresses; every operation works on
intervals and is linear in the number of fragments.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from talosaudit.model import AddressSet, IntervalSet, PortSet
from talosaudit.model.addresses import V4_MAX

Box = tuple[IntervalSet, ...]

#: Dimension indexes of a flow box.
PROTO, SRC, DST, PORT = 0, 1, 2, 3

#: IPv6 addresses sit above the IPv4 range on the shared address line.
V6_OFFSET = V4_MAX + 1

ALL_PROTOCOLS = IntervalSet.span(0, 255)


def address_line(addresses: AddressSet) -> IntervalSet:
    """An AddressSet as one interval set on the shared v4+v6 line."""
    shifted = tuple((lo + V6_OFFSET, hi + V6_OFFSET) for lo, hi in addresses.v6)
    return IntervalSet(addresses.v4.intervals + shifted)


def line_addresses(line: IntervalSet) -> AddressSet:
    """The inverse of ``address_line`` (points beyond IPv6 are dropped)."""
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    v6_max = V6_OFFSET + (1 << 128) - 1
    for lo, hi in line:
        if lo <= V4_MAX:
            v4.append((lo, min(hi, V4_MAX)))
        if hi >= V6_OFFSET and lo <= v6_max:
            v6.append((max(lo, V6_OFFSET) - V6_OFFSET, min(hi, v6_max) - V6_OFFSET))
    return AddressSet(IntervalSet.of(v4), IntervalSet.of(v6))


def _box_and(a: Box, b: Box) -> Box | None:
    if a is b:
        return a
    out = []
    for x, y in zip(a, b, strict=True):
        both = x if x is y else x.intersection(y)
        if not both.intervals:
            return None
        out.append(both)
    return tuple(out)


def _merge_boxes(boxes: list[Box]) -> list[Box]:
    """Fewer boxes for the same points: boxes equal in every dimension but one become one
    box (their union along that dimension). Linear in the boxes (hashing), so that a union
    of many rules' hits does not subtract every box from every other."""
    if len(boxes) < 2:
        return boxes
    for dim in range(len(boxes[0])):
        buckets: dict[Box, list[IntervalSet]] = {}
        for box in boxes:
            buckets.setdefault(box[:dim] + box[dim + 1 :], []).append(box[dim])
        if len(buckets) == len(boxes):
            continue
        merged: list[Box] = []
        for rest, values in buckets.items():
            value = values[0] if len(values) == 1 else IntervalSet.of(iv for v in values for iv in v)
            merged.append((*rest[:dim], value, *rest[dim:]))
        boxes = merged
        if len(boxes) < 2:
            break
    return boxes


def _box_sub(a: Box, b: Box) -> list[Box]:
    """``a - b`` as disjoint boxes: the k-th piece agrees with b before dimension k."""
    inter = _box_and(a, b)
    if inter is None:
        return [a]
    out: list[Box] = []
    for k in range(len(a)):
        rest = a[k] - b[k]
        if rest:
            out.append((*inter[:k], rest, *a[k + 1 :]))
    return out


# --- many boxes: sweep one dimension ------------------------------------------------
#
# Subtracting n boxes one after the other from a space that they split (a layer whose rules
# each open their own port to their own source) costs O(n^2) box operations. With many
# boxes, the operations sweep the dimension in which the boxes are narrowest: its
# breakpoints cut it into segments, each segment's problem has only the boxes that cover
# it (one dimension less), and equal answers of neighbouring segments are joined again.

#: Below this many box pairs, the plain pairwise algorithms are faster.
_SWEEP_MIN_PAIRS = 256


def _drop(box: Box, dim: int) -> Box:
    return box[:dim] + box[dim + 1 :]


def _sequential_sub(pieces: list[Box], others: Iterable[Box]) -> list[Box]:
    for b in others:
        if not pieces:
            break
        nxt: list[Box] = []
        for a in pieces:
            nxt.extend(_box_sub(a, b))
        pieces = nxt
    return pieces


def _pairwise_and(a_boxes: list[Box], b_boxes: list[Box]) -> list[Box]:
    out = []
    for a in a_boxes:
        for b in b_boxes:
            both = _box_and(a, b)
            if both is not None:
                out.append(both)
    return out


def _sequential_union(boxes: list[Box]) -> list[Box]:
    out: list[Box] = []
    for box in boxes:
        out.extend(_sequential_sub([box], out))
    return out


def _segments(boxes: list[Box], dim: int) -> tuple[list[int], int]:
    """The breakpoints of ``dim`` over ``boxes``, and how many (box, segment) pairs cover."""
    cuts = sorted({p for box in boxes for lo, hi in box[dim] for p in (lo, hi + 1)})
    cover = 0
    for box in boxes:
        for lo, hi in box[dim]:
            cover += bisect_left(cuts, hi + 1) - bisect_left(cuts, lo)
    return cuts, cover


def _buckets(boxes: list[Box], dim: int, cuts: list[int]) -> list[list[int]]:
    """Per segment between ``cuts``, the indexes (ascending) of the boxes whose ``dim`` touches it."""
    at: list[list[int]] = [[] for _ in range(len(cuts) - 1)]
    for index, box in enumerate(boxes):
        for lo, hi in box[dim]:
            for seg in range(bisect_left(cuts, lo), bisect_left(cuts, hi + 1)):
                at[seg].append(index)
    return at


def _sweep(
    a_boxes: list[Box],
    b_boxes: list[Box],
    combine: Callable[[list[Box], list[Box]], list[Box]],
    pairs: int,
) -> list[Box] | None:
    """``combine`` applied per segment of the best dimension; None when no dimension is
    narrow enough to beat the ``pairs`` box operations of the plain algorithm (or the boxes
    have one dimension)."""
    width = len(a_boxes[0]) if a_boxes else len(b_boxes[0])
    if width < 2:
        return None
    everything = a_boxes + b_boxes
    best: tuple[int, int, list[int]] | None = None
    for dim in range(width):
        cuts, cover = _segments(everything, dim)
        if best is None or cover < best[0]:
            best = (cover, dim, cuts)
    assert best is not None
    cover, dim, cuts = best
    if cover * 4 > pairs:
        return None
    segments = len(cuts) - 1
    a_at, b_at = _buckets(a_boxes, dim, cuts), _buckets(b_boxes, dim, cuts)
    answers: dict[tuple[tuple[int, ...], tuple[int, ...]], list[Box]] = {}
    spans: dict[Box, list[tuple[int, int]]] = {}
    for seg in range(segments):
        if not a_at[seg]:
            continue
        key = (tuple(a_at[seg]), tuple(b_at[seg]))
        lower = answers.get(key)
        if lower is None:
            lower = answers[key] = combine(
                [_drop(a_boxes[i], dim) for i in key[0]], [_drop(b_boxes[j], dim) for j in key[1]]
            )
        for rest in lower:
            spans.setdefault(rest, []).append((cuts[seg], cuts[seg + 1] - 1))
    return [(*rest[:dim], IntervalSet.of(found), *rest[dim:]) for rest, found in spans.items()]


def _subtract(pieces: list[Box], others: list[Box]) -> list[Box]:
    if not pieces or not others:
        return pieces
    # each subtracted box may split every piece: pieces grow with the boxes subtracted
    pairs = (len(pieces) + len(others)) * len(others)
    if pairs > _SWEEP_MIN_PAIRS:
        swept = _sweep(pieces, others, _subtract, pairs)
        if swept is not None:
            return swept
    return _sequential_sub(pieces, others)


def _intersect(a_boxes: list[Box], b_boxes: list[Box]) -> list[Box]:
    if not a_boxes or not b_boxes:
        return []
    pairs = len(a_boxes) * len(b_boxes)
    # one box against many: the pairwise pass is already linear (repeated use: BoxIndex)
    if pairs > _SWEEP_MIN_PAIRS and min(len(a_boxes), len(b_boxes)) > 1:
        swept = _sweep(a_boxes, b_boxes, _intersect, pairs)
        if swept is not None:
            return swept
    return _pairwise_and(a_boxes, b_boxes)


def _disjoint_union(boxes: list[Box], _unused: list[Box] | None = None) -> list[Box]:
    """Disjoint boxes covering ``boxes`` (which may overlap)."""
    pairs = len(boxes) * len(boxes)
    if pairs > _SWEEP_MIN_PAIRS:
        swept = _sweep(boxes, [], _disjoint_union, pairs)
        if swept is not None:
            return swept
    return _sequential_union(boxes)


class BoxIndex:
    """One space's boxes by segment of its narrowest dimension, for intersecting it with
    many small spaces (each rule's hit with a query's allowed flows) in time proportional
    to the boxes that can meet, not to all of its boxes."""

    def __init__(self, space: Space) -> None:
        self.boxes = list(space.boxes)
        self.dim, self.cuts, self.at = _segment_index(self.boxes)

    def intersect(self, other: Space) -> Space:
        """``other & space``, box for box as ``Space.__and__`` would give it."""
        out = []
        cuts, at = self.cuts, self.at
        for a in other.boxes:
            found: set[int] = set()
            for lo, hi in a[self.dim]:
                first = max(bisect_right(cuts, lo) - 1, 0)
                for seg in range(first, min(bisect_left(cuts, hi + 1), len(at))):
                    found.update(at[seg])
            for index in sorted(found):
                both = _box_and(a, self.boxes[index])
                if both is not None:
                    out.append(both)
        return Space(tuple(out))


def _segment_index(boxes: list[Box]) -> tuple[int, list[int], list[list[int]]]:
    """The cheapest dimension to index ``boxes`` on (see ``_query_cost``), its breakpoints
    and, per segment between breakpoints, the indexes of the boxes that touch it."""
    if not boxes:
        return 0, [], []
    best: tuple[int, int, list[int]] | None = None
    for dim in range(len(boxes[0])):
        cuts, cost = _query_cost(boxes, dim)
        if best is None or cost < best[0]:
            best = (cost, dim, cuts)
    assert best is not None
    _, dim, cuts = best
    return dim, cuts, _buckets(boxes, dim, cuts)


def _query_cost(boxes: list[Box], dim: int) -> tuple[list[int], int]:
    """The breakpoints of ``dim`` over ``boxes`` and the work of looking every box up in a
    segment index on ``dim``: a box collects the boxes of each segment it touches, so the
    cost is the sum over segments of (boxes there)^2. (The cover count alone would pick
    the protocol dimension when one protocol is shared by all, and then every lookup
    returns every box.)"""
    cuts = sorted({p for box in boxes for lo, hi in box[dim] for p in (lo, hi + 1)})
    starts = [0] * len(cuts)
    for box in boxes:
        for lo, hi in box[dim]:
            starts[bisect_left(cuts, lo)] += 1
            starts[bisect_left(cuts, hi + 1)] -= 1
    cost = 0
    running = 0
    for delta in starts:
        running += delta
        cost += running * running
    return cuts, cost


class SpaceIndex:
    """An ordered list of spaces (a first-match layer's rule regions), indexed so that
    "which earlier spaces meet this one" and "do the earlier spaces cover this one" cost
    time in proportion to the boxes that can meet it, not to every earlier space.

    A first-match check that keeps a running union (``cover = cover | region``) and
    subtracts it from each rule costs O(n^2) box operations in the rules; here each query
    looks only at the boxes found in the segments of one dimension that its own boxes
    touch, clipped to the query's boxes before any subtraction.
    """

    def __init__(self, spaces: Sequence[Space]) -> None:
        self.owners: list[int] = []
        self.boxes: list[Box] = []
        for position, space in enumerate(spaces):
            for box in space.boxes:
                self.owners.append(position)
                self.boxes.append(box)
        self.dim, self.cuts, self.at = _segment_index(self.boxes)

    def _candidates(self, box: Box, below: int) -> list[int]:
        """Indexes of boxes of spaces before ``below`` that may meet ``box`` (sorted)."""
        cuts, at, owners = self.cuts, self.at, self.owners
        found: set[int] = set()
        for lo, hi in box[self.dim]:
            first = max(bisect_right(cuts, lo) - 1, 0)
            for seg in range(first, min(bisect_left(cuts, hi + 1), len(at))):
                found.update(i for i in at[seg] if owners[i] < below)
        return sorted(found)

    def meeting(self, query: Space, below: int) -> list[int]:
        """Positions before ``below`` whose space intersects ``query``, in order."""
        hit: set[int] = set()
        for box in query.boxes:
            for index in self._candidates(box, below):
                if self.owners[index] not in hit and _box_and(box, self.boxes[index]) is not None:
                    hit.add(self.owners[index])
        return sorted(hit)

    def covers(self, query: Space, below: int) -> bool:
        """Whether the union of the spaces before ``below`` holds all of ``query``."""
        for box in query.boxes:
            clipped = [
                both
                for index in self._candidates(box, below)
                if (both := _box_and(box, self.boxes[index])) is not None
            ]
            # many earlier rules differing in one dimension only (one host each, one port
            # each) clip to boxes that merge into a few: subtract those, not hundreds
            if not clipped or _subtract([box], _merge_boxes(clipped)):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Space:
    """A set of points in a product space, as pairwise disjoint non-empty boxes."""

    boxes: tuple[Box, ...] = ()

    @classmethod
    def box(cls, *dims: IntervalSet) -> Space:
        return cls((tuple(dims),)) if all(dims) else cls()

    @classmethod
    def union_of(cls, spaces: Iterable[Space]) -> Space:
        return cls(tuple(_disjoint_union(_merge_boxes([box for space in spaces for box in space.boxes]))))

    def __bool__(self) -> bool:
        return bool(self.boxes)

    def __iter__(self) -> Iterator[Box]:
        return iter(self.boxes)

    def __and__(self, other: Space) -> Space:
        return Space(tuple(_intersect(list(self.boxes), list(other.boxes))))

    def __sub__(self, other: Space) -> Space:
        return Space(tuple(_subtract(list(self.boxes), list(other.boxes))))

    def __or__(self, other: Space) -> Space:
        if not self.boxes:
            return other
        return Space(self.boxes + (other - self).boxes)

    def __le__(self, other: Space) -> bool:
        return not (self - other)

    def same(self, other: Space) -> bool:
        """Set equality (two different box lists may hold the same points)."""
        return self <= other <= self

    def project(self, dim: int) -> IntervalSet:
        """The values that dimension ``dim`` takes anywhere in the space."""
        return IntervalSet.of(iv for box in self.boxes for iv in box[dim])

    def with_dim(self, dim: int, value: IntervalSet) -> Space:
        """Every box with dimension ``dim`` replaced by ``value`` (a cylinder over the rest)."""
        return Space.union_of(Space.box(*box[:dim], value, *box[dim + 1 :]) for box in self.boxes)

    def swap(self, i: int, j: int) -> Space:
        out = []
        for box in self.boxes:
            dims = list(box)
            dims[i], dims[j] = dims[j], dims[i]
            out.append(tuple(dims))
        return Space(tuple(out))

    # --- flow-space views ------------------------------------------------------------

    def sources(self) -> AddressSet:
        return line_addresses(self.project(SRC))

    def destinations(self) -> AddressSet:
        return line_addresses(self.project(DST))

    def ports(self) -> PortSet:
        return PortSet(self.project(PORT))

    def protocols(self) -> IntervalSet:
        return self.project(PROTO)


EMPTY_SPACE = Space()
