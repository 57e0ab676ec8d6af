"""Registered BC 1.0 and BC 1.1 documents as the deadline watch reads them (their summaries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD, RegistrationKind
from gateway.storage.tables import documents, registrations


@dataclass(**RECORD)
class RegisteredDocument:
    registration_id: int
    nomor_aju: str
    document_type: str
    office_code: str
    number: str
    registration_date: date
    registered_at: datetime
    summary: dict[str, Any]
    flags: list[dict[str, Any]]


def registered_since(
    conn: Connection, kind: RegistrationKind, since: datetime
) -> list[RegisteredDocument]:
    """Documents numbered as ``kind`` at or after ``since``, oldest first."""
    rows = conn.execute(
        sa.select(
            documents.c.nomor_aju,
            documents.c.document_type,
            documents.c.summary,
            documents.c.flags,
            registrations.c.id,
            registrations.c.office_code,
            registrations.c.number,
            registrations.c.registration_date,
            registrations.c.registered_at,
        )
        .join(registrations, registrations.c.document_id == documents.c.id)
        .where(registrations.c.kind == str(kind), registrations.c.registered_at >= since)
        .order_by(registrations.c.registered_at, registrations.c.id)
    ).all()
    return [
        RegisteredDocument(
            registration_id=int(row.id),
            nomor_aju=row.nomor_aju,
            document_type=row.document_type,
            office_code=row.office_code,
            number=row.number,
            registration_date=row.registration_date,
            registered_at=row.registered_at,
            summary=dict(row.summary),
            flags=list(row.flags),
        )
        for row in rows
    ]
