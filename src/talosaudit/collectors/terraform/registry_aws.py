"""What the terraform-aws-modules modules create from their inputs (see registry_modules).

Each reader takes one call instance and adds the resources the module would create, named
as the module names them (``module.sg.aws_security_group.this_name_prefix[0]``), and returns
the module's outputs. Interfaces followed: security-group v3-v5 (rule lists and presets) and
v6 (rule maps); ec2-instance v3-v5; autoscaling v6-v8; elb v2-v4; alb v6-v9.
"""

from __future__ import annotations

from typing import Any

from talosaudit.collectors.terraform.registry_modules import Call, Item, Synthesiser, as_bool, preset
from talosaudit.collectors.terraform.registry_presets import SUBMODULE_INGRESS
from talosaudit.collectors.terraform.values import Block, Lines, Ref, Unknown

_SG_RULE = "aws_security_group_rule"

# ---------------------------------------------------------------------- security-group

#: Which peer a rule list gives its rules: (input, direction, peer kind).
_LISTS = (
    ("ingress_with_cidr_blocks", "ingress", "cidr"),
    ("ingress_with_ipv6_cidr_blocks", "ingress", "ipv6"),
    ("ingress_with_source_security_group_id", "ingress", "group"),
    ("ingress_with_self", "ingress", "self"),
    ("ingress_with_prefix_list_ids", "ingress", "prefix"),
    ("egress_with_cidr_blocks", "egress", "cidr"),
    ("egress_with_ipv6_cidr_blocks", "egress", "ipv6"),
    ("egress_with_source_security_group_id", "egress", "group"),
    ("egress_with_self", "egress", "self"),
    ("egress_with_prefix_list_ids", "egress", "prefix"),
)
_DEFAULT_CIDRS = {
    "ingress_cidr_blocks": [],
    "ingress_ipv6_cidr_blocks": [],
    "ingress_prefix_list_ids": [],
    "egress_cidr_blocks": ["0.0.0.0/0"],
    "egress_ipv6_cidr_blocks": ["::/0"],
    "egress_prefix_list_ids": [],
}


def _comma_list(value: Any, fallback: Any) -> Any:
    """``split(",", lookup(rule, "cidr_blocks", join(",", fallback)))``."""
    if value is None:
        return fallback
    if isinstance(value, str):
        return value.split(",")
    return value  # a list (Terraform would reject it; read it anyway) or an unknown


def security_group(call: Call) -> dict[str, Any]:
    major = call.source.major
    ingress_value = call.arg("ingress_rules") if call.has("ingress_rules") else None
    if (major is not None and major >= 6) or isinstance(ingress_value, dict):
        return _security_group_v6(call)
    create = as_bool(call.arg("create"), True)
    create_sg = as_bool(call.arg("create_sg"), True)
    name = call.arg("name")
    if create is False:
        return {p + k: None for p in _sg_output_prefixes(major) for k in _SG_OUTPUTS}
    sg_id: Any
    sg_address = ""
    if create_sg is False:
        sg_id = call.arg("security_group_id")
    else:
        prefix = as_bool(call.arg("use_name_prefix"), True)
        tags = call.arg("tags") or {}
        merged_tags = {"Name": name, **tags} if isinstance(tags, dict) else tags
        attrs: dict[str, tuple[Any, Lines]] = {
            "description": (
                call.arg("description", "Security Group managed by Terraform"),
                call.arg_lines("description"),
            ),
            "vpc_id": (call.arg("vpc_id"), call.arg_lines("vpc_id")),
            "tags": (merged_tags, call.arg_lines("tags")),
        }
        if prefix is False:
            attrs["name"] = (name, call.arg_lines("name"))
        else:
            # The group's name is "<name>-<random>"; the name the user wrote is what
            # identifies it (and its Name tag).
            attrs["name"] = (name, call.arg_lines("name"))
            attrs["name_prefix"] = (f"{name}-" if isinstance(name, str) else name, call.arg_lines("name"))
        sg_address = call.add(
            "aws_security_group", "this" if prefix is False else "this_name_prefix", 0, call.lines(), attrs
        )
        sg_id = Ref(sg_address, "id")
    for name_ in ("revoke_rules_on_delete", "description", "tags", "create_timeout", "delete_timeout"):
        call.used.add(name_)
    # Rules often name other groups (module.workers_sg.security_group_id) that name this
    # one back: they are read once every module's outputs exist.
    call.later(lambda: _sg_rules(call, sg_id))
    values = {
        "id": sg_id,
        "arn": Ref(sg_address, "arn") if sg_address else None,
        "vpc_id": call.arg("vpc_id"),
        "owner_id": Ref(sg_address, "owner_id") if sg_address else None,
        "name": name,
        "description": call.arg("description", "Security Group managed by Terraform"),
    }
    return {prefix + key: value for prefix in _sg_output_prefixes(major) for key, value in values.items()}


