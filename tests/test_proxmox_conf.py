"""Proxmox guest configs: the samples in tests/data/samples and the syntax corners of formats.md 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from talosaudit.collectors.proxmox.conf import parse_bool, parse_guest_config, split_tags

SAMPLES = Path(__file__).resolve().parent / "data" / "samples" / "proxmox"


def _sample(rel: str) -> tuple[str, str, str]:
    path = SAMPLES / rel
    kind = "lxc" if path.parent.name == "lxc" else "qemu"
    return path.read_text(encoding="utf-8"), path.stem, kind


# (file, name, template, [(nic, firewall, bridge, model, mac, addresses, line)])
EXPECTED = [
    (
        "HomeLab/qemu-server/100.conf",
        "Dev-VM",
        False,
        [("net0", True, "vmbr0", "virtio", "BC:24:11:FB:9F:25", (), 8)],
    ),
    (
        "HomeLab/qemu-server/1000.conf",
        "AlpineVmTemplate",
        True,
        [("net0", True, "vmbr0", "virtio", "BC:24:11:65:9A:EA", (), 8)],
    ),
    (
        "HomeLab/qemu-server/200.conf",
        "Docker",
        False,
        [("net0", True, "vmbr0", "virtio", "BC:24:11:C0:69:4D", (), 11)],
    ),
    (
        "HomeLab/lxc/500.conf",
        "PBS",
        False,
        [("net0", True, "vmbr0", "", "BC:24:11:FC:F0:60", ("192.168.0.143/32",), 9)],
    ),
    (
        "pve/qemu-server/100.conf",
        "OL95zabbix1",
        False,
        [("net0", False, "vmbr0", "virtio", "BC:24:11:17:E0:61", (), 10)],
    ),
    (
        "pve/qemu-server/101.conf",
        "g3-garuxfce25t3",
        False,
        [("net0", False, "vmbr0", "virtio", "BC:24:11:3C:EB:AB", (), 12)],
    ),
    (
        "pve/qemu-server/102.conf",
        "CactiEZ-1-2-27-Rocky-9-4-t1",
        False,
        [("net0", False, "vmbr0", "virtio", "BC:24:11:D9:7B:B0", (), 11)],
    ),
    (
        "pve/qemu-server/104.conf",
        "ffjd-win11ltsc-p1",
        False,
        [("net0", False, "vmbr0", "virtio", "BC:24:11:38:56:90", (), 15)],
    ),
]


def test_every_sample_is_covered() -> None:
    found = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.conf"))
    assert found == sorted(e[0] for e in EXPECTED)


@pytest.mark.parametrize(("rel", "name", "template", "nics"), EXPECTED)
def test_samples_parse_with_exact_flags_and_addresses(
    rel: str, name: str, template: bool, nics: list[tuple[object, ...]]
) -> None:
    text, vmid, kind = _sample(rel)
    guest, problems = parse_guest_config(text, rel, vmid, kind)
    assert problems == []
    assert guest.name == name
    assert guest.template is template
    got = [
        (n.key, n.firewall, n.bridge, n.model, n.mac, n.addresses, n.source.start_line) for n in guest.nics
    ]
    assert got == nics
    assert all(n.tag is None and not n.link_down for n in guest.nics)


def test_lxc_address_reason_names_the_line() -> None:
    text, vmid, kind = _sample("HomeLab/lxc/500.conf")
    guest, _ = parse_guest_config(text, "lxc/500.conf", vmid, kind)
    assert guest.kind == "lxc"
    assert guest.nics[0].address_reason == "192.168.0.143/32 from net0 line 9"
    assert guest.nics[0].dhcp is True  # ip6=dhcp


def test_percent_encoded_description_is_decoded() -> None:
    text, vmid, kind = _sample("HomeLab/qemu-server/200.conf")
    guest, _ = parse_guest_config(text, "qemu-server/200.conf", vmid, kind)
    assert guest.description.splitlines()[0] == (
        "scsi1: Odroid_PVE:200/vm-200-disk-0.qcow2,backup=0,iothread=1,size=100G"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("on", True),
        ("Yes", True),
        ("TRUE", True),
        ("0", False),
        ("off", False),
        ("no", False),
        ("False", False),
        ("2", None),
        ("", None),
    ],
)
def test_every_boolean_spelling(text: str, value: bool | None) -> None:
    assert parse_bool(text) is value


def test_tags_in_every_separator() -> None:
    assert split_tags("talos;controlplane") == ("talos", "controlplane")
    assert split_tags("talos,worker k8s") == ("talos", "worker", "k8s")


CONF = """\
#Talos control plane 1
name: talos-cp-1
ipconfig0: ip=10.0.30.11/24,gw=10.0.30.1,ip6=fd00::11/64
ipconfig1: ip=dhcp
net0: virtio=BC:24:11:00:10:01,bridge=vmbr0,firewall=1,tag=30
net1: e1000=BC:24:11:00:10:02,bridge=vmbr1,link_down=on,firewall=off
net2: model=virtio,macaddr=BC:24:11:00:10:03
parent: pre-upgrade
this line is garbage

