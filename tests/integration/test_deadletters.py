"""Dead letters and replay, on SQLite and PostgreSQL, partly through the real CLI.

A job whose cause cannot go away by itself (the raw file is gone) is retried by its policy,
then parked as ``failed``; ``deadletters list`` shows it, ``deadletters retry`` brings it back
once the cause is fixed, and it completes. ``replay`` never decides a submission twice.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.storage import deadletters
from gateway.storage.deadletters import ReplayOutcome
from gateway.storage.tables import acks, audit_log, documents, jobs, registrations, submissions
from gateway.web import create_app
from gateway.worker import MAX_ATTEMPTS, Worker
from tests.integration.conftest import FakeClock
from tests.integration.documents import rksp, run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> FakeClock:
    # From the real time on: the CLI runs in another process with the real clock, and what it
    # queues (run_after = its now) must be due for this test's workers.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def receive(gateway: Gateway, data: bytes, name: str) -> int:
    inbound = Inbound(channel="cli", sender="DEMO", source_name=name, intake_key=name)
    return gateway.pipeline.receive(inbound, io.BytesIO(data)).submission_id


def worker(gateway: Gateway, clock: FakeClock) -> Worker:
    return Worker(
        pipeline=gateway.pipeline, worker_id="test:1:0", clock=clock, lease=timedelta(minutes=5)
    )


def job(gateway: Gateway, kind: str, ref: int) -> sa.Row[tuple[str, int, str | None]]:
    with gateway.db.engine.connect() as conn:
        return conn.execute(
            sa.select(jobs.c.status, jobs.c.attempts, jobs.c.last_error).where(
                jobs.c.kind == kind, jobs.c.ref == ref
            )
        ).one()


def work_until_idle(gateway: Gateway, clock: FakeClock, *, rounds: int = 40) -> None:
    """Run the worker, moving the clock an hour between rounds so every backoff is over."""
    w = worker(gateway, clock)
    for _ in range(rounds):
        if not w.run_once():
            clock.advance(hours=1)
            if not w.run_once():
                return


def count(gateway: Gateway, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with gateway.db.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


def test_failed_job_is_listed_retried_and_completes_once_fixed(
    gateway: Gateway, clock: FakeClock, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    sid = receive(gateway, rksp(), "lost.xml")
    with gateway.db.engine.connect() as conn:
        raw = Path(
            conn.execute(
                sa.select(submissions.c.raw_path).where(submissions.c.id == sid)
            ).scalar_one()
        )
    hidden = raw.with_name(raw.name + ".away")
    raw.rename(hidden)  # the cause: the shared raw-file folder lost the file

    metrics = TestClient(create_app(gateway))
    assert worker(gateway, clock).run_once()  # the first attempt fails ...
    assert 'pde_queue_retrying{kind="process"} 1.0' in metrics.get("/metrics").text
    work_until_idle(gateway, clock)  # ... and so does every retry
    assert 'pde_dead_letters{kind="process"} 1.0' in metrics.get("/metrics").text

    status, attempts, last_error = job(gateway, "process", sid)
    assert status == "failed"
    assert attempts == MAX_ATTEMPTS  # retried by its policy before it was given up
    assert last_error is not None and "cannot read the raw file" in last_error
    assert count(gateway, documents) == 0

    listed = cli("deadletters", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (letter,) = json.loads(listed.stdout)
    assert letter["kind"] == "process"
    assert letter["submission_id"] == sid
    assert letter["attempts"] == attempts
    assert "cannot read the raw file" in letter["last_error"]
    assert letter["source_name"] == "lost.xml"
    text = cli("deadletters", "list")
    assert f"submission #{sid}" in text.stdout

    hidden.rename(raw)  # the operator fixes the cause ...
    retried = cli("deadletters", "retry", str(letter["job_id"]))
    assert retried.returncode == 0, retried.stderr
    assert "queued again" in retried.stdout and "diantrekan lagi" in retried.stdout
    assert job(gateway, "process", sid)[:2] == ("todo", 0)
    assert count(gateway, audit_log, audit_log.c.action == "dead_letter_retried") == 1

    work_until_idle(gateway, clock)  # ... and the work completes

    assert job(gateway, "process", sid)[0] == "done"
    assert count(gateway, documents, documents.c.status == "REGISTERED") == 1
    assert count(gateway, registrations) == 1
    assert count(gateway, acks, acks.c.status == "DELIVERED") == 2
    assert json.loads(cli("deadletters", "list", "--json").stdout) == []
    # Retrying what is no dead letter (any more) says so and changes nothing.
    again = cli("deadletters", "retry", str(letter["job_id"]))
    assert again.returncode == 1
    assert "not dead letters" in again.stderr
    assert job(gateway, "process", sid)[0] == "done"


def test_retry_all_needs_all_or_ids(
    cli: Callable[..., subprocess.CompletedProcess[str]], gateway: Gateway
) -> None:
    assert cli("deadletters", "retry").returncode == 2
    empty = cli("deadletters", "retry", "--all")
    assert empty.returncode == 0
    assert "no dead letters" in empty.stdout


def test_replay_refuses_a_decided_submission_and_never_registers_twice(
    gateway: Gateway, clock: FakeClock, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    (result,) = run(gateway, rksp())
    assert result["status"] == "REGISTERED"
    sid = result["submission_id"]

    refused = cli("replay", result["nomor_aju"])
    assert refused.returncode == 1
    assert "already decided (REGISTERED)" in refused.stderr
    assert "sudah diputus" in refused.stderr
    assert "--redeliver" in refused.stderr
    assert job(gateway, "process", sid)[0] == "done"

    # Forcing the PROCESS job back (as a careless operator or a bug might) decides nothing twice.
    with gateway.db.transaction() as conn:
        conn.execute(sa.update(jobs).where(jobs.c.ref == sid).values(status="todo", attempts=0))
    work_until_idle(gateway, clock)
    assert count(gateway, registrations) == 1
    assert count(gateway, documents) == 1

    # --redeliver: the same acknowledgments once more, no new number.
    with gateway.db.engine.connect() as conn:
        before = conn.execute(sa.select(acks.c.path, acks.c.body).order_by(acks.c.id)).all()
    for row in before:
        Path(row.path).unlink()  # the carrier lost them
    again = cli("replay", str(sid), "--redeliver")
    assert again.returncode == 0, again.stderr
    assert "2 acknowledgment(s) queued" in again.stdout
    assert count(gateway, acks, acks.c.status == "PENDING") == 2
    work_until_idle(gateway, clock)
    assert count(gateway, acks, acks.c.status == "DELIVERED") == 2
    for row in before:
        assert Path(row.path).read_bytes() == row.body
    assert count(gateway, registrations) == 1
    assert count(gateway, audit_log, audit_log.c.action == "redelivery_queued") == 1


def test_replay_requeues_a_stuck_submission_which_is_then_decided_once(
    gateway: Gateway, clock: FakeClock
) -> None:
    sid = receive(gateway, rksp(), "stuck.xml")
    # Stuck: its job was given up (e.g. during a long database outage).
    with gateway.db.transaction() as conn:
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.ref == sid)
            .values(status="failed", attempts=8, last_error="StorageUnavailable('gone')")
        )
    with gateway.db.transaction() as conn:
        queued = deadletters.replay(conn, sid, redeliver=False, now=clock(), actor="cli:test")
    assert queued.outcome is ReplayOutcome.QUEUED
    assert job(gateway, "process", sid)[:2] == ("todo", 0)

    # Replayed twice before a worker came by: still one job, one decision.
    with gateway.db.transaction() as conn:
        twice = deadletters.replay(conn, sid, redeliver=False, now=clock(), actor="cli:test")
    assert twice.outcome is ReplayOutcome.QUEUED
    assert count(gateway, jobs, jobs.c.kind == "process", jobs.c.ref == sid) == 1

    work_until_idle(gateway, clock)
    assert count(gateway, registrations) == 1
    with gateway.db.transaction() as conn:
        decided = deadletters.replay(conn, sid, redeliver=False, now=clock(), actor="cli:test")
    assert decided.outcome is ReplayOutcome.ALREADY_DECIDED
    assert decided.statuses == ("REGISTERED",)
    assert count(gateway, audit_log, audit_log.c.action == "replay_queued") == 2


def test_replay_leaves_a_job_in_hand_alone(gateway: Gateway, clock: FakeClock) -> None:
    sid = receive(gateway, rksp(), "busy.xml")
    claimed = gateway.pipeline.queue.claim("other:2:0", now=clock(), lease=timedelta(minutes=5))
    assert claimed is not None and claimed.ref == sid
    with gateway.db.transaction() as conn:
        busy = deadletters.replay(conn, sid, redeliver=False, now=clock(), actor="cli:test")
    assert busy.outcome is ReplayOutcome.IN_HAND
    assert busy.held_by == "other:2:0"
    assert job(gateway, "process", sid)[0] == "doing"


def test_replay_of_an_unknown_submission(
    cli: Callable[..., subprocess.CompletedProcess[str]], gateway: Gateway
) -> None:
    missing = cli("replay", "424242")
    assert missing.returncode == 1
    assert "no submission 424242" in missing.stderr