_SG_OUTPUTS = ("id", "arn", "vpc_id", "owner_id", "name", "description")


def _sg_output_prefixes(major: int | None) -> list[str]:
    """v4 dropped the ``this_`` prefix of the outputs (``this_security_group_id``)."""
    return ["security_group_"] + (["this_security_group_"] if major is None or major < 4 else [])


def _sg_rules(call: Call, sg_id: Any) -> None:
    cidrs = {k: call.arg(k, v) for k, v in _DEFAULT_CIDRS.items()}
    sub = call.source.submodule
    # Preset submodules add their own rules to what the caller lists.
    auto: dict[str, Any] = {}
    if sub:
        auto = {
            "ingress_rules": call.arg("auto_ingress_rules", list(SUBMODULE_INGRESS[sub])),
            "ingress_with_self": call.arg("auto_ingress_with_self", [{"rule": "all-all"}]),
            "egress_rules": call.arg("auto_egress_rules", ["all-all"]),
            "egress_with_self": call.arg("auto_egress_with_self", []),
        }
    for direction in ("ingress", "egress"):
        for prefix in ("", "computed_"):
            input_name = f"{prefix}{direction}_rules"
            items = _counted(call, input_name, prefix)
            if prefix == "" and input_name in auto and isinstance(items, list):
                items = [Item(v, call.source_lines()) for v in auto[input_name] or []] + items
            _named_rules(call, sg_id, input_name, items=items, direction=direction, cidrs=cidrs)
    for input_name, direction, kind in _LISTS:
        for prefix in ("", "computed_"):
            full = prefix + input_name
            items = _counted(call, full, prefix)
            if prefix == "" and input_name in auto and isinstance(items, list):
                items = [Item(v, call.source_lines()) for v in auto[input_name] or []] + items
            _map_rules(call, sg_id, full, items=items, direction=direction, kind=kind, cidrs=cidrs)


def _counted(call: Call, input_name: str, prefix: str) -> list[Item] | Unknown:
    items = call.items(input_name)
    if not prefix:
        return items
    number = call.arg(f"number_of_{input_name}")
    if isinstance(items, list) and isinstance(number, int) and not isinstance(number, bool):
        return items[:number]
    return items


def _unknown_rule(call: Call, sg_id: Any, input_name: str, direction: str, value: Unknown) -> None:
    lines = call.arg_lines(input_name)
    call.add(
        _SG_RULE,
        input_name,
        None,
        lines,
        {
            "security_group_id": (sg_id, lines),
            "type": (direction, lines),
            "protocol": (Unknown(f"{input_name}[*]", value.reason), lines),
        },
        unknown=value,
        unknown_attr=input_name,
        unknown_lines=lines,
    )


def _named_rules(
    call: Call,
    sg_id: Any,
    input_name: str,
    *,
    items: list[Item] | Unknown,
    direction: str,
    cidrs: dict[str, Any],
) -> None:
    if isinstance(items, Unknown):
        _unknown_rule(call, sg_id, input_name, direction, items)
        return
    for index, item in enumerate(items):
        found = preset(item.value)
        lines = item.lines
        attrs: dict[str, tuple[Any, Lines]] = {
            "security_group_id": (sg_id, lines),
            "type": (direction, lines),
            "cidr_blocks": (cidrs[f"{direction}_cidr_blocks"], call.arg_lines(f"{direction}_cidr_blocks")),
            "ipv6_cidr_blocks": (
                cidrs[f"{direction}_ipv6_cidr_blocks"],
                call.arg_lines(f"{direction}_ipv6_cidr_blocks"),
            ),
            "prefix_list_ids": (
                cidrs[f"{direction}_prefix_list_ids"],
                call.arg_lines(f"{direction}_prefix_list_ids"),
            ),
        }
        attrs.update(_ports(found, item.value, lines, None))
        call.add(_SG_RULE, input_name, index, lines, attrs)


