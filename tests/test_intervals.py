"""Property tests: the interval algebra agrees with plain Python sets on small universes."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from talosaudit.model import AddressSet, IntervalSet, PortSet
from talosaudit.reachability.space import Space, SpaceIndex, address_line, line_addresses

UNIVERSE = 40
DIMS_UNIVERSE = 6

points = st.frozensets(st.integers(0, UNIVERSE), max_size=UNIVERSE)


def from_points(values: frozenset[int]) -> IntervalSet:
    """Build an IntervalSet from points through ``of`` with random-ish adjacent pieces."""
    return IntervalSet.of((v, v) for v in values)


def to_points(s: IntervalSet) -> frozenset[int]:
    return frozenset(v for lo, hi in s for v in range(lo, hi + 1))


def well_formed(s: IntervalSet) -> bool:
    ivs = s.intervals
    return all(lo <= hi for lo, hi in ivs) and all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ivs))


@settings(max_examples=200, deadline=None)
@given(points, points)
def test_interval_set_operations_match_sets(a: frozenset[int], b: frozenset[int]) -> None:
    x, y = from_points(a), from_points(b)
    for result, expected in ((x | y, a | b), (x & y, a & b), (x - y, a - b)):
        assert well_formed(result)
        assert to_points(result) == expected
    assert (x <= y) == (a <= b)
    assert x.overlaps(y) == bool(a & b)
    assert x.size() == len(a)
    assert (x == y) == (a == b)  # the normal form is unique


@settings(max_examples=100, deadline=None)
@given(points, points, points)
def test_interval_set_laws(a: frozenset[int], b: frozenset[int], c: frozenset[int]) -> None:
    x, y, z = from_points(a), from_points(b), from_points(c)
    assert x | (y & z) == (x | y) & (x | z)
    assert x & (y | z) == (x & y) | (x & z)
    assert x - (y | z) == (x - y) & (x - z)
    assert (x - y) | (x & y) == x
    assert not ((x - y) & y)


@st.composite
def address_sets(draw: st.DrawFn) -> tuple[AddressSet, frozenset[tuple[int, int]]]:
    v4 = draw(points)
    v6 = draw(points)
    tagged = frozenset({(4, v) for v in v4} | {(6, v) for v in v6})
    return AddressSet(from_points(v4), from_points(v6)), tagged


@settings(max_examples=100, deadline=None)
@given(address_sets(), address_sets())
def test_address_set_algebra_keeps_families_apart(
    a: tuple[AddressSet, frozenset[tuple[int, int]]], b: tuple[AddressSet, frozenset[tuple[int, int]]]
) -> None:
    (x, pa), (y, pb) = a, b

    def tagged(s: AddressSet) -> frozenset[tuple[int, int]]:
        return frozenset({(4, v) for v in to_points(s.v4)} | {(6, v) for v in to_points(s.v6)})

    assert tagged(x | y) == pa | pb
    assert tagged(x & y) == pa & pb
    assert tagged(x - y) == pa - pb
    assert (x <= y) == (pa <= pb)
    assert x.overlaps(y) == bool(pa & pb)
    assert line_addresses(address_line(x)) == x
    assert AddressSet.of(x.cidrs()) == x  # the CIDR cover is exact


@settings(max_examples=100, deadline=None)
@given(points, points)
def test_port_set_algebra(a: frozenset[int], b: frozenset[int]) -> None:
    x, y = PortSet(from_points(a)), PortSet(from_points(b))
    assert to_points((x | y).values) == a | b
    assert to_points((x & y).values) == a & b
    assert to_points((x - y).values) == a - b
    assert (x <= y) == (a <= b)
    if x:
        assert PortSet.parse(str(x)) == x


def test_half_internets_are_the_internet() -> None:
    assert AddressSet.of(["0.0.0.0/1", "128.0.0.0/1"]) == AddressSet.parse("0.0.0.0/0")
    assert not AddressSet.parse("::/0").overlaps(AddressSet.parse("0.0.0.0/0"))


# --- unions of boxes -------------------------------------------------------------------

small = st.frozensets(st.integers(0, DIMS_UNIVERSE), min_size=1, max_size=DIMS_UNIVERSE)
boxes = st.tuples(small, small, small)
spaces = st.lists(boxes, max_size=4)
Points3 = tuple[frozenset[int], ...]


def build(bs: list[Points3]) -> tuple[Space, frozenset[tuple[int, ...]]]:
    space = Space.union_of(Space.box(*(from_points(d) for d in b)) for b in bs)
    pts = frozenset(p for b in bs for p in itertools.product(*b))
    return space, pts


def space_points(s: Space) -> frozenset[tuple[int, ...]]:
    out: set[tuple[int, ...]] = set()
    for box in s:
        cube = list(itertools.product(*(sorted(to_points(d)) for d in box)))
        assert not out & set(cube), "boxes must be disjoint"
        out.update(cube)
    return frozenset(out)


@settings(max_examples=150, deadline=None)
@given(spaces, spaces)
def test_space_operations_match_point_sets(
    a: list[tuple[frozenset[int], ...]], b: list[tuple[frozenset[int], ...]]
) -> None:
    x, pa = build(a)
    y, pb = build(b)
    assert space_points(x) == pa
    assert space_points(x | y) == pa | pb
    assert space_points(x & y) == pa & pb
    assert space_points(x - y) == pa - pb
    assert (x <= y) == (pa <= pb)
    assert x.same(y) == (pa == pb)
    assert to_points(x.project(1)) == frozenset(p[1] for p in pa)
    swapped = x.swap(0, 2)
    assert space_points(swapped) == frozenset((p[2], p[1], p[0]) for p in pa)
    cylinder = x.with_dim(2, from_points(frozenset({0, 1})))
    assert space_points(cylinder) == frozenset((p[0], p[1], v) for p in pa for v in (0, 1))


@settings(max_examples=150, deadline=None)
@given(st.lists(spaces, min_size=1, max_size=8), spaces)
def test_space_index_matches_running_union_and_point_sets(
    listed: list[list[tuple[frozenset[int], ...]]], extra: list[tuple[frozenset[int], ...]]
) -> None:
    """SpaceIndex (first-match shadowing, live rules) answers what the running union
    ``cover = cover | region`` it replaced answered, and what the point sets say."""
    built = [build(bs) for bs in listed]
    index = SpaceIndex([space for space, _ in built])
    queries = [*built, build(extra)]
    cover, cover_points = Space(), frozenset[tuple[int, ...]]()
    for below, (_, earlier_points) in enumerate([*built, (Space(), frozenset())]):
        for query, query_points in queries:
            old = query <= cover
            assert index.covers(query, below) == old == (query_points <= cover_points)
            old_meeting = [k for k, (space, _) in enumerate(built[:below]) if space & query]
            assert index.meeting(query, below) == old_meeting
            assert old_meeting == [k for k, (_, pts) in enumerate(built[:below]) if pts & query_points]
        if below < len(built):
            cover = cover | built[below][0]
            cover_points = cover_points | earlier_points
