"""Proxmox SDN vnets (sdn/vnets.cfg, sdn/subnets.cfg): a NIC on a vnet is on its VLAN and subnets."""

from __future__ import annotations

from pathlib import Path

from talosaudit.collectors.discover import discover
from talosaudit.collectors.proxmox import collect
from talosaudit.model import AddressSet, Segment, SourceRef

VNETS = "vnet: cpnet\n\tzone lab\n\ttag 30\n\nvnet: wknet\n\tzone lab\n\ttag 31\n"
SUBNETS = (
    "subnet: lab-192.168.31.0-24\n\tvnet wknet\n\tgateway 192.168.31.1\n\n"
    "subnet: lab-fd00:31::-64\n\tvnet wknet\n\n"
    "subnet: lab-10.9.0.0-16\n\tvnet ghost\n\n"
    "subnet: lab-nonsense\n\tvnet cpnet\n"
)
GUEST = "name: talos-worker-1\nnet0: virtio=BC:24:11:31:00:21,bridge=wknet,firewall=0\ntags: worker\n"


def _tree(tmp_path: Path) -> Path:
    pve = tmp_path / "etc" / "pve"
    (pve / "sdn").mkdir(parents=True)
    (pve / "qemu-server").mkdir()
    (pve / "sdn" / "vnets.cfg").write_text(VNETS, encoding="utf-8")
    (pve / "sdn" / "subnets.cfg").write_text(SUBNETS, encoding="utf-8")
    (pve / "qemu-server" / "211.conf").write_text(GUEST, encoding="utf-8")
    return tmp_path


def test_a_nic_on_a_vnet_takes_its_tag_and_subnets(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    files, problems = discover([root], root)
    assert problems == []
    assert sorted((f.rel, f.kind) for f in files) == [
        ("etc/pve/qemu-server/211.conf", "proxmox-conf"),
        ("etc/pve/sdn/subnets.cfg", "proxmox-sdn"),
        ("etc/pve/sdn/vnets.cfg", "proxmox-sdn"),
    ]
    collection = collect(files, root)
    assert collection.segments == (
        Segment(
            "proxmox:wknet",
            "SDN vnet wknet (zone lab, vlan 31)",
            AddressSet.parse("192.168.31.0/24") | AddressSet.parse("fd00:31::/64"),
            SourceRef("etc/pve/sdn/vnets.cfg", 5, resource="vnet/wknet"),
            vlan=31,
        ),
    )
    assert [g.segment for g in collection.node_groups] == ["proxmox:wknet"]
    assert [(p.kind, str(p.source), p.message) for p in collection.problems] == [
        (
            "unresolved",
            "etc/pve/sdn/subnets.cfg:8",
            "subnet lab-10.9.0.0-16 is on vnet ghost, which no vnets.cfg among the inputs defines: "
            "its VLAN tag is unknown",
        ),
        (
            "unreadable",
            "etc/pve/sdn/subnets.cfg:11",
            "subnet lab-nonsense: expected an id '<zone>-<address>-<prefix length>' and a 'vnet' "
            "line; this subnet is skipped",
        ),
    ]


def test_vnet_files_outside_an_sdn_directory_are_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "vnets.cfg").write_text(VNETS, encoding="utf-8")
    files, _ = discover([tmp_path], tmp_path)
    assert files == []
