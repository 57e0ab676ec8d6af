"""/metrics, /healthz and /readyz on a real gateway, on SQLite and PostgreSQL.

The counts on /metrics are read from the database at scrape time; these tests count the same
things with their own SQL and expect equality, label set by label set.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.storage import database
from gateway.storage.tables import (
    acks,
    documents,
    jobs,
    registrations,
    scheduled_runs,
    submissions,
)
from tests.integration.conftest import FakeClock
from tests.integration.documents import example, rksp, run

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def labels(**kv: str) -> frozenset[tuple[str, str]]:
    return frozenset(kv.items())


def receive_only(gateway: Gateway, data: bytes, name: str) -> int:
    inbound = Inbound(channel="cli", sender="DEMO", source_name=name, intake_key=name)
    return gateway.pipeline.receive(inbound, io.BytesIO(data)).submission_id


def process(gateway: Gateway, submission_id: int) -> None:
    gateway.pipeline.process(submission_id)
    gateway.pipeline.deliver(submission_id)


def test_metrics_equal_the_database_after_a_mixed_run(
    gateway: Gateway, client: TestClient, clock: FakeClock
) -> None:
    # Registered, refused (duplicate, unreadable), three formats, two document kinds.
    run(gateway, rksp(), name="rksp.xml")
    run(gateway, rksp(), name="rksp-again.xml")  # DUP-001: refused
    run(gateway, example("manifest-inward.xml").encode(), name="m.xml")
    run(gateway, example("jksp.xml").encode(), name="jksp.xml")
    run(gateway, example("rksp.x12").encode(), name="rksp.x12")
    run(gateway, example("manifest-inward.edi").encode(), name="m.edi")
    run(gateway, b"not a document", name="junk.txt")
    # One decided 3 s after receipt, for the latency histogram's arithmetic on each database.
    slow = receive_only(gateway, rksp(voyage="031S"), "slow.xml")
    clock.advance(seconds=3)
    process(gateway, slow)
    # One still waiting, received 90 s before the scrape.
    waiting = receive_only(gateway, rksp(voyage="047N"), "waiting.xml")
    clock.advance(seconds=90)
    with gateway.db.transaction() as conn:
        conn.execute(
            sa.insert(scheduled_runs),
            [
                {
                    "job": "sweep",
                    "fire_time": clock.now - timedelta(minutes=m),
                    "status": "ok",
                    "runner": "test:1",
                    "started_at": clock.now,
                    "detail": {},
                }
                for m in (1, 2)
            ],
        )

    samples = scrape(client)

    with gateway.db.engine.connect() as conn:
        doc_rows = conn.execute(
            sa.select(
                documents.c.document_type,
                submissions.c.format,
                submissions.c.channel,
                documents.c.office_code,
                documents.c.status,
                registrations.c.id.label("registration_id"),
            ).select_from(
                documents.join(
                    submissions, submissions.c.id == documents.c.submission_id
                ).outerjoin(registrations, registrations.c.document_id == documents.c.id)
            )
        ).all()
        n_submissions = conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar()
        n_registrations = conn.execute(
            sa.select(sa.func.count()).select_from(registrations)
        ).scalar()
        job_rows = conn.execute(
            sa.select(jobs.c.kind, jobs.c.status, sa.func.count()).group_by(
                jobs.c.kind, jobs.c.status
            )
        ).all()
        ack_rows = conn.execute(
            sa.select(acks.c.channel, acks.c.status, sa.func.count()).group_by(
                acks.c.channel, acks.c.status
            )
        ).all()
        decided_files = conn.execute(
            sa.select(sa.func.count(sa.distinct(documents.c.submission_id)))
        ).scalar()

    expected_received: dict[frozenset[tuple[str, str]], int] = {}
    expected_registered: dict[frozenset[tuple[str, str]], int] = {}
    expected_refused: dict[frozenset[tuple[str, str]], int] = {}
    for r in doc_rows:
        key = labels(
            document_type=r.document_type,
            format=r.format,
            channel=r.channel,
            office=r.office_code or "unknown",
        )
        expected_received[key] = expected_received.get(key, 0) + 1
        expected_registered[key] = expected_registered.get(key, 0) + (r.registration_id is not None)
        expected_refused[key] = expected_refused.get(key, 0) + (r.status == "REFUSED")
    # The mix really is mixed: several types and formats, some registered, some refused.
    assert len({dict(k)["format"] for k in expected_received}) >= 4
    assert sum(expected_registered.values()) >= 4
    assert sum(expected_refused.values()) >= 2
    assert series(samples, "pde_documents_received_total") == expected_received
    assert series(samples, "pde_documents_registered_total") == expected_registered
    assert series(samples, "pde_documents_refused_total") == expected_refused
    assert sum(series(samples, "pde_documents_registered_total").values()) == n_registrations
    assert series(samples, "pde_submissions_received_total") == {
        labels(channel="cli"): n_submissions
    }

    assert series(samples, "pde_submissions_waiting") == {labels(channel="cli"): 1}
    assert series(samples, "pde_submissions_oldest_waiting_seconds") == {
        labels(channel="cli"): 90.0
    }
    assert series(samples, "pde_queue_jobs") == {
        labels(kind=k, status=s): n for k, s, n in job_rows
    }
    assert samples[("pde_queue_jobs", labels(kind="process", status="todo"))] == 1
    assert samples[("pde_queue_oldest_waiting_seconds", labels(kind="process"))] == 90.0
    assert samples[("pde_dead_letters", labels(kind="process"))] == 0
    assert series(samples, "pde_acks") == {labels(channel=c, status=s): n for c, s, n in ack_rows}

    assert samples[("pde_processing_latency_seconds_count", labels())] == decided_files
    assert samples[("pde_processing_latency_seconds_sum", labels())] == pytest.approx(3.0, abs=0.01)
    bucket = "pde_processing_latency_seconds_bucket"
    assert samples[(bucket, labels(le="2.5"))] == decided_files - 1
    assert samples[(bucket, labels(le="5.0"))] == decided_files
    assert samples[(bucket, labels(le="+Inf"))] == decided_files

    assert samples[("pde_scheduler_runs_total", labels(job="sweep", status="ok"))] == 2
    last = samples[("pde_scheduler_last_fire_timestamp_seconds", labels(job="sweep", status="ok"))]
    assert last == (clock.now - timedelta(minutes=1)).timestamp()
    assert samples[("pde_database_up", labels())] == 1

    # Once the waiting file is decided, the waiting figures fall back to zero.
    process(gateway, waiting)
    after = scrape(client)
    assert series(after, "pde_submissions_waiting") == {}
    assert after[("pde_queue_oldest_waiting_seconds", labels(kind="process"))] == 0
    assert sum(series(after, "pde_documents_received_total").values()) == len(doc_rows) + 1


def test_healthz_and_readyz_need_no_login_and_stay_out_of_the_api_schema(
    client: TestClient,
) -> None:
    health = client.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok")
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["schema"] == database.SCHEMA_REVISION
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def _unreachable_url(dialect: str) -> str:
    if dialect == "postgresql":
        # Port 1 on loopback: refused at once, no waiting for a connect timeout.
        return "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    return "sqlite:////nonexistent-pde-gateway-dir/gateway.db"


@pytest.fixture
def broken_database(gateway: Gateway) -> Iterator[Callable[[], None]]:
    """Point the gateway's engine at a database that does not answer; put it back after."""
    original = gateway.db.engine
    broken: list[sa.engine.Engine] = []

    def breaker() -> None:
        engine = sa.create_engine(_unreachable_url(gateway.db.dialect))
        broken.append(engine)
        gateway.db.engine = engine

    yield breaker
    gateway.db.engine = original
    for engine in broken:
        engine.dispose()


