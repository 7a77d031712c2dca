"""Talos machine configs: the host firewall layer, roles, addresses and CNI facts.

``collect`` is the collector entry point (files of kind ``talos``). ``collect_documents``
and ``build_nodes`` are for YAML embedded in other inputs (the Terraform Talos provider's
``config_patches``): parse the text with its line offset, put the documents into a
``NodeConfig``, and build the same layers and facts.
"""

from talosaudit.collectors.talos.collector import LAYER_PREFIX, build_nodes, collect
from talosaudit.collectors.talos.documents import Doc, DocKind, from_plain, merge_all
from talosaudit.collectors.talos.layout import NodeConfig
from talosaudit.collectors.talos.parse import collect_documents

__all__ = [
    "LAYER_PREFIX",
    "Doc",
    "DocKind",
    "NodeConfig",
    "build_nodes",
    "collect",
    "collect_documents",
    "from_plain",
    "merge_all",
]
