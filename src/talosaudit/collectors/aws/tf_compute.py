"""Machines: EC2 instances, launch templates and auto scaling groups, as node-group members.

A member is one machine definition (an instance resource instance, an ASG in one subnet, or a
launch template no ASG uses) with the security groups its interfaces carry, its subnet and
its address. Roles and grouping are decided by aws.py.

An element of a security group list that cannot be resolved (``var.extra_sg`` without a
value, the unknown rest of a partly known list) keeps its UNRESOLVED and becomes an
``UnresolvedGroups``: a layer whose rules are unknown, carried next to the member's known
groups, so a flow only it could allow is unknown rather than blocked. It is kept apart from
``Member.groups``, which alone decide roles and which machines are nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from talosaudit.collectors.aws.tf_common import (
    Context,
    Pending,
    describe_unknown,
    known_str,
    listify,
    tags_of,
)
from talosaudit.collectors.aws.tf_groups import SG_TYPES, SecurityGroups
from talosaudit.collectors.aws.tf_network import reference
from talosaudit.collectors.roles import RoleSubject
from talosaudit.collectors.terraform.mapping import source, strip_key, where
from talosaudit.collectors.terraform.values import Block, Lines, Ref, ResourceInstance
from talosaudit.model import EMPTY, AddressSet, SourceRef

#: The layer id of the security groups of a list element that could not be resolved.
UNRESOLVED_GROUPS = "unresolved-groups:"


@dataclass(frozen=True)
class UnresolvedGroups:
    """The security groups that ``expression`` stands for, located at its first reference."""

    id: str
    expression: str
    reason: str
    source: SourceRef


@dataclass(frozen=True)
class Member:
    base: str
    address: str
    kind: str
    subject: RoleSubject
    source: SourceRef
    groups: tuple[str, ...]
    subnet: str | None
    private_ip: AddressSet = EMPTY
    #: Said in the node group's origin, e.g. "count unknown".
    note: str = ""
    #: The launch template a member was made from (its role may be inherited from there).
    template: str = ""
    #: ``UnresolvedGroups`` ids: layers of the member's node group, never role evidence.
    unresolved: tuple[str, ...] = ()


@dataclass
class _Template:
    address: str
    name: str
    groups: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    subnet: str | None = None
    tags: list[tuple[str, str]] = field(default_factory=list)
    resource: ResourceInstance | None = None
    used: bool = False


def _names(r: ResourceInstance, tags: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    names = [("resource name", r.name)]
    name = known_str(r.body.attrs.get("name"))
    if name:
        names.append(("name", name))
    names += [(f"tag {k}", v) for k, v in tags if k.lower() == "name"]
    return tuple(names)


def machine_subject(
    r: ResourceInstance, tags: tuple[tuple[str, str], ...], addresses: AddressSet = EMPTY
) -> RoleSubject:
    return RoleSubject(r.address, _names(r, tags), tags, addresses, where(r.lines))


class Machines:
    def __init__(self, ctx: Context, groups: SecurityGroups, default_groups: dict[str, str]) -> None:
        self.ctx = ctx
        self.sgs = groups
        #: VPC -> address of its aws_default_security_group (what an interface without
        #: security groups gets).
        self.default_groups = default_groups
        self.templates: dict[str, _Template] = {}
        self.members: list[Member] = []
        #: One per distinct unresolved expression found in a security group list.
        self.unresolved: dict[str, UnresolvedGroups] = {}

    def build(self) -> list[Member]:
        for r in self.ctx.managed("aws_launch_template", "aws_launch_configuration"):
            self._template(r)
        for r in self.ctx.managed("aws_instance"):
            self._instance(r)
        for r in self.ctx.managed("aws_autoscaling_group"):
            self._asg(r)
        for t in self.templates.values():
            if not t.used and t.resource is not None:
                tags = tuple(sorted(set(t.tags)))
                self.members.append(
                    Member(
                        base=t.address,
                        address=t.address,
                        kind=t.resource.type,
                        subject=machine_subject(t.resource, tags),
                        source=source(t.resource.lines, t.address),
                        groups=tuple(sorted(set(t.groups))),
                        subnet=t.subnet,
                        note="not used by an auto scaling group in the configuration",
                        unresolved=tuple(sorted(set(t.unresolved))),
                    )
                )
        return self.members

    # -- security group lists -------------------------------------------------------------

    def _group_list(
        self, r: ResourceInstance, body: Block, attr: str, by_name: bool = False
    ) -> tuple[list[str], list[str]]:
        """The known groups of the list, and the ``UnresolvedGroups`` ids of its elements
        that could not be resolved (each already has its UNRESOLVED)."""
        value = body.attrs.get(attr)
        pending = Pending(self.ctx, r.address, r.address)
        lines = body.line_of(attr)
        if value is None:
            return [], []
        out: list[str] = []
        unresolved: list[str] = []
        for item in listify(value):
            label = self._group(item, pending, attr, lines, by_name)
            if label is not None:
                out.append(label)
            elif item is not None and item != "":  # a null element names no group
                unresolved.append(self._unresolved(item, lines))
        return out, unresolved

    def _unresolved(self, item: Any, lines: Lines) -> str:
        expression, reason = describe_unknown(item)
        ident = f"{UNRESOLVED_GROUPS}{expression}"
        at = SourceRef(lines.path, lines.start, lines.end, ident)
        found = self.unresolved.get(ident)
        if found is None or (at.path, at.start_line) < (found.source.path, found.source.start_line):
            self.unresolved[ident] = UnresolvedGroups(ident, expression, reason, at)
        return ident

    def _add_groups(
        self, r: ResourceInstance, t: _Template, body: Block, attr: str, by_name: bool = False
    ) -> None:
        groups, unresolved = self._group_list(r, body, attr, by_name)
        t.groups += groups
        t.unresolved += unresolved

    def _group(self, item: Any, pending: Pending, attr: str, lines: Lines, by_name: bool) -> str | None:
        target = self.ctx.target(item)
        if by_name and isinstance(item, str) and item in self.sgs.by_name:
            return self.sgs.by_name[item]
        if target is not None and target.type in SG_TYPES and target.mode == "managed":
            return target.address
        label = self.sgs.label(item, pending, attr, lines)
        if label is not None:
            # A group defined elsewhere: its rules are unknown (tf_groups.layer_rules); a
            # group the configuration defines is left as it is.
            self.sgs.external(label, label, SourceRef(lines.path, lines.start, lines.end, label))
        return label

    # -- resources ----------------------------------------------------------------------

    def _template(self, r: ResourceInstance) -> None:
        body = r.body
        name = known_str(body.attrs.get("name")) or r.address
        t = _Template(r.address, name, resource=r)
        if r.type == "aws_launch_configuration":
            self._add_groups(r, t, body, "security_groups")
        self._add_groups(r, t, body, "vpc_security_group_ids")
        self._add_groups(r, t, body, "security_group_names", by_name=True)
        for nic in body.blocks_of("network_interfaces"):
            self._add_groups(r, t, nic, "security_groups")
            if t.subnet is None:
                t.subnet = reference(self.ctx, nic.attrs.get("subnet_id"))
        t.tags += tags_of(body.attrs.get("tags"))
        for spec in body.blocks_of("tag_specifications"):
            kind = spec.attrs.get("resource_type")
            if kind in (None, "instance", "network-interface"):
                t.tags += tags_of(spec.attrs.get("tags"))
        self.templates[r.address] = t

    def _template_for(self, value: Any, by: str) -> _Template | None:
        target = self.ctx.target(value)
        if target is not None and target.address in self.templates:
            return self.templates[target.address]
        if isinstance(value, str):
            for t in self.templates.values():
                if (by == "name" and t.name == value) or t.address == value:
                    return t
        return None

    def _default_group(self) -> list[str]:
        """An interface without security groups gets its VPC's default group (known only
        when the configuration manages exactly one ``aws_default_security_group``)."""
        if len(self.default_groups) == 1:
            return list(self.default_groups.values())
        return []

    def _instance(self, r: ResourceInstance) -> None:
        body = r.body
        groups, unresolved = self._group_list(r, body, "vpc_security_group_ids")
        by_name, unresolved_by_name = self._group_list(r, body, "security_groups", by_name=True)
        groups += by_name
        unresolved += unresolved_by_name
        subnet = (
            reference(self.ctx, body.attrs.get("subnet_id"))
            if body.attrs.get("subnet_id") is not None
            else None
        )
        tags = list(tags_of(body.attrs.get("tags")))
        template_name = ""
        for lt in body.blocks_of("launch_template"):
            t = self._template_for(lt.attrs.get("id"), "id") or self._template_for(
                lt.attrs.get("name"), "name"
            )
            if t is not None:
                t.used = True
                template_name = t.address
                if not groups:
                    groups = list(t.groups)
                    unresolved += t.unresolved
                subnet = subnet or t.subnet
                tags += t.tags
        if not groups:
            groups = self._default_group()
        ip = EMPTY
        private_ip = body.attrs.get("private_ip")
        if isinstance(private_ip, str):
            try:
                ip = AddressSet.parse(private_ip)
            except ValueError:
                ip = EMPTY
        note = ""
        if r.expansion_unknown is not None:
            note = f"count unknown ({r.expansion_unknown.expression}): zero or more instances"
        tag_tuple = tuple(sorted(set(tags)))
        self.members.append(
            Member(
                base=strip_key(r.address),
                address=r.address,
                kind=r.type,
                subject=machine_subject(r, tag_tuple, ip),
                source=source(r.lines, r.address),
                groups=tuple(sorted(set(groups))),
                subnet=subnet,
                private_ip=ip,
                note=note,
                template=template_name,
                unresolved=tuple(sorted(set(unresolved))),
            )
        )

    def _asg(self, r: ResourceInstance) -> None:
        body = r.body
        templates: list[_Template] = []
        for lt in body.blocks_of("launch_template"):
            t = self._template_for(lt.attrs.get("id"), "id") or self._template_for(
                lt.attrs.get("name"), "name"
            )
            if t is not None:
                templates.append(t)
        for policy in body.blocks_of("mixed_instances_policy"):
            for lt in policy.blocks_of("launch_template"):
                for spec in lt.blocks_of("launch_template_specification"):
                    t = self._template_for(spec.attrs.get("launch_template_id"), "id") or self._template_for(
                        spec.attrs.get("launch_template_name"), "name"
                    )
                    if t is not None:
                        templates.append(t)
        lc = body.attrs.get("launch_configuration")
        if lc is not None:
            t = self._template_for(lc, "name")
            if t is not None:
                templates.append(t)
        groups: list[str] = []
        unresolved: list[str] = []
        tags: list[tuple[str, str]] = []
        subnet_default: str | None = None
        for t in templates:
            t.used = True
            groups += t.groups
            unresolved += t.unresolved
            tags += t.tags
            subnet_default = subnet_default or t.subnet
        for tag in body.blocks_of("tag"):
            key, value = tag.attrs.get("key"), tag.attrs.get("value")
            if isinstance(key, str) and isinstance(value, str | int | bool):
                tags.append((key, str(value)))
        for entry in listify(body.attrs.get("tags")):
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("key"), str)
                and isinstance(entry.get("value"), str)
            ):
                tags.append((entry["key"], entry["value"]))
        subnets: list[str | None] = []
        zone = body.attrs.get("vpc_zone_identifier")
        pending = Pending(self.ctx, r.address, r.address)
        if isinstance(zone, Ref):
            zone = self.ctx.resolve(zone)
        for item in listify(zone):
            ident = reference(self.ctx, item)
            if ident is None:
                pending.unknown("vpc_zone_identifier", item, body.line_of("vpc_zone_identifier"))
            else:
                subnets.append(ident)
        if not subnets:
            subnets = [subnet_default]
        if not groups:
            groups = self._default_group()
        tag_tuple = tuple(sorted(set(tags)))
        size = "/".join(
            str(body.attrs.get(a))
            for a in ("min_size", "desired_capacity", "max_size")
            if body.attrs.get(a) is not None
        )
        note = f"auto scaling group (min/desired/max {size})" if size else "auto scaling group"
        for subnet in dict.fromkeys(subnets):
            self.members.append(
                Member(
                    base=r.address,
                    address=r.address,
                    kind=r.type,
                    subject=machine_subject(r, tag_tuple),
                    source=source(r.lines, r.address),
                    groups=tuple(sorted(set(groups))),
                    subnet=subnet,
                    note=note,
                    template=templates[0].address if templates else "",
                    unresolved=tuple(sorted(set(unresolved))),
                )
            )


def default_groups_by_vpc(ctx: Context) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in ctx.managed("aws_default_security_group"):
        vpc = reference(ctx, r.body.attrs.get("vpc_id")) or ""
        out.setdefault(vpc, r.address)
    return out