def _ports(
    found: tuple[int, int, str, str] | None, rule: Any, lines: Lines, fields: dict[str, Any] | None
) -> dict[str, tuple[Any, Lines]]:
    """from_port/to_port/protocol/description of a rule: explicit fields win over the preset."""
    fields = fields or {}
    missing = Unknown(f"rule {rule!r}", "not a preset of terraform-aws-modules/security-group")
    if isinstance(rule, Unknown):
        missing = rule
    preset_values = found if found is not None else (missing, missing, missing, "")
    out: dict[str, tuple[Any, Lines]] = {}
    for index, attr in enumerate(("from_port", "to_port", "protocol")):
        value = fields.get(attr, preset_values[index] if (found is not None or rule is not None) else None)
        out[attr] = (value, lines)
    out["description"] = (fields.get("description", preset_values[3] or None), lines)
    return out


def _map_rules(
    call: Call,
    sg_id: Any,
    input_name: str,
    *,
    items: list[Item] | Unknown,
    direction: str,
    kind: str,
    cidrs: dict[str, Any],
) -> None:
    if isinstance(items, Unknown):
        _unknown_rule(call, sg_id, input_name, direction, items)
        return
    default_description = "Ingress Rule" if direction == "ingress" else "Egress Rule"
    for index, item in enumerate(items):
        lines = item.lines
        element = item.value
        if isinstance(element, Unknown | Ref) or not isinstance(element, dict):
            unknown = (
                element
                if isinstance(element, Unknown)
                else Unknown(f"{input_name}[{index}]", "not an object")
            )
            _unknown_rule(call, sg_id, input_name, direction, unknown)
            continue
        rule = element.get("rule")
        found = preset(rule)
        fields = {k: element[k] for k in ("from_port", "to_port", "protocol", "description") if k in element}
        attrs = _ports(found, rule, lines, fields)
        if attrs["description"][0] is None:
            attrs["description"] = (default_description, lines)
        for attr, (value, _) in list(attrs.items()):
            attrs[attr] = (value, item.fields.get(attr, lines) if attr in element else lines)
        attrs["security_group_id"] = (sg_id, lines)
        attrs["type"] = (direction, lines)
        field_at = item.fields
        if kind == "cidr":
            value = _comma_list(element.get("cidr_blocks"), cidrs[f"{direction}_cidr_blocks"])
            where = field_at.get("cidr_blocks", call.arg_lines(f"{direction}_cidr_blocks"))
            attrs["cidr_blocks"] = (value, where)
        elif kind == "ipv6":
            value = _comma_list(element.get("ipv6_cidr_blocks"), cidrs[f"{direction}_ipv6_cidr_blocks"])
            where = field_at.get("ipv6_cidr_blocks", call.arg_lines(f"{direction}_ipv6_cidr_blocks"))
            attrs["ipv6_cidr_blocks"] = (value, where)
        elif kind == "group":
            value = element.get(
                "source_security_group_id",
                Unknown(f"{input_name}[{index}].source_security_group_id", "not set"),
            )
            attrs["source_security_group_id"] = (value, field_at.get("source_security_group_id", lines))
        elif kind == "self":
            attrs["self"] = (element.get("self", True), field_at.get("self", lines))
        if kind == "prefix":
            value = _comma_list(element.get("prefix_list_ids"), cidrs[f"{direction}_prefix_list_ids"])
            where = field_at.get("prefix_list_ids", call.arg_lines(f"{direction}_prefix_list_ids"))
            attrs["prefix_list_ids"] = (value, where)
        else:  # the module adds the group-wide prefix lists to every rule
            attrs["prefix_list_ids"] = (
                cidrs[f"{direction}_prefix_list_ids"],
                call.arg_lines(f"{direction}_prefix_list_ids"),
            )
        call.add(_SG_RULE, input_name, index, lines, attrs)


