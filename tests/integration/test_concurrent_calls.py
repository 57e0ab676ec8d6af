"""20 copies of one call, 4 workers at once: exactly one number (issue 13, points 1-3).

The copies are what carriers really send twice: the same bytes, the same document with CRLF
line ends or re-indented, another ETD (a change sent as a new RKSP), the same call in X12
and EDIFACT with envelopes of their own, and another carrier's RKSP of the same ship. The
workers claim small batches, so copies meet both inside one transaction and in transactions
of different workers committing at the same moment; the database's keys decide.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.config import load_settings
from gateway.storage import submissions as store
from gateway.storage.tables import call_keys, documents, jobs, registrations
from gateway.worker import Worker, utc_now
from tests.integration.conftest import FakeClock
from tests.integration.documents import EXAMPLES, codes, rksp, run
from tests.integration.test_register_integrity import (
    DEMO_NPWP,
    SAMU_NPWP,
    SPELLINGS,
    renumber_edifact,
    renumber_x12,
)

COPIES = 20
BATCH_SIZES = (1, 2, 3, 5)  # four workers


def _xml(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def _copies(
    xml: str, x12: str, edi: str, change: Callable[[bytes], bytes]
) -> list[tuple[str, bytes]]:
    """Twenty files of one call: XML as sent and spelled otherwise, changed, X12, EDIFACT,
    and the same in another carrier's name (envelopes numbered apart for each call)."""
    base = 100 * sorted(CALL_FILES).index(xml)
    data = _xml(xml)
    files = [("DEMO", data)] * 4
    files += [("DEMO", spell(data)) for spell in SPELLINGS.values()]
    files += [("DEMO", change(data)), ("DEMO", change(SPELLINGS["CRLF"](data)))]
    x12_text = (EXAMPLES / x12).read_text(encoding="latin-1")
    files += [("DEMO", renumber_x12(x12_text, base + n + 1).encode("latin-1")) for n in range(4)]
    edi_text = (EXAMPLES / edi).read_text(encoding="latin-1")
    files += [
        ("DEMO", renumber_edifact(edi_text, f"C{base + n:07d}").encode("latin-1")) for n in range(4)
    ]
    theirs = data.replace(DEMO_NPWP.encode(), SAMU_NPWP.encode()).replace(
        b"PT Demo Pelayaran Nusantara", b"PT Samudera Indonesia Tbk"
    )
    files += [
        ("SAMU", theirs),
        ("SAMU", change(theirs)),
        ("SAMU", SPELLINGS["re-indented"](theirs)),
    ]
    assert len(files) == COPIES
    return files


