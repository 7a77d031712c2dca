"""What every evaluator shares: the model, parsed parameters, endpoints, facts and wording."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from talosaudit.levels import Level
from talosaudit.model import (
    ALL_ADDRESSES,
    EMPTY,
    AddressSet,
    LayerKind,
    Model,
    NodeGroup,
    PortSet,
    Role,
    Rule,
)
from talosaudit.model.addresses import ALL_V4, ALL_V6
from talosaudit.model.firewall import Layer, builtin_words
from talosaudit.model.ports import PORTED, parse_protocol

#: The model's one flow notation, re-exported: evaluators import their wording from here.
from talosaudit.model.ports import flow_text as flow_text  # noqa: PLC0414 - an explicit re-export
from talosaudit.policies.params import (
    BroadCidrParams,
    FactCondition,
    RequiredFlow,
    parse_params,
    with_overrides,
)
from talosaudit.policies.schema import Catalogue, Policy, PolicyError
from talosaudit.reachability import (
    Endpoint,
    Reachability,
    cidr_endpoint,
    group_endpoint,
    trusted_admin,
)

P = TypeVar("P", bound=BaseModel)

#: The rule whose prefixes decide which admin networks are narrow enough to trust.
TRUST_POLICY = "TA207"

#: Talos's pod and service CIDRs when the configuration states none (docs/ports.md).
POD_SERVICE_DEFAULTS = {"pod_subnets": "10.244.0.0/16", "service_subnets": "10.96.0.0/12"}


@dataclass(frozen=True)
class EvalSettings:
    """Per-rule parameter overrides and which rules run (all when ``enabled`` is None)."""

    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    enabled: Callable[[str], bool] | Collection[str] | None = None

    def is_enabled(self, rule_id: str) -> bool:
        if self.enabled is None:
            return True
        if callable(self.enabled):
            return bool(self.enabled(rule_id))
        return rule_id in self.enabled


class Context:
    """One evaluation run: caches shared by all policies."""

    def __init__(self, model: Model, catalogue: Catalogue, settings: EvalSettings) -> None:
        self.model = model
        self.catalogue = catalogue
        self.settings = settings
        self.reach = Reachability(model)
        self._params: dict[str, BaseModel] = {}
        self._cache: dict[tuple[str, str], Any] = {}
        self._endpoints: dict[str, Endpoint] = {}

    # --- parameters ------------------------------------------------------------------

    def params(self, policy: Policy, model: type[P]) -> P:
        """The policy's params with the settings' overrides, parsed by its kind's model."""
        found = self._params.get(policy.id)
        if found is None:
            found = parse_params(with_overrides(policy, self.settings.params.get(policy.id)), model)
            self._params[policy.id] = found
        if not isinstance(found, model):
            raise PolicyError(f"rule {policy.id}: kind {policy.kind} does not take {model.__name__}")
        return found

    def memo(self, key: tuple[str, str], compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # --- facts -----------------------------------------------------------------------

    def fact(self, name: str, defaults: Mapping[str, str]) -> str:
        return self.model.fact(name, defaults.get(name, "")).strip().lower()

    def holds(self, when: FactCondition, defaults: Mapping[str, str]) -> bool:
        for name, wanted in when.items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if self.fact(name, defaults) not in {v.strip().lower() for v in values}:
                return False
        return True

    def tunnel_ports(self, ports: PortSet, tunnel_port: bool) -> PortSet:
        """``ports``, or the ``tunnel_port`` fact's port when the flow follows it."""
        tunnel = self.model.fact("tunnel_port").strip()
        if tunnel_port and tunnel.isdigit() and 0 < int(tunnel) <= 65535:
            return PortSet.single(int(tunnel))
        return ports

    # --- node groups and endpoints ---------------------------------------------------

    def groups(self, role: str) -> list[NodeGroup]:
        """``control-plane``, ``worker`` or ``nodes`` (every group with a known role)."""
        wanted = {"control-plane": {Role.CONTROL_PLANE}, "worker": {Role.WORKER}}.get(
            role, {Role.CONTROL_PLANE, Role.WORKER}
        )
        return [g for g in self.model.node_groups if g.role in wanted]

    def endpoint(self, group: NodeGroup) -> Endpoint:
        found = self._endpoints.get(group.id)
        if found is None:
            found = group_endpoint(self.model, group)
            self._endpoints[group.id] = found
        return found

    def exact_addresses(self, role: str) -> AddressSet:
        """Known addresses of the role's nodes (never an approximate region)."""
        out = EMPTY
        for g in self.groups(role):
            out = out | g.addresses
        return out

    def trust_params(self) -> BroadCidrParams:
        policy = self.catalogue.get(TRUST_POLICY)
        if policy is None or policy.kind != "broad_cidr":
            return BroadCidrParams()
        return self.params(policy, BroadCidrParams)

    def trusted_admin(self) -> AddressSet:
        def compute() -> AddressSet:
            p = self.trust_params()
            return trusted_admin(self.model, p.min_public_prefix, p.min_public_prefix_v6)

        result: AddressSet = self.memo(("trusted-admin", ""), compute)
        return result

    def pod_service(self) -> AddressSet:
        """The cluster's pod and service CIDRs (``pod_subnets``/``service_subnets`` facts, from a
        Talos config; Talos's defaults where nothing states them, docs/ports.md): the cluster's own
        workloads, never "the internet" or "outside the cluster", even when they are public
        IPv6 prefixes. F2/F4 (etcd, controller-manager/scheduler) do not use this set."""

        def compute() -> AddressSet:
            found = EMPTY
            for name, default in POD_SERVICE_DEFAULTS.items():
                for cidr in self.model.fact(name, default).split(","):
                    try:
                        found = found | AddressSet.parse(cidr.strip())
                    except ValueError:
                        continue
            return found

        result: AddressSet = self.memo(("pod-service", ""), compute)
        return result

    def not_internet(self) -> AddressSet:
        """Public addresses that exposure checks do not count as the internet."""
        return self.trusted_admin() | self.pod_service()

    def node_scope(self) -> AddressSet:
        """Addresses that belong to the cluster's network: the node network and the nodes."""
        scope = self.model.node_network | self.exact_addresses("nodes")
        if not self.model.node_network:
            for seg in self.model.segments.values():
                if not seg.is_internet:
                    scope = scope | seg.addresses
        return scope

    def anywhere(self) -> Endpoint:
        return cidr_endpoint("anywhere", ALL_ADDRESSES)

    def outside(self) -> Endpoint:
        """Everything beyond the node network, the trusted admin networks, the nodes and the
        cluster's own pod/service CIDRs."""
        inside = self.node_scope() | self.trusted_admin() | self.pod_service()
        return cidr_endpoint("outside the cluster", ALL_ADDRESSES - inside)


def required_ports(ctx: Context, flow: RequiredFlow) -> tuple[int | None, PortSet]:
    """A required flow's protocol and ports; the ``tunnel_port`` fact replaces the port of a
    CNI overlay flow that says so."""
    protocol = parse_protocol(flow.protocol)
    ports = PortSet.parse(flow.ports) if protocol in PORTED else PortSet.all()
    return protocol, ctx.tunnel_ports(ports, flow.tunnel_port)


# --- wording ---------------------------------------------------------------------------

_LAYER_NOUNS = {
    LayerKind.SECURITY_GROUP: "security group",
    LayerKind.NETWORK_ACL: "network ACL",
    LayerKind.PROXMOX: "Proxmox firewall",
    LayerKind.PFSENSE: "pfSense rules",
    LayerKind.OPNSENSE: "OPNsense rules",
    LayerKind.TALOS_HOST: "Talos host firewall",
    LayerKind.LOAD_BALANCER: "load balancer",
}


def layer_text(layer: Layer) -> str:
    return f"{_LAYER_NOUNS.get(layer.kind, 'firewall')} {layer.id}"


def role_text(role: Role | None) -> str:
    return f"{role.label} nodes" if role else "nodes of unknown role"


def rule_key(rule: Rule) -> str:
    return rule.key or rule.source.resource or f"{rule.source.path}:{rule.source.start_line}"


def rule_name(rule: Rule) -> str:
    """The rule as a message names it: a built-in rule in its platform's words (Talos's
    ``talos/kubespan`` is an internal id no user wrote), any other by its key. Identities of
    findings keep :func:`rule_key`, so baselines and suppressions do not move."""
    return builtin_words(rule) or rule_key(rule)


def rule_text(rule: Rule) -> str:
    words = builtin_words(rule)
    if words:
        return words
    described = f" ({rule.description.strip()})" if rule.description.strip() else ""
    return f"rule {rule_key(rule)}{described}"


def cidrs_text(addresses: AddressSet) -> str:
    return addresses.describe(limit=4)


def is_wide_open(rule: Rule) -> bool:
    """All ports (of all protocols or of its protocol) from a whole address family."""
    every_port = rule.protocol is None or rule.protocol not in PORTED or rule.ports.is_every_port()
    whole_family = rule.peer.addresses >= ALL_V4 or rule.peer.addresses >= ALL_V6
    return every_port and whole_family and rule.local is None


def max_level(a: Level, b: Level) -> Level:
    return a if a.rank >= b.rank else b


def min_level(a: Level, b: Level | None) -> Level:
    if b is None:
        return a
    return a if a.rank <= b.rank else b
