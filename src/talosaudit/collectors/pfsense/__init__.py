"""pfSense and OPNsense config.xml exports: the network firewall layer.

``collect`` reads every input of kind ``pfsense``/``opnsense``: safe XML loading
(xmlload.py), the dialect readers (pfsense.py, opnsense.py), name resolution (resolve.py)
and the evaluation into GATEWAY layers and segments (layers.py). A file that cannot be read
becomes one UNREADABLE problem; the other files are still collected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from talosaudit.collectors.base import XML, ClaimsNoNames, InputFile
from talosaudit.collectors.options import CollectOptions
from talosaudit.collectors.pfsense.layers import collection_of
from talosaudit.collectors.pfsense.opnsense import read_opnsense
from talosaudit.collectors.pfsense.parsed import FirewallConfig
from talosaudit.collectors.pfsense.pfsense import read_pfsense
from talosaudit.collectors.pfsense.xmlload import XmlLoadError, load_xml
from talosaudit.model import ProblemKind
from talosaudit.model.collection import Collection, Problem
from talosaudit.model.source import SourceRef

PFSENSE = "pfsense"
OPNSENSE = "opnsense"
KINDS = frozenset({PFSENSE, OPNSENSE})
#: How much of an ``.xml`` file sniffing reads: the root element comes first.
_XML_SNIFF = 4 * 1024
_XML_NOISE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", re.DOTALL)
_ENCRYPTED_HEAD = "---- BEGIN config.xml ----"
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)")


class FirewallExportCollector(ClaimsNoNames):
    """pfSense/OPNsense ``config.xml`` exports, recognised by their root element."""

    kinds = KINDS

    def sniff(self, kind: str, text: str, rel: str) -> str | None:
        del rel
        if kind != XML:
            return None
        if text.lstrip().startswith(_ENCRYPTED_HEAD):
            # An encrypted backup has no root element to sniff; claimed so the loader says
            # "decrypt it first" instead of the firewall vanishing from the scan.
            return PFSENSE
        found = _XML_ROOT.search(_XML_NOISE.sub("", text[:_XML_SNIFF]))
        return found.group(1) if found and found.group(1) in KINDS else None

    def collect(self, files: Sequence[InputFile], root: Path, options: CollectOptions) -> Collection:
        return collect(files, root, options)


def read_config(path: Path, kind: str) -> FirewallConfig:
    """Load and read one export; raises XmlLoadError for anything unusable."""
    root = load_xml(path)
    if root.tag != kind:
        raise XmlLoadError(f"root element is <{root.tag}>, expected <{kind}>", root.line)
    return read_pfsense(root) if kind == "pfsense" else read_opnsense(root)


def collect_file(path: Path, rel: str, kind: str, options: CollectOptions | None = None) -> Collection:
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


def collect(files: Iterable[InputFile], root: Path, options: CollectOptions | None = None) -> Collection:
    """One collection for every ``pfsense``/``opnsense`` input among ``files``."""
    del root  # paths are already relative to it
    return Collection.combine(collect_file(f.path, f.rel, f.kind, options) for f in files if f.kind in KINDS)


__all__ = ["KINDS", "FirewallExportCollector", "collect", "collect_file", "read_config"]
