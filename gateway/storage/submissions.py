"""Submissions, documents, registrations, acknowledgments and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD, RegistrationRef
from gateway.storage import amendments as amendment_store
from gateway.storage import audit
from gateway.storage.raw_files import StoredFile
from gateway.storage.tables import (
    acks,
    dedup_keys,
    documents,
    manifest_pos,
    registrations,
    submissions,
)

RECEIVED = "RECEIVED"
PROCESSED = "PROCESSED"


@dataclass(**RECORD)
class Submission:
    id: int
    channel: str
    sender: str
    source_name: str
    raw_path: Path
    sha256: str
    size: int
    received_at: datetime
    status: str
    counter_office: str | None = None  # channel media: the office whose counter took it

    def log_context(self) -> dict[str, Any]:
        return {"submission_id": self.id, "sender": self.sender, "channel": self.channel}


@dataclass(**RECORD)
class PendingAck:
    id: int
    submission_id: int
    kind: str
    channel: str
    partner: str
    file_name: str
    body: bytes
    refused: bool
    source_name: str
    raw_path: Path


@dataclass(**RECORD)
class NewSubmission:
    channel: str
    sender: str
    source_name: str
    intake_key: str
    stored: StoredFile
    counter_office: str | None = None


def insert_submissions(
    conn: Connection, items: list[NewSubmission], *, received_at: datetime
) -> list[tuple[int, bool]]:
    """Record received files: (id, created) for each, in order.

    An intake key seen before (the same arrival looked at twice, e.g. after a crash between
    recording a file and moving it to archive/) returns the first row with created=False.
    """
    known: dict[tuple[str, str], int] = {}
    for channel in {item.channel for item in items}:
        keys = [item.intake_key for item in items if item.channel == channel]
        rows = conn.execute(
            sa.select(submissions.c.id, submissions.c.intake_key).where(
                submissions.c.channel == channel,
                submissions.c.intake_key.in_(sa.bindparam("keys", expanding=True)),
            ),
            {"keys": keys},
        ).all()
        known.update({(channel, row.intake_key): int(row.id) for row in rows})
    fresh: list[NewSubmission] = []
    for item in items:
        if (item.channel, item.intake_key) not in known and item not in fresh:
            fresh.append(item)
    if fresh:
        ids = conn.execute(
            sa.insert(submissions).returning(submissions.c.id, sort_by_parameter_order=True),
            [
                {
                    "channel": item.channel,
                    "sender": item.sender,
                    "source_name": item.source_name,
                    "intake_key": item.intake_key,
                    "raw_path": str(item.stored.path),
                    "sha256": item.stored.sha256,
                    "size": item.stored.size,
                    "received_at": received_at,
                    "status": RECEIVED,
                    "counter_office": item.counter_office,
                }
                for item in fresh
            ],
        ).scalars()
        created = dict(zip([(i.channel, i.intake_key) for i in fresh], ids, strict=True))
    else:
        created = {}
    results = []
    for item in items:
        key = (item.channel, item.intake_key)
        if key in known:
            results.append((known[key], False))
        else:
            results.append((int(created[key]), True))
            known[key] = int(created[key])  # a repeat within the batch is not new
    return results


def nomor_aju_taken(conn: Connection, candidates: list[str]) -> set[str]:
    """Which of these nomor aju a document holds already (given out or supplied)."""
    wanted = [c for c in candidates if c]
    if not wanted:
        return set()
    rows = conn.execute(
        sa.select(documents.c.nomor_aju).where(
            documents.c.nomor_aju.in_(sa.bindparam("ajus", expanding=True))
        ),
        {"ajus": wanted},
    ).scalars()
    return set(rows)


def get_submissions(conn: Connection, ids: list[int]) -> list[Submission]:
    rows = conn.execute(
        sa.select(submissions)
        .where(submissions.c.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(submissions.c.id),
        {"ids": ids},
    ).all()
    return [
        Submission(
            id=row.id,
            channel=row.channel,
            sender=row.sender,
            source_name=row.source_name,
            raw_path=Path(row.raw_path),
            sha256=row.sha256,
            size=row.size,
            received_at=row.received_at,
            status=row.status,
            counter_office=row.counter_office,
        )
        for row in rows
    ]


def get_submission(conn: Connection, submission_id: int) -> Submission | None:
    found = get_submissions(conn, [submission_id])
    return found[0] if found else None


def claim_for_processing(conn: Connection, ids: list[int], *, now: datetime) -> set[int]:
    """Move submissions from RECEIVED to PROCESSED; returns those this transaction moved.

    First statement of the processing transaction: on PostgreSQL the row locks make a second
    worker wait here and then find nothing left to do.
    """
    rows = conn.execute(
        sa.update(submissions)
        .where(
            submissions.c.id.in_(sa.bindparam("ids", expanding=True)),
            submissions.c.status == RECEIVED,
        )
        .values(status=PROCESSED, processed_at=now)
        .returning(submissions.c.id),
        {"ids": ids},
    ).scalars()
    return {int(r) for r in rows}


def set_outcome_fields(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Per submission: its format and the nomor aju of its first document."""
    conn.execute(
        sa.update(submissions)
        .where(submissions.c.id == sa.bindparam("sid"))
        .values(format=sa.bindparam("fmt"), nomor_aju=sa.bindparam("aju")),
        rows,
    )