def _security_group_v6(call: Call) -> dict[str, Any]:
    """v6: ``ingress_rules``/``egress_rules`` are maps of single-peer rules."""
    create = as_bool(call.arg("create"), True)
    if create is False:
        return {"id": None, "arn": None, "name": None, "vpc_id": None, "owner_id": None}
    name = call.arg("name")
    prefix = as_bool(call.arg("use_name_prefix"), True)
    for unused in (
        "description",
        "tags",
        "revoke_rules_on_delete",
        "enable_exclusive_rules",
        "region",
        "timeouts",
    ):
        call.used.add(unused)
    sg_address = call.add(
        "aws_security_group",
        "this",
        0,
        call.lines(),
        {
            "name": (name, call.arg_lines("name")),
            "name_prefix": (
                f"{name}-" if prefix is not False and isinstance(name, str) else None,
                call.arg_lines("name"),
            ),
            "description": (call.arg("description"), call.arg_lines("description")),
            "vpc_id": (call.arg("vpc_id"), call.arg_lines("vpc_id")),
            "tags": (call.arg("tags") or {}, call.arg_lines("tags")),
        },
    )
    sg_id = Ref(sg_address, "id")

    def rules() -> None:
        for direction in ("ingress", "egress"):
            input_name = f"{direction}_rules"
            items = call.items(input_name)
            rule_type = f"aws_vpc_security_group_{direction}_rule"
            if isinstance(items, Unknown):
                lines = call.arg_lines(input_name)
                call.add(
                    rule_type,
                    "this",
                    None,
                    lines,
                    {"security_group_id": (sg_id, lines), "ip_protocol": (items, lines)},
                    unknown=items,
                    unknown_attr=input_name,
                    unknown_lines=lines,
                )
                continue
            for item in items:
                element = item.value if isinstance(item.value, dict) else {}
                key = element.get("key")
                lines = item.lines
                lo, hi = element.get("from_port"), element.get("to_port")
                attrs: dict[str, tuple[Any, Lines]] = {
                    "security_group_id": (sg_id, lines),
                    "ip_protocol": (element.get("ip_protocol"), lines),
                    "from_port": (lo if lo is not None else hi, lines),
                    "to_port": (hi if hi is not None else lo, lines),
                    "description": (element.get("description"), lines),
                }
                for attr in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"):
                    if element.get(attr) is not None:
                        value = element[attr]
                        attrs[attr] = (
                            sg_id if attr == "referenced_security_group_id" and value == "self" else value,
                            lines,
                        )
                call.add(rule_type, "this", key if isinstance(key, str) else None, lines, attrs)

    call.later(rules)
    return {
        "id": sg_id,
        "arn": Ref(sg_address, "arn"),
        "name": name,
        "vpc_id": call.arg("vpc_id"),
        "owner_id": Ref(sg_address, "owner_id"),
    }


# ------------------------------------------------------------------------ ec2-instance


def ec2_instance(call: Call) -> dict[str, Any]:
    create = as_bool(call.arg("create"), True)
    names = (
        "id",
        "arn",
        "private_ip",
        "public_ip",
        "private_dns",
        "public_dns",
        "availability_zone",
        "primary_network_interface_id",
        "tags_all",
        "ipv6_addresses",
    )
    if create is False:
        return {n: None for n in names}
    name = call.arg("name", "")
    tags = call.arg("tags") or {}
    instance_tags = call.arg("instance_tags") or {}
    merged: Any = {"Name": name}
    for extra in (instance_tags, tags):
        merged = (
            {**merged, **extra}
            if isinstance(merged, dict) and isinstance(extra, dict)
            else (extra if isinstance(extra, Unknown) else merged)
        )
    spot = as_bool(call.arg("create_spot_instance"), False)
    ignore_ami = as_bool(call.arg("ignore_ami_changes"), False)
    resource_name = "ignore_ami" if ignore_ami is True else "this"
    attrs: dict[str, tuple[Any, Lines]] = {
        "tags": (merged, call.arg_lines("tags") if call.has("tags") else call.arg_lines("name")),
    }
    attrs.update(
        call.written(
            (
                "vpc_security_group_ids",
                "subnet_id",
                "private_ip",
                "associate_public_ip_address",
                "availability_zone",
            )
        )
    )
    launch_template = call.arg("launch_template")
    blocks: tuple[Block, ...] = ()
    if isinstance(launch_template, dict) and launch_template:
        lt_lines = call.arg_lines("launch_template")
        blocks = (
            Block(
                "launch_template",
                (),
                {k: launch_template.get(k) for k in ("id", "name", "version") if k in launch_template},
                {k: lt_lines for k in ("id", "name", "version")},
                (),
                lt_lines,
            ),
        )
    address = call.add(
        "aws_instance",
        resource_name if spot is not True else "spot",
        0,
        call.lines(),
        attrs,
        blocks=blocks,
    )
    private_ip = call.arg("private_ip")
    outputs: dict[str, Any] = {n: Ref(address, n) for n in names}
    outputs["private_ip"] = private_ip if isinstance(private_ip, str) else Ref(address, "private_ip")
    outputs["tags_all"] = merged
    outputs["availability_zone"] = call.arg("availability_zone") or Ref(address, "availability_zone")
    return outputs


