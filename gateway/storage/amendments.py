"""Amendments of BC 1.1 pos and the head of office's decisions on them (Art. 6)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD
from gateway.storage.tables import amendments, documents, registrations


class AmendmentStatus(enum.StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"  # kinds A-D (Art. 6(2))
    APPROVED = "APPROVED"
    REFUSED = "REFUSED"
    ACCEPTED = "ACCEPTED"  # kind E, applied at once (Art. 6(3))


@dataclass(**RECORD)
class AmendmentRow:
    id: int
    document_id: int
    submission_id: int
    nomor_aju: str
    sender: str
    bc11_document_id: int
    bc11_number: str
    bc11_date: date
    office_code: str
    pos_number: str
    kind: str
    status: AmendmentStatus
    reason: str
    requested_by: str
    content: dict[str, Any]
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def insert(conn: Connection, row: dict[str, Any]) -> int:
    return int(conn.execute(sa.insert(amendments).returning(amendments.c.id), row).scalar_one())


def _select() -> sa.Select[Any]:
    return (
        sa.select(
            amendments,
            documents.c.nomor_aju,
            documents.c.submission_id,
            documents.c.sender,
            registrations.c.number.label("bc11_number"),
            registrations.c.registration_date.label("bc11_date"),
        )
        .join(documents, documents.c.id == amendments.c.document_id)
        .join(registrations, registrations.c.document_id == amendments.c.bc11_document_id)
    )


def _row(row: Any) -> AmendmentRow:
    return AmendmentRow(
        id=int(row.id),
        document_id=int(row.document_id),
        submission_id=int(row.submission_id),
        nomor_aju=row.nomor_aju,
        sender=row.sender,
        bc11_document_id=int(row.bc11_document_id),
        bc11_number=row.bc11_number,
        bc11_date=row.bc11_date,
        office_code=row.office_code,
        pos_number=row.pos_number,
        kind=row.kind,
        status=AmendmentStatus(row.status),
        reason=row.reason,
        requested_by=row.requested_by,
        content=dict(row.content),
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
    )


def find(conn: Connection, key: str, *, for_update: bool = False) -> AmendmentRow | None:
    """An amendment by its nomor aju or its document id."""
    if key.isdigit() and len(key) < 20:
        condition = amendments.c.document_id == int(key)
    else:
        condition = documents.c.nomor_aju == key
    query = _select().where(condition)
    if for_update:
        query = query.with_for_update(of=amendments)
    row = conn.execute(query).first()
    return None if row is None else _row(row)


def by_document(conn: Connection, document_ids: list[int]) -> dict[int, AmendmentRow]:
    rows = conn.execute(
        _select().where(amendments.c.document_id.in_(sa.bindparam("ids", expanding=True))),
        {"ids": document_ids},
    ).all()
    return {int(r.document_id): _row(r) for r in rows}


def listing(
    conn: Connection, *, office_code: str | None = None, status: str | None = None
) -> list[AmendmentRow]:
    query = _select().order_by(amendments.c.requested_at, amendments.c.id)
    if office_code:
        query = query.where(amendments.c.office_code == office_code)
    if status:
        query = query.where(amendments.c.status == status)
    return [_row(r) for r in conn.execute(query)]


def decide(
    conn: Connection,
    amendment_id: int,
    *,
    status: AmendmentStatus,
    by: str,
    at: datetime,
    reason: str | None,
) -> bool:
    """Record the decision; False when the amendment was no longer pending (decided before)."""
    changed = conn.execute(
        sa.update(amendments)
        .where(
            amendments.c.id == amendment_id,
            amendments.c.status == str(AmendmentStatus.PENDING_APPROVAL),
        )
        .values(status=str(status), decided_by=by, decided_at=at, decision_reason=reason)
    ).rowcount
    return bool(changed == 1)


def set_document_status(conn: Connection, document_id: int, status: str) -> None:
    conn.execute(sa.update(documents).where(documents.c.id == document_id).values(status=status))