def find_duplicates(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Which (sender, key) pairs are taken already, and by which document's nomor aju."""
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(dedup_keys.c.sender, dedup_keys.c.key, documents.c.nomor_aju)
        .join(documents, documents.c.id == dedup_keys.c.document_id)
        .where(
            dedup_keys.c.sender.in_(sa.bindparam("senders", expanding=True)),
            dedup_keys.c.key.in_(sa.bindparam("keys", expanding=True)),
        ),
        {"senders": sorted({s for s, _ in keys}), "keys": sorted({k for _, k in keys})},
    ).all()
    wanted = set(keys)
    return {(r.sender, r.key): r.nomor_aju for r in rows if (r.sender, r.key) in wanted}


def insert_documents(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert document rows; their ids in the order given."""
    result = conn.execute(
        sa.insert(documents).returning(documents.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """A plain multi-row INSERT (dedup keys, registrations, pos, acks, audit)."""
    if rows:
        conn.execute(sa.insert(table), rows)


def insert_dedup_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Keys an accepted document holds (content, nomor aju) and envelopes spent."""
    insert_rows(conn, dedup_keys, rows)


def insert_registrations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_rows(conn, registrations, rows)


def insert_acks(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Acknowledgments rendered and waiting for delivery."""
    insert_rows(conn, acks, rows)


def bc11_pos_numbers(conn: Connection, ref: RegistrationRef) -> frozenset[str] | None:
    document_id = conn.execute(
        sa.select(registrations.c.document_id).where(
            registrations.c.kind == str(ref.kind),
            registrations.c.office_code == ref.office_code,
            registrations.c.number == ref.number,
            registrations.c.registration_date == ref.date,
        )
    ).scalar_one_or_none()
    if document_id is None:
        return None
    numbers = conn.execute(
        sa.select(manifest_pos.c.pos_number).where(manifest_pos.c.document_id == document_id)
    ).scalars()
    return frozenset(numbers)


def pending_acks(conn: Connection, ids: list[int]) -> list[PendingAck]:
    rows = conn.execute(
        sa.select(
            acks,
            documents.c.status.label("doc_status"),
            submissions.c.source_name,
            submissions.c.raw_path,
        )
        .join(submissions, submissions.c.id == acks.c.submission_id)
        .outerjoin(documents, documents.c.id == acks.c.document_id)
        .where(
            acks.c.submission_id.in_(sa.bindparam("ids", expanding=True)),
            acks.c.status == "PENDING",
        )
        .order_by(acks.c.id),
        {"ids": ids},
    ).all()
    return [
        PendingAck(
            id=row.id,
            submission_id=row.submission_id,
            kind=row.kind,
            channel=row.channel,
            partner=row.partner,
            file_name=row.file_name,
            body=row.body,
            refused=row.doc_status == "REFUSED",
            source_name=row.source_name,
            raw_path=Path(row.raw_path),
        )
        for row in rows
    ]


def mark_delivered(conn: Connection, delivered: list[tuple[int, Path]], *, now: datetime) -> None:
    if not delivered:
        return
    conn.execute(
        sa.update(acks)
        .where(acks.c.id == sa.bindparam("ack_id"))
        .values(status="DELIVERED", path=sa.bindparam("path"), delivered_at=sa.bindparam("at")),
        [{"ack_id": ack_id, "path": str(path), "at": now} for ack_id, path in delivered],
    )


# Kept for callers not yet moved to gateway.storage.audit (the SFTP server).
audit_row = audit.entry


def find_submission_id(conn: Connection, key: str) -> int | None:
    """A submission by its id or by the nomor aju of one of its documents."""
    if key.isdigit() and len(key) < 20:
        return int(key)
    found = conn.execute(
        sa.select(documents.c.submission_id).where(documents.c.nomor_aju == key)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def report(
    conn: Connection,
    submission_id: int,
    *,
    office: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One JSON-ready object per document of the submission (the CLI's --json shape).

    With ``office``, only the documents addressed to that office (an officer's view of a
    file that carries documents for several offices). With ``limit``, one page of them in
    file order from ``offset`` (a file may hold thousands of documents: the web reads pages,
    see :func:`count_documents`); each carries its own acknowledgments, never their bodies.
    """
    sub = conn.execute(sa.select(submissions).where(submissions.c.id == submission_id)).first()
    if sub is None:
        return []
    query = (
        sa.select(documents, registrations)
        .outerjoin(registrations, registrations.c.document_id == documents.c.id)
        .where(documents.c.submission_id == submission_id)
        .order_by(documents.c.doc_index)
    )
    if office is not None:
        query = query.where(documents.c.office_code == office)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    docs = conn.execute(query).all()
    ack_query = sa.select(*ACK_LISTED).where(
        acks.c.submission_id == submission_id, acks.c.document_id.is_not(None)
    )
    if limit is not None:  # this page's documents only
        ack_query = ack_query.where(
            acks.c.document_id.in_([int(d._mapping[documents.c.id]) for d in docs])
        )
    own_acks: dict[int, list[dict[str, Any]]] = {}
    for a in conn.execute(ack_query.order_by(acks.c.id)):
        own_acks.setdefault(a.document_id, []).append(_ack_entry(a))
    if not docs and offset == 0:
        return [
            {
                "submission_id": sub.id,
                "nomor_aju": None,
                "format": sub.format,
                "document_type": None,
                "status": sub.status,
                "registration": None,
                "flags": [],
                "errors": [],
                "acks": [],
                "received_at": sub.received_at.isoformat(),
                "sender": sub.sender,
                "source_name": sub.source_name,
            }
        ]
    out = []
    for doc in docs:
        m = doc._mapping
        registration = None
        if m[registrations.c.number] is not None:
            registration = {
                "kind": m[registrations.c.kind],
                "office": m[registrations.c.office_code],
                "number": m[registrations.c.number],
                "date": _iso(m[registrations.c.registration_date]),
            }
        doc_id = m[documents.c.id]
        out.append(
            {
                "submission_id": sub.id,
                "document_id": doc_id,
                "document_index": m[documents.c.doc_index],
                "nomor_aju": m[documents.c.nomor_aju],
                "format": sub.format,
                "document_type": m[documents.c.document_type],
                "status": m[documents.c.status],
                "registration": registration,
                "flags": [flag["code"] for flag in m[documents.c.flags]],
                "late_by_seconds": next(
                    (
                        f["lateness_seconds"]
                        for f in m[documents.c.flags]
                        if f.get("lateness_seconds")
                    ),
                    None,
                ),
                "errors": list(m[documents.c.findings]),
                "acks": own_acks.get(doc_id, []),
                "office": m[documents.c.office_code],
                "sender": sub.sender,
                "source_name": sub.source_name,
                "received_at": sub.received_at.isoformat(),
            }
        )
    _add_amendment_decisions(conn, out, [int(d._mapping[documents.c.id]) for d in docs])
    return out


# What a listing shows of an acknowledgment: never its body (a 997 or a response may be large).
ACK_LISTED = (
    acks.c.id,
    acks.c.document_id,
    acks.c.kind,
    acks.c.file_name,
    acks.c.status,
    acks.c.path,
)


def _ack_entry(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "document_id": row.document_id,
        "kind": row.kind,
        "file_name": row.file_name,
        "status": row.status,
        "path": row.path,
    }


def file_acks(
    conn: Connection, submission_id: int, *, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """One page of the acknowledgments of the whole file (receipts without a document, TA1,
    997/999, CONTRL: one or two per interchange), and how many there are."""
    where = (acks.c.submission_id == submission_id, acks.c.document_id.is_(None))
    rows = conn.execute(
        sa.select(*ACK_LISTED).where(*where).order_by(acks.c.id).limit(limit).offset(offset)
    ).all()
    total = conn.execute(sa.select(sa.func.count()).select_from(acks).where(*where)).scalar_one()
    return [_ack_entry(r) for r in rows], int(total)


@dataclass(**RECORD)
class AckBody:
    file_name: str
    size: int
    document_id: int | None


def ack_body(conn: Connection, submission_id: int, ack_id: int) -> AckBody | None:
    """An acknowledgment's name, owner and body length; the body stays in the database."""
    row = conn.execute(
        sa.select(
            acks.c.file_name, acks.c.document_id, sa.func.length(acks.c.body).label("size")
        ).where(acks.c.id == ack_id, acks.c.submission_id == submission_id)
    ).first()
    if row is None:
        return None
    return AckBody(file_name=row.file_name, size=int(row.size), document_id=row.document_id)


def ack_body_chunk(conn: Connection, ack_id: int, start: int, size: int) -> bytes:
    """``size`` bytes of an acknowledgment's body from ``start`` (0-based): bodies are sent
    in pieces, never read whole (``substr`` counts bytes on a blob/bytea, from 1)."""
    piece = conn.execute(
        sa.select(sa.func.substr(acks.c.body, start + 1, size, type_=sa.LargeBinary)).where(
            acks.c.id == ack_id
        )
    ).scalar_one_or_none()
    return bytes(piece or b"")


def count_documents(conn: Connection, submission_id: int, *, office: str | None = None) -> int:
    """How many documents :func:`report` lists for these arguments (pages are cut from it)."""
    query = (
        sa.select(sa.func.count())
        .select_from(documents)
        .where(documents.c.submission_id == submission_id)
    )
    if office is not None:
        query = query.where(documents.c.office_code == office)
    return int(conn.execute(query).scalar_one())


def _add_amendment_decisions(
    conn: Connection, out: list[dict[str, Any]], document_ids: list[int]
) -> None:
    """Amendments show where they stand: pending, or who decided when and why (Art. 6(2))."""
    found = amendment_store.by_document(conn, document_ids)
    for result, document_id in zip(out, document_ids, strict=True):
        row = found.get(document_id)
        if row is not None:
            result["amendment"] = {
                "kind": row.kind,
                "bc11": {"number": row.bc11_number, "date": row.bc11_date.isoformat()},
                "pos": row.pos_number,
                "status": str(row.status),
                "decided_by": row.decided_by,
                "decided_at": row.decided_at.isoformat() if row.decided_at else None,
                "reason": row.decision_reason,
            }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
