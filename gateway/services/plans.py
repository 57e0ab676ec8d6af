"""A document on its way through the lifecycle: decided outside the transaction, then planned."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.call_keys import CallKey, RegisteredCall
from gateway.model import Document, DocumentType, Finding, Flag, RegistrationKind, RegistrationRef
from gateway.model.outcome import DocumentStatus
from gateway.storage import submissions as store
from parsers.base import Format, ParseResult

Clock = Callable[[], datetime]


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """One document's fate as far as it can be decided outside the transaction."""

    index: int
    document: Document | None
    document_type: DocumentType
    office_code: str | None
    sender_reference: str | None
    findings: tuple[Finding, ...]
    flags: tuple[Flag, ...]
    control_key: str | None = None
    # doc:<digest of what the document says> (gateway/model/digest.py): computed here, outside
    # the processing transaction, as it walks the whole record (0.3 s for 10,000 pos).
    content_key: str | None = None


# A submission as decided outside the transaction: its format, what was read, its documents.
Decided = tuple[store.Submission, Format, ParseResult | None, list[Decision]]


@dataclass(kw_only=True, slots=True)
class Plan:
    """A document on its way through the processing transaction (mutable while deciding)."""

    submission: store.Submission
    fmt: Format
    decision: Decision
    findings: list[Finding]
    keys: list[str]  # dedup keys it holds once accepted: doc:<content digest>, aju:<nomor aju>
    legacy_keys: list[str] = dataclasses.field(default_factory=list)  # looked up, not held
    call_keys: tuple[CallKey, ...] = ()  # held once registered (gateway/call_keys.py)
    call_taken: RegisteredCall | Plan | None = None  # the call's number: registered, or
    # an earlier plan of this batch (holding key call_key)
    call_key: str = ""
    supplied_ok: bool = False
    stores_control_key: bool = False  # the first document of its envelope records the key
    status: DocumentStatus = DocumentStatus.REFUSED
    duplicate_of: Plan | str | None = None  # an earlier plan in this batch, or a nomor aju
    duplicate_key: str = ""
    nomor_aju: str = ""
    registration: RegistrationRef | None = None
    document_id: int = 0
    kind: RegistrationKind | None = None

    @property
    def refused(self) -> bool:
        return self.call_taken is not None or any(f.is_error for f in self.findings)


def flags(plan: Plan) -> tuple[Flag, ...]:
    """A refused document is not flagged: its findings say what is wrong."""
    return plan.decision.flags if plan.status is not DocumentStatus.REFUSED else ()
