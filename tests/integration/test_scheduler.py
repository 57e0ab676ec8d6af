"""The scheduler's guarantees, the back-pressure of intake and retention (issue 8).

Run on SQLite and on PostgreSQL (``database_url``): one leader at a time, one run per
(job, fire time) whoever tries, "try later" at the queue limit, refused submissions purged
and registered ones kept.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import ALL_ROLES, Gateway, Role, parse_roles
from gateway.channels.base import Inbound
from gateway.exceptions import ConfigurationError, Overloaded
from gateway.housekeeping import retention
from gateway.scheduler import (
    FileLeaderLock,
    PostgresLeaderLock,
    ScheduledJob,
    Scheduler,
    fire_key,
    leader_lock_for,
    run_once,
)
from gateway.storage import users
from gateway.storage.queue import JobKind
from gateway.storage.tables import audit_log, documents, scheduled_runs, submissions
from gateway.web import create_app
from gateway.worker import DELIVER_RETRY, PROCESS_RETRY, RETRY, Worker
from tests.integration.conftest import FakeClock
from tests.integration.documents import rksp


def _receive(gateway: Gateway, name: str, data: bytes) -> int:
    inbound = Inbound(channel="cli", sender="DEMO", source_name=name, intake_key=name)
    return gateway.pipeline.receive(inbound, io.BytesIO(data)).submission_id


def _work(gateway: Gateway, clock: FakeClock) -> None:
    worker = Worker(pipeline=gateway.pipeline, worker_id="t:1:0", clock=clock, lease=timedelta(30))
    while worker.run_once():
        pass


# -- one run per (job, fire time) -------------------------------------------------------------


def test_a_period_runs_once_however_many_schedulers_try(gateway: Gateway, clock: FakeClock) -> None:
    calls: list[datetime] = []
    job = ScheduledJob(
        name="probe", interval=timedelta(seconds=5), func=lambda t: calls.append(t) or {"n": 1}
    )
    fire = datetime(2026, 3, 10, 2, 30, 5, 123456, tzinfo=UTC)
    results = []
    barrier = threading.Barrier(4)

    def scheduler(n: int) -> None:
        barrier.wait()
        results.append(run_once(gateway.db, job, fire, runner=f"s{n}", clock=clock))

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "skipped", "skipped", "skipped"]
    assert calls == [fire_key(fire)] and calls[0].microsecond == 0
    with gateway.db.engine.connect() as conn:
        rows = conn.execute(sa.select(scheduled_runs)).all()
    assert len(rows) == 1
    assert (rows[0].job, rows[0].status, rows[0].detail) == ("probe", "ok", {"n": 1})
    # The next period is a run of its own.
    assert run_once(gateway.db, job, fire + job.interval, runner="s9", clock=clock) == "ok"


def test_a_failing_run_is_recorded_and_does_not_stop_the_next(
    gateway: Gateway, clock: FakeClock
) -> None:
    def boom(_: datetime) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    job = ScheduledJob(name="boom", interval=timedelta(seconds=5), func=boom)
    fire = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    assert run_once(gateway.db, job, fire, runner="s1", clock=clock) == "failed"
    with gateway.db.engine.connect() as conn:
        row = conn.execute(sa.select(scheduled_runs)).one()
    assert row.status == "failed" and "disk on fire" in row.detail["error"]
    assert row.finished_at is not None


# -- the leader lock ----------------------------------------------------------------------------


def test_only_one_leader_and_the_lock_passes_on_release(gateway: Gateway, tmp_path: Path) -> None:
    first = leader_lock_for(gateway.db, tmp_path)
    second = leader_lock_for(gateway.db, tmp_path)
    expected = PostgresLeaderLock if gateway.db.is_postgresql else FileLeaderLock
    assert isinstance(first, expected)
    assert first.acquire()
    try:
        assert first.held()
        assert not second.acquire()
        assert not second.held()
    finally:
        first.release()
    assert not first.held()
    assert second.acquire()
    second.release()


def test_a_lost_postgres_connection_loses_the_lead(postgres_url: str) -> None:
    lock = PostgresLeaderLock(postgres_url)
    other = PostgresLeaderLock(postgres_url)
    assert lock.acquire()
    assert lock._conn is not None
    # What a network cut or a database restart does to the leader's session.
    admin = sa.create_engine(postgres_url)
    with admin.connect() as conn:
        pid = lock._conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        lock._conn.commit()
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    assert not lock.held()
    assert other.acquire()
    other.release()


def test_the_scheduler_runs_jobs_and_intake_only_while_it_leads(
    gateway: Gateway, clock: FakeClock, tmp_path: Path
) -> None:
    fired = threading.Event()
    intake_ran = threading.Event()

    def intake(term: threading.Event) -> None:
        intake_ran.set()
        term.wait()

    def make(name: str) -> Scheduler:
        return Scheduler(
            db=gateway.db,
            lock=leader_lock_for(gateway.db, tmp_path),
            jobs=[
                ScheduledJob(
                    name="tick",
                    interval=timedelta(seconds=1),
                    func=lambda t: fired.set() or {},
                )
            ],
            intake=[("intake", intake)],
            runner=name,
            clock=clock,
        )

    stop = threading.Event()
    leader, standby = make("a"), make("b")
    threads = [threading.Thread(target=s.run, args=(stop,)) for s in (leader, standby)]
    threads[0].start()
    assert leader.leading.wait(10)
    threads[1].start()
    try:
        assert fired.wait(5) and intake_ran.wait(5)
        assert not standby.leading.wait(2.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    with gateway.db.engine.connect() as conn:
        runners = set(conn.execute(sa.select(scheduled_runs.c.runner)).scalars())
    assert runners == {"a"}


# -- back-pressure --------------------------------------------------------------------------------


def test_intake_says_try_later_at_the_queue_limit(
    make_gateway: Callable[..., Gateway], clock: FakeClock
) -> None:
    gateway = make_gateway(clock, max_queue_depth="2")
    _receive(gateway, "a.xml", rksp(voyage="A1"))
    _receive(gateway, "b.xml", rksp(voyage="B1"))
    gateway.pipeline.admission.ttl = 0  # measure at every call in this test
    with pytest.raises(Overloaded) as refused:
        _receive(gateway, "c.xml", rksp(voyage="C1"))
    assert refused.value.retry_after > 0
    assert "penuh" in str(refused.value) and "busy" in str(refused.value)
    with gateway.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar() == 2
    _work(gateway, clock)  # the queue drains; intake takes files again
    _receive(gateway, "c.xml", rksp(voyage="C1"))


def test_the_file_drop_leaves_files_in_in_while_the_queue_is_full(
    make_gateway: Callable[..., Gateway], clock: FakeClock
) -> None:
    gateway = make_gateway(clock, max_queue_depth="1", settle_seconds="0")
    gateway.pipeline.admission.ttl = 0
    gateway.filedrop.prepare(["DEMO"])
    inbox = gateway.filedrop.inbox("DEMO")
    (inbox / "one.xml").write_bytes(rksp(voyage="D1"))
    gateway.filedrop.scan(gateway.pipeline.receive_many)
    gateway.filedrop.scan(gateway.pipeline.receive_many)
    (inbox / "two.xml").write_bytes(rksp(voyage="D2"))
    gateway.filedrop.scan(gateway.pipeline.receive_many)  # the first look never takes a file
    for _ in range(2):
        with pytest.raises(Overloaded):
            gateway.filedrop.scan(gateway.pipeline.receive_many)
    assert (inbox / "two.xml").exists()
    _work(gateway, clock)
    gateway.filedrop.scan(gateway.pipeline.receive_many)
    gateway.filedrop.scan(gateway.pipeline.receive_many)
    assert not (inbox / "two.xml").exists()


@pytest.fixture
def full_api(make_gateway: Callable[..., Gateway], clock: FakeClock) -> Iterator[Any]:
    gateway = make_gateway(clock, max_queue_depth="1")
    gateway.pipeline.admission.ttl = 0
    _receive(gateway, "a.xml", rksp(voyage="E1"))
    with gateway.db.transaction() as conn:
        issued = users.issue_api_token(conn, "DEMO", label="t", now=clock(), actor="t")
    with TestClient(create_app(gateway), base_url="http://127.0.0.1") as client:
        yield gateway, client, {"Authorization": f"Bearer {issued}"}


def test_the_http_api_answers_503_with_retry_after_when_full(full_api: Any) -> None:
    gateway, client, headers = full_api
    response = client.post(
        "/api/v1/submissions?name=b.xml", content=rksp(voyage="E2"), headers=headers
    )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "busy" in response.json()["detail"] and "penuh" in response.json()["detail"]
    with gateway.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar() == 1


# -- retries, retention, roles --------------------------------------------------------------------


def test_the_backoff_is_explicit_and_ends_in_a_dead_letter() -> None:
    assert PROCESS_RETRY.schedule() == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8]
    assert DELIVER_RETRY.schedule()[0] == 5.0 and DELIVER_RETRY.schedule()[-1] == 1280.0
    assert DELIVER_RETRY.exhausted(DELIVER_RETRY.max_attempts)
    assert not DELIVER_RETRY.exhausted(DELIVER_RETRY.max_attempts - 1)


def test_retention_purges_old_refused_submissions_and_keeps_registered_ones(
    gateway: Gateway, clock: FakeClock
) -> None:
    registered = _receive(gateway, "ok.xml", rksp(voyage="R1"))
    refused = _receive(gateway, "bad.xml", b"<not xml")
    # The same bytes as the registered file, refused as a duplicate: the raw file is shared.
    twin = _receive(gateway, "twin.xml", rksp(voyage="R1"))
    _work(gateway, clock)
    with gateway.db.engine.connect() as conn:
        status = dict(conn.execute(sa.select(documents.c.submission_id, documents.c.status)).all())
        raw = dict(conn.execute(sa.select(submissions.c.id, submissions.c.raw_path)).all())
    assert status == {registered: "REGISTERED", refused: "REFUSED", twin: "REFUSED"}
    # Young refusals are kept.
    detail = retention(gateway.pipeline, gateway.settings, clock())
    assert detail["submissions_purged"] == 0
    clock.advance(days=gateway.settings.retention_days + 1)
    for path in raw.values():  # the raw files are as old as their submissions
        os.utime(path, (0, 0))
    detail = retention(gateway.pipeline, gateway.settings, clock())
    assert detail["submissions_purged"] == 2
    assert detail["raw_files_removed"] == 1  # the twin's bytes are the registered file's
    with gateway.db.engine.connect() as conn:
        left = set(conn.execute(sa.select(submissions.c.id)).scalars())
        purged_audit = set(
            conn.execute(
                sa.select(audit_log.c.submission_id).where(audit_log.c.action == "purged")
            ).scalars()
        )
    assert left == {registered}
    assert purged_audit == {refused, twin}
    assert Path(raw[registered]).exists() and not Path(raw[refused]).exists()
    archived = Path(detail["archive"]).read_text(encoding="utf-8").splitlines()
    assert len(archived) == 2
    # Nothing left to purge the next time.
    assert retention(gateway.pipeline, gateway.settings, clock())["submissions_purged"] == 0


def test_roles_parse_and_refuse_unknown_names() -> None:
    assert parse_roles([]) == ALL_ROLES
    assert parse_roles(["all"]) == ALL_ROLES
    assert parse_roles(["worker", "web,sftp"]) == {Role.WORKER, Role.WEB, Role.SFTP}
    with pytest.raises(ConfigurationError, match="unknown role: cook"):
        parse_roles(["worker,cook"])


def test_every_job_kind_has_its_policy() -> None:
    assert RETRY == {JobKind.PROCESS: PROCESS_RETRY, JobKind.DELIVER: DELIVER_RETRY}
