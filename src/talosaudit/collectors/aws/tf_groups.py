"""Security groups and their rules, in all three Terraform styles, as NODE layers.

One draft per security group; rules join it from inline ``ingress``/``egress`` blocks,
``aws_security_group_rule`` and ``aws_vpc_security_group_{ingress,egress}_rule``. A group's
rules are exactly the union of those: the AWS provider removes AWS's default allow-all egress
from every group it creates, so a group without egress rules allows no egress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.aws.security_groups import described, unknown_rules
from talosaudit.collectors.aws.tf_common import (
    Context,
    Pending,
    addresses_of,
    describe_unknown,
    description_text,
    known_str,
    listify,
    protocol_and_ports,
    tags_of,
)
from talosaudit.collectors.roles import RoleSubject
from talosaudit.collectors.terraform.mapping import as_bool, nested_blocks, source, where
from talosaudit.collectors.terraform.values import Block, Lines, Ref, ResourceInstance, Unknown
from talosaudit.model import (
    EMPTY,
    Action,
    Direction,
    Peer,
    ProblemKind,
    Rule,
    SourceRef,
)

SG_TYPES = ("aws_security_group", "aws_default_security_group")
VPC_RULE_TYPES = {
    "aws_vpc_security_group_ingress_rule": Direction.INGRESS,
    "aws_vpc_security_group_egress_rule": Direction.EGRESS,
}
NOT_IN_CODE = "not defined in the scanned code"
PREFIX_LIST_NOTE = "service ranges of that list, not the internet; its entries are not in the configuration"


@dataclass
class GroupDraft:
    """A security group being assembled; becomes a Layer once roles are known."""

    id: str
    name: str
    source: SourceRef
    resource: ResourceInstance | None
    vpc: str = ""
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    rules: list[Rule] = field(default_factory=list)
    #: Not defined in the configuration (a literal ``sg-…`` id, a data source, an unknown).
    external: bool = False

    @property
    def rules_unknown(self) -> bool:
        """A group the configuration uses but does not define: its own rules are not here
        (only those the configuration attaches to it are). A group whose id is unknown
        (``unresolved:…``, the owner of a standalone rule) is not on any instance's list."""
        return self.external and not self.id.startswith("unresolved:")

    def subject(self) -> RoleSubject:
        names: list[tuple[str, str]] = []
        if self.resource is not None:
            names.append(("resource name", self.resource.name))
        if self.name and self.name != self.id:
            names.append(("name", self.name))
        names += [(f"tag {k}", v) for k, v in self.tags if k.lower() == "name"]
        at = where(self.resource.lines) if self.resource is not None else ""
        return RoleSubject(self.id, tuple(names), self.tags, EMPTY, at)

    def attributes(self) -> list[tuple[str, str]]:
        out = described(self.tags, self.vpc, self.description)
        if self.external:
            out.append(("external", "true"))
        return out


