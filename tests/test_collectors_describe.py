"""Collectors describe; policies judge: no collector module names a rule id."""

from __future__ import annotations

import re
from pathlib import Path

COLLECTORS = Path(__file__).resolve().parents[1] / "src" / "talosaudit" / "collectors"
RULE_ID = re.compile(r"TA\d{3}")


def test_no_collector_module_names_a_rule_id() -> None:
    named = [
        f"{path.relative_to(COLLECTORS)}:{number}: {line.strip()}"
        for path in sorted(COLLECTORS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RULE_ID.search(line)
    ]
    assert named == []
