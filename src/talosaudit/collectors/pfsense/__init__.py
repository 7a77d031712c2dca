"""pfSense and OPNsense config.xml exports: the network firewall layer.

``collect`` reads every input of kind ``pfsense``/``opnsense``: safe XML loading
(xmlload.py), the dialect readers (pfsense.py, opnsense.py), name resolution (resolve.py)
and the evaluation into GATEWAY layers and segments (layers.py). A file that cannot be read
becomes one UNREADABLE problem; the other files are still collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from talosaudit.collectors.pfsense.layers import collection_of
from talosaudit.collectors.pfsense.opnsense import read_opnsense
from talosaudit.collectors.pfsense.parsed import FirewallConfig
from talosaudit.collectors.pfsense.pfsense import read_pfsense
from talosaudit.collectors.pfsense.xmlload import XmlLoadError, load_xml
from talosaudit.model import ProblemKind
from talosaudit.model.collection import Collection, Problem
from talosaudit.model.source import SourceRef

KINDS = frozenset({"pfsense", "opnsense"})


class InputLike(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def rel(self) -> str: ...
    @property
    def kind(self) -> str: ...


def read_config(path: Path, kind: str) -> FirewallConfig:
    """Load and read one export; raises XmlLoadError for anything unusable."""
    root = load_xml(path)
    if root.tag != kind:
        raise XmlLoadError(f"root element is <{root.tag}>, expected <{kind}>", root.line)
    return read_pfsense(root) if kind == "pfsense" else read_opnsense(root)


def collect_file(path: Path, rel: str, kind: str, options: Any = None) -> Collection:
    try:
        config = read_config(path, kind)
    except XmlLoadError as exc:
        line = max(exc.line, 1)
        label = "pfSense" if kind == "pfsense" else "OPNsense"
        return Collection(
            problems=(
                Problem(
                    kind=ProblemKind.UNREADABLE,
                    message=f"{label} config.xml cannot be read: {exc.message}",
                    source=SourceRef(rel, line, line, rel),
                    key=f"input:{rel}",
                ),
            ),
            files=(rel,),
        )
    return collection_of(config, rel, options)


def collect(files: Iterable[InputLike], root: Path, options: Any = None) -> Collection:
    """One collection for every ``pfsense``/``opnsense`` input among ``files``."""
    parts = [collect_file(f.path, f.rel, f.kind, options) for f in files if f.kind in KINDS]
    return Collection(
        layers=tuple(layer for c in parts for layer in c.layers),
        segments=tuple(seg for c in parts for seg in c.segments),
        admin=tuple(a for c in parts for a in c.admin),
        node_networks=tuple(n for c in parts for n in c.node_networks),
        problems=tuple(p for c in parts for p in c.problems),
        files=tuple(rel for c in parts for rel in c.files),
    )


__all__ = ["KINDS", "collect", "collect_file", "read_config"]
