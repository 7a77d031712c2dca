"""Shared helpers of the AWS mappers: reading evaluated values and reporting what is unknown.

Values come from the HCL evaluator (values.py): plain Python values in which ``Unknown``
and ``Ref`` may appear anywhere. Every place a rule depends on a value that is not known
records an ``Unresolved`` on the rule and one UNRESOLVED problem; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.terraform.mapping import as_int, source
from talosaudit.collectors.terraform.values import (
    Block,
    Lines,
    PartialList,
    Ref,
    ResourceInstance,
    TerraformConfig,
    Unknown,
)
from talosaudit.model import (
    ALL_PORTS,
    EMPTY,
    TCP,
    UDP,
    AddressSet,
    PortSet,
    Problem,
    ProblemKind,
    SourceRef,
    Unresolved,
)
from talosaudit.model.ports import MAX_PORT, parse_protocol

#: Attributes of a resource that only exist after apply: a Ref to them is an identity, not a
#: value we could look up in the configuration.
_IDENTITY_ATTRIBUTES = frozenset({"id", "arn", "owner_id", "default_network_acl_id"})


def describe_unknown(value: Any) -> tuple[str, str]:
    """The expression and the reason of a value that is not usable as it is."""
    if isinstance(value, Unknown):
        reason = value.reason or "its value is not known"
        if value.origin and value.origin != value.expression:
            reason = f"{reason} ({value.origin})"
        return value.expression, reason
    if isinstance(value, Ref):
        return str(value), "known only after apply"
    return repr(value), f"unexpected {type(value).__name__} value"


def is_known(value: Any) -> bool:
    return not isinstance(value, Unknown | Ref)


def known_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def description_text(value: Any) -> str:
    """A rule's description as written. One that is not known here (a template over an
    unknown value) is still a description: it reads as its expression, so the no-description
    rule stays quiet."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Unknown | Ref):
        return describe_unknown(value)[0]
    return str(value)


def listify(value: Any) -> list[Any]:
    """A list attribute as a list; a lone value as a one-element list; null as empty. A
    list that is only partly known gives its known elements and itself (the unknown rest)."""
    if value is None:
        return []
    if isinstance(value, PartialList):
        return [*value.known, value]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def tags_of(value: Any) -> tuple[tuple[str, str], ...]:
    """Known string tags, sorted; unknown values are left out (they cannot name a role)."""
    if not isinstance(value, dict):
        return ()
    out = [(str(k), v if isinstance(v, str) else str(v)) for k, v in value.items() if is_known(v)]
    return tuple(sorted(out))


@dataclass
class Context:
    """The configuration being mapped, its resources by address, and the problems found."""

    config: TerraformConfig
    resources: dict[str, ResourceInstance] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    _problem_keys: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.resources = {r.address: r for r in self.config.resources}

    def managed(self, *types: str) -> Iterator[ResourceInstance]:
        for r in self.config.resources:
            if r.mode == "managed" and r.type in types:
                yield r

    def target(self, value: Any) -> ResourceInstance | None:
        """The resource a Ref points at, if it is in the configuration."""
        if isinstance(value, Ref):
            return self.resources.get(value.address)
        return None

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """A Ref to an attribute written in the configuration (``aws_vpc.main.cidr_block``)
        becomes that attribute's value; other values are returned as they are."""
        if not isinstance(value, Ref) or depth > 8 or value.attribute in _IDENTITY_ATTRIBUTES:
            return value
        target = self.resources.get(value.address)
        if target is None or value.attribute not in target.body.attrs:
            return value
        return self.resolve(target.body.attrs[value.attribute], depth + 1)

    def problem(self, problem_kind: ProblemKind, message: str, where_: SourceRef, key: str) -> None:
        if (problem_kind, key) in self._problem_keys:
            return
        self._problem_keys.add((problem_kind, key))
        self.problems.append(Problem(problem_kind, message, where_, key=key))


