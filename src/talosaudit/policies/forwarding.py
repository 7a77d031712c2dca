"""Node groups as a load balancer listener reaches them (model/forwarders.py).

The exposure rules look at internet-facing listeners; the required flows also take the path
through a listener when the direct one is refused (a kubelet reaching the API through the
internal NLB that is the cluster endpoint). Both build the same view: the listener's layer
first, then, for an NLB (which keeps the client's address), the group's own layers.
"""

from __future__ import annotations

from dataclasses import replace

from talosaudit.model import NodeGroup
from talosaudit.model.forwarders import Forwarder
from talosaudit.policies.context import Context
from talosaudit.reachability import Endpoint
from talosaudit.reachability.endpoints import group_endpoint
from talosaudit.reachability.query import Reachability


def forwarder_reach(ctx: Context) -> Reachability:
    """Reachability over the model with every listener's layer added (built once per run)."""

    def build() -> Reachability:
        layers = {**ctx.model.layers, **{f.layer.id: f.layer for f in ctx.model.forwarders}}
        return Reachability(replace(ctx.model, layers=layers))

    reach: Reachability = ctx.memo(("forwarders", ""), build)
    return reach


def through(ctx: Context, group: NodeGroup, forwarder: Forwarder) -> tuple[NodeGroup, Endpoint]:
    own = group.layers if forwarder.preserves_client else ()
    seen = replace(
        group,
        id=f"{group.id} through {forwarder.id}",
        name=f"{group.name} through {forwarder.name}",
        layers=(forwarder.layer.id, *own),
    )
    return seen, group_endpoint(forwarder_reach(ctx).model, seen)
