"""Operator re-runs: dead letters (jobs given up after their last attempt) and replay.

A job becomes a dead letter when the worker has tried it as often as its retry policy allows
(``gateway/worker.py``): status ``failed``, with the last error kept. Nothing picks it up
again until an operator has fixed the cause and says so (``pde-gateway deadletters retry``).

``replay`` re-runs a submission that is stuck or failed. It never decides anything itself:
it only puts the submission's job back in the queue. The pipeline's own guard (a submission
leaves RECEIVED once, in the transaction that records its outcome) and the unique keys of
registrations make a second decision impossible, whatever an operator replays.

A file refused because the gateway could not read it (FILE-007: a defect, see
``gateway/unreadable.py``) was never judged on its content. Once the defect is fixed,
``replay`` reads its kept bytes again as a new submission (same channel, sender, name and
time of receipt; intake key ``replay:<id>``, so a second replay of it changes nothing); the
refusal stays what it was, and the carrier gets the new decision as a further answer.

Every change is written to the audit trail with the operator's name. Plain UPDATE/INSERT
statements only: the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.messages import UNREADABLE
from gateway.model.common import RECORD
from gateway.storage import audit
from gateway.storage import submissions as store
from gateway.storage.queue import JobKind, JobQueue, JobStatus
from gateway.storage.raw_files import StoredFile
from gateway.storage.tables import acks, documents, jobs, submissions


@dataclass(**RECORD)
class DeadLetter:
    job_id: int
    kind: str  # process, deliver
    ref: int  # the submission id
    attempts: int
    last_error: str | None
    created_at: datetime  # when the work was queued
    failed_at: datetime | None  # when it was given up
    sender: str | None
    source_name: str | None
    nomor_aju: str | None

    def as_json(self, *, now: datetime) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "submission_id": self.ref,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "failed_at": self.failed_at.isoformat(timespec="seconds") if self.failed_at else None,
            "age_seconds": max(0, int((now - self.created_at).total_seconds())),
            "sender": self.sender,
            "source_name": self.source_name,
            "nomor_aju": self.nomor_aju,
        }


def list_failed(conn: Connection, *, job_ids: Sequence[int] | None = None) -> list[DeadLetter]:
    """Dead letters, oldest first (or only those of ``job_ids``)."""
    query = (
        sa.select(
            jobs.c.id,
            jobs.c.kind,
            jobs.c.ref,
            jobs.c.attempts,
            jobs.c.last_error,
            jobs.c.created_at,
            jobs.c.finished_at,
            submissions.c.sender,
            submissions.c.source_name,
            submissions.c.nomor_aju,
        )
        .select_from(jobs.outerjoin(submissions, submissions.c.id == jobs.c.ref))
        .where(jobs.c.status == JobStatus.FAILED)
        .order_by(jobs.c.id)
    )
    params: dict[str, Any] = {}
    if job_ids is not None:
        query = query.where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
        params["ids"] = list(job_ids)
    return [
        DeadLetter(
            job_id=int(r.id),
            kind=r.kind,
            ref=int(r.ref),
            attempts=int(r.attempts),
            last_error=r.last_error,
            created_at=r.created_at,
            failed_at=r.finished_at,
            sender=r.sender,
            source_name=r.source_name,
            nomor_aju=r.nomor_aju,
        )
        for r in conn.execute(query, params).all()
    ]


def retry_failed(
    conn: Connection, job_ids: Sequence[int] | None, *, now: datetime, actor: str
) -> list[DeadLetter]:
    """Put dead letters back in the queue (all of them when ``job_ids`` is None).

    Attempts start again from zero: the cause has been fixed, so the job deserves its whole
    retry policy. Only jobs still ``failed`` move, so two operators retrying at once (or a
    retry of an id that is no dead letter) change nothing twice. Returns what was retried.
    """
    found = list_failed(conn, job_ids=job_ids)
    if not found:
        return []
    moved = set(
        conn.execute(
            sa.update(jobs)
            .where(
                jobs.c.id.in_(sa.bindparam("ids", expanding=True)),
                jobs.c.status == JobStatus.FAILED,
            )
            .values(**_fresh(now))
            .returning(jobs.c.id),
            {"ids": [d.job_id for d in found]},
        ).scalars()
    )
    retried = [d for d in found if d.job_id in moved]
    audit.record_many(
        conn,
        [
            audit.entry(
                at=now,
                actor=actor,
                action="dead_letter_retried",
                submission_id=d.ref,
                detail={
                    "job_id": d.job_id,
                    "kind": d.kind,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                },
            )
            for d in retried
        ],
    )
    return retried


class ReplayOutcome(enum.StrEnum):
    QUEUED = "queued"  # the PROCESS job is back in the queue
    REDELIVERY_QUEUED = "redelivery_queued"  # acks pending again, DELIVER job queued
    ALREADY_DECIDED = "already_decided"  # refused: processing twice is never done
    REREAD_QUEUED = "reread_queued"  # unreadable (FILE-007): its bytes queued as a new submission
    ALREADY_REREAD = "already_reread"  # unreadable, and replayed before (as `replayed_as`)
    IN_HAND = "in_hand"  # a worker holds the job right now: nothing to replay
    NOT_FOUND = "not_found"


@dataclass(**RECORD)
class Replay:
    outcome: ReplayOutcome
    submission_id: int | None
    statuses: tuple[str, ...] = ()  # the documents' statuses, for ALREADY_DECIDED
    held_by: str | None = None  # the worker, for IN_HAND
    acks: int = 0  # acknowledgments queued again, for REDELIVERY_QUEUED
    replayed_as: int | None = None  # the new submission, for REREAD_QUEUED / ALREADY_REREAD


def replay(
    conn: Connection, submission_id: int, *, redeliver: bool, now: datetime, actor: str
) -> Replay:
    """Queue a stuck or failed submission for processing again (or its acks for delivery).

    - RECEIVED (not decided): its PROCESS job goes back to ``todo`` with its attempts reset
      (or is created, should it be missing); the worker that claims it decides it, once.
    - decided: refused with ALREADY_DECIDED, unless ``redeliver``: then its acknowledgments
      are marked PENDING again and its DELIVER job is queued, so the carrier gets the same
      files once more (same names, same content; no new number is made).
    - refused as unreadable (FILE-007): its kept bytes become a new submission, queued
      (REREAD_QUEUED), once (ALREADY_REREAD after that).
    """
    row = conn.execute(
        sa.select(submissions.c.id, submissions.c.status)
        .where(submissions.c.id == submission_id)
        .with_for_update()  # PostgreSQL: a worker deciding it now finishes first
    ).first()
    if row is None:
        return Replay(outcome=ReplayOutcome.NOT_FOUND, submission_id=None)
    if row.status != store.RECEIVED:
        if redeliver:
            return _redeliver(conn, submission_id, now=now, actor=actor)
        decided = conn.execute(
            sa.select(documents.c.status, documents.c.findings)
            .where(documents.c.submission_id == submission_id)
            .order_by(documents.c.doc_index)
        ).all()
        if any(f.get("code") == UNREADABLE for d in decided for f in d.findings):
            return _reread(conn, submission_id, now=now, actor=actor)
        return Replay(
            outcome=ReplayOutcome.ALREADY_DECIDED,
            submission_id=submission_id,
            statuses=tuple(str(d.status) for d in decided),
        )
    held_by = _requeue(conn, JobKind.PROCESS, submission_id, now=now)
    if held_by is not None:
        return Replay(outcome=ReplayOutcome.IN_HAND, submission_id=submission_id, held_by=held_by)
    _audit(conn, "replay_queued", submission_id, now=now, actor=actor, detail={})
    return Replay(outcome=ReplayOutcome.QUEUED, submission_id=submission_id)


def _reread(conn: Connection, submission_id: int, *, now: datetime, actor: str) -> Replay:
    """The kept bytes of an unreadable submission, as a new submission with a PROCESS job.

    Nothing of the refusal is undone: it holds no dedup key (refused documents keep none,
    and an unreadable file has no envelope control number), so the new submission meets
    only what other files have registered since. It keeps the original time of receipt:
    deadlines are measured to when the carrier sent the file, not to when we could read it.
    """
    original = store.get_submission(conn, submission_id)
    assert original is not None  # the caller holds its row
    ((new_id, created),) = store.insert_submissions(
        conn,
        [
            store.NewSubmission(
                channel=original.channel,
                sender=original.sender,
                source_name=original.source_name,
                intake_key=f"replay:{submission_id}",
                stored=StoredFile(
                    path=original.raw_path, sha256=original.sha256, size=original.size
                ),
                counter_office=original.counter_office,
            )
        ],
        received_at=original.received_at,
    )
    if not created:
        return Replay(
            outcome=ReplayOutcome.ALREADY_REREAD, submission_id=submission_id, replayed_as=new_id
        )
    JobQueue.enqueue_many(conn, JobKind.PROCESS, [new_id], now=now)
    _audit(
        conn, "replay_reread", submission_id, now=now, actor=actor, detail={"replayed_as": new_id}
    )
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="received",
        submission_id=new_id,
        to_status=store.RECEIVED,
        detail={
            "replay_of": submission_id,
            "source_name": original.source_name,
            "sha256": original.sha256,
            "size": original.size,
            "sender": original.sender,
        },
    )
    return Replay(
        outcome=ReplayOutcome.REREAD_QUEUED, submission_id=submission_id, replayed_as=new_id
    )


def _redeliver(conn: Connection, submission_id: int, *, now: datetime, actor: str) -> Replay:
    held_by = _requeue(conn, JobKind.DELIVER, submission_id, now=now)
    if held_by is not None:
        return Replay(outcome=ReplayOutcome.IN_HAND, submission_id=submission_id, held_by=held_by)
    count = conn.execute(
        sa.update(acks)
        .where(acks.c.submission_id == submission_id)
        .values(status="PENDING", delivered_at=None)
    ).rowcount
    _audit(
        conn,
        "redelivery_queued",
        submission_id,
        now=now,
        actor=actor,
        detail={"acks": int(count)},
    )
    return Replay(
        outcome=ReplayOutcome.REDELIVERY_QUEUED, submission_id=submission_id, acks=int(count)
    )


def _requeue(conn: Connection, kind: JobKind, ref: int, *, now: datetime) -> str | None:
    """The (kind, ref) job back to ``todo`` from any state but ``doing``; the holder if doing."""
    current = conn.execute(
        sa.select(jobs.c.status, jobs.c.locked_by).where(
            jobs.c.kind == str(kind), jobs.c.ref == ref
        )
    ).first()
    if current is None:
        JobQueue.enqueue_many(conn, kind, [ref], now=now)
        return None
    if current.status == JobStatus.DOING:
        return str(current.locked_by)
    conn.execute(
        sa.update(jobs)
        .where(jobs.c.kind == str(kind), jobs.c.ref == ref, jobs.c.status != JobStatus.DOING)
        .values(**_fresh(now))
    )
    return None


def _audit(
    conn: Connection,
    action: str,
    submission_id: int,
    *,
    now: datetime,
    actor: str,
    detail: dict[str, Any],
) -> None:
    audit.record(
        conn, at=now, actor=actor, action=action, submission_id=submission_id, detail=detail
    )


def _fresh(now: datetime) -> dict[str, Any]:
    """A job back in the queue as if new: runnable now, all its tries ahead of it."""
    return {
        "status": JobStatus.TODO,
        "attempts": 0,
        "run_after": now,
        "finished_at": None,
        "locked_by": None,
        "lease_until": None,
    }
