"""The decision on one document: what the receipt and the response tell the sender."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from gateway.model.common import RECORD, DocumentType, RegistrationRef, require_aware
from gateway.model.findings import Finding, Flag


class DocumentStatus(enum.StrEnum):
    RECEIVED = "RECEIVED"
    REGISTERED = "REGISTERED"  # numbered: BC 1.0 / BC 1.1
    ACCEPTED = "ACCEPTED"  # accepted without a number of its own (pos closing, breakdown)
    PENDING_APPROVAL = "PENDING_APPROVAL"  # amendment waiting for the head of office
    APPROVED = "APPROVED"  # amendment the head of office approved (Art. 6(2))
    REFUSED = "REFUSED"


@dataclass(**RECORD)
class HeadDecision:
    """The head of office's decision on an amendment (Art. 6(2)).

    It comes after the first response (PENDING_APPROVAL), as a response of its own on the same
    document: the carrier's system learns the outcome the way it learned the first one.
    """

    decided_by: str
    pos_number: str
    pos_version: int | None  # approved: the version of the pos the amendment made
    reason: str | None  # refused: the head of office's words
    message: Finding  # AMD-101 (approved) or AMD-102 (refused), both languages


@dataclass(**RECORD)
class Outcome:
    """Everything the receipt and the response for one document carry."""

    submission_id: int
    document_index: int  # 0-based position of the document in the file
    nomor_aju: str
    sender: str  # carrier code
    office_code: str | None
    format: str
    document_type: DocumentType
    status: DocumentStatus
    source_name: str  # the file name as the sender gave it
    sha256: str
    received_at: datetime
    decided_at: datetime
    registration: RegistrationRef | None = None
    flags: tuple[Flag, ...] = ()
    findings: tuple[Finding, ...] = ()
    decision: HeadDecision | None = None  # a later response: the head of office's decision

    def __post_init__(self) -> None:
        require_aware("received_at", self.received_at)
        require_aware("decided_at", self.decided_at)
