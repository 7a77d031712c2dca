"""The trees of the HCL snippets of test_hcl_fast.py, recorded from python-hcl2's lark tree
converted by the former tree path (hcl_parse._Converter) when it and the one-pass builder
agreed on every snippet; the builder, now the only converter, must still give them."""

from talosaudit.collectors.terraform.syntax import Attr, BlockNode

TREES = {
    "access": (
        (
            Attr(
                name="a",
                expr=(
                    "S",
                    1,
                    ("A", 1, ("I", 1, ("A", 1, ("A", 1, ("N", 1, "var"), "o"), "b"), ("L", 1, 0)), "c"),
                    (("A", "d"),),
                    True,
                ),
                line=1,
                end_line=1,
            ),
            Attr(
                name="b",
                expr=("S", 2, ("A", 2, ("N", 2, "var"), "l"), (("A", "id"),), False),
                line=2,
                end_line=2,
            ),
            Attr(name="c", expr=("A", 3, ("I", 3, ("N", 3, "x"), ("L", 3, 0)), "y"), line=3, end_line=3),
            Attr(
                name="d",
                expr=(
                    "S",
                    4,
                    ("S", 4, ("N", 4, "v"), (("I", ("N", 4, "k")), ("A", "a")), True),
                    (("I", ("L", 4, 1)),),
                    False,
                ),
                line=4,
                end_line=4,
            ),
            Attr(name="e", expr=("A", 5, ("N", 5, "f"), "true"), line=5, end_line=5),
        ),
        (),
    ),
    "blocks": (
        (),
        (
            BlockNode(
                type="resource",
                labels=("aws_security_group", "sg"),
                attrs=(),
                blocks=(
                    BlockNode(
                        type="dynamic",
                        labels=("ingress",),
                        attrs=(
                            Attr(name="for_each", expr=("A", 3, ("N", 3, "var"), "p"), line=3, end_line=3),
                        ),
                        blocks=(
                            BlockNode(
                                type="content",
                                labels=(),
                                attrs=(
                                    Attr(
                                        name="from_port",
                                        expr=("A", 5, ("N", 5, "ingress"), "value"),
                                        line=5,
                                        end_line=5,
                                    ),
                                ),
                                blocks=(),
                                line=4,
                                end_line=6,
                            ),
                        ),
                        line=2,
                        end_line=7,
                    ),
                    BlockNode(
                        type="lifecycle",
                        labels=(),
                        attrs=(Attr(name="x", expr=("L", 8, True), line=8, end_line=8),),
                        blocks=(),
                        line=8,
                        end_line=8,
                    ),
                ),
                line=1,
                end_line=9,
            ),
            BlockNode(
                type="block",
                labels=("in",),
                attrs=(Attr(name="x", expr=("L", 11, 1), line=11, end_line=11),),
                blocks=(),
                line=10,
                end_line=12,
            ),
            BlockNode(type="empty", labels=("a", "true"), attrs=(), blocks=(), line=13, end_line=14),
            BlockNode(type="nolabel", labels=(), attrs=(), blocks=(), line=15, end_line=15),
        ),
    ),
    "calls": (
        (
            Attr(
                name="a",
                expr=("C", 1, "provider::aws::arn_parse", (("L", 1, "x"),), False),
                line=1,
                end_line=1,
            ),
            Attr(
                name="b",
                expr=(
                    "C",
                    2,
                    "merge",
                    (("A", 2, ("N", 2, "var"), "a"), ("A", 2, ("N", 2, "var"), "b")),
                    True,
                ),
                line=2,
                end_line=2,
            ),
            Attr(name="c", expr=("C", 3, "f", (), False), line=3, end_line=3),
            Attr(name="d", expr=("C", 4, "g", (("L", 5, 1), ("L", 6, 2)), False), line=4, end_line=7),
        ),
        (),
    ),
    "collections": (
        (
            Attr(name="a", expr=("U", 1, (("L", 2, 1), ("L", 3, 2))), line=1, end_line=4),
            Attr(
                name="b",
                expr=(
                    "O",
                    5,
                    (
                        (("L", 5, "in"), ("L", 5, 1)),
                        (("L", 5, "for"), ("L", 5, 2)),
                        (("L", 5, "q"), ("L", 5, 3)),
                        (("P", 5, ("A", 5, ("N", 5, "local"), "z")), ("L", 5, 4)),
                        (("A", 5, ("N", 5, "x"), "y"), ("L", 5, 5)),
                        (("L", 5, "k"), ("L", 5, 6)),
                    ),
                ),
                line=5,
                end_line=5,
            ),
            Attr(name="c", expr=("O", 6, ()), line=6, end_line=6),
            Attr(name="d", expr=("U", 7, ()), line=7, end_line=7),
        ),
        (),
    ),
    "comment before operator": (
        (Attr(name="a", expr=("B", 1, "||", ("N", 1, "x"), ("N", 2, "y")), line=1, end_line=4),),
        (),
    ),
    "conditional across lines": (
        (
            Attr(
                name="a",
                expr=("P", 1, ("?", 2, ("N", 2, "p"), ("C", 3, "q", (("L", 3, 1),), False), ("N", 4, "r"))),
                line=1,
                end_line=5,
            ),
        ),
        (),
    ),
    "crlf": (
        (Attr(name="a", expr=("L", 1, 1), line=1, end_line=1),),
        (
            BlockNode(
                type="b",
                labels=(),
                attrs=(Attr(name="c", expr=("L", 3, "x"), line=3, end_line=3),),
                blocks=(),
                line=2,
                end_line=4,
            ),
        ),
    ),
    "for expressions": (
        (
            Attr(
                name="a",
                expr=(
                    "F",
                    1,
                    "i",
                    "v",
                    ("A", 1, ("N", 1, "var"), "l"),
                    None,
                    ("B", 1, "*", ("N", 1, "v"), ("L", 1, 2)),
                    ("B", 1, ">", ("N", 1, "i"), ("L", 1, 0)),
                    False,
                ),
                line=1,
                end_line=1,
            ),
            Attr(
                name="b",
                expr=(
                    "F",
                    2,
                    "k",
                    "v",
                    ("A", 2, ("N", 2, "var"), "m"),
                    ("N", 2, "k"),
                    ("N", 2, "v"),
                    ("B", 2, "!=", ("N", 2, "v"), ("L", 2, None)),
                    True,
                ),
                line=2,
                end_line=2,
            ),
            Attr(
                name="c",
                expr=("F", 3, None, "x", ("N", 3, "y"), None, ("N", 3, "x"), None, False),
                line=3,
                end_line=3,
            ),
        ),
        (),
    ),
    "heredoc as first operand": (
        (
            Attr(
                name="a",
                expr=("?", 1, ("B", 1, "==", ("L", 2, "left\n"), ("L", 4, "x")), ("L", 4, 1), ("L", 4, 2)),
                line=1,
                end_line=4,
            ),
            Attr(name="b", expr=("L", 5, 1), line=5, end_line=5),
        ),
        (),
    ),
    "heredoc indexed": ((Attr(name="a", expr=("A", 1, ("L", 2, "x\n"), "b"), line=1, end_line=4),), ()),
    "heredocs": (
        (),
        (
            BlockNode(
                type="locals",
                labels=(),
                attrs=(
                    Attr(
                        name="a",
                        expr=(
                            "T",
                            3,
                            (
                                "line ",
                                ("A", 3, ("N", 3, "var"), "x"),
                                " ",
                                ("%if", ("N", 3, "y"), ("yes",), ("no",)),
                                "\n",
                            ),
                        ),
                        line=2,
                        end_line=4,
                    ),
                    Attr(name="b", expr=("L", 6, "indented\n  more\n"), line=5, end_line=8),
                    Attr(
                        name="c",
                        expr=("C", 9, "trimspace", (("L", 10, "in a call\n"),), False),
                        line=9,
                        end_line=12,
                    ),
                ),
                blocks=(),
                line=1,
                end_line=13,
            ),
        ),
    ),
    "no final newline": ((Attr(name="a", expr=("L", 1, 1), line=1, end_line=1),), ()),
    "operators": (
        (
            Attr(
                name="a",
                expr=(
                    "B",
                    1,
                    "+",
                    ("L", 1, 1),
                    (
                        "B",
                        2,
                        "%",
                        ("B", 2, "*", ("L", 2, 2), ("P", 2, ("B", 2, "-", ("L", 2, 3), ("N", 2, "x")))),
                        ("L", 2, 4),
                    ),
                ),
                line=1,
                end_line=2,
            ),
            Attr(
                name="b",
                expr=(
                    "B",
                    3,
                    "||",
                    ("B", 3, "&&", ("!", 3, "!", ("N", 3, "c")), ("N", 3, "d")),
                    ("B", 3, "==", ("N", 3, "e"), ("N", 3, "f")),
                ),
                line=3,
                end_line=3,
            ),
            Attr(
                name="c",
                expr=("?", 4, ("B", 4, "!=", ("N", 4, "x"), ("N", 4, "y")), ("L", 4, -1), ("L", 4, -25)),
                line=4,
                end_line=4,
            ),
        ),
        (),
    ),
    "templates": (
        (
            Attr(
                name="a",
                expr=(
                    "T",
                    1,
                    (
                        "pre ",
                        ("A", 1, ("N", 1, "var"), "a"),
                        " ",
                        ("%for", "k", "v", ("N", 1, "m"), (("N", 1, "k"), "=", ("N", 1, "v"))),
                        " ${lit} %{lit}",
                    ),
                ),
                line=1,
                end_line=1,
            ),
            Attr(
                name="b",
                expr=(
                    "T",
                    2,
                    (
                        "kms",
                        (
                            "%if",
                            ("B", 2, "!=", ("A", 2, ("N", 2, "var"), "id"), ("L", 2, "primary")),
                            ("-", ("A", 2, ("N", 2, "var"), "id")),
                            (),
                        ),
                    ),
                ),
                line=2,
                end_line=2,
            ),
            Attr(name="c", expr=("L", 3, 'esc " \\ \n \t é'), line=3, end_line=3),
        ),
        (),
    ),
}
