"""Load balancer listeners that forward to node groups (docs/inputs.md, "Load balancers").

A forwarder is one hop in front of nodes: a packet that the listener admits on its port
arrives at the targets on the target port. ``layer`` holds who the listener admits, already
on the target port (rules located at the listener): the sources the load balancer's security
group admits on the listener port, or everyone when the load balancer has no group (an NLB).

``preserves_client``: an NLB keeps the client's address, so the targets' own layers filter the
original source and stay on the path; an ALB or a classic ELB connects from itself, so the
targets see the load balancer (the collector has checked that they admit it) and only
``layer`` filters the client.
"""

from __future__ import annotations

from dataclasses import dataclass

from talosaudit.model.firewall import Layer
from talosaudit.model.source import SourceRef


@dataclass(frozen=True, slots=True)
class Forwarder:
    id: str
    name: str
    #: The listener.
    source: SourceRef
    layer: Layer
    #: Node group ids the listener forwards to, on ``target_port`` (tcp).
    targets: tuple[str, ...]
    target_port: int
    preserves_client: bool
    internet_facing: bool
    #: The load balancer and the target group: related locations of a finding through it.
    related: tuple[SourceRef, ...] = ()
