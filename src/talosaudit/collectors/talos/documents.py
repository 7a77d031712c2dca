"""What each YAML document of a Talos config is, and how patches merge into configs.

Talos configs are multi-document YAML: the ``v1alpha1`` document (``version: v1alpha1``,
``machine:``, ``cluster:``) plus typed documents (``apiVersion: v1alpha1``, ``kind: …``).
Patches are the same shapes, partial. Merging follows Talos's strategic merge: maps merge,
scalars override, lists append except where Talos replaces them (``podSubnets``,
``serviceSubnets``, and ``NetworkRuleConfig`` ``portSelector.ports`` and ``ingress``,
talos#8136), and typed documents match by kind + name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from talosaudit.collectors.yamlsafe import YList, YMap
from talosaudit.model.source import SourceRef


class DocKind(StrEnum):
    #: A whole ``v1alpha1`` machine config document (``version: v1alpha1``).
    MACHINE = "machine config"
    #: A strategic-merge patch of the ``v1alpha1`` document (``machine:``/``cluster:`` only).
    PATCH = "machine config patch"
    #: A typed document (``apiVersion`` + ``kind``), e.g. ``NetworkRuleConfig``.
    TYPED = "typed document"
    #: An RFC 6902 JSON patch (a list of ``op``/``path``): not evaluated.
    JSON_PATCH = "JSON patch"
    #: A talhelper ``talconfig.yaml``.
    TALCONFIG = "talconfig"


#: Top-level keys of the v1alpha1 document.
_V1ALPHA1_KEYS = frozenset({"version", "machine", "cluster", "debug", "persist"})

DEFAULT_ACTION = "NetworkDefaultActionConfig"
RULE = "NetworkRuleConfig"
FIREWALL_KINDS = frozenset({DEFAULT_ACTION, RULE})


@dataclass(frozen=True, slots=True)
class Doc:
    kind: DocKind
    value: Any
    loc: SourceRef
    #: The ``kind:`` of a typed document.
    type_name: str = ""
    #: The ``name:`` of a typed document ("" for unnamed ones such as KubeSpanConfig).
    name: str = ""
    #: The ``kind:`` as written when it is a misspelling of a firewall kind (``type_name``
    #: then holds the kind it was read as), else "".
    written_kind: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.type_name, self.name


def classify(value: Any, loc: SourceRef) -> Doc | None:
    """The Talos meaning of one YAML document, or None when it is not a Talos document."""
    if isinstance(value, YList):
        if value and all(isinstance(item, YMap) and "op" in item and "path" in item for item in value):
            return Doc(DocKind.JSON_PATCH, value, loc)
        return None
    if not isinstance(value, YMap):
        return None
    if isinstance(value.get("kind"), str) and "apiVersion" in value:
        name = value.get("name")
        written = value["kind"]
        meant = _firewall_kind_meant(written)
        return Doc(
            DocKind.TYPED,
            value,
            loc,
            type_name=meant or written,
            name=str(name) if name else "",
            written_kind=written if meant else "",
        )
    if "machine" in value or "cluster" in value:
        keys = {str(k) for k in value}
        if "version" in value:
            return Doc(DocKind.MACHINE, value, loc)
        if keys <= _V1ALPHA1_KEYS:
            return Doc(DocKind.PATCH, value, loc)
        return None
    if "clusterName" in value and isinstance(value.get("nodes"), YList):
        return Doc(DocKind.TALCONFIG, value, loc)
    return None


def _firewall_kind_meant(written: str) -> str | None:
    """The firewall kind a misspelt ``kind:`` means (``NetworkRuleConfg``, ``networkruleconfig``),
    or None. Talos rejects such a config; reading it as the kind it is close to keeps the rule's
    exposure in view (and the misspelling is reported) instead of the rule vanishing."""
    if written in FIREWALL_KINDS:
        return None
    folded = written.strip().lower()
    for kind in sorted(FIREWALL_KINDS):
        if folded == kind.lower() or difflib.SequenceMatcher(None, folded, kind.lower()).ratio() >= 0.85:
            return kind
    return None


def get(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]…`` through YAML mappings; None where a step is missing."""
    for step in path:
        if not isinstance(value, YMap):
            return None
        value = value.get(step)
    return value


def loc_of(value: Any, *path: str) -> SourceRef | None:
    """Where ``path`` was written inside ``value`` (the key line of its last step)."""
    parent = get(value, *path[:-1]) if len(path) > 1 else value
    if isinstance(parent, YMap) and path and path[-1] in parent:
        return parent.loc_of(path[-1])
    return None


# --- strategic merge ----------------------------------------------------------------------

