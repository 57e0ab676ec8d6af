"""Which registration holds a call key (gateway/call_keys.py), and keying new registrations."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.call_keys import RegisteredCall
from gateway.model import DocumentType, RegistrationKind, RegistrationRef
from gateway.storage.tables import call_keys, documents, registrations


def find(conn: Connection, keys: Sequence[str]) -> dict[str, RegisteredCall]:
    """The registration holding each of these keys, for the keys that are held."""
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(
            call_keys.c.key,
            registrations.c.kind,
            registrations.c.office_code,
            registrations.c.number,
            registrations.c.registration_date,
            documents.c.document_type,
        )
        .join(registrations, registrations.c.document_id == call_keys.c.document_id)
        .join(documents, documents.c.id == call_keys.c.document_id)
        .where(call_keys.c.key.in_(sa.bindparam("keys", expanding=True))),
        {"keys": sorted(set(keys))},
    ).all()
    return {
        row.key: RegisteredCall(
            key=row.key,
            registration=RegistrationRef(
                kind=RegistrationKind(row.kind),
                office_code=row.office_code,
                number=row.number,
                date=row.registration_date,
            ),
            document_type=DocumentType(row.document_type),
        )
        for row in rows
    }


def insert(conn: Connection, rows: Sequence[tuple[str, int]]) -> None:
    """Key registrations: (key, document id) pairs. A key held already raises IntegrityError
    (the caller's transaction is rolled back and retried, then finds the holder)."""
    if rows:
        conn.execute(sa.insert(call_keys), [{"key": k, "document_id": d} for k, d in rows])
