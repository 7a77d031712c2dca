"""The evaluated Terraform configuration: the contract between the HCL evaluator and the
resource mappers (aws.py, proxmox.py, talos.py).

Attribute values are plain Python values (str, int, float, bool, None, list, dict) in which
two special kinds of value may appear anywhere:

- ``Unknown``: talosaudit could not resolve it (a variable without a value, a remote module,
  an unsupported function, a resource attribute only known after apply). It carries the
  source expression so UNRESOLVED can name it.
- ``Ref``: a reference to another resource's attribute (``aws_security_group.cp.id``) that
  Terraform only knows after apply but whose *identity* we know. Mappers use it to link a
  rule to its security group. ``address`` is the full resource instance address, including
  module path and instance key, e.g. ``module.network.aws_security_group.control_plane`` or
  ``aws_instance.cp[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from talosaudit.model import ProblemKind


@dataclass(frozen=True, slots=True)
class Unknown:
    expression: str
    reason: str = ""
    #: The innermost expression that could not be resolved when this one is unknown
    #: because of it (``var.admin_cidrs`` for ``var.admin_cidrs[count.index]``); empty
    #: when ``expression`` is itself the cause. Not part of equality.
    origin: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"<unknown: {self.expression}>"


@dataclass(frozen=True, slots=True)
class PartialList(Unknown):
    """A list that is not fully known but surely holds ``known`` (in that order, among
    others): ``concat(["0.0.0.0/0"], var.extra)`` when ``var.extra`` has no value.

    It is an Unknown to everything that does not look for it; the evaluator keeps it only
    where the list itself passes on (names, locals, inputs, conditionals, ``concat``,
    ``toset``...), so ``known`` is never mistaken for the value of ``length(...)`` or ``x[0]``.
    """

    known: tuple[Any, ...] = field(default=(), compare=False)

    def plain(self) -> Unknown:
        return Unknown(self.expression, self.reason, origin=self.origin)


@dataclass(frozen=True, slots=True)
class Ref:
    address: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute}"


@dataclass(frozen=True, slots=True)
class Lines:
    """A 1-based inclusive line span in a file (path relative to the scan root)."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Block:
    """An evaluated block: ``resource "t" "n" {}`` body, or a nested ``ingress {}``.

    ``dynamic`` blocks are already expanded into ordinary nested blocks (with the lines of
    their ``content`` block, and ``from_dynamic`` set). ``attr_lines`` gives the line span
    of every attribute that was written in the source.
    """

    type: str
    labels: tuple[str, ...]
    attrs: dict[str, Any]
    attr_lines: dict[str, Lines]
    blocks: tuple[Block, ...]
    lines: Lines
    from_dynamic: bool = False
    #: Set on the one block that stands for a ``dynamic`` block whose ``for_each`` could
    #: not be resolved ("zero or more blocks like this one"); its iterator is unknown.
    expansion_unknown: Unknown | None = None

    def blocks_of(self, block_type: str) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.type == block_type)

    def line_of(self, attr: str) -> Lines:
        return self.attr_lines.get(attr, self.lines)


@dataclass(frozen=True)
class ResourceInstance:
    """One instance of a resource (after count/for_each expansion).

    ``address`` is Terraform's instance address (``module.network.aws_vpc_security_group_
    ingress_rule.cp_k8s_api_external[0]``); ``module`` is the module path
    (``module.network``, ``""`` for the root); ``mode`` is "managed" or "data".
    """

    mode: str
    type: str
    name: str
    address: str
    module: str
    key: int | str | None
    body: Block
    #: Set when ``count``/``for_each`` could not be resolved: the instance stands for
    #: "zero or more instances like this one" and every rule it makes is unresolved.
    expansion_unknown: Unknown | None = None
    #: Which meta-argument that was (``count``, ``for_each``, or ``module.x count`` when the
    #: enclosing module call's is unknown) and where it is written.
    expansion_attr: str = ""
    expansion_lines: Lines | None = None

    @property
    def lines(self) -> Lines:
        return self.body.lines


@dataclass(frozen=True)
class Variable:
    """An input variable of a module instance with its final value and where it came from
    (``default``, ``terraform.tfvars``, ``-var-file``, ``TF_VAR_x``, ``module input``)."""

    module: str
    name: str
    value: Any
    origin: str
    lines: Lines
    #: Declared ``sensitive = true``: its value is never printed.
    sensitive: bool = False


@dataclass(frozen=True)
class TerraformProblem:
    """``UNREADABLE`` (file could not be parsed/read) or ``UNRESOLVED`` (value unresolved)."""

    kind: ProblemKind
    message: str
    lines: Lines
    key: str = ""


@dataclass(frozen=True)
class TerraformConfig:
    resources: tuple[ResourceInstance, ...] = ()
    variables: tuple[Variable, ...] = ()
    problems: tuple[TerraformProblem, ...] = ()
    files: tuple[str, ...] = ()
    #: The root module's directory relative to the scan root ("" for a plan, a single
    #: config or what belongs to no root).
    root: str = ""
    #: Files the root module reads with file()/templatefile() (relative to the scan root).
    references: tuple[str, ...] = ()
    #: Values marked secret (sensitive variables and outputs, ``sensitive()``) as
    #: ``(text, source)``; reports show the source (``var.admin_cidr (sensitive)``).
    secrets: tuple[tuple[str, str], ...] = ()
    #: Raw comments per file (path -> [(line, text)]) are not kept: suppression comments are
    #: read from the files by the findings stage.
    extra: dict[str, Any] = field(default_factory=dict)
