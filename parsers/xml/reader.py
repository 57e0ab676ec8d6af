"""Hardened XML reading: bytes -> lxml element tree, or a refusal with findings.

Order of checks, each one before any work the next one would do:

1. empty file (FILE-001), size over the limit (FILE-002) — before decoding or parsing;
2. the bytes decode in the declared (or detected) encoding (FILE-003);
3. no DOCTYPE / ENTITY declaration anywhere in the text (XML-002), so an entity bomb or an
   external entity is never expanded nor fetched;
4. lxml parses with entities, DTDs and network access off (XML-001 when not well-formed);
5. the parsed tree carries no DTD after all (XML-002, belt and braces).
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from gateway.exceptions import EncodingError, FormatError, XmlDocumentError
from gateway.messages import finding
from gateway.model.findings import Location
from parsers import base

# An XML declaration in an ASCII-compatible encoding: <?xml version="1.0" encoding="..."?>
_DECLARED_ENCODING = re.compile(
    rb"""\A<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._\-]*)["']"""
)
# Any markup declaration that would open a DTD; matched case-insensitively on purpose.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)\b", re.IGNORECASE)
# "{urn:pde-gateway:xml:1}Name" in libxml2 messages; a pattern's "{2}" or "{1,6}" stays.
_CLARK_NAMESPACE = re.compile(r"\{[A-Za-z][A-Za-z0-9+.\-]*:[^{}\s]*\}")
_MAX_DETAIL = 300


def check_size(data: bytes, *, max_bytes: int) -> None:
    """Refuse an empty file or one over ``max_bytes`` before anything else is done with it."""
    if not data.strip():
        raise FormatError([finding("FILE-001")])
    base.check_size(data, max_bytes=max_bytes)


def detect_encoding(data: bytes) -> str:
    """The encoding a conforming XML processor would use for ``data`` (XML 1.0 appendix F)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if data.startswith(b"<\x00?\x00"):
        return "utf-16-le"
    if data.startswith(b"\x00<\x00?"):
        return "utf-16-be"
    match = _DECLARED_ENCODING.match(data)
    if match:
        return match.group(1).decode("ascii")
    return "utf-8"


def decode(data: bytes) -> str:
    """The text of ``data`` in its declared encoding; EncodingError (FILE-003) when it is not."""
    encoding = detect_encoding(data)
    try:
        codecs.lookup(encoding)
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        detail = f"byte 0x{data[exc.start]:02X} at offset {exc.start} (line {line})"
        raise EncodingError(
            [finding("FILE-003", encoding=encoding, detail=detail, location=Location(line=line))]
        ) from exc
    except LookupError as exc:
        raise EncodingError(
            [finding("FILE-003", encoding=encoding, detail="unsupported encoding")]
        ) from exc


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def refuse_declarations(text: str) -> None:
    """XML-002 for any DOCTYPE or entity declaration, found without parsing it."""
    match = _DECLARATION.search(text)
    if match:
        raise XmlDocumentError(
            [finding("XML-002", location=Location(line=_line_of(text, match.start())))]
        )


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def clean_detail(message: str) -> str:
    """An lxml/libxml2 message made readable: no namespace braces, no trailing dot, bounded."""
    message = _CLARK_NAMESPACE.sub("", message).strip().rstrip(".")
    if len(message) > _MAX_DETAIL:
        message = message[: _MAX_DETAIL - 3] + "..."
    return message


def read(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse ``data`` safely into its root element, or raise a DocumentError with findings."""
    check_size(data, max_bytes=max_bytes)
    text = decode(data)
    refuse_declarations(text)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        detail = clean_detail(exc.msg or str(exc))
        raise XmlDocumentError(
            [finding("XML-001", detail=detail, location=Location(line=line))]
        ) from exc
    except ValueError as exc:  # e.g. an encoding lxml cannot handle
        raise XmlDocumentError([finding("XML-001", detail=clean_detail(str(exc)))]) from exc
    if root is None:  # pragma: no cover - lxml raises for an empty document
        raise XmlDocumentError([finding("XML-001", detail="no root element")])
    docinfo = root.getroottree().docinfo
    doctype: object = getattr(docinfo, "doctype", "")
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlDocumentError([finding("XML-002", location=Location(line=1))])
    return root
