"""What an AWS security group becomes in the model, for the Terraform and the live AWS mappers.

Their drafts differ (Terraform addresses and attributes, ``sg-…`` ids and account data), but
the layer and the node group they make must agree: drift (TA503/TA504) compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from talosaudit.collectors.roles import NO_ROLE, RoleAssignment
from talosaudit.model import (
    Action,
    AddressSet,
    Layer,
    LayerKind,
    NodeGroup,
    Placement,
    Rule,
    Semantics,
    SourceRef,
)


def security_group_layer(
    group_id: str,
    *,
    name: str,
    source: SourceRef,
    rules: Iterable[Rule],
    attributes: Iterable[tuple[str, str]],
    assignment: RoleAssignment | None,
) -> Layer:
    """A stateful union of allows at the node that denies what no rule allows; the role and
    its reason follow the caller's attributes."""
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
        default_ingress=Action.DENY,
        default_egress=Action.DENY,
        stateful=True,
        attributes=tuple(shown),
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
