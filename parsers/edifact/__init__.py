"""UN/EDIFACT in: CUSREP (→ RKSP/JKSP) and CUSCAR (→ manifests, amendments).

``EdifactParser.parse`` is pure: bytes in, canonical records and an :class:`EdifactReport`
out. The interchange is read with pydifact's tokenizer (``envelope.py``); each message is
checked against our message definitions (``structure.py``, ``schemas/edifact``) and mapped
(``documents/``). Every message becomes its own document: a record when the interchange
and the message are sound, otherwise a refusal carrying the CONTRL codes.
"""

from __future__ import annotations

from gateway.exceptions import DocumentError
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding, Location
from gateway.resources import schema_path
from parsers.base import EdiParser, Format, ParsedDocument, ParseResult, check_size, parsed
from parsers.edifact.envelope import (
    Envelope,
    EnvelopeError,
    check_charset,
    check_recipient,
    decode,
    read,
)
from parsers.edifact.report import EdifactReport
from parsers.edifact.segments import Message

DEFINITIONS = schema_path("edifact")
_GUESSED_TYPE = {"CUSREP": DocumentType.RKSP, "CUSCAR": DocumentType.INWARD_MANIFEST}


def served(message: Message) -> bool:
    """Whether carriers may send this message type in this directory."""
    if message.type not in _GUESSED_TYPE:  # CUSRES and CONTRL only go out
        return False
    return (DEFINITIONS / f"{message.type}.{message.version}{message.release}.json").exists()


class EdifactParser(EdiParser):
    format = Format.EDIFACT

    def parse(self, data: bytes, *, max_bytes: int) -> ParseResult:
        check_size(data, max_bytes=max_bytes)
        text = decode(data)
        envelope = Envelope()
        messages = read(text, envelope)
        check_recipient(envelope)
        check_charset(text, envelope)
        report = EdifactReport(envelope=envelope)
        header = envelope.header
        refusing = [
            finding("EDI-002", ack=e.code, detail=e.message, location=Location(line=e.line))
            for e in envelope.errors
        ]
        control_key = f"unb:{header.sender}:{header.reference}" if header else None
        if control_key is not None and not control_key.isprintable():
            # Refused for its characters anyway (check_charset); a NUL cannot even be looked
            # up in PostgreSQL, and an unprintable reference spends nothing worth keeping.
            control_key = None
        documents: list[ParsedDocument] = []
        for index, message in enumerate(messages):
            start = len(documents)
            found = list(refusing)
            found += self._message_findings(envelope.messages[index].errors, message)
            structure = self._structure(message, report, index)
            found += structure
            location = Location(line=message.line, path=f"UNH {message.reference}")
            mapped: list[Document] | None = None
            if not found:
                try:
                    mapped = self._map(message)
                except DocumentError as exc:
                    found += exc.findings
            documents += parsed(
                mapped,
                location=location,
                findings=found,
                document_type=_GUESSED_TYPE.get(message.type, DocumentType.UNKNOWN),
                office_code=message.recipient if message.recipient.isdigit() else None,
                control_key=control_key,
                envelope_sender=header.sender if header else None,
            )
            report.documents[index] = list(range(start, len(documents)))
        if not documents and refusing:
            documents.append(
                ParsedDocument(document=None, location=Location(line=1), findings=tuple(refusing))
            )
        return ParseResult(format=Format.EDIFACT, documents=tuple(documents), envelope=report)

    @staticmethod
    def _message_findings(errors: list[EnvelopeError], message: Message) -> list[Finding]:
        return [
            finding(
                "EDI-003",
                reference=message.reference,
                ack=e.code,
                detail=e.message,
                location=Location(line=e.line),
            )
            for e in errors
        ]

    @staticmethod
    def _structure(message: Message, report: EdifactReport, index: int) -> list[Finding]:
        if not served(message):
            kind = f"{message.type}:{message.version}:{message.release}"
            report.structure[index] = [
                EnvelopeError(level="UCM", code="15", message=f"{kind} is not served")
            ]
            return [finding("EDI-005", type=kind, location=Location(line=message.line))]
        from parsers.edifact.structure import check  # our message definitions

        problems = check(message)
        report.structure[index] = [
            EnvelopeError(
                level="UCS" if p.element is None else "UCD",
                code=p.code,
                message=p.message,
                segment=p.tag,
                position=p.position,
                element=p.element,
                component=p.component,
            )
            for p in problems
        ]
        return [
            finding(
                "EDI-004",
                segment=p.tag,
                position=p.position,
                ack=p.code,
                detail=p.message,
                location=Location(path=f"{p.tag} at position {p.position}"),
            )
            for p in problems
        ]

    def _map(self, message: Message) -> list[Document]:
        from parsers.edifact.documents import to_documents  # the message mappers

        return to_documents(message, zone_for_office=self.zone_for_office)


__all__ = ["EdifactParser"]
