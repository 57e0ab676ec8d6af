"""What accepted documents do to the pos of a registered BC 1.1, and the head of office's say.

- A registered manifest's pos become version 1 of their history.
- An amendment is recorded; a breakdown (kind E, Art. 6(3)) applies at once, kinds A-D wait
  for :func:`approve` or :func:`refuse` (Art. 6(2)) and change nothing until approved.
- A pos closing (Art. 10) settles the pos, wholly or by quantity.

The rules in ``handlers.amendments`` and ``handlers.closing`` decide whether a document is
acceptable; this module applies accepted ones in the processing transaction. An approval
runs the same rules again on the pos as it stands then (it may have been closed or changed
since the amendment was received) before it applies anything.

The carrier learns the decision the way it learned of the amendment's receipt: a response in
its format on its channel (``gateway/decision_responses.py``), written in the deciding
transaction, so that no decision is ever taken without its answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from gateway.exceptions import GatewayError
from gateway.messages import finding
from gateway.model import (
    Amendment,
    AmendmentKind,
    DocumentHeader,
    FieldChange,
    Finding,
    Manifest,
    Party,
    PosClosing,
    RegistrationKind,
    RegistrationRef,
    TransportDocument,
    TransportDocumentKind,
)
from gateway.model.common import RECORD
from gateway.model.outcome import DocumentStatus
from gateway.model.registered_pos import PosStatus, RegisteredPos
from gateway.reference import ReferenceData
from gateway.storage import amendments as amendment_store
from gateway.storage import audit
from gateway.storage import pos as pos_store
from gateway.storage.amendments import AmendmentRow, AmendmentStatus
from gateway.storage.database import Database
from handlers.amendments import (
    amended,
    check_closed_pos,
    check_merge,
    check_stale,
    merged,
)
from handlers.base import RuleContext, evaluate
from handlers.closing import closing_effect


class DecisionError(GatewayError):
    """The head of office's decision cannot be taken; ``finding`` says why in both languages."""

    def __init__(self, reason: Finding) -> None:
        self.finding = reason
        super().__init__(reason.message_en)


@dataclass(**RECORD)
class Decision:
    """The head of office's decision on an amendment, as the CLI reports it."""

    amendment_id: int
    nomor_aju: str
    status: AmendmentStatus
    decided_by: str
    decided_at: datetime
    reason: str | None
    pos_number: str
    pos_version: int | None  # the version the approval created
    message: Finding


# A refusal's reason goes back to the carrier whole in every format: the X12 355 has room for
# 18 K1 pairs of 30 characters (docs/formats/x12.md), which this leaves for the message around it.
REASON_MAX_CHARS = 300

# Writes the carrier's response to one decision, inside the deciding transaction.
Answer = Callable[[Connection, Decision], None]


class Respond(Protocol):
    """Gives the carrier the decision (``gateway.decision_responses.DecisionResponder``).

    ``prepare`` runs before the deciding transaction (it may read the amendment's file again);
    the answer it returns runs inside it.
    """

    def prepare(self, amendment: AmendmentRow) -> Answer: ...


# -- the processing transaction ---------------------------------------------------------------


@dataclass(**RECORD)
class Accepted:
    """A document the pipeline accepted, with its row ids."""

    document_id: int
    submission_id: int
    document: Manifest | Amendment | PosClosing  # manifests: only those just registered


def record_accepted(conn: Connection, items: Iterable[Accepted], *, now: datetime) -> None:
    """Apply accepted documents to the pos ledger, in the order given."""
    items = list(items)
    pos_store.insert_registered(
        conn,
        [(i.document_id, i.document) for i in items if isinstance(i.document, Manifest)],
        now=now,
    )
    trail: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item.document, Amendment):
            trail += _record_amendment(conn, item, item.document, now)
        elif isinstance(item.document, PosClosing):
            trail += _record_closing(conn, item, item.document, now)
    audit.record_many(conn, trail)


