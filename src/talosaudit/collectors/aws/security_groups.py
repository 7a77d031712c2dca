"""What an AWS security group becomes in the model, for the Terraform and the live AWS mappers.

Their drafts differ (Terraform addresses and attributes, ``sg-…`` ids and account data), but
the layer and the node group they make must agree: drift compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from talosaudit.collectors.roles import NO_ROLE, RoleAssignment
from talosaudit.model import (
    ALL_PORTS,
    Action,
    AddressSet,
    Direction,
    Layer,
    LayerKind,
    NodeGroup,
    Peer,
    Placement,
    Rule,
    Semantics,
    SourceRef,
    Unresolved,
)

#: The ``Unresolved.field`` of the stand-in rules of a group whose rules are not in the inputs.
#: Reachability reads a field name that is neither an existence field (count, for_each, …) nor
#: a port, protocol, peer or local word as "may match every flow": the pessimistic pass drops
#: the rule, the optimistic one lets everything through, so a flow that only such a group
#: could allow is unknown, never blocked, and exposure checks (pessimistic) ignore it.
UNKNOWN_RULES_FIELD = "rules"
UNKNOWN_RULES_ORIGIN = "rules not in the scanned inputs"


def tag_text(tags: Iterable[tuple[str, str]]) -> str:
    """Tags as one attribute value: ``k=v, k=v``."""
    return ", ".join(f"{k}={v}" for k, v in tags)


def name_tag(tags: Iterable[tuple[str, str]]) -> str:
    """The value of the ``Name`` tag (any case), or ""."""
    return next((v for k, v in tags if k.lower() == "name"), "")


def described(tags: tuple[tuple[str, str], ...], vpc: str, description: str = "") -> list[tuple[str, str]]:
    """The attributes every AWS input gives a group, in one order: tags, VPC, description."""
    out: list[tuple[str, str]] = []
    if tags:
        out.append(("tags", tag_text(tags)))
    if vpc:
        out.append(("vpc", vpc))
    if description:
        out.append(("description", description))
    return out


def security_group_layer(
    group_id: str,
    *,
    name: str,
    source: SourceRef,
    rules: Iterable[Rule],
    attributes: Iterable[tuple[str, str]],
    assignment: RoleAssignment | None,
) -> Layer:
    """A stateful union of allows at the node that denies what no rule allows (the ``Layer``
    defaults: deny both ways, stateful); the role and its reason follow the caller's
    attributes."""
    shown = list(attributes)
    if assignment is not None:
        shown += [("role", assignment.role.label), ("role_reason", assignment.reason)]
    return Layer(
        id=group_id,
        kind=LayerKind.SECURITY_GROUP,
        name=name,
        source=source,
        semantics=Semantics.UNION_OF_ALLOWS,
        placement=Placement.NODE,
        rules=tuple(rules),
        attributes=tuple(shown),
    )


def unknown_rules(
    group_id: str, source: SourceRef, reason: str, *, expression: str = "", shown: str = ""
) -> tuple[Rule, ...]:
    """An ingress and an egress allow that stand for the unknown rules of ``group_id``.

    AWS unites the rules of every security group an interface carries, so a group whose rules
    are not known may allow anything; the rules are unresolved, never a guess. ``expression``
    (what could not be resolved, default ``group_id``) and ``shown`` (how the texts name the
    groups, default ``group_id``) serve a layer that stands for groups whose ids are unknown.
    """
    shown = shown or group_id
    unresolved = (Unresolved(UNKNOWN_RULES_FIELD, expression or group_id, reason),)
    return tuple(
        Rule(
            Action.ALLOW,
            direction,
            None,
            ALL_PORTS,
            Peer(description=f"whatever the rules of {shown} allow (not known)"),
            source,
            # A description, so that the no-description rule does not ask for one on a rule nobody wrote.
            description=f"the {direction.value} rules of {shown}, {reason}",
            unresolved=unresolved,
            key=f"{group_id}/unknown {direction.value} rules",
            origin=UNKNOWN_RULES_ORIGIN,
        )
        for direction in (Direction.INGRESS, Direction.EGRESS)
    )


def is_unknown_rules(rule: Rule) -> bool:
    """A stand-in of ``unknown_rules``: no rule anyone wrote (drift and rule checks skip it)."""
    return rule.origin == UNKNOWN_RULES_ORIGIN and any(
        u.field == UNKNOWN_RULES_FIELD for u in rule.unresolved
    )


def group_without_instances(
    group_id: str,
    *,
    source: SourceRef,
    assignment: RoleAssignment | None,
    addresses: AddressSet,
    address_reason: str,
) -> NodeGroup:
    """The nodes of a security group that no instance carries: they stand somewhere in
    ``addresses`` (the group's VPC, as far as it is known)."""
    return NodeGroup(
        id=f"nodes:{group_id}",
        name=f"nodes carrying {group_id}",
        role=assignment.role if assignment else None,
        role_reason=assignment.reason if assignment else NO_ROLE,
        source=source,
        addresses=addresses,
        address_reason=address_reason,
        labels=frozenset({group_id}),
        layers=(group_id,),
        origin="security group without instances",
    )
