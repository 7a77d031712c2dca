"""``.talosaudit.yaml``: the per-repository settings, validated strictly.

A typo in a key is an error with the key's path, not a silently ignored setting.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from talosaudit import yaml12
from talosaudit.findings import IgnoreEntry
from talosaudit.levels import Level
from talosaudit.regular_files import read_text
from talosaudit.validation import error_places

CONFIG_NAME = ".talosaudit.yaml"

RULE_ID = r"^[A-Z]{2,}[0-9]{3}$"


class ConfigError(Exception):
    """The configuration file cannot be read or is invalid; the message says where and why."""


def check_cidr(value: str) -> str:
    """The CIDR as written (stripped); ValueError naming it when it is not one."""
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR") from exc
    return value.strip()


#: A CIDR (or single address) as written, checked per item so errors name the index.
Cidr = Annotated[str, AfterValidator(check_cidr)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeHint(_Strict):
    """Declares the role of nodes matched by a Terraform address glob, a name glob or a CIDR."""

    role: Literal["controlplane", "worker"]
    address: str | None = None
    name: str | None = None
    cidr: Cidr | None = None

    @model_validator(mode="after")
    def _some_selector(self) -> NodeHint:
        if self.address is None and self.name is None and self.cidr is None:
            raise ValueError("a node hint needs at least one of address, name, cidr")
        return self


class Features(_Strict):
    kubespan: bool | None = None
    nodeport: bool | None = None
    hubble: bool | None = None
    wireguard: bool | None = None
    typha: bool | None = None


class RuleSettings(_Strict):
    level: Level | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class IgnoreSetting(_Strict):
    id: str = Field(pattern=RULE_ID)
    path: str | None = None
    reason: str = Field(min_length=1)
    until: dt.date | None = None

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an ignore needs a reason")
        return value.strip()


class Config(_Strict):
    admin_networks: tuple[Cidr, ...] = ()
    #: Firewall interfaces (pfSense/OPNsense name such as ``opt2``, or description such as
    #: ``ADMIN``) whose networks are the operators' networks.
    admin_interfaces: tuple[str, ...] = ()
    nodes: tuple[NodeHint, ...] = ()
    cni: Literal["flannel", "cilium", "calico", "none"] | None = None
    tunnel: Literal["vxlan", "geneve", "ipip", "bgp", "none"] | None = None
    features: Features = Features()
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    ignore: tuple[IgnoreSetting, ...] = ()
    fail_on: Literal["note", "warning", "error", "never"] | None = None
    min_level: Level | None = None
    #: Globs of input files not read (relative to the root), like ``--skip-path``.
    skip_paths: tuple[str, ...] = ()

    @field_validator("rules")
    @classmethod
    def _rule_ids(cls, value: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        for key in value:
            if not re.match(RULE_ID, key):
                raise ValueError(f"{key!r} is not a rule id (like TA207)")
        return value

    def ignore_entries(self, where: str) -> tuple[IgnoreEntry, ...]:
        return tuple(
            IgnoreEntry(i.id, i.reason, i.path, i.until, f"{where} ignore[{n}]")
            for n, i in enumerate(self.ignore)
        )


def find_config(explicit: Path | None, first_scanned: Path | None, cwd: Path) -> Path | None:
    """``--config F``, else ``.talosaudit.yaml`` in the first scanned directory, else in the cwd."""
    if explicit is not None:
        return explicit
    candidates: list[Path] = []
    if first_scanned is not None:
        candidates.append(first_scanned if first_scanned.is_dir() else first_scanned.parent)
    candidates.append(cwd)
    for directory in candidates:
        path = directory / CONFIG_NAME
        if path.is_file():
            return path
    return None


def load_config(path: Path | None) -> Config:
    """Read and validate a configuration file (safe YAML). None gives the defaults."""
    if path is None:
        return Config()
    try:
        text = read_text(path)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 text") from exc
    try:
        data = yaml12.safe_load(text)  # YAML 1.2 core schema: no sexagesimal, no yes/no
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"config {path} is nested too deeply") from exc
    except (ValueError, OverflowError) as exc:  # a YAML 1.1 number PyYAML cannot build
        raise ConfigError(f"config {path} holds a value out of range: {exc}") from exc
    if data is None:
        return Config()
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of settings, not {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"config {path} is invalid:\n{_explain(exc)}") from exc


def _explain(exc: ValidationError) -> str:
    return "\n".join(
        f"  {where}: {message}" for where, message in error_places(exc, "(top level)", "unknown setting")
    )