#: Lists that a patch replaces instead of appending to, per document (``v1alpha1`` or kind).
_REPLACED: Mapping[str, frozenset[tuple[str, ...]]] = {
    "v1alpha1": frozenset(
        {
            ("cluster", "network", "podSubnets"),
            ("cluster", "network", "serviceSubnets"),
            ("cluster", "apiServer", "auditPolicy"),
        }
    ),
    RULE: frozenset({("portSelector", "ports"), ("ingress",)}),
    "KubeNetworkConfig": frozenset({("podSubnets",), ("serviceSubnets",)}),
}
#: Lists whose items merge by a key field instead of appending.
_KEYED: Mapping[tuple[str, ...], tuple[str, ...]] = {
    ("machine", "network", "interfaces"): ("interface", "deviceSelector"),
}
_DELETE = "$patch"


def merge_all(base: Sequence[Doc], patches: Iterable[Sequence[Doc]]) -> list[Doc]:
    """Apply each patch (a file's documents) to ``base`` in order, as Talos does."""
    docs = list(base)
    for patch in patches:
        docs = merge(docs, patch)
    return docs


def merge(base: Sequence[Doc], patch: Sequence[Doc]) -> list[Doc]:
    result = list(base)
    for doc in patch:
        if doc.kind in _V1ALPHA1_DOCS:
            index = next(
                (i for i, d in enumerate(result) if d.kind in (DocKind.MACHINE, DocKind.PATCH)), None
            )
            if index is None:
                result.insert(0, doc)
            else:
                old = result[index]
                merged = _merge_maps(old.value, doc.value, (), _REPLACED["v1alpha1"])
                result[index] = Doc(old.kind, merged, old.loc)
        elif doc.kind is DocKind.TYPED:
            index = next(
                (i for i, d in enumerate(result) if d.kind is DocKind.TYPED and d.key == doc.key), None
            )
            if _is_delete(doc.value):
                if index is not None:
                    del result[index]
                continue
            if index is None:
                result.append(doc)
            else:
                old = result[index]
                replaced = _REPLACED.get(doc.type_name, frozenset())
                merged = _merge_maps(old.value, doc.value, (), replaced)
                result[index] = Doc(old.kind, merged, old.loc, old.type_name, old.name, old.written_kind)
    return result


_V1ALPHA1_DOCS = (DocKind.MACHINE, DocKind.PATCH)


def _same_typed(a: Doc, b: Doc) -> bool:
    return a.kind is DocKind.TYPED and a.key == b.key


def _is_delete(value: Any) -> bool:
    return isinstance(value, YMap) and value.get(_DELETE) == "delete"


def _merge_maps(base: YMap, patch: YMap, path: tuple[str, ...], replaced: frozenset[tuple[str, ...]]) -> YMap:
    out = YMap(base.loc)
    for key, val in base.items():
        out[key] = val
        out.key_locs[key] = base.loc_of(key)
    for key, val in patch.items():
        here = (*path, str(key))
        if _is_delete(val):
            out.pop(key, None)
            out.key_locs.pop(key, None)
            continue
        old = out.get(key)
        if isinstance(old, YMap) and isinstance(val, YMap):
            out[key] = _merge_maps(old, val, here, replaced)
        elif isinstance(old, YList) and isinstance(val, YList) and here not in replaced:
            out[key] = _merge_lists(old, val, _KEYED.get(here, ()), here, replaced)
        else:
            out[key] = val
        out.key_locs[key] = patch.loc_of(key)
    return out


def _merge_lists(
    base: YList,
    patch: YList,
    keys: tuple[str, ...],
    path: tuple[str, ...],
    replaced: frozenset[tuple[str, ...]],
) -> YList:
    out = YList(base.loc)
    out.extend(base)
    out.item_locs.extend(base.loc_of(i) for i in range(len(base)))
    for i, item in enumerate(patch):
        match = _keyed_match(out, item, keys)
        if match is not None:
            out[match] = _merge_maps(out[match], item, path, replaced)
            continue
        out.append(item)
        out.item_locs.append(patch.loc_of(i))
    return out


def _keyed_match(items: YList, item: Any, keys: tuple[str, ...]) -> int | None:
    if not keys or not isinstance(item, YMap):
        return None
    for key in keys:
        if key in item:
            for i, other in enumerate(items):
                if isinstance(other, YMap) and other.get(key) == item[key]:
                    return i
    return None


# --- building documents from plain values (talconfig, Terraform yamlencode) ---------------


def from_plain(value: Any, loc: SourceRef) -> Any:
    """Plain Python values as YMap/YList, every entry located at ``loc``."""
    if isinstance(value, (YMap, YList)):
        return value  # already located
    if isinstance(value, Mapping):
        out = YMap(loc)
        for key, val in value.items():
            out[key] = from_plain(val, loc)
            out.key_locs[key] = loc
        return out
    if isinstance(value, (list, tuple)):
        seq = YList(loc)
        for item in value:
            seq.append(from_plain(item, loc))
            seq.item_locs.append(loc)
        return seq
    return value
