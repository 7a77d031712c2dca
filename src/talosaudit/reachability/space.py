"""Exact sets of flows: unions of disjoint boxes, each box a product of interval sets.

A flow box has four dimensions: IP protocol, source address, destination address and
destination port. Addresses of both families share one number line (IPv4 at 0..2^32-1,
IPv6 above it) so that one ``IntervalSet`` holds an ``AddressSet`` and the algebra stays
per dimension. Nothing here enumerates ports or addresses; every operation works on
intervals and is linear in the number of fragments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


@dataclass(frozen=True, slots=True)
class Space:
    """A set of points in a product space, as pairwise disjoint non-empty boxes."""

    boxes: tuple[Box, ...] = ()

    @classmethod
    def box(cls, *dims: IntervalSet) -> Space:
        return cls((tuple(dims),)) if all(dims) else cls()

    @classmethod
    def union_of(cls, spaces: Iterable[Space]) -> Space:
        boxes = _merge_boxes([box for space in spaces for box in space.boxes])
        result = cls()
        for box in boxes:
            result = result | cls((box,))
        return result

    def __bool__(self) -> bool:
        return bool(self.boxes)

    def __iter__(self) -> Iterator[Box]:
        return iter(self.boxes)

    def __and__(self, other: Space) -> Space:
        out = []
        for a in self.boxes:
            for b in other.boxes:
                both = _box_and(a, b)
                if both is not None:
                    out.append(both)
        return Space(tuple(out))

    def __sub__(self, other: Space) -> Space:
        pieces = list(self.boxes)
        for b in other.boxes:
            if not pieces:
                break
            nxt: list[Box] = []
            for a in pieces:
                nxt.extend(_box_sub(a, b))
            pieces = nxt
        return Space(tuple(pieces))

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
