"""Read-only figures for the metrics endpoint (``gateway/metrics.py``), straight from the tables.

Every figure is counted in the database at scrape time, never in process memory: several
gateway processes sharing one PostgreSQL database then all report the same truth, and a
restart loses nothing. The queries are full aggregates over their tables; they are meant for
a scrape every 15-60 seconds, not for a page view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.messages import UNREADABLE
from gateway.model.common import RECORD
from gateway.storage.tables import (
    acks,
    amendments,
    documents,
    jobs,
    registrations,
    submissions,
)
from gateway.storage.types import UTCDateTime

# Written by the scheduler (issue 8, migration 0005). Named here without the table module so
# that a database without it (an older schema, a process started before the upgrade) is
# simply reported without scheduler figures.
_scheduled_runs = sa.table(
    "scheduled_runs",
    sa.column("job", sa.String()),
    sa.column("status", sa.String()),
    sa.column("fire_time", UTCDateTime()),
)

UNKNOWN = "unknown"  # label value for a column that is NULL (e.g. the office of an unreadable file)


@dataclass(**RECORD)
class DocumentCount:
    """Documents read from received files, by what they are and where they came from."""

    document_type: str
    format: str
    channel: str
    office: str
    status: str  # REGISTERED, ACCEPTED, PENDING_APPROVAL, REFUSED, ...
    documents: int
    registered: int  # of those, how many were given a BC 1.0 / BC 1.1 number


@dataclass(**RECORD)
class GroupCount:
    """A count by two labels, with the oldest timestamp of the group (for ages)."""

    first: str
    second: str
    count: int
    oldest: datetime | None


@dataclass(**RECORD)
class RunCount:
    """Scheduled runs of one job in one status, and the latest fire time among them."""

    job: str
    status: str
    count: int
    last_fire: datetime | None


@dataclass(**RECORD)
class LatencyBuckets:
    """A cumulative histogram: ``buckets[i]`` files decided within ``bounds[i]`` seconds."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    count: int
    total_seconds: float


def _label(value: Any) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def ping(conn: Connection) -> None:
    """The cheapest round trip that proves the database answers."""
    conn.execute(sa.select(sa.literal(1))).scalar_one()


def document_counts(conn: Connection) -> list[DocumentCount]:
    rows = conn.execute(
        sa.select(
            documents.c.document_type,
            submissions.c.format,
            submissions.c.channel,
            documents.c.office_code,
            documents.c.status,
            sa.func.count().label("n"),
            sa.func.count(registrations.c.id).label("registered"),
        )
        .select_from(
            documents.join(submissions, submissions.c.id == documents.c.submission_id).outerjoin(
                registrations, registrations.c.document_id == documents.c.id
            )
        )
        .group_by(
            documents.c.document_type,
            submissions.c.format,
            submissions.c.channel,
            documents.c.office_code,
            documents.c.status,
        )
    ).all()
    return [
        DocumentCount(
            document_type=_label(r.document_type),
            format=_label(r.format),
            channel=_label(r.channel),
            office=_label(r.office_code),
            status=_label(r.status),
            documents=int(r.n),
            registered=int(r.registered),
        )
        for r in rows
    ]


@dataclass(**RECORD)
class UnreadableCount:
    """Files refused because the gateway could not read them (FILE-007), by where from."""

    format: str
    channel: str
    count: int
    waiting_replay: int  # of those, how many no operator has replayed yet


def unreadable_counts(conn: Connection) -> list[UnreadableCount]:
    """FILE-007 refusals by (format, channel); each is one document of type UNKNOWN.

    The code is looked for in the findings' JSON text: a JSON string is quoted, so
    ``"FILE-007"`` matches the code and nothing a carrier wrote (its quotes are escaped).
    """
    replay = submissions.alias("replay")
    replayed = (
        sa.select(replay.c.id)
        .where(
            replay.c.channel == submissions.c.channel,
            replay.c.intake_key == sa.literal("replay:") + sa.cast(submissions.c.id, sa.String),
        )
        .exists()
    )
    rows = conn.execute(
        sa.select(
            submissions.c.format,
            submissions.c.channel,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((replayed, 0), else_=1)).label("waiting"),
        )
        .select_from(documents.join(submissions, submissions.c.id == documents.c.submission_id))
        .where(
            documents.c.status == "REFUSED",
            documents.c.document_type == "UNKNOWN",
            sa.cast(documents.c.findings, sa.Text).like(f'%"{UNREADABLE}"%'),
        )
        .group_by(submissions.c.format, submissions.c.channel)
    ).all()
    return [
        UnreadableCount(
            format=_label(r.format),
            channel=_label(r.channel),
            count=int(r.n),
            waiting_replay=int(r.waiting or 0),
        )
        for r in rows
    ]


