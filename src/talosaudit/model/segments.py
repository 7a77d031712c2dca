"""One segment model across collectors: join the views different inputs have of one network.

Proxmox knows a node's network as the bridge and VLAN tag of its NIC (``vmbr0.30``); pfSense
and OPNsense know it as the interface whose subnet holds the address (``opt2`` on
``vtnet1.30``); AWS as the subnet. A path between two nodes crosses a gateway only when their
segments differ, and the gateway's layers stand on *its* segments, so a node placed on the
Proxmox view of VLAN 30 must be known to sit on the pfSense view of it too. Otherwise the
firewall silently falls off every path (a three-layer scan would pass whatever pfSense says).

The rules:

- A *routed* segment is one a GATEWAY layer stands on (a pfSense/OPNsense interface
  network). A segment no layer stands on is a *host* segment (a Proxmox bridge/VLAN, an AWS
  subnet without its own ACL) and joins at most one routed segment; a segment a network
  ACL stands on is a network of its own and joins nothing.
- A host segment with known addresses joins the narrowest routed segment that holds them
  (among equals, one with the same VLAN tag); when none holds them all, the only routed
  segment that overlaps them.
- A host segment without addresses (DHCP, no ``ipconfig``) joins the only routed segment
  with the same VLAN tag, and takes that segment's subnet as its addresses.
- A host segment that joins nothing while routed segments exist is reported by ``merge()``
  (once, naming its nodes): paths from it are evaluated without any gateway layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from talosaudit.model.cluster import Segment
from talosaudit.model.firewall import Layer, Placement


@dataclass(frozen=True, slots=True)
class SegmentJoin:
    """The outcome of joining: ``joins`` maps every segment id to the id of the segment it is
    one network with (itself when alone); ``segments`` holds the segments with the addresses
    a join by VLAN tag gave them; ``unjoined`` the host segments that joined nothing while
    routed segments exist; ``reasons`` why each joined host segment was joined."""

    joins: dict[str, str]
    segments: dict[str, Segment]
    unjoined: tuple[Segment, ...]
    reasons: dict[str, str]


def join_segments(segments: Mapping[str, Segment], layers: Iterable[Layer]) -> SegmentJoin:
    placed = [layer for layer in layers if layer.placement is not Placement.NODE]
    routed_ids = {seg for layer in placed if layer.placement is Placement.GATEWAY for seg in layer.segments}
    # A subnet with its own network ACL is a network in its own right (AWS), not a view to join.
    own_ids = {seg for layer in placed for seg in layer.segments}
    routed = [s for s in segments.values() if s.id in routed_ids and not s.is_internet]
    joins = {sid: sid for sid in segments}
    out = dict(segments)
    unjoined: list[Segment] = []
    reasons: dict[str, str] = {}
    for seg in segments.values():
        if seg.id in own_ids or seg.is_internet:
            continue
        found, why = _partner(seg, routed)
        if found is None:
            if routed:
                unjoined.append(seg)
            continue
        joins[seg.id] = found.id
        reasons[seg.id] = why
        if not seg.addresses:
            out[seg.id] = replace(seg, addresses=found.addresses)
    return SegmentJoin(joins, out, tuple(unjoined), reasons)


def _partner(seg: Segment, routed: list[Segment]) -> tuple[Segment | None, str]:
    if seg.addresses:
        holders = [r for r in routed if r.addresses and seg.addresses <= r.addresses]
        if holders:
            best = min(holders, key=lambda r: (_width(r), r.vlan != seg.vlan, r.id))
            return best, f"{best.name} holds {seg.addresses.describe()}"
        overlapping = [r for r in routed if r.addresses.overlaps(seg.addresses)]
        if len(overlapping) == 1:
            return overlapping[0], f"{overlapping[0].name} overlaps {seg.addresses.describe()}"
        return None, ""
    if seg.vlan is None:
        return None, ""
    tagged = [r for r in routed if r.vlan == seg.vlan]
    if len(tagged) == 1:
        return tagged[0], f"both carry VLAN {seg.vlan} and {seg.name} has no known subnet"
    return None, ""


def _width(seg: Segment) -> int:
    return seg.addresses.v4.size() + seg.addresses.v6.size()
