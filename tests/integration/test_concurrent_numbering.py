"""300 submissions, 4 workers at once: numbers 000001..000300, no gap, no duplicate.

Twenty exact copies are mixed in, so twins race each other: exactly one of each pair may be
registered, the other refused as a duplicate.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from gateway.channels.base import Inbound
from gateway.storage.tables import documents, jobs, registrations
from gateway.worker import Worker, utc_now
from tests.integration.documents import rksp

DISTINCT = 300
TWINS = 20
WORKERS = 4


def test_four_workers_number_without_gap_or_duplicate(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = make_gateway()
    pipeline = gateway.pipeline
    bodies = [rksp(voyage=f"V{i:04d}") for i in range(DISTINCT)]
    bodies += bodies[:TWINS]
    for i, body in enumerate(bodies):
        pipeline.receive(
            Inbound(channel="cli", sender="DEMO", source_name=f"f{i}.xml", intake_key=str(i)),
            io.BytesIO(body),
        )

    stop = threading.Event()
    claimed: Counter[str] = Counter()

    class CountingWorker(Worker):
        def _run(self, kind, refs):  # type: ignore[no-untyped-def]
            claimed[self.worker_id] += len(refs)
            super()._run(kind, refs)

    def drain(worker: Worker) -> None:
        idle = 0
        while not stop.is_set() and idle < 20:
            idle = 0 if worker.run_once() else idle + 1

    threads = [
        threading.Thread(
            target=drain,
            args=(
                CountingWorker(
                    pipeline=pipeline,
                    worker_id=f"test:{n}",
                    clock=utc_now,
                    lease=timedelta(seconds=60),
                ),
            ),
        )
        for n in range(WORKERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    stop.set()
    assert not any(t.is_alive() for t in threads)

    with gateway.db.engine.connect() as conn:
        numbers = (
            conn.execute(
                sa.select(registrations.c.number).where(
                    registrations.c.office_code == "040300", registrations.c.kind == "BC 1.0"
                )
            )
            .scalars()
            .all()
        )
        statuses = Counter(conn.execute(sa.select(documents.c.status)).scalars())
        job_statuses = Counter(conn.execute(sa.select(jobs.c.status)).scalars())
    assert sorted(numbers) == [f"{n:06d}" for n in range(1, DISTINCT + 1)]
    assert statuses == {"REGISTERED": DISTINCT, "REFUSED": TWINS}
    assert job_statuses == {"done": 2 * (DISTINCT + TWINS)}
    assert len(claimed) == WORKERS, f"every worker should have taken work: {claimed}"