def test_readyz_503_when_the_database_is_unreachable_and_metrics_say_so(
    client: TestClient, broken_database: Callable[[], None]
) -> None:
    assert client.get("/readyz").status_code == 200
    broken_database()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["reason"].startswith("database unreachable")
    assert body["reason_id"].startswith("basis data tidak dapat dihubungi")
    # /metrics still answers, with the database marked down and no stale counts.
    samples = scrape(client)
    assert samples[("pde_database_up", labels())] == 0
    assert not series(samples, "pde_documents_received_total")
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_503_when_the_schema_is_not_the_one_the_code_needs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SCHEMA_REVISION", "9999")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "needs 9999" in ready.json()["reason"]


def test_readyz_503_while_shutting_down(client: TestClient, gateway: Gateway) -> None:
    gateway.stop.set()
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_metrics_without_the_scheduler_table(gateway: Gateway, client: TestClient) -> None:
    """A database without ``scheduled_runs`` (before migration 0005) still scrapes cleanly."""
    run(gateway, rksp())
    with gateway.db.transaction() as conn:
        conn.execute(sa.text("DROP TABLE scheduled_runs"))
    samples = scrape(client)
    assert samples[("pde_database_up", labels())] == 1
    assert not series(samples, "pde_scheduler_runs_total")
    assert sum(series(samples, "pde_documents_registered_total").values()) == 1
