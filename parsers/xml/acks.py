"""Our XML acknowledgments: the Receipt (technical) and the Response (business decision).

Both are UTF-8 with an XML declaration, in namespace ``urn:pde-gateway:xml:1`` and valid
against ``schemas/xml/receipt.xsd`` and ``schemas/xml/response.xsd``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from lxml import etree

from gateway.model.findings import Finding, Flag
from gateway.model.outcome import HeadDecision, Outcome
from parsers.base import AckFile, ControlNumbers, ParseResult
from parsers.times import instant, iso_duration

NAMESPACE = "urn:pde-gateway:xml:1"
# The default namespace: lxml takes None as a key, lxml-stubs only know str keys.
_NSMAP = cast("dict[str, str]", {None: NAMESPACE})
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _sub(parent: etree._Element, name: str, text: object | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = _safe(str(text))
    return element


def _identity(root: etree._Element, outcome: Outcome) -> None:
    _sub(root, "SubmissionId", outcome.submission_id)
    _sub(root, "DocumentIndex", outcome.document_index)
    _sub(root, "NomorAju", outcome.nomor_aju)
    _sub(root, "Sender", outcome.sender)
    if outcome.office_code:
        _sub(root, "OfficeCode", outcome.office_code)
    _sub(root, "Format", str(outcome.format))
    _sub(root, "DocumentType", str(outcome.document_type))
    _sub(root, "SourceName", outcome.source_name)
    _sub(root, "Sha256", outcome.sha256.lower())
    _sub(root, "ReceivedAt", instant(outcome.received_at))


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render_receipt(outcome: Outcome) -> bytes:
    """The technical acknowledgment: we have the document, under this submission number."""
    root = etree.Element(f"{{{NAMESPACE}}}Receipt", nsmap=_NSMAP)
    _identity(root, outcome)
    return _serialise(root)


def _flag(parent: etree._Element, flag: Flag) -> None:
    element = _sub(parent, "Flag")
    _sub(element, "Code", flag.code)
    if flag.lateness is not None:
        lateness = _sub(element, "Lateness", iso_duration(flag.lateness))
        lateness.set("seconds", str(int(flag.lateness.total_seconds())))
    if flag.detail is not None:
        _sub(element, "Detail", flag.detail)


def _error(parent: etree._Element, item: Finding) -> None:
    element = _sub(parent, "Error")
    _sub(element, "Code", item.code)
    _sub(element, "Severity", str(item.severity))
    _sub(element, "Message", item.message_id).set(_XML_LANG, "id")
    _sub(element, "Message", item.message_en).set(_XML_LANG, "en")
    location = item.location
    if location is not None and (
        (location.line is not None and location.line > 0) or location.path
    ):
        where = _sub(element, "Location")
        if location.line is not None and location.line > 0:
            _sub(where, "Line", location.line)
        if location.path:
            _sub(where, "Path", location.path)


def _decision(parent: etree._Element, decision: HeadDecision) -> None:
    element = _sub(parent, "Decision")
    _sub(element, "DecidedBy", decision.decided_by)
    _sub(element, "Pos", decision.pos_number)
    if decision.pos_version is not None:
        _sub(element, "PosVersion", decision.pos_version)
    if decision.reason is not None:
        _sub(element, "Reason", decision.reason)
    _sub(element, "Message", decision.message.message_id).set(_XML_LANG, "id")
    _sub(element, "Message", decision.message.message_en).set(_XML_LANG, "en")


def render_response(outcome: Outcome) -> bytes:
    """The business response: status, registration number, flags and errors."""
    root = etree.Element(f"{{{NAMESPACE}}}Response", nsmap=_NSMAP)
    _identity(root, outcome)
    _sub(root, "Status", str(outcome.status))
    _sub(root, "DecidedAt", instant(outcome.decided_at))
    if outcome.registration is not None:
        registration = _sub(root, "Registration")
        _sub(registration, "Kind", str(outcome.registration.kind))
        _sub(registration, "OfficeCode", outcome.registration.office_code)
        _sub(registration, "Number", outcome.registration.number)
        _sub(registration, "Date", outcome.registration.date.isoformat())
    if outcome.decision is not None:
        _decision(root, outcome.decision)
    if outcome.flags:
        flags = _sub(root, "Flags")
        for flag in outcome.flags:
            _flag(flags, flag)
    if outcome.findings:
        errors = _sub(root, "Errors")
        for item in outcome.findings:
            _error(errors, item)
    return _serialise(root)


class XmlAckRenderer:
    """A Receipt and a Response for every document; a Response with the head of office's
    decision later (``decision.xml``)."""

    def render_decision(
        self, result: ParseResult | None, outcome: Outcome, numbers: ControlNumbers
    ) -> AckFile:
        return AckFile(
            kind="DECISION",
            suffix="decision.xml",
            body=render_response(outcome),
            document_index=outcome.document_index,
        )

    def render(
        self,
        result: ParseResult | None,
        outcomes: Sequence[Outcome],
        numbers: ControlNumbers,
    ) -> list[AckFile]:
        files = []
        for outcome in outcomes:
            index = outcome.document_index
            files.append(
                AckFile(
                    kind="RECEIPT",
                    suffix="receipt.xml",
                    body=render_receipt(outcome),
                    document_index=index,
                )
            )
            files.append(
                AckFile(
                    kind="RESPONSE",
                    suffix="response.xml",
                    body=render_response(outcome),
                    document_index=index,
                )
            )
        return files
