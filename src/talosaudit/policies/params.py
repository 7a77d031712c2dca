"""The parameters of each evaluator kind, validated strictly (a typo in a policy file is an
error, not a silently ignored key), and the one way a policy's params are overridden and
parsed (``parse_params``). ``engine.KINDS`` pairs each kind with its model and evaluator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from talosaudit.levels import Level
from talosaudit.model import PortSet, ProblemKind
from talosaudit.model.ports import parse_protocol
from talosaudit.policies.schema import Policy, PolicyError
from talosaudit.validation import error_places

#: ``{fact: value or [values]}``; all must hold. "" stands for "fact not set".
FactCondition = dict[str, str | list[str]]

RoleName = Literal["control-plane", "worker", "nodes"]
LayerKindName = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Conditional(_Strict):
    #: Facts assumed when the model has none (docs/ports.md defaults, e.g. ``cni: flannel``).
    fact_defaults: dict[str, str] = Field(default_factory=dict)
    #: The policy runs only when these facts hold.
    when: FactCondition = Field(default_factory=dict)


class FlowSpec(_Strict):
    """A protocol and ports, written as in messages: ``tcp`` + ``"2379-2380"``."""

    protocol: str
    ports: str = "all"

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        parse_protocol(value)
        return value

    @field_validator("ports")
    @classmethod
    def _valid_ports(cls, value: str) -> str:
        PortSet.parse(value)
        return value


class RequiredFlow(FlowSpec):
    #: The docs/ports.md row, e.g. ``R5``.
    row: str = ""
    source: Literal["control-plane", "worker", "nodes", "admin"] = Field(alias="from")
    to: Literal["control-plane", "worker", "nodes", "internet", "anywhere"]
    #: What breaks, for the message: "Talos trustd: workers cannot join".
    purpose: str
    #: A lower level for this flow's results (R8 is a warning of TA105).
    level: Level | None = None
    when: FactCondition = Field(default_factory=dict)
    #: The ``tunnel_port`` fact replaces the port (CNI overlays).
    tunnel_port: bool = False
    #: ``all``: every address pair and port must pass; ``any``: some must (egress to the
    #: internet, where the destinations are a few services).
    require: Literal["all", "any"] = "all"
    #: Enough when one of the two directions of each pair passes (KubeSpan).
    either_direction: bool = False


class RequireFlowParams(Conditional):
    #: Only for node groups whose own layers filter egress (TA109).
    egress_filtered_only: bool = False
    #: ``bootstrap_blocked`` rules (TA401): a layer they report is not reported again here.
    not_reported_by: list[str] = Field(default_factory=list)
    flows: list[RequiredFlow]


class FactNote(_Strict):
    """What a finding says about a fact: ``known`` is formatted with ``{value}`` and
    ``{reason}`` (where the fact was found); ``unknown`` is said when the model has no such fact."""

    fact: str
    known: str
    unknown: str


class ForbiddenFlow(FlowSpec):
    #: The flow is not checked when these facts hold (e.g. a service bound to 127.0.0.1).
    unless: FactCondition = Field(default_factory=dict)
    #: A fact the finding's message states when this flow gets through.
    note: FactNote | None = None
    #: The fact that says where the service listens (an address or URLs). Where nothing on
    #: the path filters (no rule to point at) and it binds beyond localhost, the finding is
    #: located at the line that sets it: that bind is the fix.
    bind_fact: str = ""


SourceName = Literal["internet", "anywhere", "outside", "node-network", "admin", "worker", "control-plane"]


class ForbidFlowParams(Conditional):
    #: What the ports are, for the message: "the Talos API".
    service: str
    flows: list[ForbiddenFlow]
    to: list[RoleName]
    sources: list[SourceName]
    #: Nodes of these roles may reach the ports: their own addresses never count.
    allowed_sources: list[Literal["control-plane", "worker"]] = Field(default_factory=list)
    #: The level when every extra source is a worker node (TA203).
    workers_only_level: Level | None = None


class ClusterPort(FlowSpec):
    """A port the cluster uses, counted only while the facts say it is in use (51820 with
    KubeSpan, the overlay port of the tunnel in use)."""

    when: FactCondition = Field(default_factory=dict)
    #: The ``tunnel_port`` fact replaces the port (a CNI overlay on a non-default port).
    tunnel_port: bool = False


class PublicAllowlistParams(_Strict):
    """Public sources no wider than the allowlist threshold (TA208). The threshold is TA207's
    ``min_public_prefix``/``min_public_prefix_v6``, the same one that decides which admin
    networks are trusted."""

    #: The forbid_flow rules whose "from the internet" flows are watched (F1, F5, F7).
    of: list[str] = Field(min_length=1)


class LayerRuleParams(_Strict):
    #: Layer kinds the check does not apply to (e.g. network ACL rules have no description).
    skip_layer_kinds: list[LayerKindName] = Field(default_factory=list)


class BroadCidrParams(LayerRuleParams):
    """Rules that open cluster ports to sources wider than needed (TA207)."""

    #: The ports of the cluster a rule must not open too widely.
    cluster_ports: list[ClusterPort] = Field(default_factory=list)
    #: Facts assumed when the model has none, for ``cluster_ports`` conditions.
    fact_defaults: dict[str, str] = Field(default_factory=dict)
    #: A public CIDR shorter than this is too broad (and such an admin network is not
    #: trusted); a public source no wider is an allowlist, not "the internet" (TA208).
    min_public_prefix: int = Field(default=24, ge=0, le=32)
    min_public_prefix_v6: int = Field(default=56, ge=0, le=128)
    #: Rule ids whose results already cover a rule and port (no double reporting).
    not_reported_by: list[str] = Field(default_factory=list)


class InputProblemParams(_Strict):
    #: The kind of collector problem this rule reports (TA001 ``unreadable``, ...).
    problem: ProblemKind


class BootstrapBlockedParams(_Strict):
    """A node's own platform firewall that lets none of its required ports in (TA401)."""

    #: Layer kinds looked at (``proxmox-firewall``).
    layer_kinds: list[LayerKindName] = Field(min_length=1)
    #: The require_flow rules whose flows into a node's role are its required ports.
    required_by: list[str] = Field(min_length=1)