# ------------------------------------------------------------------------- autoscaling


def autoscaling(call: Call) -> dict[str, Any]:
    create = as_bool(call.arg("create"), True)
    outputs: dict[str, Any] = {}
    if create is False:
        return outputs
    name = call.arg("name")
    instance_name = call.arg("instance_name") or name
    create_lt = as_bool(call.arg("create_launch_template"), True)
    lt_ref: dict[str, Any]
    if create_lt is not False:
        lt_name = call.arg("launch_template_name") or name
        lt_attrs: dict[str, tuple[Any, Lines]] = {"name": (lt_name, call.arg_lines("launch_template_name"))}
        if call.has("security_groups"):
            lt_attrs["vpc_security_group_ids"] = (
                call.arg("security_groups"),
                call.arg_lines("security_groups"),
            )
        lt_address = call.add("aws_launch_template", "this", 0, call.lines(), lt_attrs)
        lt_ref = {"id": Ref(lt_address, "id"), "version": call.arg("launch_template_version")}
        outputs.update(
            launch_template_id=Ref(lt_address, "id"),
            launch_template_arn=Ref(lt_address, "arn"),
            launch_template_name=lt_name,
            launch_template_latest_version=Ref(lt_address, "latest_version"),
            launch_template_default_version=Ref(lt_address, "default_version"),
        )
    else:
        lt_ref = {
            "id": call.arg("launch_template_id"),
            "name": call.arg("launch_template") or call.arg("launch_template_name"),
        }
        call.used.add("security_groups")
    lt_lines = call.arg_lines("launch_template_name") if call.has("launch_template_name") else call.lines()
    launch_block = Block("launch_template", (), lt_ref, {k: lt_lines for k in lt_ref}, (), lt_lines)
    tag_blocks: list[Block] = []
    tags = call.arg("tags") or {}
    merged = {"Name": instance_name, **tags} if isinstance(tags, dict) else {"Name": instance_name}
    tag_lines = call.arg_lines("tags") if call.has("tags") else call.arg_lines("name")
    for key, value in merged.items():
        tag_blocks.append(
            Block("tag", (), {"key": key, "value": value, "propagate_at_launch": True}, {}, (), tag_lines)
        )
    attrs: dict[str, tuple[Any, Lines]] = {"name": (name, call.arg_lines("name"))}
    attrs.update(
        call.written(
            (
                "vpc_zone_identifier",
                "min_size",
                "max_size",
                "desired_capacity",
                "target_group_arns",
                "traffic_source_attachments",
                "availability_zones",
                "load_balancers",
            )
        )
    )
    ignore = as_bool(call.arg("ignore_desired_capacity_changes"), False)
    asg = call.add(
        "aws_autoscaling_group",
        "idc" if ignore is True else "this",
        0,
        call.lines(),
        attrs,
        blocks=(launch_block, *tag_blocks),
    )
    outputs.update(
        autoscaling_group_id=Ref(asg, "id"),
        autoscaling_group_name=Ref(asg, "name"),
        autoscaling_group_arn=Ref(asg, "arn"),
        autoscaling_group_min_size=call.arg("min_size"),
        autoscaling_group_max_size=call.arg("max_size"),
        autoscaling_group_desired_capacity=call.arg("desired_capacity"),
        autoscaling_group_vpc_zone_identifier=call.arg("vpc_zone_identifier"),
        autoscaling_group_target_group_arns=call.arg("target_group_arns"),
    )
    return outputs


