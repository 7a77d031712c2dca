"""The ports a Talos node serves, read from the catalogue: the one source of truth for ports
is the policy files. Collectors receive the result (CollectOptions.node_ports) to tell a
node group from a bastion's or a load balancer's security group."""

from __future__ import annotations

from talosaudit.model import ICMP, ICMPV6, PortSet
from talosaudit.model.ports import PORTED, NodePorts, parse_protocol
from talosaudit.policies.params import FlowSpec, ForbidFlowParams, RequireFlowParams, parse_params
from talosaudit.policies.schema import Catalogue

#: Flows into these roles are flows a node serves (not egress to the internet or DNS).
_INTO_NODES = frozenset({"control-plane", "worker", "nodes"})
#: Every host answers ping: admitting ICMP says nothing about a node (the Cilium health
#: check's ICMP flow stays a required flow, just not a sign of one).
_NOT_A_SIGN = frozenset({ICMP, ICMPV6})


def node_ports(catalogue: Catalogue) -> NodePorts:
    """Ports of every ``require_flow`` flow into nodes and every ``forbid_flow`` flow, by
    protocol, whatever the facts (a collector runs before facts are known)."""
    served: dict[int, PortSet] = {}
    for policy in catalogue.policies:
        flows: list[FlowSpec] = []
        if policy.kind == "require_flow":
            flows += [f for f in parse_params(policy, RequireFlowParams).flows if f.to in _INTO_NODES]
        elif policy.kind == "forbid_flow":
            flows += parse_params(policy, ForbidFlowParams).flows
        for flow in flows:
            protocol = parse_protocol(flow.protocol)
            if protocol is None or protocol in _NOT_A_SIGN:
                continue
            ports = PortSet.parse(flow.ports) if protocol in PORTED else PortSet.all()
            served[protocol] = served.get(protocol, PortSet()) | ports
    return NodePorts(tuple(sorted(served.items())))


__all__ = ["node_ports"]
