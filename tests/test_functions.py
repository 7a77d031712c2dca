from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from talosaudit.collectors.terraform import functions
from talosaudit.collectors.terraform.evaluator import EvalError, Scope, evaluate
from talosaudit.collectors.terraform.hcl_parse import parse_expression, parse_template_text
from talosaudit.collectors.terraform.values import PartialList, Ref, Unknown


class _Module:
    """A scope with a few fixed names: just enough to call functions on real values."""

    def __init__(self, root: Path) -> None:
        self.names: dict[str, Any] = {
            "known": {"a": "10.0.0.0/8", "ports": [22, 6443]},
            "unk": Unknown("var.unk", "variable has no value"),
            "ref": Ref("aws_security_group.cp", "id"),
        }
        self.files = functions.FileAccess(root, root, self._template)

    def _template(self, content: str, variables: dict[str, Any]) -> Any:
        return evaluate(parse_template_text(content, 1), Scope(self, dict(variables)))

    def root_name(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        raise EvalError(f"unknown name {name}")

    def call_function(self, name: str, args: list[Any], text: str) -> Any:
        return functions.call(name, args, text, self.files)


@pytest.fixture
def ev(tmp_path: Path) -> Any:
    module = _Module(tmp_path)

    def run(text: str) -> Any:
        return evaluate(parse_expression(text, 1), Scope(module, {}))

    return run


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ('length(["a", "b"])', 2),
        ("length({a = 1})", 1),
        ('concat(["a"], ["b", "c"])', ["a", "b", "c"]),
        ("merge({a = 1, b = 2}, {b = 3}, null)", {"a": 1, "b": 3}),
        ('lookup({a = "x"}, "b", "d")', "d"),
        ('element(["a", "b"], 3)', "b"),
        ('flatten([["a"], [["b"]], "c"])', ["a", "b", "c"]),
        ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"),
        ('cidrsubnet("fd00::/48", 16, 1)', "fd00:0:0:1::/64"),
        ('cidrhost("10.0.1.0/24", 5)', "10.0.1.5"),
        ('cidrhost("10.0.1.0/24", -2)', "10.0.1.254"),
        ('cidrnetmask("10.0.0.0/12")', "255.240.0.0"),
        ('cidrsubnets("10.0.0.0/16", 8, 4)', ["10.0.0.0/24", "10.0.16.0/20"]),
        ('tolist(["a"])', ["a"]),
        ('toset(["b", "a", "b"])', ["a", "b"]),
        ('tomap({a = "1"})', {"a": "1"}),
        ("tostring(22)", "22"),
        ('tonumber("6443")', 6443),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ("values({b = 1, a = 2})", [2, 1]),
        ('format("%s/%d %q %05d %t", "tcp", 22, "x", 42, true)', 'tcp/22 "x" 00042 true'),
        ('format("%[2]s-%[1]s", "a", "b")', "b-a"),
        ('formatlist("%s:%d", ["a", "b"], 80)', ["a:80", "b:80"]),
        ('join(",", ["a", "b"], ["c"])', "a,b,c"),
        ('split(",", "a,b")', ["a", "b"]),
        ('try(known.missing, "fallback")', "fallback"),
        ("try(known.ports[5], known.ports[1])", 6443),
        ("can(known.a)", True),
        ("can(known.zzz)", False),
        ('can(regex("^10\\\\.", known.a))', True),
        ('coalesce(null, "", "x")', "x"),
        ('coalescelist([], ["a"])', ["a"]),
        ("range(3)", [0, 1, 2]),
        ("range(1, 10, 4)", [1, 5, 9]),
        ('contains(["a"], "a")', True),
        ('distinct(["a", "b", "a"])', ["a", "b"]),
        ('compact(["a", "", null])', ["a"]),
        ('lower("AbC")', "abc"),
        ('upper("ab")', "AB"),
        ('replace("a-b-c", "-", "_")', "a_b_c"),
        ('replace("port-22", "/[0-9]+/", "N")', "port-N"),
        ('trimspace("  x ")', "x"),
        ("min(3, 1, 2)", 1),
        ("max(known.ports...)", 6443),
        ("abs(-4)", 4),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('setunion(["b"], ["a", "b"])', ["a", "b"]),
        ('slice(["a", "b", "c"], 1, 3)', ["b", "c"]),
        ('sort(["b", "a"])', ["a", "b"]),
        ("jsonencode({b = [1, true], a = null})", '{"a":null,"b":[1,true]}'),
        ('jsondecode("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ("yamlencode({a = [1]})", "a:\n- 1\n"),
        ('yamldecode("a: 1\\nb: [x]")', {"a": 1, "b": ["x"]}),
        ('base64encode("hi")', "aGk="),
        ('base64decode("aGk=")', "hi"),
        ('startswith("talos", "ta")', True),
        ('endswith("talos", "os")', True),
        ('one(["x"])', "x"),
        ("one([])", None),
        ("sum([1, 2, 3.5])", 6.5),
        ("alltrue([true, true])", True),
        ("anytrue([false, true])", True),
        ('regex("(\\\\d+)-(\\\\d+)", "2379-2380")', ["2379", "2380"]),
        ('regex("(?P<from>\\\\d+)-(?P<to>\\\\d+)", "1-2")', {"from": "1", "to": "2"}),
        ('regexall("\\\\d+", "a1b22")', ["1", "22"]),
        (
            'setproduct(["10.0.0.0/8", "0.0.0.0/0"], [6443, 50000])',
            [["10.0.0.0/8", 6443], ["10.0.0.0/8", 50000], ["0.0.0.0/0", 6443], ["0.0.0.0/0", 50000]],
        ),
        ('setproduct(["a"], [])', []),
        ("length([unk, 1])", 2),
        ("concat([unk], [1])", [Unknown("var.unk", "variable has no value"), 1]),
        ('coalesce("a", unk)', "a"),
        ("merge({a = unk}, {b = 1})", {"a": Unknown("var.unk", "variable has no value"), "b": 1}),
        ("concat([ref.x], [1])", [Ref("aws_security_group.cp", "id.x"), 1]),
    ],
)
def test_function_values(ev: Any, expr: str, value: Any) -> None:
    assert ev(expr) == value


