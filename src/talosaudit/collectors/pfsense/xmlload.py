"""Safe loading of untrusted config.xml exports into a small tree with line numbers.

The parser is defusedxml's expat SAX reader with DTDs, entity declarations and external
references forbidden: a "billion laughs" or XXE file stops at its ``<!DOCTYPE`` before any
entity is expanded or fetched. The file size is checked before a byte is read, so memory
stays bounded by ``MAX_BYTES`` plus a small multiple for the tree.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import Locator

from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from talosaudit.regular_files import open_regular

#: config.xml exports of real firewalls are well below 1 MiB; 10 MiB leaves room for large
#: alias tables while keeping a hostile file from exhausting memory.
MAX_BYTES = 10 * 1024 * 1024

_ENCRYPTED_MARKER = b"---- BEGIN config.xml ----"


class XmlLoadError(Exception):
    """The file is not usable XML; ``line`` is 0 when no line applies."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class XmlElement:
    """One element: tag, attributes, stripped text, children, and its line span."""

    tag: str
    line: int
    end_line: int
    text: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    children: tuple[XmlElement, ...] = field(default=())

    def child(self, tag: str) -> XmlElement | None:
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def all(self, tag: str) -> tuple[XmlElement, ...]:
        return tuple(c for c in self.children if c.tag == tag)

    def has(self, tag: str) -> bool:
        return self.child(tag) is not None

    def find(self, *tags: str) -> XmlElement | None:
        """The element at a path of child tags (first match at each step)."""
        node: XmlElement | None = self
        for tag in tags:
            if node is None:
                return None
            node = node.child(tag)
        return node

    def text_of(self, tag: str, default: str = "") -> str:
        """The text of the first child ``tag`` with HTML entities decoded (pfSense stores
        descriptions CDATA-wrapped *and* entity-encoded)."""
        c = self.child(tag)
        return html.unescape(c.text) if c is not None else default

    def attr(self, name: str, default: str = "") -> str:
        for k, v in self.attrs:
            if k == name:
                return v
        return default


@dataclass
class _Open:
    tag: str
    line: int
    attrs: tuple[tuple[str, str], ...]
    text: list[str] = field(default_factory=list)
    children: list[XmlElement] = field(default_factory=list)


class _TreeBuilder(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[_Open] = []
        self.root: XmlElement | None = None
        self.locator: Locator | None = None

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (SAX API)
        self.locator = locator

    def line(self) -> int:
        return int(self.locator.getLineNumber() or 0) if self.locator is not None else 0

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 (SAX API)
        pairs = tuple((str(k), str(attrs[k])) for k in attrs.getNames())
        self.stack.append(_Open(name, self.line(), pairs))

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX API)
        node = self.stack.pop()
        element = XmlElement(
            tag=node.tag,
            line=node.line,
            end_line=self.line(),
            text="".join(node.text).strip(),
            attrs=node.attrs,
            children=tuple(node.children),
        )
        if self.stack:
            self.stack[-1].children.append(element)
        else:
            self.root = element

    def characters(self, content: str) -> None:
        if self.stack:
            self.stack[-1].text.append(content)


def parse_xml(data: bytes) -> XmlElement:
    """Parse bytes into a tree; raises XmlLoadError with a readable message and line."""
    if data.lstrip()[: len(_ENCRYPTED_MARKER)] == _ENCRYPTED_MARKER:
        raise XmlLoadError("encrypted config.xml backup: decrypt it in the firewall GUI before scanning", 1)
    builder = _TreeBuilder()
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(builder)
    # feed() (unlike parse()) never hands the handler a locator; the expat reader is one.
    builder.setDocumentLocator(parser)
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise XmlLoadError(
            f"entity declarations are not allowed: the file has a DTD or entity ({type(exc).__name__}); "
            "talosaudit never expands entities or fetches external references",
            builder.line(),
        ) from None
    except SAXParseException as exc:
        line, last = exc.getLineNumber() or 0, _last_line(data)
        message = f"malformed XML: {exc.getMessage()}"
        if line > last:
            # expat reports the end of input on the line after the final newline.
            line, message = last, f"{message}: the file ends before the document does (truncated?)"
        raise XmlLoadError(message, line) from None
    except (ValueError, UnicodeError) as exc:
        raise XmlLoadError(f"malformed XML: {exc}", builder.line()) from None
    if builder.root is None:
        raise XmlLoadError("malformed XML: no root element", builder.line())
    return builder.root


def _last_line(data: bytes) -> int:
    """The number of the last line that holds something (1 for an empty file)."""
    stripped = data.rstrip()
    return stripped.count(b"\n") + 1


def load_xml(path: Path, max_bytes: int = MAX_BYTES) -> XmlElement:
    """Read and parse ``path``, refusing files larger than ``max_bytes`` before reading."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise XmlLoadError(
                f"file is {size} bytes, more than the {max_bytes} bytes talosaudit reads from a config.xml"
            )
        with open_regular(path) as handle:
            # Read one byte more than allowed: a file that grew after stat() is still refused.
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise XmlLoadError(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise XmlLoadError(f"file is larger than the {max_bytes} bytes talosaudit reads from a config.xml")
    return parse_xml(data)
