"""Inline suppressions and configured ignores (findings.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from talosaudit.findings import (
    NO_REASON,
    Finding,
    IgnoreEntry,
    SuppressionKind,
    apply_config_ignores,
    apply_inline_suppressions,
    parse_inline_ignores,
)
from talosaudit.inline import parse_comments
from talosaudit.model.source import SourceRef
from talosaudit.policies.schema import Level

HCL = """\
resource "aws_security_group" "cp" {
  name = "cp"
  # talosaudit:ignore TA201 bastion-only VPC, reviewed 2024-05
  ingress {
    from_port   = 50000
    to_port     = 50000
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 6443 // talosaudit:ignore TA202,TA207
    to_port     = 6443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""


TODAY = dt.date(2025, 6, 1)


def finding(rule_id: str, path: str, start: int, end: int, identity: str = "x") -> Finding:
    return Finding(rule_id, Level.ERROR, f"{rule_id} message", SourceRef(path, start, end, "res"), identity)


def test_parse_inline_ignores_hash_and_slashes_and_lists() -> None:
    ignores = parse_inline_ignores(HCL)
    assert [(i.line, sorted(i.ids), i.reason) for i in ignores] == [
        (3, ["TA201"], "bastion-only VPC, reviewed 2024-05"),
        (11, ["TA202", "TA207"], ""),
    ]


def test_prefixes_are_not_ids() -> None:
    assert parse_inline_ignores("# talosaudit:ignore TA2 all exposure\n") == ()


def test_inline_on_line_above_and_inside_span(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "sg.tf").write_text(HCL)
    above = finding("TA201", "net/sg.tf", 4, 9)  # comment on line 3, directly above
    inside = finding("TA202", "net/sg.tf", 10, 15)  # comment on line 11, inside the span
    other_rule = finding("TA203", "net/sg.tf", 4, 9)
    too_far = finding("TA201", "net/sg.tf", 5, 9)  # line 3 is two lines above 5
    result, notices = apply_inline_suppressions([above, inside, other_rule, too_far], tmp_path, TODAY)
    assert notices == []
    assert result[0].suppressed is not None
    assert result[0].suppressed.kind is SuppressionKind.IN_SOURCE
    assert result[0].suppressed.reason == "bastion-only VPC, reviewed 2024-05"
    assert result[0].suppressed.where == "net/sg.tf:3"
    assert result[1].suppressed is not None
    assert result[1].suppressed.justification == NO_REASON
    assert result[2].suppressed is None
    assert result[3].suppressed is None


def test_inline_in_yaml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "cp.yaml").write_text(
        "machine:\n  # talosaudit:ignore TA404 outer layers suffice\n  type: controlplane\n"
    )
    yaml_finding = finding("TA404", "cp.yaml", 3, 3)
    missing = finding("TA404", "gone.yaml", 3, 3)
    result, _ = apply_inline_suppressions([yaml_finding, missing], tmp_path, TODAY)
    assert result[0].suppressed is not None and result[0].suppressed.reason == "outer layers suffice"
    assert result[1].suppressed is None


def test_config_ignore_with_path_glob_and_until() -> None:
    today = dt.date(2025, 6, 1)
    ignores = [
        IgnoreEntry("TA201", "lab cluster", path="lab/*.tf", where=".talosaudit.yaml ignore[0]"),
        IgnoreEntry("TA202", "temporary", until=dt.date(2025, 5, 31), where=".talosaudit.yaml ignore[1]"),
        IgnoreEntry("TA203", "until tomorrow", until=dt.date(2025, 6, 2), where=".talosaudit.yaml ignore[2]"),
    ]
    lab = finding("TA201", "lab/sg.tf", 3, 3)
    prod = finding("TA201", "prod/sg.tf", 3, 3)
    expired = finding("TA202", "prod/sg.tf", 9, 9)
    valid = finding("TA203", "prod/sg.tf", 12, 12)
    result, notices = apply_config_ignores([lab, prod, expired, valid], ignores, today)
    assert result[0].suppressed is not None
    assert result[0].suppressed.kind is SuppressionKind.EXTERNAL
    assert result[0].suppressed.reason == "lab cluster"
    assert result[1].suppressed is None
    assert result[2].suppressed is None  # expired: no longer suppresses
    assert result[3].suppressed is not None and result[3].suppressed.reason == "until tomorrow"
    assert notices == [
        "ignore of TA202 (.talosaudit.yaml ignore[1]) expired on 2025-05-31: "
        "it no longer suppresses (1 finding affected)"
    ]


def test_inline_wins_over_config() -> None:
    already = finding("TA201", "a.tf", 1, 1)
    from talosaudit.findings import Suppression

    marked = already.with_suppression(Suppression(SuppressionKind.IN_SOURCE, "inline", "a.tf:1"))
    result, _ = apply_config_ignores([marked], [IgnoreEntry("TA201", "config")], dt.date(2025, 1, 1))
    assert result[0].suppressed is not None and result[0].suppressed.reason == "inline"


# --- until: and comments that are not understood ------------------------------------------


def test_inline_until_anywhere_after_the_ids_and_out_of_the_reason() -> None:
    text = (
        "# talosaudit:ignore TA202 until: 2027-03-31 public on purpose\n"
        "# talosaudit:ignore TA201,TA207 public on purpose until:2026-01-02\n"
        "<!-- talosaudit:ignore TA405 staging only -->\n"
    )
    comments = parse_comments(text)
    assert comments.not_understood == ()
    assert [(i.line, sorted(i.ids), i.until, i.reason) for i in comments.ignores] == [
        (1, ["TA202"], dt.date(2027, 3, 31), "public on purpose"),
        (2, ["TA201", "TA207"], dt.date(2026, 1, 2), "public on purpose"),
        (3, ["TA405"], None, "staging only"),
    ]


def test_inline_until_expires_after_that_day(tmp_path: Path) -> None:
    (tmp_path / "sg.tf").write_text(
        "# talosaudit:ignore TA202 until: 2025-05-31 until the load balancer lands\n"
        'resource "aws_security_group" "cp" {}\n'
        "# talosaudit:ignore TA201 until: 2025-06-01 last day today\n"
        'resource "aws_security_group" "wk" {}\n'
    )
    expired = finding("TA202", "sg.tf", 2, 2)
    last_day = finding("TA201", "sg.tf", 4, 4)
    result, notices = apply_inline_suppressions([expired, last_day], tmp_path, TODAY)
    assert result[0].suppressed is None
    assert result[1].suppressed is not None and result[1].suppressed.reason == "last day today"
    assert notices == [
        "ignore of TA202 (sg.tf:1) expired on 2025-05-31: it no longer suppresses (1 finding affected)"
    ]


@pytest.mark.parametrize(
    ("comment", "why"),
    [
        ("#talosaudit:ignore:TA202 public", "the directive is not `talosaudit:ignore` followed by a space"),
        ("# talosaudit:skip=TA201:reason", "the directive is not `talosaudit:ignore` followed by a space"),
        ("// talosaudit:disable TA201", "the directive is not `talosaudit:ignore` followed by a space"),
        ("# TALOSAUDIT:IGNORE TA201", "the directive is not `talosaudit:ignore` followed by a space"),
        ("# talosaudit:ignore TA2O2 letter O", "'TA2O2' is not a rule id"),
        ("# talosaudit:ignore TA201,ta202 mixed", "'ta202' is not a rule id"),
        ("# talosaudit:ignore TA299 no such rule", "TA299 is no known rule"),
        ("# talosaudit:ignore TA201 until: 2027-02-30 no such day", "`until: 2027-02-30` is not a date"),
        ("# talosaudit:ignore TA201 until: tomorrow", "`until: tomorrow` is not a date"),
    ],
)
def test_comments_that_look_like_suppressions_are_not_understood(comment: str, why: str) -> None:
    comments = parse_comments(f"x = 1\n  {comment}\n", known_ids={"TA201", "TA202"})
    assert comments.ignores == ()
    assert len(comments.not_understood) == 1
    odd = comments.not_understood[0]
    assert (odd.line, odd.text) == (2, comment)
    assert odd.why.startswith(why)


def test_text_that_only_mentions_talosaudit_is_no_suppression() -> None:
    text = '# scanned by talosaudit in CI\ndescription = "talosaudit ignores nothing here"\n'
    assert parse_comments(text, known_ids={"TA201"}) == parse_comments("")