CALL_FILES = ("rksp.xml", "manifest-inward.xml", "manifest-outward.xml")
CALLS = {
    "rksp": (
        "BC 1.0",
        "CALL-001",
        lambda: _copies(
            "rksp.xml",
            "rksp.x12",
            "rksp.edi",
            lambda d: d.replace(b"2099-03-16T22:00", b"2099-03-16T23:30"),
        ),
    ),
    "inward manifest": (
        "BC 1.1",
        "CALL-002",
        lambda: _copies(
            "manifest-inward.xml",
            "manifest-inward.x12",
            "manifest-inward.edi",
            lambda d: d.replace(b"PT Cahya Abadi Logistik", b"PT Cahaya Abadi Logistik"),
        ),
    ),
    "outward manifest": (
        "BC 1.1",
        "CALL-002",
        lambda: _copies(
            "manifest-outward.xml",
            "manifest-outward.x12",
            "manifest-outward.edi",
            lambda d: d.replace(b"Hamburg Coffee", b"Bremen Coffee"),
        ),
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_four_workers_give_twenty_copies_of_a_call_one_number(make_gateway, call: str) -> None:  # type: ignore[no-untyped-def]
    kind, code, make = CALLS[call]
    gateway = make_gateway()
    pipeline = gateway.pipeline
    for i, (sender, body) in enumerate(make()):
        pipeline.receive(
            Inbound(channel="cli", sender=sender, source_name=f"c{i}", intake_key=str(i)),
            io.BytesIO(body),
        )

    def drain(worker: Worker) -> None:
        idle = 0
        while idle < 20:
            idle = 0 if worker.run_once() else idle + 1

    threads = [
        threading.Thread(
            target=drain,
            args=(
                Worker(
                    pipeline=pipeline,
                    worker_id=f"test:{n}",
                    clock=utc_now,
                    lease=timedelta(seconds=60),
                    batch_size=size,
                ),
            ),
        )
        for n, size in enumerate(BATCH_SIZES)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    with gateway.db.engine.connect() as conn:
        numbers = conn.execute(sa.select(registrations.c.kind, registrations.c.number)).all()
        decided = conn.execute(sa.select(documents.c.status, documents.c.findings)).all()
        held = conn.execute(sa.select(call_keys.c.document_id)).scalars().all()
        job_statuses = Counter(conn.execute(sa.select(jobs.c.status)).scalars())
    assert [tuple(n) for n in numbers] == [(kind, "000001")]
    assert Counter(status for status, _ in decided) == {"REGISTERED": 1, "REFUSED": COPIES - 1}
    for status, findings in decided:
        if status == "REFUSED":  # each told which number the call has
            assert code in {f["code"] for f in findings}, findings
    assert len(set(held)) == 1  # the call's keys belong to the registered document only
    assert job_statuses == {"done": 2 * COPIES}


@pytest.fixture
def pg_gateway(postgres_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Gateway]:
    env = {"PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"), "PDE_GATEWAY_DATABASE_URL": postgres_url}
    gateway = Gateway(load_settings(environ=env), clock=clock)
    yield gateway
    gateway.db.dispose()


def test_two_workers_that_both_found_the_call_free_get_one_number(pg_gateway: Gateway) -> None:
    """Both transactions have looked for the call (not there) before either commits: the
    primary key of call_keys refuses the second, whose retry finds the first registered.

    The test holds the BC 1.0 sequence's row lock (which every registration takes after the
    duplicate look-ups) until both workers wait on it, then lets them go.
    """
    gateway, pipeline = pg_gateway, pg_gateway.pipeline
    [earlier] = run(gateway, rksp(voyage="001X"))  # the sequence's row exists from here on
    assert earlier["registration"]["number"] == "000001"
    mine = rksp(Etd="2099-03-17T08:00:00+07:00")
    theirs = mine.replace(DEMO_NPWP.encode(), SAMU_NPWP.encode()).replace(
        b"PT Demo Pelayaran Nusantara", b"PT Samudera Indonesia Tbk"
    )
    ids = [
        pipeline.receive(
            Inbound(channel="cli", sender=sender, source_name=f"{sender}.xml", intake_key=sender),
            io.BytesIO(body),
        ).submission_id
        for sender, body in (("DEMO", mine), ("SAMU", theirs))
    ]
    pipeline.reference()  # loaded before the lock: the workers only decide and commit
    failures: list[BaseException] = []

    def process(submission_id: int) -> None:
        try:
            pipeline.process(submission_id)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    )
    with gateway.db.engine.connect() as lock, gateway.db.engine.connect() as watch:
        lock.execute(
            sa.text("SELECT value FROM counters WHERE name = :name FOR UPDATE"),
            {"name": "reg:040300:BC 1.0:2026"},
        )
        workers = [threading.Thread(target=process, args=(i,)) for i in ids]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 30
        # (pg_stat_activity is read once per transaction: a new one for each look.)
        while watch.execute(waiting).scalar_one() < 2:
            watch.rollback()
            assert time.monotonic() < deadline, "the two workers never waited together"
            time.sleep(0.02)
        lock.commit()
    for worker in workers:
        worker.join(timeout=30)
    assert failures == []
    with gateway.db.engine.connect() as conn:
        results = [store.report(conn, i)[0] for i in ids]
    assert sorted(r["status"] for r in results) == ["REFUSED", "REGISTERED"]
    [registered] = [r for r in results if r["status"] == "REGISTERED"]
    [refused] = [r for r in results if r["status"] == "REFUSED"]
    assert registered["registration"]["number"] == "000002"
    assert codes(refused) == ["CALL-001"]
    assert "BC 1.0 number 000002" in refused["errors"][0]["message_en"]
