"""One contract for the storage layer, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.reference import load_carriers, load_offices
from gateway.storage import counters, reference_store
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.queue import JobKind, JobQueue, JobStatus
from gateway.storage.raw_files import RawFileStore
from gateway.storage.tables import jobs

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def test_migrate_twice_is_harmless(db: Database) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.storage.database import MIGRATIONS, SCHEMA_REVISION

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION
    assert db.revision() == SCHEMA_REVISION
    db.migrate()
    with db.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            == SCHEMA_REVISION
        )


def test_counter_counts_from_one_without_gaps(db: Database) -> None:
    with db.transaction() as conn:
        values = [counters.allocate(conn, "reg:040300:BC 1.0:2026") for _ in range(3)]
        block = counters.allocate(conn, "reg:040300:BC 1.0:2026", 5)
        after = counters.allocate(conn, "reg:040300:BC 1.0:2026")
        other = counters.allocate(conn, "reg:040300:BC 1.1:2026")
    assert values == [1, 2, 3]
    assert (block, after) == (4, 9)  # 4..8 reserved as one block
    assert other == 1


def test_counter_rollback_gives_the_number_back(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as conn:
        assert counters.allocate(conn, "seq") == 1
        raise RuntimeError("abort")
    with db.transaction() as conn:
        assert counters.allocate(conn, "seq") == 1


def test_enqueue_twice_makes_one_job(db: Database) -> None:
    queue = JobQueue(db)
    with db.transaction() as conn:
        queue.enqueue_many(conn, JobKind.PROCESS, [7], now=T0)
        queue.enqueue_many(conn, JobKind.PROCESS, [7, 7], now=T0)
        queue.enqueue_many(conn, JobKind.DELIVER, [7], now=T0)
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one() == 2


def test_claim_order_lease_and_completion(db: Database) -> None:
    queue = JobQueue(db)
    with db.transaction() as conn:
        queue.enqueue_many(conn, JobKind.PROCESS, [1, 2], now=T0)
        queue.enqueue_many(
            conn, JobKind.PROCESS, [3], now=T0, run_after=T0 + timedelta(hours=1)
        )  # not yet due
    lease = timedelta(seconds=30)
    first = queue.claim("w1", now=T0, lease=lease)
    second = queue.claim("w2", now=T0, lease=lease)
    assert (first and first.ref, second and second.ref) == (1, 2)
    assert first is not None and first.attempts == 1
    assert queue.claim("w3", now=T0, lease=lease) is None
    with db.transaction() as conn:
        queue.complete_many(conn, JobKind.PROCESS, [1], now=T0)
    # w2 vanished: its lease runs out and the job goes back to the queue.
    assert queue.requeue_expired(now=T0 + timedelta(seconds=10)) == 0
    assert queue.requeue_expired(now=T0 + timedelta(seconds=31)) == 1
    again = queue.claim("w4", now=T0 + timedelta(seconds=31), lease=lease)
    assert again is not None and again.ref == 2 and again.attempts == 2
    with db.engine.connect() as conn:
        status = conn.execute(sa.select(jobs.c.status).where(jobs.c.ref == 1)).scalar_one()
    assert status == JobStatus.DONE


def test_retry_waits_and_release_worker_hands_back(db: Database) -> None:
    queue = JobQueue(db)
    with db.transaction() as conn:
        queue.enqueue_many(conn, JobKind.DELIVER, [9, 10], now=T0)
    job = queue.claim("w1", now=T0, lease=timedelta(seconds=30))
    assert job is not None
    queue.retry(job, "disk full", run_after=T0 + timedelta(minutes=5))
    other = queue.claim("w1", now=T0, lease=timedelta(seconds=30))
    assert other is not None and other.ref == 10
    assert queue.holders("w1") == ["w1"]
    assert queue.release_worker("w1") == 1
    assert queue.claim("w2", now=T0, lease=timedelta(seconds=30)).ref == 10  # type: ignore[union-attr]
    assert queue.claim("w2", now=T0 + timedelta(minutes=6), lease=timedelta(seconds=30)).ref == 9  # type: ignore[union-attr]


def test_submission_intake_key_is_idempotent_and_times_stay_aware(
    db: Database, tmp_path: Path
) -> None:
    stored = RawFileStore(tmp_path / "raw").put(io.BytesIO(b"<x/>"))
    received = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    item = store.NewSubmission(
        channel="filedrop", sender="DEMO", source_name="a.xml", intake_key="k1", stored=stored
    )
    with db.transaction() as conn:
        [first] = store.insert_submissions(conn, [item], received_at=received)
        # Seen again (a crash before archive/), and twice within one batch: one row.
        second, third = store.insert_submissions(conn, [item, item], received_at=received)
    assert third == second
    assert first[1] is True and second == (first[0], False)
    with db.engine.connect() as conn:
        sub = store.get_submission(conn, first[0])
    assert sub is not None
    assert sub.received_at == received and sub.received_at.tzinfo is not None
    assert sub.sha256 == stored.sha256 and sub.raw_path.read_bytes() == b"<x/>"


def test_reference_data_round_trip(db: Database) -> None:
    offices = load_offices(REPO / "config" / "offices.toml")
    carriers = load_carriers(REPO / "config" / "carriers.toml")
    with db.transaction() as conn:
        assert reference_store.seed(conn, offices, carriers, now=T0) is True
        assert reference_store.seed(conn, offices, carriers, now=T0) is False
    with db.engine.connect() as conn:
        data = reference_store.load(conn)
    assert set(data.offices) == {o.code for o in offices}
    demo = data.carriers["DEMO"]
    assert demo == next(c for c in carriers if c.code == "DEMO")
    assert data.offices["150100"].timezone == "Asia/Makassar"


def test_raw_store_keeps_identical_content_once(tmp_path: Path) -> None:
    raw = RawFileStore(tmp_path / "raw")
    a = raw.put(io.BytesIO(b"same"))
    b = raw.put(io.BytesIO(b"same"))
    assert a == b and a.size == 4
    assert list((tmp_path / "raw" / "tmp").iterdir()) == []


def test_partial_copies_of_dead_writers_are_swept_but_fresh_ones_kept(tmp_path: Path) -> None:
    import os
    import time

    raw = RawFileStore(tmp_path / "raw")
    raw.put(io.BytesIO(b"kept"))
    stale = tmp_path / "raw" / "tmp" / "dead.part"
    fresh = tmp_path / "raw" / "tmp" / "writing.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert raw.sweep_temporary(older_than=3600) == 1
    assert not stale.exists() and fresh.exists()
