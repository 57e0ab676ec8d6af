"""The PDE Gateway XML format (namespace ``urn:pde-gateway:xml:1``, XSDs in ``schemas/xml``).

``XmlParser().parse(data, max_bytes=...)`` reads one document per file: hardened reading
(``reader``), the root element picks the schema (``schema``), the valid tree becomes a
canonical record (``documents``). ``acks`` renders our Receipt and Response.
"""

from __future__ import annotations

from lxml import etree

from gateway.exceptions import XmlDocumentError
from gateway.messages import finding
from gateway.model.findings import Location
from parsers.base import Format, ParsedDocument, ParseResult
from parsers.xml.acks import render_receipt, render_response
from parsers.xml.documents import to_record
from parsers.xml.reader import read
from parsers.xml.schema import (
    DOCUMENT_SCHEMAS,
    NAMESPACE,
    element_path,
    source_line,
    validate,
)


class XmlParser:
    """Parser for the gateway's own XML format (see ``docs/formats/xml.md``)."""

    format: Format = Format.XML

    def parse(self, data: bytes, *, max_bytes: int) -> ParseResult:
        root = read(data, max_bytes=max_bytes)
        qname = etree.QName(root)
        if qname.namespace != NAMESPACE or qname.localname not in DOCUMENT_SCHEMAS:
            shown = (
                qname.localname
                if qname.namespace is None
                else f"{{{qname.namespace}}}{qname.localname}"
            )
            raise XmlDocumentError(
                [
                    finding(
                        "XML-004",
                        root=shown,
                        location=Location(line=source_line(root), path=f"/{qname.localname}"),
                    )
                ]
            )
        findings = validate(root, DOCUMENT_SCHEMAS[qname.localname])
        if findings:
            raise XmlDocumentError(findings)
        document = to_record(root)
        location = Location(line=source_line(root), path=element_path(root))
        return ParseResult(
            format=Format.XML,
            documents=(ParsedDocument(document=document, location=location),),
        )


__all__ = ["NAMESPACE", "XmlParser", "render_receipt", "render_response"]
