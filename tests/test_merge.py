"""merge(): how attached NODE layers (Talos host firewalls, Proxmox VM firewalls) reach node groups."""

from __future__ import annotations

from talosaudit.model import AddressSet, NodeGroup, Role, SourceRef
from talosaudit.model.collection import Attachment, Collection, merge
from talosaudit.model.firewall import Layer, LayerKind, Placement, Semantics

SRC = SourceRef("x.tf", 1)
CP, W = Role.CONTROL_PLANE, Role.WORKER


def layer(layer_id: str, kind: LayerKind) -> Layer:
    return Layer(layer_id, kind, layer_id, SRC, Semantics.FIRST_MATCH, Placement.NODE)


def group(group_id: str, role: Role | None, addresses: str = "", layers: tuple[str, ...] = ()) -> NodeGroup:
    return NodeGroup(
        id=group_id,
        name=group_id,
        role=role,
        role_reason="test",
        source=SRC,
        addresses=AddressSet.parse(addresses) if addresses else AddressSet(),
        layers=layers,
    )


def talos(layer_id: str, role: Role | None, addresses: str = "") -> tuple[Layer, Attachment]:
    addrs = AddressSet.parse(addresses) if addresses else AddressSet()
    stand_in = group(layer_id, role, addresses, (layer_id,))
    return layer(layer_id, LayerKind.TALOS_HOST), Attachment(
        layer_id, role, addrs, f"{layer_id} applies", fallback=stand_in
    )


def sg(group_id: str, role: Role | None, addresses: str = "") -> tuple[Layer, NodeGroup]:
    return layer(group_id, LayerKind.SECURITY_GROUP), group(group_id, role, addresses, (group_id,))


def groups_of(*parts: tuple[Layer, NodeGroup | Attachment]) -> dict[str, tuple[tuple[str, ...], str, str]]:
    layers = tuple(p[0] for p in parts)
    node_groups = tuple(p[1] for p in parts if isinstance(p[1], NodeGroup))
    attachments = tuple(p[1] for p in parts if isinstance(p[1], Attachment))
    model = merge([Collection(node_groups=node_groups, layers=layers, attachments=attachments)])
    return {
        g.id: (g.layers, g.addresses.describe() if g.addresses else "", g.address_reason)
        for g in model.node_groups
    }


def test_role_keyed_config_goes_behind_the_security_group_of_its_role_only() -> None:
    got = groups_of(sg("sg.cp", CP), sg("sg.w", W), talos("talos:cp.yaml", CP))
    assert got == {"sg.cp": (("sg.cp", "talos:cp.yaml"), "", ""), "sg.w": (("sg.w",), "", "")}


def test_two_configs_of_one_role_without_other_groups_do_not_stack() -> None:
    got = groups_of(talos("talos:a/cp.yaml", CP), talos("talos:b/cp.yaml", CP))
    assert got == {
        "talos:a/cp.yaml": (("talos:a/cp.yaml",), "", ""),
        "talos:b/cp.yaml": (("talos:b/cp.yaml",), "", ""),
    }


def test_two_role_keyed_configs_split_the_group_of_their_role() -> None:
    got = groups_of(sg("sg.cp", CP), talos("talos:a/cp.yaml", CP), talos("talos:b/cp.yaml", CP))
    assert got == {
        "sg.cp": (("sg.cp", "talos:a/cp.yaml"), "", ""),
        "sg.cp@talos:b/cp.yaml": (("sg.cp", "talos:b/cp.yaml"), "", ""),
    }


def test_address_keyed_config_reaches_a_group_of_its_role_with_unknown_addresses() -> None:
    got = groups_of(sg("sg.cp", CP), sg("sg.w", W), talos("talos:cp-1.yaml", CP, "10.0.1.10/32"))
    assert got["sg.w"] == (("sg.w",), "", "")
    layers, addresses, reason = got["sg.cp"]
    assert (layers, addresses) == (("sg.cp", "talos:cp-1.yaml"), "")
    assert reason == (
        "addresses unknown; assumed to include 10.0.1.10/32: talos:cp-1.yaml applies "
        "(no control-plane node group with known addresses holds them)"
    )
    assert "talos:cp-1.yaml" not in got  # no stand-in: the config is on the security group's nodes


def test_address_keyed_config_goes_to_the_whole_group_that_holds_its_addresses() -> None:
    # A group's addresses may be the region its nodes sit in (a subnet): they are not narrowed.
    got = groups_of(sg("sg.cp", CP, "10.0.1.0/24"), talos("talos:cp-1.yaml", CP, "10.0.1.10/32"))
    assert got == {"sg.cp": (("sg.cp", "talos:cp-1.yaml"), "10.0.1.0/24", "")}


def test_two_per_node_configs_in_one_group_split_it() -> None:
    got = groups_of(
        sg("sg.cp", CP, "10.0.1.0/24"),
        talos("talos:cp-1.yaml", CP, "10.0.1.10/32"),
        talos("talos:cp-2.yaml", CP, "10.0.1.11/32"),
    )
    assert got == {
        "sg.cp": (("sg.cp", "talos:cp-1.yaml"), "10.0.1.0/24", ""),
        "sg.cp@talos:cp-2.yaml": (("sg.cp", "talos:cp-2.yaml"), "10.0.1.0/24", ""),
    }


def test_address_keyed_config_elsewhere_gets_its_own_stand_in() -> None:
    got = groups_of(sg("sg.cp", CP, "10.0.1.10/32"), talos("talos:cp-9.yaml", CP, "10.0.9.9/32"))
    assert got == {
        "sg.cp": (("sg.cp",), "10.0.1.10/32", ""),
        "talos:cp-9.yaml": (("talos:cp-9.yaml",), "10.0.9.9/32", ""),
    }


def test_per_node_config_wins_over_the_role_config_on_its_group() -> None:
    got = groups_of(
        sg("sg.cp1", CP, "10.0.1.10/32"),
        sg("sg.cp2", CP, "10.0.1.11/32"),
        talos("talos:controlplane.yaml", CP),
        talos("talos:cp-1.yaml", CP, "10.0.1.10/32"),
    )
    assert got == {
        "sg.cp1": (("sg.cp1", "talos:cp-1.yaml"), "10.0.1.10/32", ""),
        "sg.cp2": (("sg.cp2", "talos:controlplane.yaml"), "10.0.1.11/32", ""),
    }


def test_role_config_reaches_a_proxmox_vm_stand_in_behind_its_vm_firewall() -> None:
    vm = group("proxmox:101", CP, "10.0.1.10/32", ("pve:101/net0",))
    pve = layer("pve:101/net0", LayerKind.PROXMOX)
    att = Attachment("pve:101/net0", None, AddressSet.parse("10.0.1.10/32"), "vm firewall", fallback=vm)
    got = groups_of((pve, att), talos("talos:controlplane.yaml", CP))
    assert got == {"proxmox:101": (("pve:101/net0", "talos:controlplane.yaml"), "10.0.1.10/32", "")}