def test_unknown_argument_makes_an_unknown_naming_the_call(ev: Any) -> None:
    assert ev("cidrsubnet(unk, 8, 1)") == Unknown("cidrsubnet(unk, 8, 1)", "var.unk: variable has no value")
    assert ev("length(unk)") == Unknown("length(unk)", "var.unk: variable has no value")
    assert ev('format("%s", ref)') == Unknown(
        'format("%s", ref)', "aws_security_group.cp.id is known only after apply"
    )
    assert ev('coalesce(unk, "a")') == Unknown('coalesce(unk, "a")', "var.unk: variable has no value")


def test_concat_with_an_unknown_list_keeps_the_known_elements_only_where_the_list_passes(ev: Any) -> None:
    partial = ev('concat(["0.0.0.0/0"], unk, ["10.0.0.0/8"])')
    assert type(partial) is PartialList
    assert partial.expression == 'concat(["0.0.0.0/0"], unk, ["10.0.0.0/8"])'
    assert partial.reason == "var.unk: variable has no value"
    assert partial.known == ("0.0.0.0/0", "10.0.0.0/8")
    # Functions that return the list (or all of it) keep it, under their own text.
    kept = ev('toset(concat(["0.0.0.0/0"], unk))')
    assert type(kept) is PartialList
    assert (kept.expression, kept.known) == ('toset(concat(["0.0.0.0/0"], unk))', ("0.0.0.0/0",))
    assert ev('concat(concat(["a"], unk), ["b"])').known == ("a", "b")
    # Anything else about the list is simply unknown: its length, an element, a comparison.
    for text in (
        'length(concat(["a"], unk))',
        'concat(["a"], unk)[0]',
        'element(concat(["a"], unk), 0)',
        'concat(["a"], unk) == ["a"]',
        '"x ${jsonencode(concat(["a"], unk))}"',
        '[for c in concat(["a"], unk) : c]',
    ):
        value = ev(text)
        assert type(value) is Unknown, text
        assert value.expression == text
    # Nothing known, nothing kept.
    assert type(ev("concat([], unk)")) is Unknown


def test_setproduct_needs_two_lists_and_stays_small(ev: Any) -> None:
    assert ev('setproduct(["a"])') == Unknown(
        'setproduct(["a"])', "error: setproduct() needs at least two arguments"
    )
    big = ev("setproduct(range(100), range(100))")
    assert isinstance(big, Unknown)
    assert "more than 4096 elements" in big.reason


def test_unsupported_function_is_unknown_not_an_error(ev: Any) -> None:
    assert ev("frobnicate(1)") == Unknown("frobnicate(1)", "function frobnicate is not supported")
    assert ev("timestamp()") == Unknown("timestamp()", "function timestamp is not supported")


def test_errors_become_unknown_with_the_expression(ev: Any) -> None:
    result = ev('cidrsubnet("10.0.0.0/30", 8, 1)')
    assert isinstance(result, Unknown)
    assert result.expression == 'cidrsubnet("10.0.0.0/30", 8, 1)'
    assert result.reason.startswith("error: cidrsubnet(): cannot make subnet 1 with 8 more bits")


def test_file_and_templatefile_read_only_inside_the_root(tmp_path: Path, ev: Any) -> None:
    (tmp_path / "rules.tpl").write_text("%{ for p in ports ~}\nallow ${p}\n%{ endfor ~}\nend=${name}\n")
    (tmp_path / "plain.txt").write_text("hello\n")
    assert ev('file("plain.txt")') == "hello\n"
    assert (
        ev('templatefile("rules.tpl", {ports = [22, 6443], name = "cp"})') == "allow 22\nallow 6443\nend=cp\n"
    )
    assert ev('file("../outside.txt")') == Unknown(
        'file("../outside.txt")', "file outside the scanned directory is not read"
    )
    assert ev('file("/etc/hostname")') == Unknown(
        'file("/etc/hostname")', "file outside the scanned directory is not read"
    )
