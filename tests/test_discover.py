from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from talosaudit.collectors import discover as disc
from talosaudit.collectors.discover import InputFile, discover


def _write(base: Path, rel: str, content: str | bytes) -> Path:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _kinds(files: list[InputFile]) -> list[tuple[str, str]]:
    return [(f.rel, f.kind) for f in files]


def test_classifies_by_extension_and_content(tmp_path: Path) -> None:
    _write(tmp_path, "infra/main.tf", 'resource "a" "b" {}\n')
    _write(tmp_path, "infra/override.tofu", "")
    _write(tmp_path, "infra/extra.tf.json", "{}")
    _write(tmp_path, "infra/x.tofu.json", "{}")
    _write(tmp_path, "infra/terraform.tfvars", 'a = "b"\n')
    _write(tmp_path, "infra/prod.auto.tfvars.json", "{}")
    _write(tmp_path, "plan.json", json.dumps({"format_version": "1.2", "planned_values": {}}))
    _write(tmp_path, "state.json", json.dumps({"format_version": "1.0", "values": {}}))
    _write(tmp_path, "package.json", json.dumps({"name": "x"}))
    _write(tmp_path, "talos/cp.yaml", "version: v1alpha1\nmachine:\n  type: controlplane\n")
    _write(tmp_path, "talos/fw.yml", "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: x\n")
    _write(tmp_path, "ci.yaml", "on: push\njobs: {}\n")
    _write(tmp_path, "pve/qemu-server/100.conf", "net0: virtio\n")
    _write(tmp_path, "pve/lxc/500.conf", "net0: name=eth0\n")
    _write(tmp_path, "pve/other/100.conf", "x\n")
    _write(tmp_path, "pve/firewall/cluster.fw", "[OPTIONS]\nenable: 1\n")
    pfsense = '<?xml version="1.0"?>\n<!-- c -->\n<pfsense><version>1</version></pfsense>'
    _write(tmp_path, "fw/config.xml", pfsense)
    _write(tmp_path, "fw/opn.xml", "<opnsense>\n</opnsense>")
    _write(tmp_path, "fw/other.xml", "<project/>")
    _write(tmp_path, "README.md", "# hi\n")

    files, problems = discover([tmp_path], tmp_path)

    assert problems == []
    assert _kinds(files) == [
        ("fw/config.xml", "pfsense"),
        ("fw/opn.xml", "opnsense"),
        ("infra/extra.tf.json", "terraform-json"),
        ("infra/main.tf", "terraform"),
        ("infra/override.tofu", "terraform"),
        ("infra/prod.auto.tfvars.json", "tfvars"),
        ("infra/terraform.tfvars", "tfvars"),
        ("infra/x.tofu.json", "terraform-json"),
        ("plan.json", "terraform-plan"),
        ("pve/firewall/cluster.fw", "proxmox-fw"),
        ("pve/lxc/500.conf", "proxmox-conf"),
        ("pve/qemu-server/100.conf", "proxmox-conf"),
        ("state.json", "terraform-plan"),
        ("talos/cp.yaml", "talos"),
        ("talos/fw.yml", "talos"),
    ]
    main = next(f for f in files if f.rel == "infra/main.tf")
    assert main.path == tmp_path / "infra/main.tf"
    assert main.path.is_absolute()


def test_skips_vcs_tool_and_hidden_directories(tmp_path: Path) -> None:
    for d in (".git", ".terraform/modules/x", "node_modules/m", "__pycache__", ".hidden"):
        _write(tmp_path, f"{d}/main.tf", "")
    _write(tmp_path, "ok/main.tf", "")
    files, problems = discover([tmp_path], tmp_path)
    assert _kinds(files) == [("ok/main.tf", "terraform")]
    assert problems == []


def test_symlink_loop_of_two_levels_is_walked_once(tmp_path: Path) -> None:
    _write(tmp_path, "a/main.tf", "")
    _write(tmp_path, "a/b/net.tf", "")
    os.symlink(tmp_path / "a", tmp_path / "a/b/back")  # a/b/back -> a: a loop two levels deep
    os.symlink(tmp_path / "a/b", tmp_path / "a/b/self")
    files, problems = discover([tmp_path], tmp_path)
    assert _kinds(files) == [("a/b/net.tf", "terraform"), ("a/main.tf", "terraform")]
    assert problems == []


def test_named_files_are_classified_and_missing_paths_reported(tmp_path: Path) -> None:
    tf = _write(tmp_path, "x/main.tf", "")
    _write(tmp_path, "x/notes.txt", "")
    files, problems = discover([tf, tmp_path / "x/notes.txt", tmp_path / "nope.tf"], tmp_path)
    assert _kinds(files) == [("x/main.tf", "terraform")]
    assert [(p.kind, p.message, p.source.path) for p in problems] == [
        ("unreadable", "input path does not exist", "nope.tf")
    ]


def test_missing_path_alone_gives_no_files(tmp_path: Path) -> None:
    files, problems = discover([tmp_path / "gone"], tmp_path)
    assert files == []
    assert [p.message for p in problems] == ["input path does not exist"]


def test_binary_bad_utf8_and_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "bin.tf", b"resource\0\x01")
    _write(tmp_path, "latin.tf", b'a = "ok"\nb = "caf\xe9"\n')
    _write(tmp_path, "big.tf", "x = 1\n" * 400)
    _write(tmp_path, "big.json", "[" + "1," * 2000 + "1]")  # oversized but not a plan: silent
    _write(tmp_path, "bin.json", b"\0\0\0")  # cannot be a plan: silent
    _write(tmp_path, "good.tf", "x = 1\n")
    monkeypatch.setattr(disc, "MAX_FILE_BYTES", 2048)
    files, problems = discover([tmp_path], tmp_path)
    assert _kinds(files) == [("good.tf", "terraform")]
    assert [(p.source.path, p.source.start_line, p.message) for p in problems] == [
        ("big.tf", 1, "file is 0.0 MiB, over the 0.00195312 MiB limit"),
        ("bin.tf", 1, "file is binary (it contains NUL bytes), not text"),
        ("latin.tf", 2, "file is not valid UTF-8 (byte 17, line 2)"),
    ]


def test_oversized_message_in_mib(tmp_path: Path) -> None:
    big = tmp_path / "huge.tf"
    with big.open("wb") as fh:
        fh.truncate(11 * 1024 * 1024)
    _, problems = discover([tmp_path], tmp_path)
    assert [p.message for p in problems] == ["file is 11.0 MiB, over the 10 MiB limit"]


def test_files_outside_root_get_dotdot_relative_paths(tmp_path: Path) -> None:
    tf = _write(tmp_path, "outside/main.tf", "")
    root = tmp_path / "repo"
    root.mkdir()
    files, _ = discover([tf], root)
    assert [f.rel for f in files] == ["../outside/main.tf"]


def test_same_file_named_twice_is_listed_once(tmp_path: Path) -> None:
    tf = _write(tmp_path, "main.tf", "")
    files, _ = discover([tmp_path, tf], tmp_path)
    assert _kinds(files) == [("main.tf", "terraform")]
