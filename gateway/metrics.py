"""Prometheus metrics: what the gateway did and what waits, read from the database per scrape.

A custom :class:`GatewayCollector` runs a handful of aggregate queries each time ``/metrics``
is scraped, instead of incrementing counters in memory. With several processes sharing one
PostgreSQL database (``--role worker`` on several machines, one ``--role web``), any process
that serves ``/metrics`` reports the same numbers, nothing is counted twice or lost by a
restart, and the numbers always equal what the database says. The names and their meaning
are in docs/operations.md ("Reading the metrics").

The standard ``process_*`` and ``python_*`` metrics of the serving process come along.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy.exc import SQLAlchemyError

from gateway.exceptions import GatewayError
from gateway.storage import disk
from gateway.storage import observability as figures
from gateway.storage.database import Database
from gateway.storage.disk import DataDirSpace

log = structlog.get_logger("gateway.metrics")

PREFIX = "pde"
# Seconds from receipt to decision. Most files are decided within a second; the long tail is
# what an operator watches (the rule book's deadlines are in hours, a queue backlog in minutes).
LATENCY_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
# Job statuses that still mean "work to do" for the oldest-waiting age.
WAITING_JOB_STATUSES = frozenset({"todo", "doing"})

# generate_latest() writes the classic text format, which every Prometheus version reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["CONTENT_TYPE", "DataDirCollector", "GatewayCollector", "build_registry", "render"]


class GatewayCollector:
    """Yields the gateway's metric families from the database at each scrape."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            f"{PREFIX}_database_up",
            "1 when the last scrape could read the database, 0 when it could not.",
        )
        try:
            families = self._from_database()
        except (SQLAlchemyError, GatewayError) as exc:
            # /metrics stays up when the database is not: the alert is on pde_database_up.
            log.warning("metrics: database unavailable", error=str(exc))
            up.add_metric([], 0.0)
            families = []
        else:
            up.add_metric([], 1.0)
        yield up
        yield from families
        duration = GaugeMetricFamily(
            f"{PREFIX}_metrics_scrape_duration_seconds",
            "How long this scrape's database queries took.",
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _from_database(self) -> list[Metric]:
        # One connection, all reads; the list is built before anything is yielded so that a
        # failure half-way yields no partial picture.
        with self.db.engine.connect() as conn:
            documents = figures.document_counts(conn)
            unreadable = figures.unreadable_counts(conn)
            submitted = figures.submission_counts(conn)
            queued = figures.job_counts(conn)
            retrying = figures.retrying_counts(conn)
            acknowledged = figures.ack_counts(conn)
            latency = figures.latency_buckets(conn, LATENCY_BOUNDS)
            amendments = figures.pending_amendments(conn)
            runs = figures.scheduled_run_counts(conn)
        now = self.clock()
        return [
            *_document_families(documents),
            *_unreadable_families(unreadable),
            *_submission_families(submitted, now),
            *_queue_families(queued, retrying, now),
            *_ack_families(acknowledged, now),
            _latency_family(latency),
            _amendment_family(amendments),
            *_scheduler_families(runs),
        ]


class DataDirCollector:
    """The data dir's room, measured at each scrape (not from the database: a full disk is
    seen while the database is fine, and the other way round)."""

    def __init__(self, space: DataDirSpace) -> None:
        self.space = space

    def collect(self) -> Iterable[Metric]:
        free = GaugeMetricFamily(
            f"{PREFIX}_data_dir_free_bytes",
            "Bytes free on the data dir's filesystem (the least of its folders' filesystems: "
            "raw store, drop folders, outboxes).",
        )
        size = GaugeMetricFamily(
            f"{PREFIX}_data_dir_size_bytes",
            "Size of that filesystem.",
        )
        floor = GaugeMetricFamily(
            f"{PREFIX}_data_dir_min_free_bytes",
            "The floor (min_free_bytes): below it intake answers 'try later'.",
        )
        writable = GaugeMetricFamily(
            f"{PREFIX}_data_dir_writable",
            "1 when a byte could be written into the data dir at this scrape, 0 when not "
            "(full, read-only, gone).",
        )
        free_bytes = self.space.free()
        total = self.space.total()
        if free_bytes is not None:
            free.add_metric([], float(free_bytes))
        if total is not None:
            size.add_metric([], float(total))
        floor.add_metric([], float(self.space.min_free))
        writable.add_metric([], 0.0 if disk.unwritable(self.space.data_dir) else 1.0)
        return [free, size, floor, writable]


def build_registry(
    db: Database, *, clock: Callable[[], datetime], space: DataDirSpace | None = None
) -> CollectorRegistry:
    """A registry of its own per app: two apps in one process (tests) never clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(db, clock=clock))
    if space is not None:
        registry.register(DataDirCollector(space))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition format (``CONTENT_TYPE``)."""
    return generate_latest(registry)


# -- families ---------------------------------------------------------------------------------

DOCUMENT_LABELS = ["document_type", "format", "channel", "office"]


def _document_families(counts: list[figures.DocumentCount]) -> list[Metric]:
    received = CounterMetricFamily(
        f"{PREFIX}_documents_received",
        "Documents read from received files (every one is decided: registered, accepted, "
        "waiting for approval or refused).",
        labels=DOCUMENT_LABELS,
    )
    registered = CounterMetricFamily(
        f"{PREFIX}_documents_registered",
        "Documents given a BC 1.0 or BC 1.1 registration number.",
        labels=DOCUMENT_LABELS,
    )
    refused = CounterMetricFamily(
        f"{PREFIX}_documents_refused",
        "Documents refused (a response with the reasons went back to the carrier).",
        labels=DOCUMENT_LABELS,
    )
    by_status = GaugeMetricFamily(
        f"{PREFIX}_documents",
        "Documents by their current status.",
        labels=[*DOCUMENT_LABELS, "status"],
    )
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in counts:
        key: tuple[str, ...] = (c.document_type, c.format, c.channel, c.office)
        sums[key][0] += c.documents
        sums[key][1] += c.registered
        sums[key][2] += c.documents if c.status == "REFUSED" else 0
        by_status.add_metric([*key, c.status], c.documents)
    for labels, (n_received, n_registered, n_refused) in sorted(sums.items()):
        received.add_metric(list(labels), n_received)
        registered.add_metric(list(labels), n_registered)
        refused.add_metric(list(labels), n_refused)
    return [received, registered, refused, by_status]


def _unreadable_families(counts: list[figures.UnreadableCount]) -> list[Metric]:
    total = CounterMetricFamily(
        f"{PREFIX}_documents_unreadable",
        "Files refused because the gateway could not read them (FILE-007: a defect met while "
        "reading, with a traceback in the log); also counted in pde_documents_refused.",
        labels=["format", "channel"],
    )
    waiting = GaugeMetricFamily(
        f"{PREFIX}_unreadable_waiting_replay",
        "Of those, the files no operator has replayed yet (pde-gateway replay, once the "
        "defect is fixed).",
        labels=["format", "channel"],
    )
    for c in counts:
        total.add_metric([c.format, c.channel], c.count)
        waiting.add_metric([c.format, c.channel], c.waiting_replay)
    return [total, waiting]


def _age(now: datetime, oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


def _submission_families(counts: list[figures.GroupCount], now: datetime) -> list[Metric]:
    received = CounterMetricFamily(
        f"{PREFIX}_submissions_received",
        "Files received (before they are read: a file may hold several documents).",
        labels=["channel"],
    )
    waiting = GaugeMetricFamily(
        f"{PREFIX}_submissions_waiting",
        "Files received and not decided yet.",
        labels=["channel"],
    )
    oldest = GaugeMetricFamily(
        f"{PREFIX}_submissions_oldest_waiting_seconds",
        "Age of the oldest file received and not decided yet (0 when none waits).",
        labels=["channel"],
    )
    totals: dict[str, int] = defaultdict(int)
    for c in counts:
        totals[c.first] += c.count
        if c.second == "RECEIVED":
            waiting.add_metric([c.first], c.count)
            oldest.add_metric([c.first], _age(now, c.oldest))
    for channel, total in sorted(totals.items()):
        received.add_metric([channel], total)
    return [received, waiting, oldest]


def _queue_families(
    counts: list[figures.GroupCount], retrying: dict[str, int], now: datetime
) -> list[Metric]:
    depth = GaugeMetricFamily(
        f"{PREFIX}_queue_jobs",
        "Jobs in the work queue by kind (process, deliver) and status (todo, doing, done, "
        "failed = dead letters).",
        labels=["kind", "status"],
    )
    oldest = GaugeMetricFamily(
        f"{PREFIX}_queue_oldest_waiting_seconds",
        "Age of the oldest job not finished yet (todo or doing), by kind; 0 when none.",
        labels=["kind"],
    )
    dead = GaugeMetricFamily(
        f"{PREFIX}_dead_letters",
        "Jobs given up after their last attempt (status failed), waiting for an operator: "
        "pde-gateway deadletters list.",
        labels=["kind"],
    )
    again = GaugeMetricFamily(
        f"{PREFIX}_queue_retrying",
        "Jobs waiting for another try after a failed one, by kind; for deliver: acknowledgments "
        "whose delivery failed and is being retried.",
        labels=["kind"],
    )
    ages: dict[str, float] = {}
    failed: dict[str, int] = {}
    for c in counts:
        depth.add_metric([c.first, c.second], c.count)
        ages.setdefault(c.first, 0.0)
        failed.setdefault(c.first, 0)
        if c.second in WAITING_JOB_STATUSES:
            ages[c.first] = max(ages[c.first], _age(now, c.oldest))
        if c.second == "failed":
            failed[c.first] += c.count
    for kind in sorted(ages):
        oldest.add_metric([kind], ages[kind])
        dead.add_metric([kind], failed[kind])
        again.add_metric([kind], retrying.get(kind, 0))
    return [depth, oldest, dead, again]


def _ack_families(counts: list[figures.GroupCount], now: datetime) -> list[Metric]:
    by_status = GaugeMetricFamily(
        f"{PREFIX}_acks",
        "Acknowledgments (receipts, responses, TA1/997/355, CONTRL/CUSRES) by channel and "
        "status (PENDING = not delivered yet).",
        labels=["channel", "status"],
    )
    undelivered = GaugeMetricFamily(
        f"{PREFIX}_acks_undelivered_oldest_seconds",
        "Age of the oldest acknowledgment not delivered yet, by channel; 0 when none.",
        labels=["channel"],
    )
    ages: dict[str, float] = {}
    for c in counts:
        by_status.add_metric([c.first, c.second], c.count)
        ages.setdefault(c.first, 0.0)
        if c.second != "DELIVERED":
            ages[c.first] = max(ages[c.first], _age(now, c.oldest))
    for channel in sorted(ages):
        undelivered.add_metric([channel], ages[channel])
    return [by_status, undelivered]


def _latency_family(latency: figures.LatencyBuckets) -> Metric:
    family = HistogramMetricFamily(
        f"{PREFIX}_processing_latency_seconds",
        "From a file's receipt to its decision (registered or refused), every decided file.",
        labels=[],
    )
    buckets = [(_bound(b), float(n)) for b, n in zip(latency.bounds, latency.buckets, strict=True)]
    buckets.append(("+Inf", float(latency.count)))
    family.add_metric([], buckets, latency.total_seconds)
    return family


def _bound(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{value:.1f}"


def _amendment_family(pending: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(
        f"{PREFIX}_amendments_pending_approval",
        "Amendments of kinds A-D waiting for the head of office (Art. 6(2)), by office.",
        labels=["office"],
    )
    for office, n in sorted(pending.items()):
        family.add_metric([office], n)
    return family


def _scheduler_families(runs: list[figures.RunCount] | None) -> list[Metric]:
    if runs is None:  # the scheduler's table is not there (yet): nothing to report
        return []
    total = CounterMetricFamily(
        f"{PREFIX}_scheduler_runs",
        "Scheduled runs recorded (one per job and fire time, whichever scheduler ran it), by "
        "job and status.",
        labels=["job", "status"],
    )
    last = GaugeMetricFamily(
        f"{PREFIX}_scheduler_last_fire_timestamp_seconds",
        "Unix time of the latest fire time of each scheduled job, by the status of that run "
        "(alert on time() minus the one with status ok).",
        labels=["job", "status"],
    )
    for r in runs:
        total.add_metric([r.job, r.status], r.count)
        if r.last_fire is not None:
            last.add_metric([r.job, r.status], r.last_fire.timestamp())
    return [total, last]
