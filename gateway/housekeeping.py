"""The scheduler's jobs (:mod:`gateway.scheduler` decides when; this module what).

===================  ==========================================================================
``sweep``            hands back jobs of workers that stopped renewing their lease; removes
                     temporary files left by dead writers (partial raw copies, half-written
                     acknowledgments in outboxes and drop ``out/``/``error/``): older than
                     ``STALE_PART_SECONDS`` and held by no writer (a failed write removes
                     its own at once)
``deliveries``       the delivery backlog: DELIVER jobs waiting for their next try (backoff of
                     ``gateway.worker.DELIVER_RETRY``) and dead letters (jobs ``failed`` after
                     their last try), logged as an error while any dead letter waits
``deadline_watch``   the rule book's deadline watch (:func:`gateway.deadline_watch.watch`):
                     overdue inward and outward manifests (measured from recorded actual
                     arrivals/departures, else announced ones) and late RKSP/JKSP, logged
                     and kept in the run
``retention``        refused submissions older than ``retention_days``: their rows and raw files
                     are purged after a line per submission is appended to
                     ``<data_dir>/archive/retention-YYYY-MM.jsonl``; registered documents and
                     their raw files are never purged, nor is the audit trail
``daily_report``     documents decided per office and day (office time) and status in the period
                     ending at the fire time, logged and kept in the run
===================  ==========================================================================

Each job returns a JSON-able dict, stored in ``scheduled_runs.detail``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from gateway.config import Settings
from gateway.deadline_watch import watch
from gateway.pipeline import Pipeline
from gateway.scheduler import ScheduledJob
from gateway.storage import audit
from gateway.storage import submissions as store
from gateway.storage.queue import JobKind, JobStatus
from gateway.storage.tables import (
    acks,
    documents,
    jobs,
    metadata,
    submissions,
)
from gateway.worker import DELIVER_RETRY

log = structlog.get_logger("gateway.housekeeping")

# Temporary files older than this and held by no writer (flock) were left by a dead process:
# a live writer holds its file and writes it within seconds.
STALE_PART_SECONDS = 300.0
# Submissions purged per transaction.
PURGE_BATCH = 500
# A raw file written this recently may belong to a submission being received right now.
RAW_FILE_GRACE_SECONDS = 3600.0
# Items of the deadline watch kept in a run's detail (all are logged).
WATCH_DETAIL_ITEMS = 100


def build_jobs(pipeline: Pipeline, settings: Settings) -> list[ScheduledJob]:
    def every(seconds: float) -> timedelta:
        return timedelta(seconds=seconds)

    def bind(
        func: Callable[[Pipeline, Settings, datetime], dict[str, Any]],
    ) -> Callable[[datetime], dict[str, Any]]:
        return lambda fire_time: func(pipeline, settings, fire_time)

    return [
        ScheduledJob(
            name="sweep", interval=every(settings.schedule_sweep_seconds), func=bind(sweep)
        ),
        ScheduledJob(
            name="deliveries",
            interval=every(settings.schedule_deliveries_seconds),
            func=bind(deliveries),
        ),
        ScheduledJob(
            name="deadline_watch",
            interval=every(settings.schedule_deadline_watch_seconds),
            func=bind(deadline_watch),
        ),
        ScheduledJob(
            name="retention",
            interval=every(settings.schedule_retention_seconds),
            func=bind(retention),
        ),
        ScheduledJob(
            name="daily_report",
            interval=every(settings.schedule_daily_report_seconds),
            func=lambda fire_time: daily_report(
                pipeline, fire_time, period=every(settings.schedule_daily_report_seconds)
            ),
        ),
    ]


def sweep(pipeline: Pipeline, settings: Settings, fire_time: datetime) -> dict[str, Any]:
    requeued = pipeline.queue.requeue_expired(now=pipeline.clock())
    removed = sweep_temporary_files(pipeline)
    if requeued:
        log.warning("requeued jobs of vanished workers", count=requeued)
    return {"requeued": requeued, "partial_files_removed": removed}


def sweep_temporary_files(pipeline: Pipeline, *, older_than: float = STALE_PART_SECONDS) -> int:
    """Temporary files of dead writers: the raw store's and every channel's outboxes."""
    removed = pipeline.raw.sweep_temporary(older_than=older_than)
    for channel in pipeline.channels.values():
        removed += channel.sweep_temporary(older_than=older_than)
    if removed:
        log.info("temporary files of dead writers removed", count=removed)
    return removed


def deliveries(pipeline: Pipeline, settings: Settings, fire_time: datetime) -> dict[str, Any]:
    with pipeline.db.engine.connect() as conn:
        retrying = conn.execute(
            sa.select(sa.func.count())
            .select_from(jobs)
            .where(
                jobs.c.kind == str(JobKind.DELIVER),
                jobs.c.status == JobStatus.TODO,
                jobs.c.attempts > 0,
            )
        ).scalar_one()
        dead = {
            str(kind): int(count)
            for kind, count in conn.execute(
                sa.select(jobs.c.kind, sa.func.count())
                .where(jobs.c.status == JobStatus.FAILED)
                .group_by(jobs.c.kind)
            )
        }
    detail: dict[str, Any] = {
        "retrying": int(retrying),
        "dead_letters": int(sum(dead.values())),
        "dead_letters_by_kind": {str(k): int(v) for k, v in dead.items()},
        "backoff_seconds": DELIVER_RETRY.schedule(),
    }
    if detail["dead_letters"]:
        log.error(
            "dead letters wait for an operator",
            count=detail["dead_letters"],
            message_id="Ada pekerjaan gagal permanen; lihat `pde-gateway deadletters list`.",
            message_en="Jobs failed for good; see `pde-gateway deadletters list`.",
        )
    return detail


def deadline_watch(pipeline: Pipeline, settings: Settings, fire_time: datetime) -> dict[str, Any]:
    with pipeline.db.engine.connect() as conn:
        report = watch(conn, now=pipeline.clock(), reference=pipeline.reference())
    data = report.to_json()
    for item in data["overdue_manifests"]:
        log.warning("inward manifest overdue", **item)
    for item in data["overdue_outward"]:
        log.warning("outward manifest overdue", **item)
    for item in data["late_bc10"]:
        log.info("late RKSP/JKSP", **item)
    return {
        "overdue_manifests": len(data["overdue_manifests"]),
        "overdue_outward": len(data["overdue_outward"]),
        "late_bc10": len(data["late_bc10"]),
        "since": data["since"],
        "report": {
            "overdue_manifests": data["overdue_manifests"][:WATCH_DETAIL_ITEMS],
            "overdue_outward": data["overdue_outward"][:WATCH_DETAIL_ITEMS],
            "late_bc10": data["late_bc10"][:WATCH_DETAIL_ITEMS],
        },
    }


# -- retention ---------------------------------------------------------------------------------


def _references_to(table: sa.Table) -> list[tuple[sa.Table, sa.Column[Any]]]:
    """Every column of the schema that points at ``table`` (new tables are covered too)."""
    found = []
    for other in metadata.tables.values():
        for column in other.columns:
            for fk in column.foreign_keys:
                if fk.column.table is table:
                    found.append((other, column))
    return found


def _purgeable(cutoff: datetime) -> sa.Select[Any]:
    """Submissions received before ``cutoff`` whose every document was refused, nothing pending."""
    s = submissions
    doc = documents.alias("doc")
    conditions: list[sa.ColumnElement[bool]] = [
        s.c.status == store.PROCESSED,
        s.c.received_at < cutoff,
        sa.exists().where(doc.c.submission_id == s.c.id),
        ~sa.exists().where(doc.c.submission_id == s.c.id, doc.c.status != "REFUSED"),
        ~sa.exists().where(acks.c.submission_id == s.c.id, acks.c.status != "DELIVERED"),
        ~sa.exists().where(
            jobs.c.ref == s.c.id, jobs.c.status.in_([JobStatus.TODO, JobStatus.DOING])
        ),
    ]
    # A refused document that something still refers to (a registration, a pos, an
    # amendment...) is kept: only acks are purged with it.
    for table, column in _references_to(documents):
        if table is acks:
            continue
        d = documents.alias()
        conditions.append(~sa.exists().where(d.c.submission_id == s.c.id, column == d.c.id))
    return (
        sa.select(
            s.c.id,
            s.c.sha256,
            s.c.raw_path,
            s.c.channel,
            s.c.sender,
            s.c.source_name,
            s.c.received_at,
            s.c.size,
        )
        .where(*conditions)
        .order_by(s.c.id)
        .limit(PURGE_BATCH)
    )


def retention(pipeline: Pipeline, settings: Settings, fire_time: datetime) -> dict[str, Any]:
    now = pipeline.clock()
    cutoff = now - timedelta(days=settings.retention_days)
    archive = settings.data_dir / "archive" / f"retention-{now:%Y-%m}.jsonl"
    purged_rows = 0
    raw_removed = 0
    while True:
        with pipeline.db.transaction() as conn:
            rows = conn.execute(_purgeable(cutoff)).all()
            if not rows:
                break
            ids = [row.id for row in rows]
            docs = conn.execute(
                sa.select(
                    documents.c.submission_id,
                    documents.c.nomor_aju,
                    documents.c.document_type,
                    documents.c.findings,
                ).where(documents.c.submission_id.in_(ids))
            ).all()
            _archive(archive, rows, docs, purged_at=now)
            for table in (acks, documents):
                conn.execute(sa.delete(table).where(table.c.submission_id.in_(ids)))
            conn.execute(sa.delete(jobs).where(jobs.c.ref.in_(ids)))
            conn.execute(sa.delete(submissions).where(submissions.c.id.in_(ids)))
            audit.record_many(
                conn,
                [
                    audit.entry(
                        at=now,
                        actor="scheduler:retention",
                        action="purged",
                        submission_id=row.id,
                        from_status=store.PROCESSED,
                        detail={"sha256": row.sha256, "retention_days": settings.retention_days},
                    )
                    for row in rows
                ],
            )
            shas = sorted({row.sha256 for row in rows})
            still_used = set(
                conn.execute(
                    sa.select(submissions.c.sha256).where(submissions.c.sha256.in_(shas))
                ).scalars()
            )
        purged_rows += len(rows)
        # Raw files go after the commit, and only when no submission (a registered twin
        # included) still points at the same bytes.
        for sha in shas:
            if sha not in still_used:
                raw_removed += _remove_raw(pipeline.raw.path_for(sha))
    if purged_rows:
        log.info(
            "retention: refused submissions purged",
            submissions=purged_rows,
            raw_files=raw_removed,
            older_than=cutoff.isoformat(),
            archive=str(archive),
        )
    return {
        "cutoff": cutoff.isoformat(),
        "submissions_purged": purged_rows,
        "raw_files_removed": raw_removed,
        "archive": str(archive) if purged_rows else None,
    }


def _archive(path: Path, rows: Sequence[Any], docs: Sequence[Any], *, purged_at: datetime) -> None:
    by_submission: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_submission[doc.submission_id].append(
            {
                "nomor_aju": doc.nomor_aju,
                "document_type": doc.document_type,
                "codes": sorted({f.get("code", "") for f in doc.findings}),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        for row in rows:
            record = {
                "purged_at": purged_at.isoformat(),
                "submission_id": row.id,
                "channel": row.channel,
                "sender": row.sender,
                "source_name": row.source_name,
                "received_at": row.received_at.isoformat(),
                "size": row.size,
                "sha256": row.sha256,
                "documents": by_submission.get(row.id, []),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()


def _remove_raw(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        # Re-received bytes are written anew (new mtime): leave those for the next run.
        if time.time() - path.stat().st_mtime < RAW_FILE_GRACE_SECONDS:
            return 0
        path.unlink()
        return 1
    return 0


# -- the daily report --------------------------------------------------------------------------


def daily_report(pipeline: Pipeline, fire_time: datetime, *, period: timedelta) -> dict[str, Any]:
    """Documents decided in (fire_time - period, fire_time], per office, office day and status."""
    start = fire_time - period
    reference = pipeline.reference()
    with pipeline.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(documents.c.office_code, documents.c.status, documents.c.decided_at).where(
                documents.c.decided_at > start, documents.c.decided_at <= fire_time
            )
        ).all()
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for row in rows:
        office = row.office_code or "-"
        zone = reference.offices[office].zone if office in reference.offices else UTC
        day = row.decided_at.astimezone(zone).date().isoformat()
        counts[office][day][row.status] += 1
    offices = {
        office: {day: dict(statuses) for day, statuses in sorted(days.items())}
        for office, days in sorted(counts.items())
    }
    for office, days in offices.items():
        for day, statuses in days.items():
            log.info(
                "daily report", office=office, day=day, total=sum(statuses.values()), **statuses
            )
    return {
        "period_start": start.astimezone(UTC).isoformat(),
        "period_end": fire_time.astimezone(UTC).isoformat(),
        "documents": len(rows),
        "offices": offices,
    }
