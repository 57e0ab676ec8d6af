"""Read-side queries for the console and the HTTP API: search, dashboard figures.

Every query takes a :class:`Scope`, the part of the gateway the caller may see: a carrier
sees only its own submissions (``sender``), an officer those of documents for the office,
an operator everything. Scoping is done in SQL, so a row outside the scope is never read,
and an id from another carrier is simply "not found".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD
from gateway.storage.tables import documents, manifest_pos, registrations, submissions


@dataclass(**RECORD)
class Scope:
    carrier: str | None = None  # only submissions sent by this carrier
    office: str | None = None  # only documents for this office
    # the operator's view: neither set


@dataclass(**RECORD)
class SearchQuery:
    text: str | None = None  # nomor aju, registration number, B/L or AWB, vessel, voyage
    carrier: str | None = None
    status: str | None = None
    document_type: str | None = None
    received_from: date | None = None
    received_until: date | None = None
    limit: int = 100


@dataclass(**RECORD)
class Row:
    submission_id: int
    received_at: datetime
    sender: str
    channel: str
    source_name: str
    format: str | None
    submission_status: str
    nomor_aju: str | None
    document_type: str | None
    status: str | None
    office: str | None
    registration: str | None  # "BC 1.1 000123 2026-03-10"
    conveyance: str | None
    voyage: str | None
    flags: tuple[str, ...]


@dataclass(kw_only=True, slots=True)
class Dashboard:
    by_status: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    by_office: Counter[str] = field(default_factory=Counter)
    waiting: int = 0  # received, not decided yet
    oldest_waiting: datetime | None = None
    hours: list[tuple[datetime, int, int, int]] = field(default_factory=list)  # received/reg/ref
    late: list[Row] = field(default_factory=list)


def _scoped(query: Any, scope: Scope) -> Any:
    if scope.carrier is not None:
        query = query.where(submissions.c.sender == scope.carrier)
    if scope.office is not None:
        query = query.where(documents.c.office_code == scope.office)
    return query


def _base() -> sa.Select[Any]:
    return sa.select(
        submissions.c.id,
        submissions.c.received_at,
        submissions.c.sender,
        submissions.c.channel,
        submissions.c.source_name,
        submissions.c.format,
        submissions.c.status.label("submission_status"),
        documents.c.nomor_aju,
        documents.c.document_type,
        documents.c.status,
        documents.c.office_code,
        documents.c.flags,
        documents.c.summary,
        registrations.c.kind,
        registrations.c.number,
        registrations.c.registration_date,
    ).select_from(
        submissions.outerjoin(documents, documents.c.submission_id == submissions.c.id).outerjoin(
            registrations, registrations.c.document_id == documents.c.id
        )
    )


def _row(r: Any) -> Row:
    summary = r.summary or {}
    registration = None
    if r.number is not None:
        registration = f"{r.kind} {r.number} {r.registration_date.isoformat()}"
    return Row(
        submission_id=r.id,
        received_at=r.received_at,
        sender=r.sender,
        channel=r.channel,
        source_name=r.source_name,
        format=r.format,
        submission_status=r.submission_status,
        nomor_aju=r.nomor_aju,
        document_type=r.document_type,
        status=r.status,
        office=r.office_code,
        registration=registration,
        conveyance=summary.get("conveyance"),
        voyage=summary.get("voyage_number"),
        flags=tuple(f.get("code", "") for f in (r.flags or [])),
    )


@dataclass(**RECORD)
class Share:
    """What of one submission a caller may see.

    A carrier (its own files) and an operator see everything. An officer sees the documents
    addressed to their office; the raw bytes and the file-level acknowledgments (receipt,
    TA1/997/CONTRL, which speak of every message in the file) only when every document of
    the file is addressed to their office.
    """

    office: str | None  # documents limited to this office; None: all of them
    document_ids: frozenset[int] | None  # the documents in view; None: all of them
    whole_file: bool

    def sees_ack(self, document_id: int | None) -> bool:
        if document_id is None:
            return self.whole_file
        return self.document_ids is None or document_id in self.document_ids


def share(conn: Connection, scope: Scope, submission_id: int) -> Share | None:
    """The caller's share of the submission, or None when it is not theirs to see at all."""
    if not visible(conn, scope, submission_id):
        return None
    if scope.office is None:
        return Share(office=None, document_ids=None, whole_file=True)
    rows = conn.execute(
        sa.select(documents.c.id, documents.c.office_code).where(
            documents.c.submission_id == submission_id
        )
    ).all()
    own = frozenset(int(r.id) for r in rows if r.office_code == scope.office)
    return Share(office=scope.office, document_ids=own, whole_file=len(own) == len(rows))