def submission_counts(conn: Connection) -> list[GroupCount]:
    """Received files by (channel, status); ``oldest`` is the earliest ``received_at``."""
    return _grouped(conn, submissions, submissions.c.channel, submissions.c.status, "received_at")


def job_counts(conn: Connection) -> list[GroupCount]:
    """Jobs by (kind, status); ``oldest`` is the earliest ``created_at``."""
    return _grouped(conn, jobs, jobs.c.kind, jobs.c.status, "created_at")


def retrying_counts(conn: Connection) -> dict[str, int]:
    """Jobs waiting for another try after a failed one (``todo`` with attempts made), by kind.

    For DELIVER jobs these are the delivery failures in flight: the worker delivers right
    after deciding, so a DELIVER job is only ever tried when that delivery did not happen.
    """
    rows = conn.execute(
        sa.select(jobs.c.kind, sa.func.count().label("n"))
        .where(jobs.c.status == "todo", jobs.c.attempts > 0)
        .group_by(jobs.c.kind)
    ).all()
    return {_label(r.kind): int(r.n) for r in rows}


def ack_counts(conn: Connection) -> list[GroupCount]:
    """Acknowledgments by (channel, status); ``oldest`` is the earliest ``created_at``."""
    return _grouped(conn, acks, acks.c.channel, acks.c.status, "created_at")


def pending_amendments(conn: Connection) -> dict[str, int]:
    """Amendments waiting for the head of office, by office (Art. 6(2))."""
    rows = conn.execute(
        sa.select(amendments.c.office_code, sa.func.count().label("n"))
        .where(amendments.c.status == "PENDING_APPROVAL")
        .group_by(amendments.c.office_code)
    ).all()
    return {_label(r.office_code): int(r.n) for r in rows}


def scheduled_run_counts(conn: Connection) -> list[RunCount] | None:
    """Scheduler runs by (job, status) with the latest fire time; None without the table."""
    if not sa.inspect(conn).has_table("scheduled_runs"):
        return None
    t = _scheduled_runs
    rows = conn.execute(
        sa.select(t.c.job, t.c.status, sa.func.count().label("n"), sa.func.max(t.c.fire_time))
        .group_by(t.c.job, t.c.status)
        .order_by(t.c.job, t.c.status)
    ).all()
    return [
        RunCount(job=_label(r[0]), status=_label(r[1]), count=int(r[2]), last_fire=r[3])
        for r in rows
    ]


def latency_buckets(conn: Connection, bounds: Sequence[float]) -> LatencyBuckets:
    """From a file's receipt to its decision, over every decided file (its first document).

    Counted in SQL so that a large table is not read into memory; the difference of two
    timestamps is the one dialect-specific expression.
    """
    decided = documents.c.decided_at
    received = submissions.c.received_at
    # Clamped at 0: processes on machines whose clocks disagree a little must not make a
    # negative latency (it would land below every bucket and lower the sum).
    latency: sa.ColumnElement[Any]
    if conn.dialect.name == "postgresql":
        latency = sa.func.greatest(sa.extract("epoch", decided - received), 0.0)
    else:  # SQLite keeps UTC text; julianday() is in days; max(a, b) is its scalar maximum
        latency = sa.func.max(
            (sa.func.julianday(decided) - sa.func.julianday(received)) * 86400.0, 0.0
        )
    columns = [
        sa.func.coalesce(sa.func.sum(sa.case((latency <= bound, 1), else_=0)), 0)
        for bound in bounds
    ]
    row = conn.execute(
        sa.select(
            *columns,
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(latency), 0.0).label("total"),
        )
        .select_from(documents.join(submissions, submissions.c.id == documents.c.submission_id))
        .where(documents.c.doc_index == 0)
    ).one()
    values = list(row)
    return LatencyBuckets(
        bounds=tuple(bounds),
        buckets=tuple(int(v) for v in values[: len(bounds)]),
        count=int(values[len(bounds)]),
        total_seconds=float(values[len(bounds) + 1]),
    )


def _grouped(
    conn: Connection, table: sa.Table, first: sa.Column[Any], second: sa.Column[Any], at: str
) -> list[GroupCount]:
    rows = conn.execute(
        sa.select(first, second, sa.func.count().label("n"), sa.func.min(table.c[at]))
        .group_by(first, second)
        .order_by(first, second)
    ).all()
    return [
        GroupCount(first=_label(r[0]), second=_label(r[1]), count=int(r[2]), oldest=r[3])
        for r in rows
    ]