# ---------------------------------------------------------------------- elb and alb


def elb(call: Call) -> dict[str, Any]:
    """Classic load balancer (``module.x.module.elb.aws_elb.this[0]`` in the module)."""
    create = as_bool(call.arg("create_elb"), True)
    if create is False:
        return {}
    listener_blocks: list[Block] = []
    listeners = call.items("listener")
    if isinstance(listeners, list):
        for item in listeners:
            if isinstance(item.value, dict):
                listener_blocks.append(
                    Block("listener", (), dict(item.value), dict(item.fields), (), item.lines)
                )
    attrs: dict[str, tuple[Any, Lines]] = {"name": (call.arg("name"), call.arg_lines("name"))}
    attrs.update(call.written(("internal", "subnets", "security_groups", "instances")))
    attrs.setdefault("internal", (False, call.lines()))
    address = call.add("aws_elb", "this", 0, call.lines(), attrs, blocks=tuple(listener_blocks))
    return {
        "elb_id": Ref(address, "id"),
        "elb_arn": Ref(address, "arn"),
        "elb_name": call.arg("name"),
        "elb_dns_name": Ref(address, "dns_name"),
        "elb_zone_id": Ref(address, "zone_id"),
        "elb_security_group_ids": call.arg("security_groups"),
        "elb_instances": call.arg("instances"),
    }


