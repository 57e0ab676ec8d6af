"""The work queue, in the database (procrastinate's pattern on SQLAlchemy).

Claiming is one ``UPDATE .. WHERE id = (SELECT .. FOR UPDATE SKIP LOCKED) RETURNING`` statement:
on PostgreSQL, SKIP LOCKED lets many workers claim side by side; on SQLite the clause is dropped
and the database's single writer lock serialises claims. A worker that dies leaves its job
``doing`` with a lease; :meth:`JobQueue.requeue_expired` hands such jobs out again.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD
from gateway.storage.database import Database, insert_for
from gateway.storage.tables import acks, jobs, submissions


class JobKind(enum.StrEnum):
    PROCESS = "process"  # ref = submission id: parse, validate, register or refuse
    DELIVER = "deliver"  # ref = submission id: put its pending acks on the channel


class JobStatus(enum.StrEnum):
    TODO = "todo"
    DOING = "doing"
    DONE = "done"
    FAILED = "failed"


@dataclass(**RECORD)
class Job:
    id: int
    kind: JobKind
    ref: int
    attempts: int

    def log_context(self) -> dict[str, Any]:
        return {"job_id": self.id, "job_kind": str(self.kind), "submission_id": self.ref}


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def enqueue_many(
        conn: Connection,
        kind: JobKind,
        refs: list[int],
        *,
        now: datetime,
        run_after: datetime | None = None,
    ) -> None:
        if not refs:
            return
        stmt = insert_for(conn, jobs).on_conflict_do_nothing(
            index_elements=[jobs.c.kind, jobs.c.ref]
        )
        rows = [
            {
                "kind": str(kind),
                "ref": ref,
                "status": JobStatus.TODO,
                "attempts": 0,
                "run_after": run_after or now,
                "created_at": now,
            }
            for ref in refs
        ]
        conn.execute(stmt, rows)

    def claim(self, worker_id: str, *, now: datetime, lease: timedelta) -> Job | None:
        claimed = self.claim_batch(worker_id, now=now, lease=lease, limit=1)
        return claimed[0] if claimed else None

    def claim_batch(
        self, worker_id: str, *, now: datetime, lease: timedelta, limit: int
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs, oldest first, in one statement."""
        next_ids = (
            sa.select(jobs.c.id)
            .where(jobs.c.status == JobStatus.TODO, jobs.c.run_after <= now)
            .order_by(jobs.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(jobs)
            .where(jobs.c.id.in_(next_ids.scalar_subquery()))
            .values(
                status=JobStatus.DOING,
                locked_by=worker_id,
                lease_until=now + lease,
                attempts=jobs.c.attempts + 1,
            )
            .returning(jobs.c.id, jobs.c.kind, jobs.c.ref, jobs.c.attempts)
        )
        with self.db.transaction() as conn:
            rows = conn.execute(stmt).all()
        claimed = [
            Job(id=row.id, kind=JobKind(row.kind), ref=row.ref, attempts=row.attempts)
            for row in rows
        ]
        return sorted(claimed, key=lambda job: job.id)

    @staticmethod
    def complete_many(conn: Connection, kind: JobKind, refs: list[int], *, now: datetime) -> None:
        if not refs:
            return
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.kind == str(kind), jobs.c.ref.in_(sa.bindparam("refs", expanding=True)))
            .values(status=JobStatus.DONE, finished_at=now, locked_by=None, lease_until=None),
            {"refs": refs},
        )

    @staticmethod
    def complete_deliveries(conn: Connection, refs: list[int], *, now: datetime) -> None:
        """DELIVER jobs done, but for submissions that have an acknowledgment pending again.

        An acknowledgment written while these were being delivered (the head of office's
        decision on an amendment, a redelivery) was not among them: its job stays queued (see
        :meth:`redeliver`). The job rows are locked first: a writer of such an
        acknowledgment updates the job row in its own transaction, so either it committed
        before this looks for pending acks, or it waits and queues the job after this.
        """
        if not refs:
            return
        conn.execute(
            sa.select(jobs.c.id)
            .where(
                jobs.c.kind == str(JobKind.DELIVER),
                jobs.c.ref.in_(sa.bindparam("refs", expanding=True)),
            )
            .order_by(jobs.c.id)
            .with_for_update(),
            {"refs": refs},
        ).all()
        waiting = set(
            conn.execute(
                sa.select(acks.c.submission_id)
                .where(
                    acks.c.submission_id.in_(sa.bindparam("refs", expanding=True)),
                    acks.c.status == "PENDING",
                )
                .distinct(),
                {"refs": refs},
            ).scalars()
        )
        JobQueue.complete_many(
            conn, JobKind.DELIVER, [r for r in refs if r not in waiting], now=now
        )

    @staticmethod
    def redeliver(conn: Connection, ref: int, *, now: datetime) -> None:
        """Queue the delivery of a submission's pending acknowledgments again, from any state.

        Also a job a worker holds right now goes back to ``todo``: that worker may have read
        the pending acknowledgments before the caller's new one, and
        :meth:`complete_deliveries` leaves the job queued. A second worker claiming it
        delivers the same files again, which is harmless (same names, same bytes).
        """
        changed = conn.execute(
            sa.update(jobs)
            .where(jobs.c.kind == str(JobKind.DELIVER), jobs.c.ref == ref)
            .values(
                status=JobStatus.TODO,
                attempts=0,
                run_after=now,
                finished_at=None,
                locked_by=None,
                lease_until=None,
            )
        ).rowcount
        if not changed:
            JobQueue.enqueue_many(conn, JobKind.DELIVER, [ref], now=now)

    def retry(self, job: Job, error: str, *, run_after: datetime) -> None:
        self._let_go(job, status=JobStatus.TODO, run_after=run_after, last_error=error[:2000])

    def put_back(self, held: list[Job], error: str, *, run_after: datetime) -> int:
        """Hand jobs back untried: the environment stopped them (a full disk), not their
        content, so the attempt their claim counted is given back and they never become dead
        letters for it. Only jobs still in hand: one finished meanwhile stays done."""
        if not held:
            return 0
        return self._untried(
            jobs.c.id.in_(sa.bindparam("ids", expanding=True)),
            {"ids": [job.id for job in held]},
            error=error,
            run_after=run_after,
        )

    def put_back_worker(self, worker_id: str, error: str, *, run_after: datetime) -> int:
        """Every job ``worker_id`` still holds, handed back untried (see :meth:`put_back`).

        After a database outage a worker cannot know which of its claims went through (the
        reply to one may have been lost with the connection), so it gives back whatever the
        database says it holds; a job the sweeper handed to another worker meanwhile is that
        worker's and stays.
        """
        return self._untried(
            jobs.c.locked_by == sa.bindparam("worker"),
            {"worker": worker_id},
            error=error,
            run_after=run_after,
        )

    def _untried(
        self,
        which: sa.ColumnElement[bool],
        params: dict[str, Any],
        *,
        error: str,
        run_after: datetime,
    ) -> int:
        with self.db.transaction() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(which, jobs.c.status == JobStatus.DOING)
                .values(
                    status=JobStatus.TODO,
                    attempts=sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
                    run_after=run_after,
                    last_error=error[:2000],
                    locked_by=None,
                    lease_until=None,
                ),
                params,
            )
        return int(result.rowcount)

    def fail(self, job: Job, error: str, *, now: datetime) -> None:
        """Park the job for an operator (dead letter): it is not claimed again."""
        self._let_go(job, status=JobStatus.FAILED, finished_at=now, last_error=error[:2000])

    def _let_go(self, job: Job, **values: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job.id)
                .values(locked_by=None, lease_until=None, **values)
            )

    def requeue_expired(self, *, now: datetime) -> int:
        """Give back jobs whose worker stopped renewing its lease (crash, SIGKILL)."""
        with self.db.transaction() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(jobs.c.status == JobStatus.DOING, jobs.c.lease_until < now)
                .values(status=JobStatus.TODO, locked_by=None, lease_until=None)
            )
        return int(result.rowcount)

    def release_worker(self, worker_id: str) -> int:
        """On clean shutdown, hand this worker's unfinished jobs back at once."""
        with self.db.transaction() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(jobs.c.status == JobStatus.DOING, jobs.c.locked_by == worker_id)
                .values(status=JobStatus.TODO, locked_by=None, lease_until=None)
            )
        return int(result.rowcount)

    def extend_leases(
        self, held: Mapping[str, Collection[int]], *, now: datetime, lease: timedelta
    ) -> int:
        """Heartbeat: the jobs each worker is running right now (worker id -> job ids) keep
        their lease for another ``lease``.

        Only work in progress: a job its worker no longer runs (its batch broke off in a
        database outage, say) is not renewed, so it cannot stay ``doing`` for as long as the
        process lives; its worker hands it back, or the sweeper once the lease runs out.
        """
        ids = sorted({job_id for job_ids in held.values() for job_id in job_ids})
        if not ids:
            return 0
        with self.db.transaction() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(
                    jobs.c.status == JobStatus.DOING,
                    jobs.c.id.in_(sa.bindparam("ids", expanding=True)),
                    jobs.c.locked_by.in_(sa.bindparam("workers", expanding=True)),
                )
                .values(lease_until=now + lease),
                {"ids": ids, "workers": sorted(held)},
            )
        return int(result.rowcount)

    def depth(self, kind: JobKind = JobKind.PROCESS) -> int:
        """Jobs of ``kind`` not finished yet (waiting or in hand): the back-pressure measure."""
        with self.db.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(
                    jobs.c.kind == str(kind),
                    jobs.c.status.in_([JobStatus.TODO, JobStatus.DOING]),
                )
            ).scalar_one()
        return int(value)

    def holders(self, prefix: str) -> list[str]:
        """Worker ids starting with ``prefix`` that hold jobs right now."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.locked_by)
                .where(jobs.c.status == JobStatus.DOING, jobs.c.locked_by.startswith(prefix))
                .distinct()
            ).scalars()
            return [str(r) for r in rows]

    def stats(self, *, sender: str | None = None) -> list[dict[str, Any]]:
        """Jobs by kind and status; with ``sender``, only the work on that carrier's files."""
        query = sa.select(
            jobs.c.kind,
            jobs.c.status,
            sa.func.count().label("count"),
            sa.func.min(jobs.c.created_at).label("oldest"),
        )
        if sender is not None:  # every job kind's ref is a submission id
            query = query.join(submissions, submissions.c.id == jobs.c.ref).where(
                submissions.c.sender == sender
            )
        query = query.group_by(jobs.c.kind, jobs.c.status).order_by(jobs.c.kind, jobs.c.status)
        with self.db.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [dict(row._mapping) for row in rows]
