"""The test suite stands on its own: a plain clone of the repository is all it reads.

The project's specs and the third-party samples used to sit in a sibling folder beside the
checkout, and tests reached into it; a clone without that folder failed. The samples the tests
need are now copied into tests/data/samples with their README and licences. These checks keep
it that way: no file under tests/ names a path into the sibling folder or climbs above the
repository root, and no third-party sample sits in the repository without its licence.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SAMPLES = TESTS / "data" / "samples"

# The folder's name is spelled with a character class so that this file does not match itself.
SIBLING = "shar[e]d"
#: A path into the sibling folder, in any of the forms the old tests used or a new one might:
#: "../<folder>", "<folder>/samples" (also absolute, ".../<folder>/seed"), or a pathlib join
#: such as `parents[2] / "<folder>"`. A bare "<folder>" word (a resource called that) is fine.
SIBLING_PATH = re.compile(
    rf"""\.\./{SIBLING}\b              # ../<folder>
    | (?<![\w.-]){SIBLING}[/\\]        # <folder>/ and /abs/<folder>/
    | /\s*["']{SIBLING}["']            # some_path / "<folder>"
    """,
    re.VERBOSE,
)
#: Path(__file__)...parents[N]: which N leaves the repository depends on how deep the file is.
PARENTS_INDEX = re.compile(r"\.parents\[(\d+)\]")
PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent)+)\b")
#: Files the checks never read as text (binary data, caches).
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _files_under_tests() -> list[Path]:
    return sorted(
        p
        for p in TESTS.rglob("*")
        if p.is_file() and not SKIPPED_DIRS.intersection(p.relative_to(TESTS).parts)
    )


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def test_the_sibling_pattern_catches_the_old_forms_and_not_a_resource_name() -> None:
    # The test data for the pattern itself, built so that this file stays clean.
    folder, up = SIBLING.replace("[e]", "e"), 2
    caught = [
        f"Path(__file__).resolve().parents[{up}] / {folder!r}",
        f'Path(__file__){".parent" * 3} / "{folder}" / "samples"',
        f"Every Talos sample of ../{folder}/samples/talos",
        f"see /work/{folder}/RULES.md",
        f"{folder}/seed/firewall-rules-guide.md",
        f"the sibling ../{folder} folder",
    ]
    kept = [
        f'labels=("aws_security_group", "{folder}")',
        f"data.aws_security_group.{folder}",
        f"role inference {folder} by two collectors",
        f"<{folder}_key>REDACTED</{folder}_key>",
        f"tests/data/{folder}-vpc/main.tf",
    ]
    assert [line for line in caught if not SIBLING_PATH.search(line)] == []
    assert [line for line in kept if SIBLING_PATH.search(line)] == []


def test_no_file_under_tests_names_a_path_into_the_sibling_folder() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _files_under_tests()
        for number, line in enumerate(_text(path).splitlines(), start=1)
        if SIBLING_PATH.search(line)
    ]
    assert hits == [], "tests must read tests/data, not a folder beside the checkout:\n" + "\n".join(hits)


def _climbs_out(line: str, depth: int) -> bool:
    """Whether ``line`` walks from ``__file__`` above the root, in a file ``depth`` parts deep."""
    indices = [int(m.group(1)) for m in PARENTS_INDEX.finditer(line)]
    chains = [m.group(1).count(".parent") for m in PARENT_CHAIN.finditer(line)]
    return any(i >= depth for i in indices) or any(n > depth for n in chains)


def test_climbing_is_measured_from_the_file_depth() -> None:
    up, chain = "parents", ".parent"  # built so that this file stays clean
    tests_file = 2  # tests/x.py
    assert _climbs_out(f"Path(__file__).resolve().{up}[1]", tests_file) is False
    assert _climbs_out(f"Path(__file__).resolve().{up}[2]", tests_file) is True
    assert _climbs_out(f"Path(__file__).resolve().{up}[2]", tests_file + 1) is False
    assert _climbs_out(f"Path(__file__){chain * 2}", tests_file) is False
    assert _climbs_out(f"Path(__file__).resolve(){chain * 3}", tests_file) is True


def test_no_test_module_climbs_above_the_repository_root() -> None:
    hits = []
    for path in _files_under_tests():
        if path.suffix != ".py":
            continue
        # tests/x.py: parents[0] is tests/, parents[1] the root, parents[2] is outside.
        depth = len(path.relative_to(ROOT).parts)
        hits += [
            f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(_text(path).splitlines(), start=1)
            if _climbs_out(line, depth)
        ]
    assert hits == []


# --- third-party samples carry their README and licences ------------------------------------

#: One row of the samples README table: | `local/path` | owner/repo | ...
TABLE_ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<repo>[\w.-]+/[\w.-]+) \|", re.MULTILINE)


def _listed(readme: Path) -> dict[str, str]:
    """Local path -> upstream owner/repo, from the README's table."""
    return {m["path"]: m["repo"] for m in TABLE_ROW.finditer(readme.read_text(encoding="utf-8"))}


def _licence(folder: Path, repo: str) -> Path:
    return folder / "LICENSES" / (repo.replace("/", "-") + ".txt")


def _sample_folders() -> list[Path]:
    """Every folder under tests/ that holds third-party samples (a README beside LICENSES/)."""
    return sorted(
        p.parent for p in TESTS.rglob("LICENSES") if p.is_dir() and (p.parent / "README.md").is_file()
    )


def test_sample_folders_are_found() -> None:
    assert [p.relative_to(ROOT).as_posix() for p in _sample_folders()] == [
        "tests/cases/talos-samples",
        "tests/data/samples",
    ]


def test_every_sample_file_is_listed_in_its_readme_with_its_licence_beside_it() -> None:
    own = {"README.md", "case.yaml"}  # the README itself and a golden case's own file
    unlisted, unlicensed = [], []
    for folder in _sample_folders():
        listed = _listed(folder / "README.md")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if not path.is_file() or rel in own or rel.startswith("LICENSES/"):
                continue
            if rel not in listed:
                unlisted.append(f"{folder.relative_to(ROOT)}/{rel}")
            elif not _licence(folder, listed[rel]).is_file():
                unlicensed.append(f"{folder.relative_to(ROOT)}/{rel} ({listed[rel]})")
    assert (unlisted, unlicensed) == ([], [])


def test_tests_data_samples_holds_every_listed_sample_and_only_licences_in_use() -> None:
    listed = _listed(SAMPLES / "README.md")
    assert len(listed) == 20  # 2 pfSense, 3 OPNsense, 8 Proxmox, 7 Talos: the table's rows
    assert sorted(p for p in listed if not (SAMPLES / p).is_file()) == []
    licences = sorted(p.name for p in (SAMPLES / "LICENSES").iterdir())
    assert licences == sorted({_licence(SAMPLES, repo).name for repo in listed.values()})