[PENDING]
net0: virtio=BC:24:11:00:10:01,bridge=vmbr0,firewall=0,tag=30
cores: 6

[pre-upgrade]
name: talos-cp-1
net0: virtio=BC:24:11:00:10:01,bridge=vmbr0,tag=30
snaptime: 1767225600

[bad section!]
net5: virtio=00:00:00:00:00:05
"""


def test_main_section_pending_and_snapshot() -> None:
    guest, problems = parse_guest_config(CONF, "nodes/pve1/qemu-server/201.conf", "201", "qemu", "pve1")
    net0, net1, net2 = guest.nics
    assert (net0.key, net0.model, net0.mac, net0.bridge, net0.tag, net0.firewall) == (
        "net0",
        "virtio",
        "BC:24:11:00:10:01",
        "vmbr0",
        30,
        True,
    )
    assert net0.addresses == ("10.0.30.11/24", "fd00::11/64")
    assert net0.address_reason == "10.0.30.11/24, fd00::11/64 from ipconfig0 line 3"
    assert net0.segment_id == "proxmox:vmbr0.30"
    assert (net1.model, net1.link_down, net1.firewall, net1.dhcp, net1.addresses) == (
        "e1000",
        True,
        False,
        True,
        (),
    )
    assert (net2.model, net2.mac, net2.bridge, net2.segment_id) == ("virtio", "BC:24:11:00:10:03", None, None)
    # the snapshot's net0 (no firewall) and the unknown section's net5 never count
    assert [n.key for n in guest.nics] == ["net0", "net1", "net2"]
    assert [(c.nic, c.firewall, c.source.start_line) for c in guest.pending_firewall] == [("net0", False, 12)]
    assert guest.pending == (
        "pending net0: virtio=BC:24:11:00:10:01,bridge=vmbr0,firewall=0,tag=30",
        "pending cores: 6",
    )
    assert guest.node == "pve1"
    assert guest.description == "Talos control plane 1"
    assert [(p.kind, p.source.start_line, p.message) for p in problems] == [
        (
            "unreadable",
            9,
            "line not understood in guest config (expected 'key: value'): 'this line is garbage'",
        ),
        ("unreadable", 20, "unknown section [bad section!] in guest config: its lines are skipped"),
    ]


def test_lxc_pending_section_name() -> None:
    text = "hostname: ct1\nnet0: name=eth0,bridge=vmbr0,firewall=1,ip=10.0.0.5/24\n\n[pve:pending]\n" + (
        "net0: name=eth0,bridge=vmbr0,ip=10.0.0.5/24\n"
    )
    guest, problems = parse_guest_config(text, "lxc/300.conf", "300", "lxc")
    assert problems == []
    assert guest.name == "ct1"
    assert guest.nics[0].firewall is True
    assert [(c.nic, c.firewall) for c in guest.pending_firewall] == [("net0", False)]


def test_bad_nic_values_are_problems_not_tracebacks() -> None:
    text = "name: x\nnet0: virtio=AA,bridge=vmbr0,bridge=vmbr1\nnet1: virtio=BB,firewall=maybe,tag=abc\n"
    text += "ipconfig1: ip=10.0.0.300/24\n"
    guest, problems = parse_guest_config(text, "qemu-server/400.conf", "400", "qemu")
    assert [n.key for n in guest.nics] == ["net1"]
    assert guest.nics[0].firewall is False
    assert [(p.source.start_line, p.message) for p in problems] == [
        (2, "net0: duplicate key 'bridge'; Proxmox rejects this NIC"),
        (3, "net1: firewall='maybe' is not a boolean (1/0, yes/no, on/off, true/false)"),
        (3, "net1: tag='abc' is not a VLAN id"),
        (3, "net1: ip='10.0.0.300/24' is not an address (ipconfig1 line 4)"),
    ]
