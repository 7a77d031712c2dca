"""The data ``graph`` draws (computed by ``explain``/``matrix``; reporters only render it):
node groups, merged group views, the required-flow cells and the role-level matrix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from talosaudit.model import Fact, Layer, NodeGroup


@dataclass(frozen=True, slots=True)
class FlowCell:
    """One required flow between two endpoints and whether it gets through."""

    flow: str  # ``tcp/50001``
    source: str  # endpoint label: a node group name, ``admin``, ``internet``
    destination: str
    verdict: str  # ``allowed``, ``blocked``, ``partial``, ``unknown``
    why: str = ""  # e.g. the blocking layer
    requirement: str = ""  # the policy and its docs/ports.md row, e.g. ``TA103 R3``
    rule_id: str = ""
    #: The ends as findings name them (``worker nodes``, ``the admin networks (…)``).
    source_text: str = ""
    destination_text: str = ""
    #: The blocking layers the rule's ``scan`` findings are located at (empty when it holds,
    #: is unknown, or only a platform rule such as TA401 reports the layer).
    reported_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupView:
    """Node groups of one role behind the same layers, shown as one."""

    label: str  # ``control-plane ×3``
    role: str  # ``control-plane``, ``worker``, ``unknown role``
    resource: str  # ``aws_instance.control_plane — subnets private[0..2]``
    members: tuple[str, ...]  # the node group names (full, as in JSON)
    layers: tuple[str, ...]  # ``security group module.network.aws_security_group.worker``


@dataclass(frozen=True, slots=True)
class MatrixEntry:
    """One distinct (source, destination, flow) of the role-level matrix and its verdict,
    combined over the node-group pairs and requirements under it."""

    source: str  # a role, ``admin``, ``internet`` or ``anywhere``
    destination: str
    flow: str
    verdict: str
    rule_ids: tuple[str, ...] = ()
    #: Per refusing or unresolved layer: ``security group X at file:line: why``.
    why: tuple[str, ...] = ()
    #: (source group, destination group, verdict) of every pair behind the entry.
    pairs: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ExposureMark:
    """A forbidden flow that gets through (a forbid_flow finding), by matrix cell."""

    source: str
    destination: str
    flow: str
    rule_id: str
    where: str  # ``security group X rule at file:line``


@dataclass(frozen=True, slots=True)
class GraphData:
    groups: tuple[NodeGroup, ...]
    layers: Mapping[str, Layer]
    facts: tuple[Fact, ...] = ()
    flows: tuple[FlowCell, ...] = ()
    views: tuple[GroupView, ...] = ()
    entries: tuple[MatrixEntry, ...] = ()
    exposures: tuple[ExposureMark, ...] = ()
    #: The layer-by-layer ``why`` trace of each cell, by (source, destination); filled only
    #: for the HTML report.
    traces: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def rows(self) -> list[str]:
        return ordered({e.source for e in self.entries} | {x.source for x in self.exposures})

    @property
    def columns(self) -> list[str]:
        return ordered({e.destination for e in self.entries} | {x.destination for x in self.exposures})

    def cell(self, source: str, destination: str) -> tuple[list[MatrixEntry], list[ExposureMark]]:
        return (
            [e for e in self.entries if e.source == source and e.destination == destination],
            [x for x in self.exposures if x.source == source and x.destination == destination],
        )


_END_ORDER = ("control-plane", "worker", "unknown role", "admin", "internet", "anywhere", "other networks")


def ordered(keys: set[str]) -> list[str]:
    return sorted(keys, key=lambda k: (_END_ORDER.index(k) if k in _END_ORDER else len(_END_ORDER), k))