class SecurityGroups:
    """Builds the drafts of every security group the configuration defines or references."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.drafts: dict[str, GroupDraft] = {}
        self.by_name: dict[str, str] = {}
        #: How messages name a group known by its id through a data source: "sg-… (data.…)".
        self.shown: dict[str, str] = {}

    def build(self) -> SecurityGroups:
        for r in self.ctx.managed(*SG_TYPES):
            self._define(r)
        for r in self.ctx.managed(*SG_TYPES):
            for direction in Direction:
                for i, block in enumerate(nested_blocks(r.body, direction.value)):
                    key = f"{r.address}/{direction.value}[{i}]"
                    origin = f"inline {direction.value} block" + (" (dynamic)" if block.from_dynamic else "")
                    self.drafts[r.address].rules += self._legacy_rules(
                        r, r.address, block, direction, key=key, origin=origin
                    )
        for r in self.ctx.managed("aws_security_group_rule"):
            self._legacy_resource(r)
        for r in self.ctx.managed(*VPC_RULE_TYPES):
            self._vpc_rule(r)
        return self

    # -- groups -------------------------------------------------------------------------

    def _define(self, r: ResourceInstance) -> None:
        attrs = r.body.attrs
        name = known_str(attrs.get("name")) or r.address
        vpc_value = attrs.get("vpc_id")
        vpc = self.ctx.target(vpc_value)
        draft = GroupDraft(
            id=r.address,
            name=name,
            source=source(r.lines, r.address),
            resource=r,
            vpc=vpc.address if vpc is not None else (known_str(vpc_value) or ""),
            description=known_str(attrs.get("description")) or "",
            tags=tags_of(attrs.get("tags")),
        )
        self.drafts[r.address] = draft
        if name != r.address:
            self.by_name.setdefault(name, r.address)

    def external(self, group_id: str, name: str, at: SourceRef) -> str:
        """The draft of a group the configuration does not define, located at the first
        place (file, then line) that references it; a group it defines is left as it is."""
        draft = self.drafts.get(group_id)
        if draft is None:
            self.drafts[group_id] = GroupDraft(group_id, name, at, None, external=True)
        elif draft.external and (at.path, at.start_line) < (draft.source.path, draft.source.start_line):
            draft.source = at
        return group_id

    def layer_rules(self, draft: GroupDraft) -> list[Rule]:
        """The rules of the group's layer: its known rules, and for a group whose own rules
        are not in the configuration, the unresolved allows that stand for them."""
        if not draft.rules_unknown:
            return draft.rules
        return [*draft.rules, *unknown_rules(draft.id, draft.source, NOT_IN_CODE)]

    def report_unknown(self) -> None:
        """One UNRESOLVED per group whose rules are not in the configuration, where it is first used."""
        for draft in self.drafts.values():
            if not draft.rules_unknown:
                continue
            self.ctx.problem(
                ProblemKind.UNRESOLVED,
                f"security group {self.shown.get(draft.id, draft.id)} is {NOT_IN_CODE}: its rules are "
                "unknown; required-flow checks through it are inconclusive; scan the code that "
                "defines it or use `talosaudit live`",
                draft.source,
                key=f"{draft.id}:rules",
            )

    def rule_owner(self, r: ResourceInstance, pending: Pending) -> str:
        """The layer a standalone rule resource joins: its ``security_group_id``."""
        body = r.body
        return self.owner(
            body.attrs.get("security_group_id"),
            pending,
            "security_group_id",
            body.line_of("security_group_id"),
            source(r.lines, r.address),
        )

    def owner(self, value: Any, pending: Pending, attr: str, lines: Lines, at: SourceRef) -> str:
        """The layer a standalone rule joins (``security_group_id``)."""
        label = self.label(value, pending, attr, lines)
        if label is not None:
            return self.external(label, label, at)
        expression, _ = describe_unknown(value)
        return self.external(f"unresolved:{expression}", f"security group {expression} (unresolved)", at)

    def label(self, value: Any, pending: Pending, attr: str, lines: Lines) -> str | None:
        """The identity of a referenced security group: its address, data source or id."""
        target = self.ctx.target(value)
        if target is not None:
            if target.mode == "managed" and target.type in SG_TYPES:
                return target.address
            if target.mode == "data" and target.type == "aws_security_group":
                group_id = known_str(target.body.attrs.get("id"))
                if group_id is None:
                    return target.address
                self.shown.setdefault(group_id, f"{group_id} ({target.address})")
                return group_id
            return target.address
        if isinstance(value, Ref):
            return value.address
        if isinstance(value, str) and value:
            return self.by_name.get(value, value) if not value.startswith("sg-") else value
        if value is None or value == "":
            pending.add(attr, "null", "not set", lines)
        else:
            pending.unknown(attr, value, lines)
        return None

    # -- peers --------------------------------------------------------------------------

    def prefix_list_peer(self, value: Any, pending: Pending, attr: str, lines: Lines) -> Peer | None:
        target = self.ctx.target(value)
        if target is not None and target.mode == "managed" and target.type == "aws_ec2_managed_prefix_list":
            name = known_str(target.body.attrs.get("name")) or target.address
            addresses = EMPTY
            entries = list(target.body.blocks_of("entry"))
            entries += [
                e.body
                for e in self.ctx.managed("aws_ec2_managed_prefix_list_entry")
                if isinstance(e.body.attrs.get("prefix_list_id"), Ref)
                and e.body.attrs["prefix_list_id"].address == target.address
            ]
            for entry in entries:
                found, _ = addresses_of(
                    pending, attr, entry.attrs.get("cidr"), entry.line_of("cidr"), self.ctx
                )
                addresses = addresses | found
            return Peer(addresses=addresses, description=f"prefix list {name} ({addresses.describe()})")
        if target is not None or isinstance(value, Ref):
            ident = target.address if target is not None else str(value)
            return Peer(
                groups=frozenset({f"prefix-list:{ident}"}),
                description=f"prefix list {ident}: {PREFIX_LIST_NOTE}",
            )
        if isinstance(value, str) and value:
            return Peer(
                groups=frozenset({f"prefix-list:{value}"}),
                description=f"prefix list {value}: {PREFIX_LIST_NOTE}",
            )
        pending.unknown(attr, value, lines)
        return None

    # -- rules --------------------------------------------------------------------------

    def _legacy_resource(self, r: ResourceInstance) -> None:
        """``aws_security_group_rule``: type, security_group_id, and inline-style fields."""
        body = r.body
        pending = Pending(self.ctx, r.address, r.address)
        layer = self.rule_owner(r, pending)
        kind = body.attrs.get("type")
        if kind in ("ingress", "egress"):
            directions = [Direction(kind)]
        else:
            reason = "" if isinstance(kind, Unknown | Ref) else "not ingress or egress"
            pending.unknown("type", kind, body.line_of("type"), reason)
            directions = list(Direction)
        peers = Block(
            body.type,
            body.labels,
            {
                **body.attrs,
                "security_groups": [body.attrs["source_security_group_id"]]
                if body.attrs.get("source_security_group_id") is not None
                else None,
            },
            {**body.attr_lines, "security_groups": body.line_of("source_security_group_id")},
            body.blocks,
            body.lines,
        )
        for direction in directions:
            self.drafts[layer].rules += self._legacy_rules(
                r,
                layer,
                peers,
                direction,
                key=r.address,
                origin=r.type,
                base=pending,
                group_attr="source_security_group_id",
            )

    def _legacy_rules(
        self,
        r: ResourceInstance,
        layer: str,
        body: Block,
        direction: Direction,
        *,
        key: str,
        origin: str,
        base: Pending | None = None,
        group_attr: str = "security_groups",
    ) -> list[Rule]:
        """One rule per peer kind of an inline block or an ``aws_security_group_rule``."""
        pending = base.fork() if base is not None else Pending(self.ctx, r.address, key)
        pending.key = key
        pending.expansion(r)
        pending.dynamic(body)
        protocol, ports = protocol_and_ports(pending, body, "protocol")
        at = source(body.lines, key)
        description = description_text(body.attrs.get("description"))

        def rule(peer: Peer, unresolved: Pending) -> Rule:
            return Rule(
                Action.ALLOW,
                direction,
                protocol,
                ports,
                peer,
                at,
                description=description,
                unresolved=unresolved.snapshot(),
                key=key,
                origin=origin,
            )

        rules: list[Rule] = []
        cidr = pending.fork()
        v4, has4 = addresses_of(
            cidr, "cidr_blocks", body.attrs.get("cidr_blocks"), body.line_of("cidr_blocks"), self.ctx
        )
        v6, has6 = addresses_of(
            cidr,
            "ipv6_cidr_blocks",
            body.attrs.get("ipv6_cidr_blocks"),
            body.line_of("ipv6_cidr_blocks"),
            self.ctx,
        )
        if has4 or has6:
            rules += _split(rule, Peer(addresses=v4 | v6), pending, cidr)

        groups = pending.fork()
        labels: set[str] = set()
        written = False
        self_value = body.attrs.get("self")
        if isinstance(self_value, Unknown | Ref):
            groups.unknown("self", self_value, body.line_of("self"))
            written = True
        elif as_bool(self_value):
            labels.add(layer)
        for item in listify(body.attrs.get("security_groups")):
            written = True
            found = self.label(item, groups, group_attr, body.line_of("security_groups"))
            if found is not None:
                labels.add(found)
        if labels or written:
            rules += _split(rule, Peer(groups=frozenset(labels)), pending, groups)

        prefix_value = body.attrs.get("prefix_list_ids")
        prefix_items = [prefix_value] if isinstance(prefix_value, Unknown) else listify(prefix_value)
        for item in prefix_items:
            lists = pending.fork()
            peer = self.prefix_list_peer(item, lists, "prefix_list_ids", body.line_of("prefix_list_ids"))
            rules.append(rule(peer or Peer(), lists))

        if not rules:
            if pending.items:
                rules.append(rule(Peer(), pending))
            else:
                self.ctx.problem(
                    ProblemKind.UNRESOLVED,
                    f"{key}: no cidr_blocks, ipv6_cidr_blocks, security_groups, self or prefix_list_ids: "
                    "the rule allows nothing (AWS rejects such a rule)",
                    at,
                    key=f"{key}:peer",
                )
        return rules

    def _vpc_rule(self, r: ResourceInstance) -> None:
        """``aws_vpc_security_group_{ingress,egress}_rule``: exactly one peer per rule."""
        body = r.body
        pending = Pending(self.ctx, r.address, r.address)
        pending.expansion(r)
        layer = self.rule_owner(r, pending)
        protocol, ports = protocol_and_ports(pending, body, "ip_protocol")
        addresses = EMPTY
        labels: set[str] = set()
        peer_description = ""
        peers = pending.fork()
        for attr in ("cidr_ipv4", "cidr_ipv6"):
            found, _ = addresses_of(peers, attr, body.attrs.get(attr), body.line_of(attr), self.ctx)
            addresses = addresses | found
        referenced = body.attrs.get("referenced_security_group_id")
        if referenced is not None:
            label = self.label(
                referenced,
                peers,
                "referenced_security_group_id",
                body.line_of("referenced_security_group_id"),
            )
            if label is not None:
                labels.add(label)
        prefix = body.attrs.get("prefix_list_id")
        if prefix is not None:
            peer = self.prefix_list_peer(prefix, peers, "prefix_list_id", body.line_of("prefix_list_id"))
            if peer is not None:
                addresses = addresses | peer.addresses
                labels |= peer.groups
                peer_description = peer.description
        peer = Peer(addresses=addresses, groups=frozenset(labels), description=peer_description)
        if not peer and not peers.items:
            self.ctx.problem(
                ProblemKind.UNRESOLVED,
                f"{r.address}: no cidr_ipv4, cidr_ipv6, referenced_security_group_id or prefix_list_id: "
                "the rule allows nothing (AWS rejects such a rule)",
                source(r.lines, r.address),
                key=f"{r.address}:peer",
            )
            return

        def rule(peer: Peer, unresolved: Pending) -> Rule:
            return Rule(
                Action.ALLOW,
                VPC_RULE_TYPES[r.type],
                protocol,
                ports,
                peer,
                source(r.lines, r.address),
                description=description_text(body.attrs.get("description")),
                unresolved=unresolved.snapshot(),
                key=r.address,
                origin=r.type,
            )

        self.drafts[layer].rules += _split(rule, peer, pending, peers)


def _split(make: Callable[[Peer, Pending], Rule], peer: Peer, base: Pending, peers: Pending) -> list[Rule]:
    """The rules of one peer kind whose list is partly unknown (``["0.0.0.0/0", var.x]``).

    The peers that are known are surely allowed: they make a rule of their own, unresolved
    only where the rest of the block is. The unknown part is a second rule with no known
    peer that may match anything; so a known public CIDR is never hidden behind a UNRESOLVED.
    """
    if len(peers.items) == len(base.items):
        return [make(peer, peers)]
    out = [make(peer, base)] if peer else []
    out.append(make(Peer(), peers))
    return out
