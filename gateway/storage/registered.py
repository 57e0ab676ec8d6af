"""Registered BC 1.0s and BC 1.1s as the rules look them up: a registration and its document.

The rules see these through the look-ups of gateway/services/lookups.py; this module holds
only the SQL, returning rows of plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD, RegistrationKind, RegistrationRef
from gateway.storage.tables import documents, registrations


@dataclass(**RECORD)
class Registered:
    """A registration with the document it registered (its summary: gateway/services/serialise)."""

    registration_id: int
    ref: RegistrationRef
    document_type: str
    sender: str
    summary: Mapping[str, Any]


def bc11_sender(conn: Connection, ref: RegistrationRef) -> tuple[str, Mapping[str, Any]] | None:
    """Who filed the BC 1.1, and its document's summary."""
    row = conn.execute(
        sa.select(documents.c.sender, documents.c.summary)
        .join(registrations, registrations.c.document_id == documents.c.id)
        .where(
            registrations.c.kind == str(RegistrationKind.BC11),
            registrations.c.office_code == ref.office_code,
            registrations.c.number == ref.number,
            registrations.c.registration_date == ref.date,
        )
    ).first()
    return None if row is None else (row.sender, row.summary)


def bc10(conn: Connection, ref: RegistrationRef, *, limit: int) -> list[Registered]:
    """The BC 1.0 registered as ``ref``."""
    return _bc10(
        conn,
        registrations.c.office_code == ref.office_code,
        registrations.c.number == ref.number,
        registrations.c.registration_date == ref.date,
        limit=limit,
    )


def bc10_for_conveyance(
    conn: Connection, office_code: str, name: str, imo_number: str | None, *, limit: int
) -> list[Registered]:
    """The newest BC 1.0s at the office of a conveyance by that name (any case) or IMO number."""
    summary = documents.c.summary
    same = sa.func.upper(summary["conveyance"].as_string()) == name.upper()
    if imo_number:
        same = sa.or_(same, summary["imo"].as_string() == imo_number)
    return _bc10(conn, registrations.c.office_code == office_code, same, limit=limit)


def _bc10(conn: Connection, *where: sa.ColumnElement[bool], limit: int) -> list[Registered]:
    query = (
        sa.select(
            registrations.c.id,
            registrations.c.office_code,
            registrations.c.number,
            registrations.c.registration_date,
            documents.c.document_type,
            documents.c.summary,
            documents.c.sender,
        )
        .join(documents, documents.c.id == registrations.c.document_id)
        .where(registrations.c.kind == str(RegistrationKind.BC10), *where)
        .order_by(registrations.c.id.desc())
        .limit(limit)
    )
    return [
        Registered(
            registration_id=row.id,
            ref=RegistrationRef(
                kind=RegistrationKind.BC10,
                office_code=row.office_code,
                number=row.number,
                date=row.registration_date,
            ),
            document_type=row.document_type,
            sender=row.sender,
            summary=row.summary,
        )
        for row in conn.execute(query).all()
    ]