def _record_amendment(
    conn: Connection, item: Accepted, amendment: Amendment, now: datetime
) -> list[dict[str, Any]]:
    bc11_id = _bc11_id(conn, amendment.bc11)
    breakdown = amendment.kind is AmendmentKind.BREAKDOWN
    amendment_id = amendment_store.insert(
        conn,
        {
            "document_id": item.document_id,
            "bc11_document_id": bc11_id,
            "office_code": amendment.bc11.office_code,
            "pos_number": str(amendment.pos_number),
            "kind": str(amendment.kind),
            "status": str(
                AmendmentStatus.ACCEPTED if breakdown else AmendmentStatus.PENDING_APPROVAL
            ),
            "reason": amendment.reason,
            "requested_by": amendment.requested_by.name,
            "content": _content(amendment),
            "requested_at": now,
        },
    )
    if not breakdown:
        return []
    # Art. 6(3): no approval; the house-level pos exist from now on.
    stored = _lock(conn, bc11_id, [str(amendment.pos_number)])[str(amendment.pos_number)]
    parent = stored.state.pos
    assert parent is not None, "the rules refuse a breakdown of a pos without content"
    version = pos_store.add_version(conn, stored, parent, amendment_id=amendment_id, now=now)
    pos_store.insert_pos(
        conn,
        [(bc11_id, stored.state.group, p) for top in amendment.breakdown for p in top.walk()],
        amendment_id=amendment_id,
        now=now,
    )
    return [
        audit.entry(
            at=now,
            actor="pipeline",
            action="amendment applied",
            submission_id=item.submission_id,
            document_id=item.document_id,
            to_status=str(AmendmentStatus.ACCEPTED),
            detail={
                "kind": "E",
                "pos": stored.state.number,
                "version": version,
                "sub_pos": [str(p.number) for top in amendment.breakdown for p in top.walk()],
            },
        )
    ]


def _record_closing(
    conn: Connection, item: Accepted, closing: PosClosing, now: datetime
) -> list[dict[str, Any]]:
    bc11_id = _bc11_id(conn, closing.bc11)
    number = str(closing.pos_number)
    stored = _lock(conn, bc11_id, [number])[number]
    effect = closing_effect(stored.state, closing)
    pos_store.record_closing(
        conn,
        stored,
        document_id=item.document_id,
        closing_document=closing.closing_document,
        packages=closing.packages_closed,
        gross_weight_kg=closing.gross_weight_kg_closed,
        packages_closed_after=effect.packages_closed,
        gross_weight_kg_closed_after=effect.gross_weight_kg_closed,
        status=effect.status,
        now=now,
    )
    closed_parents = (
        _close_parents(conn, bc11_id, number, now) if effect.status is PosStatus.CLOSED else []
    )
    return [
        audit.entry(
            at=now,
            actor="pipeline",
            action="pos closed",
            submission_id=item.submission_id,
            document_id=item.document_id,
            from_status=str(stored.state.status),
            to_status=str(effect.status),
            detail={
                "pos": number,
                "document": {
                    "code": closing.closing_document.code,
                    "number": closing.closing_document.number,
                    "date": closing.closing_document.date.isoformat(),
                },
                "packages_closed": effect.packages_closed,
                "gross_weight_kg_closed": str(effect.gross_weight_kg_closed),
                "parents_closed": closed_parents,
            },
        )
    ]


def _close_parents(conn: Connection, bc11_id: int, number: str, now: datetime) -> list[str]:
    """A master pos whose house bills are all settled is settled too (and so on upwards)."""
    every = pos_store.registered_pos(conn, bc11_id)
    closed: list[str] = []
    while True:
        parent = _parent(number)
        if parent is None or parent not in every:
            return closed
        children = [s for n, s in every.items() if _parent(n) == parent]
        if every[parent].state.status.is_open and all(not c.state.status.is_open for c in children):
            pos_store.set_status(conn, [every[parent].id], PosStatus.CLOSED, now=now)
            closed.append(parent)
        number = parent


def _parent(number: str) -> str | None:
    if number[8:12] != "0000":
        return number[:8] + "0000"
    if number[4:8] != "0000":
        return number[:4] + "00000000"
    return None


# -- the head of office's decisions -----------------------------------------------------------


