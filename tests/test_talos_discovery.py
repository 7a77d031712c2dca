"""Discovery hands Talos-looking templates and talhelper configs to the Talos collector."""

from __future__ import annotations

from pathlib import Path

from talosaudit.collectors.discover import discover


def test_templates_and_talconfig_by_content(tmp_path: Path) -> None:
    files = {
        "cp.yaml.tftpl": "machine:\n  type: controlplane\n  network:\n    hostname: ${name}\n",
        "fw.tmpl": "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: x\n",
        "worker.j2": "version: v1alpha1\nmachine:\n  type: {{ role }}\n",
        "user-data.tftpl": "#cloud-config\npackages: [htop]\n",
        "talconfig.yaml": "clusterName: lab\nendpoint: https://10.0.0.1:6443\nnodes:\n  - hostname: a\n",
        "values.yaml": "clusterName: lab\nreplicas: 2\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "blob.tftpl").write_bytes(b"machine:\n\x00\x01")
    found, problems = discover([tmp_path], tmp_path)
    assert [(f.rel, f.kind) for f in found] == [
        ("cp.yaml.tftpl", "talos"),
        ("fw.tmpl", "talos"),
        ("talconfig.yaml", "talos"),
        ("worker.j2", "talos"),
    ]
    assert problems == []  # a binary template is not claimed: templates are too common to report
