"""The Terraform interpreter: HCL/JSON loading and evaluation (``load_config``), and the
Terraform collectors (``collect.py``, ``plan.py``) that hand the evaluated resources to the
platform mappers (``collectors.aws.terraform``, ``collectors.proxmox.terraform``,
``collectors.talos.terraform``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talosaudit.collectors.base import InputFile
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.collectors.terraform.values import TerraformConfig


def load_config(files: Sequence[InputFile], root: Path, options: CollectOptions) -> TerraformConfig:
    """Parse and evaluate every Terraform root module among ``files`` (see engine.py).

    Imported lazily so that parser worker processes, which import this package, stay light.
    """
    from talosaudit.collectors.terraform.engine import load_config as _load

    return _load(files, root, options)


__all__ = ["load_config"]
