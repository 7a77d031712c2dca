"""Making input-derived text safe to print: every reporter passes such text through here.

Inputs are written by whoever opens the pull request, and what we print lands in terminals
(escape sequences: CSI, OSC 52 clipboard writes, OSC 8 links), in GitHub runner logs (a line
starting with ``::`` is a workflow command: ``::add-mask::``, ``::error ...::``, ``::stop-commands::``)
and in markdown rendered on GitHub. So:

- ``visible()``: control characters (C0, DEL, C1), Unicode line and paragraph separators and
  bidirectional overrides become visible escapes (``\\x1b``, ``\\n``, ``\\u202e``); the text stays
  on one line and nothing in it is interpreted by a terminal.
- ``guard_lines()``: the final pass over a rendered report: a line whose first non-blank
  characters are ``::`` is not ours (the runner trims leading blanks before it looks), so its
  first colon is written ``\\x3a``. Only the GitHub reporter's own annotations are let through.
- ``md_cell()``: markdown table cells and list items: pipes, backticks, brackets and HTML escaped.
"""

from __future__ import annotations

from collections.abc import Collection

#: Named escapes for the common controls; any other is ``\xNN`` / ``\uNNNN``.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Not control characters by category, but they move text (line breaks) or reorder it
#: (bidirectional overrides and isolates: "Trojan Source").
_FORMATTING = frozenset(
    "\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_COMMAND_PREFIX = "::"


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or ch in _FORMATTING


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, keep: str = "") -> str:
    """``text`` on one line with every control character shown as an escape.

    ``keep`` names characters left as they are (the GitHub reporter keeps ``\\r\\n``, which
    its own ``%0A`` escaping turns into data). Backslashes are not doubled: the output is for
    people to read, not to be parsed back.
    """
    s = str(text)
    if not any(_unsafe(ch) for ch in s):
        return s
    return "".join(_escape(ch) if _unsafe(ch) and ch not in keep else ch for ch in s)


def is_command_line(line: str) -> bool:
    """Whether a GitHub runner would read ``line`` as a workflow command."""
    return line.lstrip().startswith(_COMMAND_PREFIX)


def defuse(line: str) -> str:
    """``line`` with a leading ``::`` (after blanks) written so the runner ignores it."""
    if not is_command_line(line):
        return line
    blanks = len(line) - len(line.lstrip())
    return line[:blanks] + "\\x3a" + line[blanks + 1 :]


def guard_lines(text: str, own: Collection[str] = ()) -> str:
    """Every line of a rendered report made safe: ``own`` lines (our annotations) are kept."""
    lines = text.split("\n")
    return "\n".join(line if line in own else defuse(line) for line in lines)


_MD_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}


def md_cell(text: object) -> str:
    """Markdown-inline safe: on one line, no table break (``|``), no code span, link or HTML
    taken from the input (emphasis is left alone: harmless, and escaping it hurts the raw text)."""
    return "".join(_MD_ESCAPES.get(ch, ch) for ch in visible(text))


def md_code(text: object) -> str:
    """``text`` as an inline code span in a table cell: a code span cannot be escaped inside,
    so text holding a backtick is written as escaped plain text instead."""
    shown = visible(text)
    if "`" in shown:
        return md_cell(shown)
    return "`" + shown.replace("|", "\\|") + "`"