def approve(db: Database, key: str, *, by: str, now: datetime, respond: Respond) -> Decision:
    """Approve a pending amendment: its change becomes the pos's next version (Art. 6(2))."""
    answer = _prepare(db, key, respond)
    with db.transaction() as conn:
        row = _pending(conn, key)
        amendment = _amendment(row)
        numbers = [str(n) for n in (amendment.pos_number, *amendment.merged_pos)]
        locked = _lock(conn, row.bc11_document_id, numbers)
        problems = _still_acceptable(amendment, {n: s.state for n, s in locked.items()}, now)
        if problems:
            in_id = finding("AMD-104", nomor_aju=row.nomor_aju, detail=_join(problems, "id"))
            in_en = finding("AMD-104", nomor_aju=row.nomor_aju, detail=_join(problems, "en"))
            raise DecisionError(
                Finding(
                    code=in_id.code,
                    severity=in_id.severity,
                    message_id=in_id.message_id,
                    message_en=in_en.message_en,
                )
            )
        target = locked[row.pos_number]
        assert target.state.pos is not None  # the rules refuse amendments of pos without content
        if amendment.kind is AmendmentKind.MERGE_POS:
            others = [locked[n] for n in numbers[1:]]
            assert amendment.revised_transport_document is not None
            new = merged(
                target.state.pos,
                [o.state.pos for o in others if o.state.pos is not None],
                amendment.revised_transport_document,
            )
            for other in others:
                assert other.state.pos is not None
                pos_store.add_version(
                    conn,
                    other,
                    other.state.pos,
                    amendment_id=row.id,
                    now=now,
                    status=PosStatus.MERGED,
                )
        else:
            new = amended(target.state.pos, amendment.changes)
        version = pos_store.add_version(conn, target, new, amendment_id=row.id, now=now)
        decision = Decision(
            amendment_id=row.id,
            nomor_aju=row.nomor_aju,
            status=AmendmentStatus.APPROVED,
            decided_by=by,
            decided_at=now,
            reason=None,
            pos_number=row.pos_number,
            pos_version=version,
            message=finding(
                "AMD-101",
                nomor_aju=row.nomor_aju,
                by=by,
                at=now.isoformat(timespec="seconds"),
                pos=row.pos_number,
                version=version,
            ),
        )
        _decide(conn, row, decision)
        answer(conn, decision)
    return decision