class FirewallNotAppliedParams(_Strict):
    """Platform firewall rules or switches a node relies on that a higher switch leaves
    unapplied (TA402)."""

    #: Layer kinds looked at (``proxmox-firewall``): their layers carry the switch states.
    layer_kinds: list[LayerKindName] = Field(min_length=1)
    #: Report a guest whose only sign of relying on the firewall is a NIC flag only when it
    #: is a cluster node (the Proxmox GUI sets ``firewall=1`` on every new NIC).
    flag_needs_role: bool = True


class HostFirewallParams(_Strict):
    """A host firewall whose default ingress action is not ``block`` (TA404)."""

    layer_kinds: list[LayerKindName] = Field(min_length=1)


class DriftParams(_Strict):
    """Differences between live state and code (TA503, TA504)."""

    side: Literal["live-only", "code-only"]


class DisabledRuleParams(_Strict):
    """A disabled rule that would let a blocked required flow through (TA405)."""

    #: Layer kinds whose disabled rules are looked at (``pfsense``, ``opnsense``).
    layer_kinds: list[LayerKindName]
    #: The require_flow rules whose flows count as required (their own params are used).
    required_by: list[str] = Field(min_length=1)


P = TypeVar("P", bound=BaseModel)


def with_overrides(policy: Policy, override: Mapping[str, Any] | None) -> Policy:
    """The policy with some params replaced (a ``.talosaudit.yaml`` rule setting): the one way
    params are overridden; the result is parsed again by ``parse_params``."""
    if not override:
        return policy
    return policy.model_copy(update={"params": {**policy.params, **override}})


def parse_params(policy: Policy, model: type[P], where: str = "") -> P:
    """The policy's params parsed by ``model`` (raises PolicyError naming ``where``)."""
    try:
        return model.model_validate(policy.params)
    except ValidationError as exc:
        raise PolicyError(f"{where or 'rule ' + policy.id}: params: {validation_text(exc)}") from exc


def validation_text(exc: ValidationError) -> str:
    return "; ".join(f"{where}: {message}" for where, message in error_places(exc, "(top)"))


#: The params model of every kind a policy file may name (engine.KINDS adds the evaluators).
