"""Golden end-to-end cases: every ``tests/cases/<name>/case.yaml`` is scanned with the real CLI.

The format of a case is described in ``tests/cases/README.md``. For each case the test runs
``talosaudit scan`` in-process (click's CliRunner, cwd = the case directory, ``--root`` the
case directory, JSON output, no cache) and compares the findings exactly:

- the multiset of (rule, path, line) equals the expected one, and each expected message
  substring is in the message of the finding it is matched with;
- the exit code is the expected one;
- no rule listed in ``passes`` has a finding.

A second test checks that every built-in policy is both expected in some case and passing in
another, so that each rule is shown to fire and shown to stay quiet.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "cases"
REPO = TESTS.parent
POLICIES = REPO / "policies"
RULE_ID = re.compile(r"^TA\d{3}$")
POLICY_FILE = re.compile(r"^(TA\d{3})\b")
CASE_KEYS = {"description", "args", "paths", "exit_code", "expected", "passes", "facts", "notices"}
EXPECTED_KEYS = {"rule", "path", "line", "message", "related"}
#: Rules that only ``talosaudit live`` can produce (drift between AWS and Terraform): a golden
#: ``scan`` case cannot show them, so the coverage test does not ask for one.
LIVE_ONLY = frozenset({"TA503", "TA504"})


@dataclass(frozen=True)
class Expected:
    rule: str
    path: str
    line: int
    message: tuple[str, ...]
    #: ``path:line`` of locations the finding must name as related (other may follow).
    related: tuple[str, ...] = ()

    def key(self) -> tuple[str, str, int]:
        return (self.rule, self.path, self.line)


@dataclass(frozen=True)
class Actual:
    rule: str
    path: str
    line: int
    message: str
    level: str
    related: tuple[str, ...] = ()

    def key(self) -> tuple[str, str, int]:
        return (self.rule, self.path, self.line)


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    description: str
    args: tuple[str, ...]
    paths: tuple[str, ...]
    exit_code: int
    expected: tuple[Expected, ...]
    passes: tuple[str, ...]
    #: Optional: fact name -> substrings its "value: reason" must contain ("Facts used").
    facts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Optional: for each entry, the substrings one notice of the report must contain.
    notices: tuple[tuple[str, ...], ...] = ()


def _strings(value: Any, what: str) -> tuple[str, ...]:
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what}: list of strings"
    return tuple(value)


def load_case(directory: Path) -> Case:
    """Read and validate ``case.yaml``; a malformed case fails with the case and key named."""
    where = f"{directory.name}/case.yaml"
    data = yaml.safe_load((directory / "case.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{where}: a mapping"
    unknown = set(data) - CASE_KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    assert isinstance(data.get("description"), str) and data["description"].strip(), f"{where}: description"
    exit_code = data.get("exit_code")
    assert exit_code in (0, 1, 2), f"{where}: exit_code must be 0, 1 or 2"
    expected: list[Expected] = []
    for i, item in enumerate(data.get("expected") or []):
        at = f"{where}: expected[{i}]"
        assert isinstance(item, dict) and set(item) <= EXPECTED_KEYS, f"{at}: keys {sorted(EXPECTED_KEYS)}"
        assert isinstance(item.get("rule"), str) and RULE_ID.match(item["rule"]), f"{at}: rule"
        assert isinstance(item.get("path"), str) and item["path"], f"{at}: path"
        assert isinstance(item.get("line"), int) and item["line"] >= 1, f"{at}: line"
        message = _strings(item.get("message", []), f"{at}: message")
        related = _strings(item.get("related", []), f"{at}: related")
        expected.append(Expected(item["rule"], item["path"], item["line"], message, related))
    passes = _strings(data.get("passes", []), f"{where}: passes")
    for rule in passes:
        assert RULE_ID.match(rule), f"{where}: passes: {rule!r} is not a rule id"
    facts = data.get("facts") or {}
    assert isinstance(facts, dict), f"{where}: facts: a mapping of fact name to substrings"
    notices = data.get("notices") or []
    assert isinstance(notices, list), f"{where}: notices: a list of lists of substrings"
    return Case(
        notices=tuple(_strings(n, f"{where}: notices") for n in notices),
        facts=tuple((str(name), _strings(parts, f"{where}: facts.{name}")) for name, parts in facts.items()),
        name=directory.name,
        directory=directory,
        description=" ".join(data["description"].split()),
        args=_strings(data.get("args", []), f"{where}: args"),
        paths=_strings(data.get("paths", ["."]), f"{where}: paths"),
        exit_code=exit_code,
        expected=tuple(expected),
        passes=passes,
    )


def case_dirs() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file())


def all_cases() -> list[Case]:
    return [load_case(d) for d in case_dirs()]


# --- running the CLI -----------------------------------------------------------------------


def _command() -> click.Command:
    """The click command of ``talosaudit`` (the group; ``main`` may be a plain wrapper)."""
    from talosaudit import cli

    for name in ("cli", "main"):
        candidate = getattr(cli, name, None)
        if isinstance(candidate, click.Command):
            return candidate
    raise AssertionError("talosaudit.cli has no click command named cli or main")


def run_scan(case: Case) -> tuple[int, list[Actual], str]:
    code, findings, stderr, _ = run_scan_with_facts(case)
    return code, findings, stderr


def run_scan_with_facts(case: Case) -> tuple[int, list[Actual], str, dict[str, str]]:
    argv = [
        "scan",
        *case.paths,
        "--root",
        str(case.directory),
        "--format",
        "json",
        "--no-cache",
        "--min-level",
        "note",
        *case.args,
    ]
    with contextlib.chdir(case.directory):
        result = CliRunner().invoke(_command(), argv, catch_exceptions=False)
    stdout = result.stdout
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"{case.name}: exit {result.exit_code}, stdout is not JSON\n"
            f"stdout:\n{stdout[:2000]}\nstderr:\n{result.stderr[:2000]}"
        )
    findings = [
        Actual(
            rule=f["rule_id"],
            path=f["location"]["path"],
            line=f["location"]["start_line"],
            message=f["message"],
            level=f["level"],
            related=tuple(f"{r['path']}:{r['start_line']}" for r in f.get("related") or []),
        )
        for f in document["findings"]
        if not f.get("suppressed")
    ]
    facts = {f["name"]: f"{f['value']}: {f['reason']}" for f in document.get("facts", [])}
    # Notices travel with the facts under keys no fact name can take.
    facts.update({f"notice {i}": n for i, n in enumerate(document.get("notices", []))})
    return result.exit_code, findings, result.stderr, facts


def match(expected: Sequence[Expected], actual: Sequence[Actual]) -> tuple[list[Expected], list[Actual]]:
    """Pair expected with actual findings (same rule, path, line; every substring in the
    message) as a maximum bipartite matching, so several findings on one line pair up
    correctly. Returns (expected without a partner, actual without a partner)."""
    partner: dict[int, int] = {}  # actual index -> expected index

    def fits(e: Expected, a: Actual) -> bool:
        return (
            e.key() == a.key()
            and all(part in a.message for part in e.message)
            and all(ref in a.related for ref in e.related)
        )

    def augment(i: int, seen: set[int]) -> bool:
        for j, a in enumerate(actual):
            if j in seen or not fits(expected[i], a):
                continue
            seen.add(j)
            if j not in partner or augment(partner[j], seen):
                partner[j] = i
                return True
        return False

    matched = {i for i in range(len(expected)) if augment(i, set())}
    missing = [e for i, e in enumerate(expected) if i not in matched]
    extra = [a for j, a in enumerate(actual) if j not in partner]
    return missing, extra


def _show(items: Sequence[Expected | Actual]) -> str:
    lines = []
    for item in items:
        text = item.message if isinstance(item, Actual) else f"must contain {list(item.message)}"
        level = f" [{item.level}]" if isinstance(item, Actual) else ""
        lines.append(f"  {item.rule}{level} {item.path}:{item.line}  {text}")
    return "\n".join(lines) or "  (none)"


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", case_dirs(), ids=lambda p: p.name)
def test_case(case_dir: Path) -> None:
    case = load_case(case_dir)
    code, actual, stderr, facts = run_scan_with_facts(case)
    missing, extra = match(case.expected, actual)
    passing_but_found = [a for a in actual if a.rule in case.passes]
    problems = []
    if missing or extra:
        problems.append(
            f"expected but not reported:\n{_show(missing)}\nreported but not expected:\n{_show(extra)}"
        )
    if passing_but_found:
        problems.append(f"rules listed in `passes` that reported findings:\n{_show(passing_but_found)}")
    if code != case.exit_code:
        problems.append(f"exit code {code}, expected {case.exit_code}; stderr: {stderr.strip()[:500]}")
    for name, parts in case.facts:
        said = facts.get(name)
        if said is None or not all(part in said for part in parts):
            problems.append(f"fact {name} must contain {list(parts)}; it is {said!r}")
    said_notices = [v for k, v in facts.items() if k.startswith("notice ")]
    for parts in case.notices:
        if not any(all(part in n for part in parts) for n in said_notices):
            problems.append(f"a notice must contain {list(parts)}; the notices are {said_notices!r}")
    assert not problems, f"{case.name}: {case.description}\n\n" + "\n\n".join(problems)


def test_cases_are_well_formed() -> None:
    """Every case loads, points at real lines of its own files, and never lists a rule both
    as expected and as passing."""
    cases = all_cases()
    assert len(cases) >= 30
    for case in cases:
        for path in case.paths:
            assert (case.directory / path).exists(), f"{case.name}: scan path {path} does not exist"
        for e in case.expected:
            file = case.directory / e.path
            assert file.is_file(), f"{case.name}: expected path {e.path} is not a file of the case"
            lines = file.read_text(encoding="utf-8").splitlines()
            assert e.line <= len(lines), f"{case.name}: {e.path}:{e.line} is past the end of the file"
            assert lines[e.line - 1].strip(), f"{case.name}: {e.path}:{e.line} is a blank line"
        both = {e.rule for e in case.expected} & set(case.passes)
        assert not both, f"{case.name}: {sorted(both)} both expected and in passes"
        assert len(set(case.passes)) == len(case.passes), f"{case.name}: duplicate rule in passes"


def test_match_pairs_findings_on_one_line() -> None:
    """The matcher must not be fooled by a greedy first choice on a shared line."""
    general = Expected("TA106", "a.tf", 3, ("udp/6081", "worker"))
    specific = Expected("TA106", "a.tf", 3, ("udp/6081", "control-plane"))
    cp_to_w = Actual("TA106", "a.tf", 3, "udp/6081 from control-plane to worker blocked", "error")
    w_to_w = Actual("TA106", "a.tf", 3, "udp/6081 from worker to worker blocked", "error")
    assert match([general, specific], [cp_to_w, w_to_w]) == ([], [])
    assert match([specific, specific], [cp_to_w, w_to_w]) == ([specific], [w_to_w])
    assert match([general], [cp_to_w, w_to_w]) == ([], [w_to_w])
    other_line = Expected("TA106", "a.tf", 4, ())
    assert match([other_line], [cp_to_w]) == ([other_line], [cp_to_w])


def _policy_ids() -> list[str]:
    ids = []
    for file in sorted(POLICIES.glob("*.yaml")):
        found = POLICY_FILE.match(file.name)
        if found:
            ids.append(found.group(1))
    return ids


def test_every_policy_fires_and_passes_somewhere() -> None:
    ids = _policy_ids()
    if not ids:
        pytest.fail("no policy files found in policies/")
    cases = all_cases()
    expected = {e.rule for c in cases for e in c.expected}
    passing = {r for c in cases for r in c.passes}
    never_fires = [i for i in ids if i not in expected and i not in LIVE_ONLY]
    never_passes = [i for i in ids if i not in passing and i not in LIVE_ONLY]
    assert not never_fires, f"policies no golden case expects: {never_fires}"
    assert not never_passes, f"policies no golden case lists in passes: {never_passes}"


def test_case_index_is_complete() -> None:
    """tests/cases/README.md lists every case directory (and no other)."""
    readme = (CASES / "README.md").read_text()
    listed = set(re.findall(r"^\| ([a-z0-9][a-z0-9-]*) \|", readme, re.MULTILINE)) - {"case"}
    present = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert listed == present, f"add to / remove from the table: {sorted(listed ^ present)}"