def refuse(
    db: Database, key: str, *, by: str, reason: str, now: datetime, respond: Respond
) -> Decision:
    """Refuse a pending amendment; the pos stays as it is. The reason goes to the carrier."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX_CHARS:
        raise DecisionError(finding("AMD-106", length=len(reason), limit=REASON_MAX_CHARS))
    answer = _prepare(db, key, respond)
    with db.transaction() as conn:
        row = _pending(conn, key)
        decision = Decision(
            amendment_id=row.id,
            nomor_aju=row.nomor_aju,
            status=AmendmentStatus.REFUSED,
            decided_by=by,
            decided_at=now,
            reason=reason,
            pos_number=row.pos_number,
            pos_version=None,
            message=finding(
                "AMD-102",
                nomor_aju=row.nomor_aju,
                by=by,
                at=now.isoformat(timespec="seconds"),
                reason=reason,
            ),
        )
        _decide(conn, row, decision)
        answer(conn, decision)
    return decision


def _prepare(db: Database, key: str, respond: Respond) -> Answer:
    """What the answer needs from outside the transaction (the file read again), for an
    amendment that is pending now; the transaction checks that again under its lock."""
    with db.engine.connect() as conn:
        row = _pending(conn, key, lock=False)
    return respond.prepare(row)


def _pending(conn: Connection, key: str, *, lock: bool = True) -> AmendmentRow:
    row = amendment_store.find(conn, key, for_update=lock)
    if row is None:
        raise DecisionError(finding("AMD-105", key=key))
    if row.status is not AmendmentStatus.PENDING_APPROVAL:
        raise DecisionError(finding("AMD-103", nomor_aju=row.nomor_aju, status=str(row.status)))
    return row


def _decide(conn: Connection, row: AmendmentRow, decision: Decision) -> None:
    status, by, now = decision.status, decision.decided_by, decision.decided_at
    if not amendment_store.decide(
        conn, row.id, status=status, by=by, at=now, reason=decision.reason
    ):
        # Locked above, so only a database without row locks could get here.
        raise DecisionError(finding("AMD-103", nomor_aju=row.nomor_aju, status="decided"))
    document_status = (
        DocumentStatus.APPROVED if status is AmendmentStatus.APPROVED else DocumentStatus.REFUSED
    )
    amendment_store.set_document_status(conn, row.document_id, str(document_status))
    audit.record(
        conn,
        at=now,
        actor=f"user:{by}",
        action=f"amendment {str(status).lower()}",
        submission_id=row.submission_id,
        document_id=row.document_id,
        from_status=str(AmendmentStatus.PENDING_APPROVAL),
        to_status=str(status),
        detail={
            "nomor_aju": row.nomor_aju,
            "by": by,
            "reason": decision.reason,
            "pos": row.pos_number,
            "pos_version": decision.pos_version,
        },
    )


def _still_acceptable(
    amendment: Amendment, records: Mapping[str, RegisteredPos], now: datetime
) -> list[Finding]:
    """The refusals the amendment rules find against the pos as they stand now."""
    context = RuleContext(
        reference=ReferenceData(),
        now=now,
        sender="",
        channel_family="",
        bc11=_Snapshot(amendment.bc11, records),
    )
    result = evaluate(amendment, context, (check_closed_pos, check_stale, check_merge))
    return [f for f in result.findings if f.is_error]


class _Snapshot:
    """The pos locked by the approving transaction, for the rules."""

    def __init__(self, ref: RegistrationRef, records: Mapping[str, RegisteredPos]) -> None:
        self.ref = ref
        self.records = records

    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        return frozenset(self.records) if ref == self.ref else None

    def pos_records(self, ref: RegistrationRef) -> Mapping[str, RegisteredPos] | None:
        return self.records if ref == self.ref else None

    def holder(self, ref: RegistrationRef) -> None:
        return None  # ownership was checked when the amendment was received


# -- helpers ----------------------------------------------------------------------------------


def _join(findings: list[Finding], language: str) -> str:
    return " ".join(f.message_id if language == "id" else f.message_en for f in findings)


def _bc11_id(conn: Connection, ref: RegistrationRef) -> int:
    found = pos_store.bc11_document_id(conn, ref)
    if found is None:  # the rules refused it (REF-001) unless the BC 1.1 vanished
        raise LookupError(f"BC 1.1 {ref.number} of {ref.date} at {ref.office_code} is gone")
    return found


def _lock(conn: Connection, bc11_id: int, numbers: list[str]) -> dict[str, pos_store.StoredPos]:
    found = pos_store.registered_pos(conn, bc11_id, numbers, for_update=True)
    missing = sorted(set(numbers) - set(found))
    if missing:
        raise LookupError(f"pos {', '.join(missing)} of BC 1.1 document {bc11_id} are gone")
    return found


def _content(amendment: Amendment) -> dict[str, Any]:
    """What an approval needs later: the raw file is not parsed again."""
    revised = amendment.revised_transport_document
    return {
        "changes": [
            {"field": c.field, "old_value": c.old_value, "new_value": c.new_value}
            for c in amendment.changes
        ],
        "merged_pos": [str(n) for n in amendment.merged_pos],
        "revised_transport_document": None
        if revised is None
        else {
            "kind": str(revised.kind),
            "number": revised.number,
            "date": revised.date.isoformat(),
        },
        "breakdown": [pos_store.pos_to_json(p, nested=True) for p in amendment.breakdown],
        "supporting_documents": [
            {"code": d.code, "number": d.number, "date": d.date.isoformat()}
            for d in amendment.supporting_documents
        ],
    }


def _amendment(row: AmendmentRow) -> Amendment:
    """The amendment as received, rebuilt from its stored content."""
    content = row.content
    revised = content.get("revised_transport_document")
    return Amendment(
        header=DocumentHeader(office_code=row.office_code),
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11,
            office_code=row.office_code,
            number=row.bc11_number,
            date=row.bc11_date,
        ),
        pos_number=pos_store.pos_number(row.pos_number),
        kind=AmendmentKind(row.kind),
        reason=row.reason,
        requested_by=Party(name=row.requested_by),
        changes=tuple(FieldChange(**c) for c in content.get("changes", ())),
        merged_pos=tuple(pos_store.pos_number(n) for n in content.get("merged_pos", ())),
        revised_transport_document=None
        if revised is None
        else TransportDocument(
            kind=TransportDocumentKind(revised["kind"]),
            number=revised["number"],
            date=date.fromisoformat(revised["date"]),
        ),
    )
