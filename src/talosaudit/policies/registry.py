"""Load the policy catalogue: the built-in pack plus user directories, strictly validated."""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from talosaudit.policies.params import parse_params, validation_text
from talosaudit.policies.schema import Catalogue, Policy, PolicyError

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The repository's policy pack, for a source checkout without an installed data package.
_SOURCE_POLICIES = Path(__file__).resolve().parents[3] / "policies"


def builtin_dir() -> Traversable:
    """Where the built-in pack is: the source tree when running from a checkout (so an
    editable install in one checkout never reads another checkout's policies), else the
    installed data package."""
    if (_SOURCE_POLICIES.parent / "src" / "talosaudit").is_dir() and _SOURCE_POLICIES.is_dir():
        return _SOURCE_POLICIES
    try:
        found = importlib.resources.files("talosaudit.builtin_policies")
        if any(entry.name.endswith(".yaml") for entry in found.iterdir()):
            return found
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return _SOURCE_POLICIES


def load_catalogue(extra_dirs: Sequence[Path] = ()) -> Catalogue:
    """The built-in policies, then those of ``extra_dirs``; raises PolicyError on any problem."""
    policies: list[Policy] = []
    seen: dict[str, str] = {}
    for directory in (builtin_dir(), *extra_dirs):
        if isinstance(directory, Path) and not directory.is_dir():
            raise PolicyError(f"{directory}: not a directory of policy files")
        entries = sorted((e for e in directory.iterdir() if e.name.endswith((".yaml", ".yml"))), key=_name)
        for entry in entries:
            policy = load_policy(entry)
            if policy.id in seen:
                raise PolicyError(f"{entry}: rule id {policy.id} is already defined by {seen[policy.id]}")
            seen[policy.id] = str(entry)
            policies.append(policy)
    return Catalogue(tuple(policies))


def _name(entry: Traversable) -> str:
    return entry.name


def load_policy(entry: Traversable) -> Policy:
    """One policy file: YAML mapping, schema, file name ``<id>-<name>.yaml``, known kind, params."""
    try:
        # libyaml's safe loader when present: 33 policy files, read at every start.
        data: Any = yaml.load(entry.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"{entry}: cannot read the policy: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{entry}: a policy file must be a YAML mapping")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"{entry}: {_errors(exc)}") from exc
    stem = entry.name.rsplit(".", 1)[0]
    if stem != f"{policy.id}-{policy.name}":
        raise PolicyError(f"{entry}: the file must be named {policy.id}-{policy.name}.yaml")
    validate_params(policy, str(entry))
    return policy


def validate_params(policy: Policy, where: str) -> object:
    """The policy's params parsed by its kind's model (raises PolicyError)."""
    # The one kind table lives with the evaluators; imported here, when a policy is checked,
    # so that importing the registry alone stays light.
    from talosaudit.policies.engine import KINDS

    entry = KINDS.get(policy.kind)
    if entry is None:
        known = ", ".join(sorted(KINDS))
        raise PolicyError(f"{where}: unknown kind {policy.kind!r} (known: {known})")
    return parse_params(policy, entry[0], where=where)


def _errors(exc: ValidationError) -> str:
    return validation_text(exc)


__all__ = ["Catalogue", "PolicyError", "builtin_dir", "load_catalogue", "load_policy", "validate_params"]
