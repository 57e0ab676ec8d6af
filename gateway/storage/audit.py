"""The audit trail: who did what to which submission, and when; the one writer of ``audit_log``.

Every change an officer, a carrier or the gateway itself makes is recorded here in the same
transaction as the change, so the trail cannot say something happened that was rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.storage.tables import audit_log


def entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    submission_id: int | None = None,
    document_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit-trail entry, for :func:`record_many` (built ahead when a batch collects them)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "submission_id": submission_id,
        "document_id": document_id,
        "from_status": from_status,
        "to_status": to_status,
        "detail": detail or {},
    }


def record(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    submission_id: int | None = None,
    document_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one entry in the caller's transaction."""
    record_many(
        conn,
        [
            entry(
                at=at,
                actor=actor,
                action=action,
                submission_id=submission_id,
                document_id=document_id,
                from_status=from_status,
                to_status=to_status,
                detail=detail,
            )
        ],
    )


def record_many(conn: Connection, entries: Iterable[dict[str, Any]]) -> None:
    """Record entries made with :func:`entry` in one INSERT (none: nothing is written)."""
    rows = list(entries)
    if rows:
        conn.execute(sa.insert(audit_log), rows)
