"""What an AWS network ACL becomes in the model, for the Terraform and the live AWS mappers."""

from __future__ import annotations

from collections.abc import Iterable

from talosaudit.collectors.aws.security_groups import tag_text
from talosaudit.model import Action, Layer, LayerKind, Placement, Rule, Semantics, SourceRef


def acl_attributes(vpc: str, tags: tuple[tuple[str, str], ...], default: bool) -> list[tuple[str, str]]:
    """The attributes every AWS input gives a network ACL, in one order."""
    out: list[tuple[str, str]] = []
    if vpc:
        out.append(("vpc", vpc))
    if tags:
        out.append(("tags", tag_text(tags)))
    if default:
        out.append(("default", "true"))
    return out


def network_acl_layer(
    acl_id: str,
    *,
    name: str,
    source: SourceRef,
    rules: Iterable[Rule],
    subnets: Iterable[str],
    attributes: Iterable[tuple[str, str]],
) -> Layer:
    """A stateless first-match list at the subnet edge; what no entry matches is denied."""
    return Layer(
        id=acl_id,
        kind=LayerKind.NETWORK_ACL,
        name=name,
        source=source,
        semantics=Semantics.FIRST_MATCH,
        placement=Placement.SEGMENT,
        rules=tuple(rules),
        default_ingress=Action.DENY,
        default_egress=Action.DENY,
        stateful=False,
        segments=tuple(subnets),
        attributes=tuple(attributes),
    )
