"""Terraform: HCL/JSON loading, evaluation (``load_config``) and resource mappers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from talosaudit.collectors.discover import InputFile
    from talosaudit.collectors.options import CollectOptions
    from talosaudit.collectors.terraform.values import TerraformConfig


def load_config(files: Sequence[InputFile], root: Path, options: CollectOptions) -> TerraformConfig:
    """Parse and evaluate every Terraform root module among ``files`` (see engine.py).

    Imported lazily so that parser worker processes, which import this package, stay light.
    """
    from talosaudit.collectors.terraform.engine import load_config as _load

    return _load(files, root, options)


__all__ = ["load_config"]
