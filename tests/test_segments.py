"""merge() joins the views collectors have of one network (model/segments.py)."""

from __future__ import annotations

from dataclasses import replace

from talosaudit.model import AddressSet, NodeGroup, Role, Segment, SourceRef
from talosaudit.model.collection import Collection, ProblemKind, merge
from talosaudit.model.firewall import Layer, LayerKind, Placement, Semantics

SRC = SourceRef("config.xml", 1)


def pfsense(*interfaces: tuple[str, str, int | None]) -> Collection:
    """A gateway with one layer and one segment per (name, cidr, vlan)."""
    segments = tuple(
        Segment(f"pf:{name}/net", name.upper(), AddressSet.parse(cidr), SRC, vlan=vlan)
        for name, cidr, vlan in interfaces
    )
    layers = tuple(
        Layer(
            f"pf:{seg.name}",
            LayerKind.PFSENSE,
            seg.name,
            SRC,
            Semantics.FIRST_MATCH,
            Placement.GATEWAY,
            segments=(seg.id,),
        )
        for seg in segments
    )
    return Collection(layers=layers, segments=segments)


def proxmox(seg_id: str, cidr: str, vlan: int | None, node: str) -> Collection:
    addresses = AddressSet.parse(cidr) if cidr else AddressSet()
    seg = Segment(seg_id, seg_id, addresses, SourceRef("qemu-server/201.conf", 7), vlan=vlan)
    group = NodeGroup(node, node, Role.WORKER, "test", SRC, segment=seg_id)
    return Collection(node_groups=(group,), segments=(seg,))


def test_a_proxmox_vlan_joins_the_interface_whose_subnet_holds_it() -> None:
    model = merge(
        [
            pfsense(("opt2", "192.168.30.0/24", 30), ("opt3", "192.168.31.0/24", 31)),
            proxmox("proxmox:vmbr0.31", "192.168.31.0/24", 31, "w1"),
        ]
    )
    assert model.joined_segment("proxmox:vmbr0.31") == "pf:opt3/net"
    assert model.joined_segment("pf:opt2/net") == "pf:opt2/net"
    assert model.problems == ()


def test_a_proxmox_vlan_without_a_subnet_joins_by_its_tag_and_takes_the_subnet() -> None:
    model = merge(
        [
            pfsense(("opt2", "192.168.30.0/24", 30), ("opt3", "192.168.31.0/24", 31)),
            proxmox("proxmox:vmbr0.30", "", 30, "cp1"),
        ]
    )
    assert model.joined_segment("proxmox:vmbr0.30") == "pf:opt2/net"
    assert model.segments["proxmox:vmbr0.30"].addresses == AddressSet.parse("192.168.30.0/24")


def test_a_segment_that_joins_nothing_is_said_once_naming_its_nodes() -> None:
    lab = proxmox("proxmox:vmbr1", "", None, "talos-w-1")
    lab = replace(lab, node_groups=(*lab.node_groups, replace(lab.node_groups[0], id="w2", name="talos-w-2")))
    model = merge([pfsense(("opt2", "192.168.30.0/24", 30)), lab])
    assert model.joined_segment("proxmox:vmbr1") == "proxmox:vmbr1"
    (problem,) = model.problems
    assert problem.kind is ProblemKind.UNRESOLVED
    assert problem.source == SourceRef("qemu-server/201.conf", 7)
    assert "talos-w-1, talos-w-2" in problem.message
    assert "evaluated without the gateway's rules" in problem.message


def test_without_a_gateway_nothing_is_joined_or_reported() -> None:
    model = merge([proxmox("proxmox:vmbr0.30", "192.168.30.0/24", 30, "cp1")])
    assert model.joined_segment("proxmox:vmbr0.30") == "proxmox:vmbr0.30"
    assert model.problems == ()