def visible(conn: Connection, scope: Scope, submission_id: int) -> bool:
    """Whether the submission exists inside ``scope`` (else it is "not found" to the caller)."""
    query = _scoped(
        sa.select(submissions.c.id)
        .select_from(
            submissions.outerjoin(documents, documents.c.submission_id == submissions.c.id)
        )
        .where(submissions.c.id == submission_id),
        scope,
    )
    return conn.execute(query.limit(1)).first() is not None


def search(conn: Connection, scope: Scope, q: SearchQuery) -> list[Row]:
    query = _scoped(_base(), scope)
    if q.text:
        text = q.text.strip()
        like = f"%{text}%"
        by_bill = sa.select(manifest_pos.c.document_id).where(
            manifest_pos.c.transport_document == text
        )
        query = query.where(
            sa.or_(
                documents.c.nomor_aju == text,
                submissions.c.nomor_aju == text,
                registrations.c.number == text,
                documents.c.id.in_(by_bill),
                documents.c.summary["conveyance"].as_string().ilike(like),
                documents.c.summary["voyage_number"].as_string() == text,
                submissions.c.source_name.ilike(like),
            )
        )
    if q.carrier:
        query = query.where(submissions.c.sender == q.carrier)
    if q.status:
        query = query.where(sa.func.coalesce(documents.c.status, submissions.c.status) == q.status)
    if q.document_type:
        query = query.where(documents.c.document_type == q.document_type)
    # Dates are calendar days in UTC: the console shows each office's local time beside them.
    if q.received_from:
        query = query.where(submissions.c.received_at >= _utc_midnight(q.received_from))
    if q.received_until:
        end = _utc_midnight(q.received_until + timedelta(days=1))
        query = query.where(submissions.c.received_at < end)
    query = query.order_by(submissions.c.id.desc(), documents.c.doc_index).limit(q.limit)
    return [_row(r) for r in conn.execute(query)]


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _counts(conn: Connection, scope: Scope, column: Any) -> Counter[str]:
    label = column.label("key")
    query = _scoped(
        sa.select(label, sa.func.count()).select_from(
            submissions.outerjoin(documents, documents.c.submission_id == submissions.c.id)
        ),
        scope,
    ).group_by(label)
    return Counter({str(key if key is not None else "-"): int(n) for key, n in conn.execute(query)})


def dashboard(conn: Connection, scope: Scope, *, now: datetime) -> Dashboard:
    """Counts over everything in scope; the hourly chart over the last 24 h."""
    board = Dashboard(
        by_status=_counts(conn, scope, sa.func.coalesce(documents.c.status, submissions.c.status)),
        by_type=_counts(conn, scope, sa.func.coalesce(documents.c.document_type, "UNREAD")),
        by_channel=_counts(conn, scope, submissions.c.channel),
        by_office=_counts(conn, scope, documents.c.office_code),
    )
    waiting = conn.execute(
        _scoped(
            sa.select(sa.func.count(), sa.func.min(submissions.c.received_at))
            .select_from(
                submissions.outerjoin(documents, documents.c.submission_id == submissions.c.id)
            )
            .where(documents.c.id.is_(None), submissions.c.status == "RECEIVED"),
            scope,
        )
    ).one()
    count, oldest = waiting
    board.waiting, board.oldest_waiting = int(count), oldest
    first_hour = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    hours = {first_hour + timedelta(hours=h): [0, 0, 0] for h in range(24)}
    recent = conn.execute(
        _scoped(
            sa.select(
                submissions.c.received_at,
                sa.func.coalesce(documents.c.status, submissions.c.status),
            ).select_from(
                submissions.outerjoin(documents, documents.c.submission_id == submissions.c.id)
            ),
            scope,
        ).where(submissions.c.received_at >= first_hour)
    )
    for received_at, status in recent:
        counts = hours.get(received_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
        if counts is not None:
            counts[0] += 1
            counts[1] += status == "REGISTERED"
            counts[2] += status == "REFUSED"
    board.hours = [(h, c[0], c[1], c[2]) for h, c in sorted(hours.items())]
    late = _scoped(_base(), scope).where(sa.cast(documents.c.flags, sa.Text).like('%"LATE"%'))
    board.late = [_row(r) for r in conn.execute(late.order_by(submissions.c.id.desc()).limit(20))]
    return board
