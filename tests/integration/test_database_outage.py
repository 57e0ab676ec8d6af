"""A database outage changes nothing that was promised (issue 14, points 2 and 6).

PostgreSQL of its own per module (``tests/pg.py``), stopped and started under a running
gateway as an outage does it (``pg_ctl stop -m fast|immediate``): whichever way the driver
meets the absent server is one :class:`DatabaseUnavailable`; the pool recovers by itself; a
worker gives back what an outage left in its hands without spending attempts and carries on;
the heartbeat renews only work in progress; the web answers 503 + Retry-After, never a
traceback. Real processes: tests/acceptance/test_database_faults.py.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.config import load_settings
from gateway.exceptions import DatabaseUnavailable, TransientError
from gateway.storage import users
from gateway.storage.database import Database
from gateway.storage.queue import JobKind, JobQueue
from gateway.storage.tables import jobs, submissions
from gateway.web import create_app
from gateway.web.security import COOKIE
from gateway.worker import Worker
from tests.conftest import unavailable
from tests.integration.conftest import FakeClock
from tests.integration.documents import rksp
from tests.pg import PostgresServer, PostgresUnavailable, start_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server these tests may stop: not the session's shared one. Commits are
    durable: an immediate stop must not take back what the gateway was told was committed."""
    try:
        server = start_postgres(settings=("synchronous_commit=on",))
    except PostgresUnavailable as exc:
        unavailable(f"PostgreSQL is missing: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(own_server: PostgresServer) -> Iterator[PostgresServer]:
    yield own_server
    if own_server._proc is None:  # a test that failed while it was down
        own_server.start()


def _gateway(url: str, tmp_path: Path, **overrides: str) -> Gateway:
    env = {
        "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "PDE_GATEWAY_DATABASE_URL": url,
        **{f"PDE_GATEWAY_{k.upper()}": v for k, v in overrides.items()},
    }
    return Gateway(load_settings(environ=env))


def _receive(gateway: Gateway, count: int) -> list[int]:
    items = [
        (
            Inbound(
                channel="cli",
                sender="DEMO",
                source_name=f"rksp-{n}.xml",
                intake_key=uuid.uuid4().hex,
            ),
            io.BytesIO(rksp(f"V{n:03d}")),
        )
        for n in range(count)
    ]
    return [r.submission_id for r in gateway.pipeline.receive_many(items)]


def test_every_way_of_meeting_an_absent_database_is_one_exception_and_the_pool_recovers(
    server: PostgresServer,
) -> None:
    db = Database(server.create_database(), pool_size=2)
    try:
        db.migrate()
        queue = JobQueue(db)
        # Lost in mid-transaction: the server ends the session (as a shutdown does).
        with pytest.raises(DatabaseUnavailable):
            with db.transaction() as conn:
                pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
                with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                conn.execute(sa.text("SELECT 1"))
        assert queue.depth() == 0  # a new connection at once
        server.halt("fast")
        # Refused at connect: a transaction, a read, the back-pressure count.
        with pytest.raises(DatabaseUnavailable) as caught:
            with db.transaction():
                pass
        assert isinstance(caught.value, TransientError)
        with pytest.raises(DatabaseUnavailable):
            queue.depth()
        with pytest.raises(DatabaseUnavailable):
            db.revision()
        server.start()
        # The same engine, its pooled connections dead: no restart needed.
        assert queue.depth() == 0
        with db.transaction() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


def test_heartbeat_renews_only_the_jobs_a_worker_is_running(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()
        queue = JobQueue(db)
        clock = FakeClock(datetime(2026, 3, 10, 2, 30, tzinfo=UTC))
        with db.transaction() as conn:
            queue.enqueue_many(conn, JobKind.PROCESS, [1, 2, 3], now=clock())
        lease = timedelta(seconds=30)
        claimed = queue.claim_batch("w1", now=clock(), lease=lease, limit=3)
        assert len(claimed) == 3
        running, dropped = claimed[0].id, [job.id for job in claimed[1:]]
        later = clock() + timedelta(seconds=20)
        assert queue.extend_leases({"w1": {running}}, now=later, lease=lease) == 1
        # Another worker's claim on the job is not renewed by w1's heartbeat.
        assert queue.extend_leases({"w2": {dropped[0]}}, now=later, lease=lease) == 0
        with db.engine.connect() as conn:
            leases = dict(conn.execute(sa.select(jobs.c.id, jobs.c.lease_until)).all())
        assert leases[running] == later + lease
        assert {leases[i] for i in dropped} == {clock() + lease}
        # Once the lease is over the sweeper gives the dropped ones out again.
        assert queue.requeue_expired(now=clock() + timedelta(seconds=31)) == 2
    finally:
        db.dispose()


def test_a_worker_gives_back_what_an_outage_left_in_its_hands_and_carries_on(
    server: PostgresServer, tmp_path: Path
) -> None:
    # A lease longer than the test: nothing may wait for it to run out.
    gateway = _gateway(server.create_database(), tmp_path, lease_seconds="600")
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        refs = _receive(gateway, 40)
        queue = gateway.pipeline.queue
        worker = Worker(
            pipeline=gateway.pipeline,
            worker_id="test:1:0",
            clock=gateway.clock,
            lease=timedelta(seconds=600),
        )
        # Claimed by this worker, the reply lost with the connection: held, never run.
        held = queue.claim_batch(
            worker.worker_id, now=gateway.clock(), lease=timedelta(seconds=600), limit=32
        )
        assert len(held) == 32
        server.halt("immediate")
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        time.sleep(1.5)  # claims refused meanwhile
        assert thread.is_alive()
        server.start()
        back = time.monotonic()
        deadline = back + 20
        while time.monotonic() < deadline:
            with gateway.db.engine.connect() as conn:
                left = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(submissions)
                    .where(submissions.c.status != "PROCESSED")
                ).scalar()
            if left == 0:
                break
            time.sleep(0.1)
        assert left == 0, f"{left} of {len(refs)} files undecided 20 s after the database came back"
        print(f"all decided {time.monotonic() - back:.1f} s after the database came back")
        with gateway.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.status, jobs.c.attempts).where(
                    jobs.c.kind == str(JobKind.PROCESS)
                )
            ).all()
        assert {status for _, status, _ in rows} == {"done"}
        # The outage cost no attempt: given back untried, then run once.
        assert {attempts for _, _, attempts in rows} == {1}
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
        gateway.db.dispose()


