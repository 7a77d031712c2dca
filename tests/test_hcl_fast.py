"""The one-pass HCL builder (hcl_fast), the only HCL converter, and the loader's parser
helpers.

The trees it must give are recorded in hcl_trees.py (from the time a second converter of
python-hcl2's lark tree checked them); its errors are those that converter reported.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest

from hcl_trees import TREES
from talosaudit.collectors.terraform import hcl_fast, loader
from talosaudit.collectors.terraform.hcl_parse import parse_expression
from talosaudit.collectors.terraform.parse import parse_source
from talosaudit.collectors.terraform.parse_worker import read_message, write_message
from talosaudit.collectors.terraform.syntax import Attr, ParseResult

HEREDOC_FIRST = 'a = <<EOF\nleft\nEOF\n == "x" ? 1 : 2\nb = 1\n'

SNIPPETS = {
    "operators": "a = 1 +\n  2 * (3 - x) % 4\nb = !c && d || e == f\nc = x != y ? -1 : -2.5e1\n",
    "comment before operator": "a = x # why\n  || y\n",
    "conditional across lines": "a = (\n  p\n  ? q(1)\n  : r\n)\n",
    "heredocs": (
        "locals {\n  a = <<EOF\nline ${var.x} %{ if y }yes%{ else }no%{ endif }\nEOF\n"
        "  b = <<-EOT\n    indented\n      more\n    EOT\n  c = trimspace(<<EOF\nin a call\nEOF\n  )\n}\n"
    ),
    "heredoc as first operand": HEREDOC_FIRST,
    "heredoc indexed": "a = <<EOF\nx\nEOF\n.b\n",
    "templates": (
        'a = "pre ${var.a} %{ for k, v in m ~}${k}=${v} %{~ endfor } $${lit} %%{lit}"\n'
        'b = "kms%{ if var.id != \\"primary\\" }-${var.id}%{ endif }"\n'
        'c = "esc \\" \\\\ \\n \\t \\u00e9"\n'
    ),
    "collections": (
        'a = [\n  1,\n  2,\n]\nb = { in = 1, for = 2, "q" = 3, (local.z) = 4, x.y = 5, k : 6 }\n'
        "c = {}\nd = []\n"
    ),
    "for expressions": (
        "a = [for i, v in var.l : v * 2 if i > 0]\nb = { for k, v in var.m : k => v... if v != null }\n"
        "c = [for x in y : x]\n"
    ),
    "access": "a = var.o.b[0].c[*].d\nb = var.l.*.id\nc = x.0.y\nd = v[*][k].a.*.1\ne = f.true\n",
    "calls": 'a = provider::aws::arn_parse("x")\nb = merge(var.a, var.b...)\nc = f()\nd = g(\n  1,\n  2\n)\n',
    "blocks": (
        'resource "aws_security_group" "sg" {\n  dynamic "ingress" {\n    for_each = var.p\n'
        "    content {\n      from_port = ingress.value\n    }\n  }\n  lifecycle { x = true }\n}\n"
        'block in {\n  x = 1\n}\nempty "a" true {\n}\nnolabel {}\n'
    ),
    "crlf": 'a = 1\r\nb {\r\n  c = "x"\r\n}\r\n',
    "no final newline": "a = 1",
}


def test_every_snippet_has_its_recorded_tree() -> None:
    assert sorted(TREES) == sorted(SNIPPETS)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_builder_gives_the_recorded_tree(name: str) -> None:
    body = hcl_fast.build(SNIPPETS[name])
    assert (body.attrs, body.blocks) == TREES[name]


def test_lines_of_attributes_blocks_and_expressions() -> None:
    body = hcl_fast.build(HEREDOC_FIRST)
    a, b = body.attrs
    # the heredoc's value starts on the line after its marker; the comparison starts at the marker
    assert a == Attr(
        "a",
        ("?", 1, ("B", 1, "==", ("L", 2, "left\n"), ("L", 4, "x")), ("L", 4, 1), ("L", 4, 2)),
        1,
        4,
    )
    assert b == Attr("b", ("L", 5, 1), 5, 5)
    blocks = hcl_fast.build(SNIPPETS["blocks"]).blocks
    assert [(blk.type, blk.labels, blk.line, blk.end_line) for blk in blocks] == [
        ("resource", ("aws_security_group", "sg"), 1, 9),
        ("block", ("in",), 10, 12),
        ("empty", ("a", "true"), 13, 14),
        ("nolabel", (), 15, 15),
    ]


def test_expression_lines_are_shifted() -> None:
    assert parse_expression("var.a[0]", 7) == ("I", 7, ("A", 7, ("N", 7, "var"), "a"), ("L", 7, 0))
    assert parse_expression("[\n1,\n2]", 3) == ("U", 3, (("L", 4, 1), ("L", 5, 2)))


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        # conversion problems come after grammar errors, the first in the file first
        ('resource "a${x}" "b" {\n}\n', "a block label cannot contain a template", 1),
        ('a = "%{ if x }"\nb = \nc = {\n', "unexpected token 'c = {' at line 2", 2),
        ('a = "%{ if x }y"\n', "template has %{if} without %{endif}", 1),
        ("a = " + " + ".join(["x"] * 700) + "\n", "file is nested too deeply to parse", 0),
        ("resource {\n", "unexpected end of file at line 2", 2),
    ],
)
def test_errors_name_the_problem_and_its_line(text: str, message: str, line: int) -> None:
    assert parse_source("hcl", text.encode()) == ParseResult(None, message, line)


def test_deep_but_valid_nesting_still_parses() -> None:
    text = "a = " + "[" * 150 + "]" * 150 + "\n"
    result = parse_source("hcl", text.encode())
    expected: tuple[object, ...] = ("U", 1, ())
    for _ in range(149):
        expected = ("U", 1, (expected,))
    assert result.tree is not None
    assert result.tree.attrs == (Attr("a", expected, 1, 1),)


def test_the_first_conversion_problem_in_the_file_is_reported() -> None:
    text = 'a = "%{ endif }"\nresource "x${y}" "z" {\n  b = "%{ if c }"\n}\n'
    assert parse_source("hcl", text.encode()) == ParseResult(
        None, "template has %{endif} without its opening directive", 1
    )


def test_an_invalid_template_expression_is_named() -> None:
    text = "a = <<EOF\n${ 1 + }\nEOF\n"
    assert parse_source("hcl", text.encode()) == ParseResult(None, "invalid expression '1 +'", 2)


# --- loader: this process plus lean helper processes -------------------------------------


def _items(count: int) -> list[tuple[str, bytes]]:
    items = [
        ("hcl", f'resource "aws_security_group_rule" "r{i}" {{\n  from_port = {i}\n}}\n'.encode())
        for i in range(count)
    ]
    items[5] = ("hcl", b"resource {\n")
    items[7] = ("json", b'{"locals": {"a": "${var.b}"}}')
    return items


def test_helpers_give_the_in_process_results() -> None:
    items = _items(40)
    serial = loader.parse_all(items, 1)
    assert loader.parse_all(items, 2, min_bytes=0) == serial
    assert loader.parse_all(items, 3, min_bytes=0) == serial
    assert serial[5] == ParseResult(None, "unexpected end of file at line 2", 2)
    assert serial[39].tree is not None
    assert serial[39].tree.blocks[0].attrs[0] == Attr("from_port", ("L", 2, 39), 2, 2)


def test_a_helper_that_cannot_start_leaves_the_work_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    items = _items(20)
    monkeypatch.setattr(loader, "_WORKER_MODULE", "talosaudit.no_such_module")
    assert loader.parse_all(items, 2, min_bytes=0) == loader.parse_all(items, 1)


def test_small_inputs_stay_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_helpers() -> None:
        raise AssertionError("a helper was started for a small input")

    monkeypatch.setattr(loader, "_start_helper", no_helpers)
    assert len(loader.parse_all(_items(20), 2)) == 20


def test_message_framing() -> None:
    stream = io.BytesIO()
    write_message(stream, pickle.dumps([("hcl", b"a = 1\n")]))
    stream.seek(0)
    message = read_message(stream)
    assert message is not None
    assert pickle.loads(message) == [("hcl", b"a = 1\n")]
    assert read_message(stream) is None
    assert read_message(io.BytesIO(b"\x00\x00\x00\x00\x00\x00\x00\x09short")) is None


def test_worker_module_parses_over_its_streams(tmp_path: Path) -> None:
    import subprocess
    import sys

    request = io.BytesIO()
    write_message(request, pickle.dumps([("hcl", b"a = [1,\n2]\n")]))
    done = subprocess.run(
        [sys.executable, "-m", loader._WORKER_MODULE],
        input=request.getvalue(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    message = read_message(io.BytesIO(done.stdout))
    assert message is not None
    (result,) = pickle.loads(message)
    assert result.tree.attrs == (Attr("a", ("U", 1, (("L", 1, 1), ("L", 2, 2))), 1, 2),)