@dataclass
class Pending:
    """What one rule could not resolve, reported once per rule key and attribute."""

    ctx: Context
    address: str
    key: str
    items: list[Unresolved] = field(default_factory=list)

    def unknown(self, attr: str, value: Any, lines: Lines, reason: str = "") -> None:
        expression, why = describe_unknown(value)
        if reason:
            why = reason
        self.add(attr, expression, why, lines)

    def add(self, attr: str, expression: str, reason: str, lines: Lines) -> None:
        item = Unresolved(attr, expression, reason)
        if item not in self.items:
            self.items.append(item)
        # A required attribute that is missing has no expression to quote.
        said = (
            f"{attr} is not set"
            if reason == "not set"
            else f"{attr} = {expression} could not be resolved: {reason}"
        )
        self.ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{self.key}: {said}",
            source(lines, self.address),
            key=f"{self.key}:{attr}:{expression}",
        )

    def expansion(self, resource: ResourceInstance) -> None:
        """The resource's count/for_each is unknown: its rules stand for zero or more."""
        unknown = resource.expansion_unknown
        if unknown is None:
            return
        attr = resource.expansion_attr or "count"
        # The field is the bare meta-argument: reachability reads it as "the rule may not
        # exist", not as an unknown shape; the message names the module call when it is its.
        meta = attr.rsplit(" ", maxsplit=1)[-1]
        item = Unresolved(meta, unknown.expression, unknown.reason or "its value is not known")
        if item not in self.items:
            self.items.append(item)
        self.ctx.problem(
            ProblemKind.UNRESOLVED,
            f"{resource.address}: {attr} = {unknown.expression} could not be resolved: "
            f"{item.reason}; its rules may or may not exist",
            source(resource.expansion_lines or resource.body.line_of(meta), resource.address),
            key=f"{resource.address}:{meta}",
        )

    def dynamic(self, block: Block) -> None:
        """A ``dynamic`` block whose for_each is unknown stands for zero or more blocks."""
        unknown = block.expansion_unknown
        if unknown is None:
            return
        expression, reason = describe_unknown(unknown)
        why = f"{reason}; the block may or may not exist"
        self.add(f"dynamic {block.type} for_each", expression, why, block.lines)

    def snapshot(self) -> tuple[Unresolved, ...]:
        return tuple(self.items)

    def fork(self) -> Pending:
        return Pending(self.ctx, self.address, self.key, list(self.items))


def addresses_of(
    pending: Pending, attr: str, value: Any, lines: Lines, ctx: Context
) -> tuple[AddressSet, bool]:
    """CIDRs of an attribute (a list or one string) as addresses.

    Returns the known addresses and whether the attribute was written at all (non-null,
    non-empty). Unknown elements and bad CIDRs are recorded on ``pending``.
    """
    result = EMPTY
    present = False
    if isinstance(value, Unknown | Ref):
        value = ctx.resolve(value)
    if isinstance(value, PartialList):
        pending.unknown(attr, value, lines)
        value = list(value.known)
    elif isinstance(value, Unknown | Ref):
        pending.unknown(attr, value, lines)
        return result, True
    for written in listify(value):
        item = ctx.resolve(written)
        present = True
        if isinstance(item, str):
            try:
                result = result | AddressSet.parse(item)
            except ValueError:
                pending.add(attr, repr(item), "not a valid CIDR", lines)
        else:
            pending.unknown(attr, item, lines)
    return result, present


def protocol_and_ports(
    pending: Pending,
    body: Block,
    proto_attr: str,
    from_attr: str = "from_port",
    to_attr: str = "to_port",
) -> tuple[int | None, PortSet]:
    """Protocol and ports with AWS's semantics.

    ``-1``/``all`` is every protocol on every port whatever the ports say. Only tcp and udp
    have port ranges (``from_port``..``to_port``, so 0-0 is port 0 alone); for icmp the
    "ports" are ICMP type and code, and for any other protocol AWS allows every port.
    """
    raw = body.attrs.get(proto_attr)
    lines = body.line_of(proto_attr)
    protocol: int | None = None
    known_protocol = True
    if isinstance(raw, Unknown | Ref) or raw is None:
        pending.unknown(proto_attr, raw, lines, "" if raw is not None else "not set")
        known_protocol = False
    else:
        try:
            protocol = parse_protocol(raw if isinstance(raw, int) else str(raw))
        except ValueError:
            pending.add(proto_attr, repr(raw), "not a protocol name or number AWS accepts", lines)
            known_protocol = False
    if known_protocol and protocol not in (TCP, UDP):
        return protocol, ALL_PORTS
    lo_raw, hi_raw = body.attrs.get(from_attr), body.attrs.get(to_attr)
    lo, hi = as_int(lo_raw), as_int(hi_raw)
    if lo is None or hi is None:
        for attr, value, number in ((from_attr, lo_raw, lo), (to_attr, hi_raw, hi)):
            if number is None:
                pending.unknown(attr, value, body.line_of(attr), "" if value is not None else "not set")
        return protocol, ALL_PORTS
    if not known_protocol:
        return protocol, PortSet.range(lo, hi) if 0 <= lo <= hi else ALL_PORTS
    if not (0 <= lo <= hi <= MAX_PORT):
        pending.add(
            f"{from_attr}/{to_attr}", f"{lo_raw}-{hi_raw}", "not a valid port range", body.line_of(from_attr)
        )
        return protocol, ALL_PORTS
    return protocol, PortSet.range(lo, hi)
