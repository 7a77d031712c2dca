"""Facts (CNI, tunnel, NodePort, KubeSpan) and admin networks from Terraform variables.

A variable counts wherever it is declared; the root module's wins over a child module's.
Only known values count: an unknown variable says nothing about intent, and when it feeds a
rule, that rule already carries its own UNRESOLVED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from talosaudit.collectors.terraform.values import Ref, Unknown, Variable
from talosaudit.model import AddressSet, Fact, FactOrigin, Problem, ProblemKind, SourceRef

CNI_NAMES = ("cni_type", "cni", "cni_plugin", "cni_name")
TUNNEL_NAMES = ("tunnel", "tunnel_mode", "cilium_tunnel_mode", "routing_mode")
NODEPORT_NAMES = ("enable_nodeport", "nodeport_enabled")
KUBESPAN_NAMES = ("kubespan", "enable_kubespan")
ADMIN_NAMES = ("allowed_admin_cidrs", "admin_cidrs", "admin_cidr_blocks", "trusted_cidrs")

_CNI_VALUES = frozenset({"flannel", "cilium", "calico", "none", "custom"})
#: Tunnel spellings, including Cilium's ``routing-mode`` (native routing has no tunnel).
_TUNNEL_VALUES = {
    "vxlan": "vxlan",
    "geneve": "geneve",
    "ipip": "ipip",
    "bgp": "bgp",
    "none": "none",
    "disabled": "none",
    "native": "none",
}


@dataclass(frozen=True, slots=True)
class VariableFacts:
    facts: tuple[Fact, ...] = ()
    admin: tuple[tuple[AddressSet, SourceRef | None], ...] = ()
    problems: tuple[Problem, ...] = ()


def _known(value: Any) -> bool:
    if isinstance(value, Unknown | Ref):
        return False
    if isinstance(value, list | tuple):
        return all(_known(v) for v in value)
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    return True


def _pick(variables: Iterable[Variable], names: tuple[str, ...]) -> list[Variable]:
    """Candidates with a known value, root module first, then in the order of ``names``."""
    found = [v for v in variables if v.name in names and v.value is not None and _known(v.value)]
    return sorted(found, key=lambda v: (v.module != "", v.module, names.index(v.name)))


def _display(v: Variable) -> str:
    return f"var.{v.name}" if not v.module else f"{v.module}.var.{v.name}"


def _where(v: Variable) -> SourceRef:
    return SourceRef(v.lines.path, v.lines.start, v.lines.end, resource=_display(v))


def _reason(v: Variable, shown: str) -> str:
    name = v.name if not v.module else f"{v.module}.{v.name}"
    return f"variable {name} = {shown} ({v.lines.path}:{v.lines.start})"


def _bool(value: Any) -> bool | None:
    if isinstance(value, dict):
        value = value.get("enabled")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _string_fact(
    variables: list[Variable], names: tuple[str, ...], fact: str, values: dict[str, str]
) -> Fact | None:
    for v in _pick(variables, names):
        if isinstance(v.value, str) and v.value.strip().lower() in values:
            value = values[v.value.strip().lower()]
            return Fact(fact, value, _reason(v, f'"{v.value}"'), FactOrigin.TERRAFORM, _where(v))
    return None


def _bool_fact(variables: list[Variable], names: tuple[str, ...], fact: str) -> Fact | None:
    for v in _pick(variables, names):
        flag = _bool(v.value)
        if flag is not None:
            text = "true" if flag else "false"
            return Fact(fact, text, _reason(v, text), FactOrigin.TERRAFORM, _where(v))
    return None


def facts_from_variables(variables: Iterable[Variable]) -> VariableFacts:
    all_vars = list(variables)
    facts = [
        _string_fact(all_vars, CNI_NAMES, "cni", {c: c for c in _CNI_VALUES}),
        _string_fact(all_vars, TUNNEL_NAMES, "tunnel", _TUNNEL_VALUES),
        _bool_fact(all_vars, NODEPORT_NAMES, "nodeport"),
        _bool_fact(all_vars, KUBESPAN_NAMES, "kubespan"),
    ]
    admin: list[tuple[AddressSet, SourceRef | None]] = []
    problems: list[Problem] = []
    candidates = _pick(all_vars, ADMIN_NAMES)
    if candidates:
        v = candidates[0]
        items = v.value if isinstance(v.value, list | tuple) else [v.value]
        for item in items:
            if not isinstance(item, str):
                continue
            try:
                admin.append((AddressSet.parse(item), _where(v)))
            except ValueError:
                problems.append(
                    Problem(
                        ProblemKind.UNRESOLVED,
                        f"{_display(v)}: {item!r} is not a valid CIDR; it is not counted as an admin network",
                        _where(v),
                        key=f"{_display(v)}:{item}",
                    )
                )
    return VariableFacts(tuple(f for f in facts if f is not None), tuple(admin), tuple(problems))