def alb(call: Call) -> dict[str, Any]:
    """Application/network load balancer: the LB, its listeners and target groups (v9 maps,
    v6-v8 lists) and, in v9, the security group it creates."""
    create = as_bool(call.arg("create"), True)
    if create is False or as_bool(call.arg("create_lb"), True) is False:
        return {}
    lb_type = call.arg("load_balancer_type", "application")
    attrs: dict[str, tuple[Any, Lines]] = {
        "name": (call.arg("name"), call.arg_lines("name")),
        "load_balancer_type": (lb_type, call.arg_lines("load_balancer_type")),
        "internal": (call.arg("internal", False), call.arg_lines("internal")),
    }
    attrs.update(call.written(("subnets", "security_groups", "vpc_id")))
    sg_ids: list[Any] = []
    if (call.source.major is None or call.source.major >= 9) and as_bool(
        call.arg("create_security_group"), True
    ) is not False:
        sg = call.add(
            "aws_security_group",
            "this",
            0,
            call.lines(),
            {
                "name": (call.arg("security_group_name") or call.arg("name"), call.arg_lines("name")),
                "vpc_id": (call.arg("vpc_id"), call.arg_lines("vpc_id")),
                "description": (
                    call.arg("security_group_description"),
                    call.arg_lines("security_group_description"),
                ),
                "tags": (call.arg("security_group_tags") or {}, call.arg_lines("security_group_tags")),
            },
        )
        sg_ids.append(Ref(sg, "id"))

        def rules(sg: str = sg) -> None:
            for direction in ("ingress", "egress"):
                input_name = f"security_group_{direction}_rules"
                items = call.items(input_name)
                if isinstance(items, Unknown):
                    continue
                for item in items:
                    element = item.value if isinstance(item.value, dict) else {}
                    rule: dict[str, tuple[Any, Lines]] = {"security_group_id": (Ref(sg, "id"), item.lines)}
                    for attr in (
                        "ip_protocol",
                        "from_port",
                        "to_port",
                        "description",
                        "cidr_ipv4",
                        "cidr_ipv6",
                        "prefix_list_id",
                        "referenced_security_group_id",
                    ):
                        if element.get(attr) is not None:
                            rule[attr] = (element[attr], item.fields.get(attr, item.lines))
                    rule.setdefault("ip_protocol", ("tcp", item.lines))
                    key = element.get("key")
                    call.add(
                        f"aws_vpc_security_group_{direction}_rule",
                        "this",
                        key if isinstance(key, str) else None,
                        item.lines,
                        rule,
                    )

        call.later(rules)
        existing = attrs.get("security_groups", ([], call.lines()))
        attrs["security_groups"] = (
            sg_ids + (existing[0] if isinstance(existing[0], list) else []),
            existing[1],
        )
    lb = call.add("aws_lb", "this", 0, call.lines(), attrs)
    target_groups: dict[str, Any] = {}
    tg_items = call.items("target_groups")
    if isinstance(tg_items, list):
        for index, item in enumerate(tg_items):
            element = item.value if isinstance(item.value, dict) else {}
            key = element.get("key", index)
            tg_attrs: dict[str, tuple[Any, Lines]] = {}
            for attr in ("name", "port", "protocol", "target_type", "vpc_id"):
                if element.get(attr) is not None:
                    tg_attrs[attr] = (element[attr], item.fields.get(attr, item.lines))
            tg_attrs.setdefault("vpc_id", (call.arg("vpc_id"), call.arg_lines("vpc_id")))
            target_groups[str(key)] = Ref(
                call.add("aws_lb_target_group", "this", key, item.lines, tg_attrs), "arn"
            )
            # v9: one target per target group (``target_id``), attached unless
            # ``create_attachment = false``.
            if (
                element.get("target_id") is not None
                and as_bool(element.get("create_attachment"), True) is not False
            ):
                call.add(
                    "aws_lb_target_group_attachment",
                    "this",
                    key,
                    item.lines,
                    {
                        "target_group_arn": (target_groups[str(key)], item.lines),
                        "target_id": (element["target_id"], item.fields.get("target_id", item.lines)),
                    },
                )
    for input_name in ("listeners", "http_tcp_listeners", "https_listeners"):
        items = call.items(input_name)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            element = item.value if isinstance(item.value, dict) else {}
            key = element.get("key", index)
            l_attrs: dict[str, tuple[Any, Lines]] = {"load_balancer_arn": (Ref(lb, "arn"), item.lines)}
            for attr in ("port", "protocol"):
                if element.get(attr) is not None:
                    l_attrs[attr] = (element[attr], item.fields.get(attr, item.lines))
            forward = element.get("forward")
            tg_key = (
                forward.get("target_group_key")
                if isinstance(forward, dict)
                else element.get("target_group_index")
            )
            actions: tuple[Block, ...] = ()
            if tg_key is not None and str(tg_key) in target_groups:
                actions = (
                    Block(
                        "default_action",
                        (),
                        {"type": "forward", "target_group_arn": target_groups[str(tg_key)]},
                        {},
                        (),
                        item.lines,
                    ),
                )
            name = "this" if input_name == "listeners" else input_name.removesuffix("s")
            call.add("aws_lb_listener", name, key, item.lines, l_attrs, blocks=actions)
    return {
        "id": Ref(lb, "id"),
        "arn": Ref(lb, "arn"),
        "dns_name": Ref(lb, "dns_name"),
        "zone_id": Ref(lb, "zone_id"),
        "lb_id": Ref(lb, "id"),
        "lb_arn": Ref(lb, "arn"),
        "lb_dns_name": Ref(lb, "dns_name"),
        "lb_zone_id": Ref(lb, "zone_id"),
        "security_group_id": sg_ids[0] if sg_ids else None,
        "target_groups": {k: {"arn": v} for k, v in target_groups.items()},
        "target_group_arns": list(target_groups.values()),
    }


SYNTHESISERS: dict[str, Synthesiser] = {
    "security-group": security_group,
    "ec2-instance": ec2_instance,
    "autoscaling": autoscaling,
    "elb": elb,
    "alb": alb,
}

