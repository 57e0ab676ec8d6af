"""The parser contract shared by every format family, and the acknowledgment contract.

``Parser.parse(data)`` turns a whole file into :class:`ParsedDocument` s; a file that cannot be
read at all raises ``DocumentError``. A file that can be read but holds a faulty document
(one bad transaction set among good ones) yields that document with its findings and no
record, so the good ones go on.

``AckRenderer.render(...)`` turns the decisions on a file's documents into the files the
sender gets back: per document (XML Response, X12 355) and per file (X12 TA1 / 997).
``DecisionRenderer.render_decision(...)`` writes the later response a document gets when the
head of office decides on it (an amendment, Art. 6(2)): one file, in the same format.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol

from gateway.exceptions import SizeLimitError
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding
from gateway.model.common import RECORD
from gateway.model.findings import Location
from gateway.model.outcome import Outcome


class Format(enum.StrEnum):
    XML = "XML"
    X12 = "X12"
    EDIFACT = "EDIFACT"
    JSON = "JSON"
    UNKNOWN = "UNKNOWN"


# The time zone of a customs office code, None for an office the gateway does not know. EDI
# times carry no offset of their own; they are read in the zone of the office they are for.
ZoneForOffice = Callable[[str], tzinfo | None]


@dataclass(**RECORD)
class ParsedDocument:
    document: Document | None  # None: this document could not be read; see findings
    location: Location  # where the document starts in the file
    findings: tuple[Finding, ...] = ()
    # For a document that could not be read: what it seemed to be and where it was going.
    document_type: DocumentType | None = None
    office_code: str | None = None
    # An envelope's control number the sender may not use twice (X12 ISA13): shared by every
    # document of that envelope. A reused key refuses them all (DUP-003).
    control_key: str | None = None
    # Who the envelope says sent it (X12 ISA06, EDIFACT UNB sender): must be the carrier's own
    # identifier for this format (config/carriers.toml `senders`).
    envelope_sender: str | None = None


@dataclass(**RECORD)
class ParseResult:
    format: Format
    documents: tuple[ParsedDocument, ...]
    # What the format's acknowledgments need to know about the file's envelope (X12
    # interchanges/groups/sets and their syntax errors); opaque to everyone else.
    envelope: object | None = None


class Parser(Protocol):
    """``parse(data, max_bytes=...)`` returns every document in the file or raises DocumentError."""

    format: Format

    def parse(self, data: bytes, *, max_bytes: int) -> ParseResult: ...


def check_size(data: bytes, *, max_bytes: int) -> None:
    """A file over the limit is refused before it is decoded or read (FILE-002)."""
    if len(data) > max_bytes:
        raise SizeLimitError([finding("FILE-002", size=len(data), limit=max_bytes)])


class EdiParser:
    """What the X12 and EDIFACT parsers share: their times carry no offset and are read in the
    time zone of the office a document is for (``zone_for_office``)."""

    def __init__(self, *, zone_for_office: ZoneForOffice | None = None) -> None:
        self.zone_for_office = zone_for_office


def parsed(
    mapped: Sequence[Document] | None,
    *,
    location: Location,
    findings: Sequence[Finding],
    document_type: DocumentType,
    office_code: str | None,
    control_key: str | None,
    envelope_sender: str | None,
) -> list[ParsedDocument]:
    """The documents one message or transaction set became; when it could not be mapped
    (``mapped`` None), one unreadable document with its findings and what it seemed to be."""
    if mapped is None:
        return [
            ParsedDocument(
                document=None,
                location=location,
                findings=tuple(findings),
                document_type=document_type,
                office_code=office_code,
                control_key=control_key,
            )
        ]
    return [
        ParsedDocument(
            document=d, location=location, control_key=control_key, envelope_sender=envelope_sender
        )
        for d in mapped
    ]


@dataclass(**RECORD)
class AckFile:
    kind: str  # RECEIPT, RESPONSE, TA1, 997, 999, 355, CONTRL, CUSRES, DECISION
    suffix: str  # appended to the file name: "receipt.xml", "997.x12"
    body: bytes
    document_index: int | None  # the document it answers; None for the whole file


# Hands out the next outbound control number for a name (e.g. "x12:isa:DEMO"): unique and
# increasing, stored by the pipeline in the same transaction as the acknowledgment.
ControlNumbers = Callable[[str], int]


class AckRenderer(Protocol):
    def render(
        self,
        result: ParseResult | None,
        outcomes: Sequence[Outcome],
        numbers: ControlNumbers,
    ) -> list[AckFile]: ...


class DecisionRenderer(Protocol):
    """The head of office's decision (``outcome.decision``) as a response in the format the
    document came in (XML Response, X12 355, EDIFACT CUSRES), of kind ``DECISION`` and with a
    suffix of its own, so it never takes the name of the document's first response.

    ``result`` is the file parsed again (for the envelope the answer goes back in); None when
    it cannot be, and then the answer is our XML response.
    """

    def render_decision(
        self, result: ParseResult | None, outcome: Outcome, numbers: ControlNumbers
    ) -> AckFile: ...
