"""Templates of Talos configs (``.tftpl``, ``.tpl``, ``.yaml.tpl``, ``.j2``) seen on their own.

A template that a scanned Terraform ``templatefile()`` renders is audited through that call
(the Terraform Talos mapping reads it with the call's variables); parsed again on its own it
is only broken YAML. A template nothing renders is worth a note (its content is not audited),
not an error: the scan itself did not fail.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from talosaudit.regular_files import read_text

TEMPLATE_SUFFIXES = (".tftpl", ".tpl", ".tmpl", ".j2", ".jinja", ".jinja2", ".gotmpl")
_TERRAFORM_SUFFIXES = (".tf", ".tofu")
#: ``templatefile(<path expression>,`` : the path expression up to the first comma.
_CALL = re.compile(r"\btemplatefile\s*\(\s*([^,)]*)")
_MAX_TF_BYTES = 2 * 1024 * 1024
_MAX_TF_FILES = 5000
_SKIPPED_DIRS = frozenset({".git", ".terraform", "node_modules", ".terragrunt-cache"})


def is_template(rel: str) -> bool:
    return rel.lower().endswith(TEMPLATE_SUFFIXES)


class RenderedTemplates:
    """The file names that ``templatefile()`` calls under the scan root render."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: list[str] | None = None

    def renders(self, rel: str) -> bool:
        name = PurePosixPath(rel).name
        return any(name in path for path in self.paths())

    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = _call_paths(self.root)
        return self._paths


def _call_paths(root: Path) -> list[str]:
    found: list[str] = []
    seen = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(_TERRAFORM_SUFFIXES):
                continue
            seen += 1
            if seen > _MAX_TF_FILES:
                return found
            path = Path(directory) / name
            try:
                if path.stat().st_size > _MAX_TF_BYTES:
                    continue
                text = read_text(path, errors="replace")
            except OSError:
                continue
            found.extend(m.group(1) for m in _CALL.finditer(text))
    return found