_COMMON = frozenset({"tags", "putin_khuylo", "region", "timeouts"})
#: Inputs that do not change who can reach a node: never a reason for an unresolved problem.
IRRELEVANT: dict[str, frozenset[str]] = {
    "security-group": _COMMON | {"description", "revoke_rules_on_delete", "create_timeout", "delete_timeout"},
    "ec2-instance": _COMMON
    | {
        "ami",
        "ami_ssm_parameter",
        "instance_type",
        "monitoring",
        "root_block_device",
        "ebs_block_device",
        "ephemeral_block_device",
        "iam_role_use_name_prefix",
        "iam_role_name",
        "iam_role_path",
        "iam_role_description",
        "iam_role_permissions_boundary",
        "iam_role_policies",
        "iam_role_tags",
        "create_iam_instance_profile",
        "iam_instance_profile",
        "user_data",
        "user_data_base64",
        "user_data_replace_on_change",
        "key_name",
        "metadata_options",
        "cpu_options",
        "cpu_core_count",
        "cpu_threads_per_core",
        "cpu_credits",
        "credit_specification",
        "disable_api_termination",
        "disable_api_stop",
        "ebs_optimized",
        "hibernation",
        "get_password_data",
        "placement_group",
        "placement_partition_number",
        "tenancy",
        "host_id",
        "volume_tags",
        "enable_volume_tags",
        "capacity_reservation_specification",
        "maintenance_options",
        "enclave_options_enabled",
        "instance_initiated_shutdown_behavior",
        "source_dest_check",
        "private_dns_name_options",
        "spot_price",
        "spot_type",
        "spot_wait_for_fulfillment",
        "spot_launch_group",
        "spot_block_duration_minutes",
        "spot_instance_interruption_behavior",
        "spot_valid_until",
        "spot_valid_from",
        "create_eip",
        "eip_domain",
        "eip_tags",
        "instance_market_options",
    },
    "autoscaling": _COMMON
    | {
        "image_id",
        "instance_type",
        "user_data",
        "key_name",
        "health_check_type",
        "health_check_grace_period",
        "wait_for_capacity_timeout",
        "min_elb_capacity",
        "wait_for_elb_capacity",
        "default_cooldown",
        "default_instance_warmup",
        "termination_policies",
        "suspended_processes",
        "max_instance_lifetime",
        "enabled_metrics",
        "metrics_granularity",
        "service_linked_role_arn",
        "capacity_rebalance",
        "protect_from_scale_in",
        "instance_refresh",
        "warm_pool",
        "scaling_policies",
        "schedules",
        "create_schedule",
        "create_scaling_policy",
        "block_device_mappings",
        "metadata_options",
        "enable_monitoring",
        "ebs_optimized",
        "update_default_version",
        "launch_template_description",
        "launch_template_use_name_prefix",
        "use_name_prefix",
        "iam_instance_profile_arn",
        "iam_instance_profile_name",
        "create_iam_instance_profile",
        "iam_role_name",
        "iam_role_use_name_prefix",
        "iam_role_path",
        "iam_role_description",
        "iam_role_permissions_boundary",
        "iam_role_policies",
        "iam_role_tags",
        "credit_specification",
        "cpu_options",
        "placement",
        "placement_group",
        "instance_market_options",
        "maintenance_options",
        "private_dns_name_options",
        "tag_specifications",
        "autoscaling_group_tags",
        "launch_template_tags",
        "disable_api_termination",
        "disable_api_stop",
        "instance_initiated_shutdown_behavior",
        "hibernation_options",
        "ram_disk_id",
        "kernel_id",
        "enclave_options",
        "license_specifications",
        "capacity_reservation_specification",
        "delete_timeout",
        "force_delete",
        "force_delete_warm_pool",
        "ignore_failed_scaling_activities",
        "initial_lifecycle_hooks",
        "context",
        "desired_capacity_type",
        "instance_maintenance_policy",
        "default_version",
    },
    "elb": _COMMON
    | {
        "health_check",
        "number_of_instances",
        "cross_zone_load_balancing",
        "idle_timeout",
        "connection_draining",
        "connection_draining_timeout",
        "access_logs",
        "name_prefix",
    },
    "alb": _COMMON
    | {
        "access_logs",
        "connection_logs",
        "idle_timeout",
        "enable_deletion_protection",
        "enable_http2",
        "enable_cross_zone_load_balancing",
        "drop_invalid_header_fields",
        "ip_address_type",
        "security_group_use_name_prefix",
        "security_group_tags",
        "security_group_description",
        "security_group_name",
        "lb_tags",
        "target_group_tags",
        "listener_tags",
        "route53_records",
        "enable_waf_fail_open",
        "desync_mitigation_mode",
        "preserve_host_header",
        "xff_header_processing_mode",
        "client_keep_alive",
        "dns_record_client_routing_policy",
        "web_acl_arn",
        "associate_web_acl",
        "enable_tls_version_and_cipher_suite_headers",
        "enable_xff_client_port",
        "name_prefix",
        "customer_owned_ipv4_pool",
        "enable_zonal_shift",
        "additional_target_group_attachments",
    },
}
