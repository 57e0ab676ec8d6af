"""The XSDs of the XML format: loaded once, validation errors turned into findings.

The schemas live in ``schemas/xml`` at the top of the project, one per document root
(``rksp.xsd``, ``manifest.xsd``, ...) plus ``receipt.xsd`` and ``response.xsd`` for our acks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from lxml import etree

from gateway.messages import finding
from gateway.model.findings import Finding, Location
from gateway.resources import schema_path
from parsers.xml.reader import clean_detail

NAMESPACE = "urn:pde-gateway:xml:1"
SCHEMA_DIR = schema_path("xml")

# Root element local name -> schema file.
DOCUMENT_SCHEMAS: dict[str, str] = {
    "Rksp": "rksp.xsd",
    "Jksp": "jksp.xsd",
    "Manifest": "manifest.xsd",
    "Amendment": "amendment.xsd",
    "PosClosing": "pos-closing.xsd",
}
ACK_SCHEMAS: dict[str, str] = {
    "Receipt": "receipt.xsd",
    "Response": "response.xsd",
}
MAX_FINDINGS = 100  # a refusal lists at most this many schema errors

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


_compiled: dict[str, etree.XMLSchema] = {}
# libxml2 compiling schemas (with their xs:include) in two threads at once corrupts its
# state: "not valid XML Schema" for every later try, or a double free. One at a time.
_compile_lock = threading.Lock()


def load_schema(filename: str) -> etree.XMLSchema:
    """The compiled schema ``filename`` from the schema directory (cached per process)."""
    schema = _compiled.get(filename)
    if schema is None:
        with _compile_lock:
            schema = _compiled.get(filename)
            if schema is None:
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                document = etree.parse(str(SCHEMA_DIR / filename), parser)
                schema = _compiled[filename] = etree.XMLSchema(document)
    return schema


def _lock(filename: str) -> threading.Lock:
    # An XMLSchema keeps its error log on the object: one validation at a time per schema.
    with _locks_guard:
        return _locks.setdefault(filename, threading.Lock())


def source_line(element: etree._Element) -> int | None:
    """The element's line in the submitted file (lxml-stubs type ``sourceline`` loosely)."""
    line: object = element.sourceline
    return line if isinstance(line, int) and line > 0 else None


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def element_path(element: etree._Element) -> str:
    """``/Manifest/Group[2]/Pos[1]/Containers/Container[1]/Number``: local names, with a
    1-based index wherever the element has same-named siblings."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = local_name(node)
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                index = next(i for i, child in enumerate(same, 1) if child is node)
                name = f"{name}[{index}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def _resolve(root: etree._Element, libxml_path: str | None) -> etree._Element | None:
    """The element libxml2's ``/*/*[14]/*`` style path points at, if any."""
    if not libxml_path:
        return None
    try:
        hits = root.getroottree().xpath(libxml_path)
    except etree.XPathError:
        return None
    if isinstance(hits, list):
        for hit in hits:
            if isinstance(hit, etree._Element):
                return hit
    return None


def validate(root: etree._Element, filename: str) -> list[Finding]:
    """Every violation of schema ``filename`` as an XML-003 finding with line and path."""
    schema = load_schema(filename)
    with _lock(filename):
        if schema.validate(root.getroottree()):
            return []
        log: Iterable[Any] = schema.error_log  # type: ignore[assignment]
        entries = list(log)
    findings: list[Finding] = []
    for entry in entries[:MAX_FINDINGS]:
        element = _resolve(root, entry.path)
        path = element_path(element) if element is not None else None
        line = entry.line if entry.line and entry.line > 0 else None
        findings.append(
            finding(
                "XML-003",
                detail=clean_detail(entry.message),
                location=Location(line=line, path=path),
            )
        )
    if not findings:  # pragma: no cover - libxml2 always logs why
        findings.append(finding("XML-003", detail="invalid document"))
    return findings