def test_the_web_answers_503_with_retry_after_while_the_database_is_away(
    server: PostgresServer, tmp_path: Path
) -> None:
    gateway = _gateway(server.create_database(), tmp_path)
    try:
        with gateway.db.transaction() as conn:
            token = users.issue_api_token(conn, "DEMO", label="t", now=gateway.clock(), actor="t")
        bearer = {"Authorization": f"Bearer {token}"}
        # raise_server_exceptions: a traceback (a bare 500) fails the test.
        with TestClient(create_app(gateway), base_url="http://127.0.0.1") as client:
            assert client.get("/readyz").status_code == 200
            server.halt("fast")
            upload = client.post(
                "/api/v1/submissions?name=a.xml", content=rksp("V001"), headers=bearer
            )
            assert upload.status_code == 503
            assert int(upload.headers["retry-after"]) > 0
            body = upload.json()
            assert body["reason"] == "database_unavailable"
            assert "Coba lagi" in body["detail"] and "Try again" in body["detail"]
            listing = client.get("/api/v1/search", headers=bearer)
            assert listing.status_code == 503 and listing.json()["retry_after"] > 0
            # A console page (the session is looked up in the database): a short page.
            page = client.get(
                "/search", headers={"accept": "text/html", "cookie": f"{COOKIE}={'x' * 40}"}
            )
            assert page.status_code == 503 and "retry-after" in page.headers
            assert "text/html" in page.headers["content-type"]
            assert "Coba lagi" in page.text and "Try again" in page.text
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "not ready"
            scraped = client.get("/metrics")
            assert scraped.status_code == 200 and "pde_database_up 0.0" in scraped.text
            server.start()
            # Back without a restart of anything.
            assert client.get("/readyz").status_code == 200
            again = client.post(
                "/api/v1/submissions?name=a.xml", content=rksp("V001"), headers=bearer
            )
            assert again.status_code == 202, again.text
    finally:
        gateway.db.dispose()
