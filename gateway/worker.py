"""Workers: claim jobs from the queue and run them through the pipeline.

Failures are sorted by the exception tree: a ``TransientError`` (or anything unexpected) is
retried with a growing delay (:class:`RetryPolicy`, one per job kind); after the policy's last
attempt the job is parked as ``failed`` (the dead letter: ``pde-gateway deadletters``) for an
operator, and the worker carries on with the next one.

Processing and delivery back off differently: a PROCESS job fails for a database or disk
outage, seen within minutes (a defect that a file trips does not come this far: the pipeline
refuses that file as FILE-007, ``gateway/unreadable.py``, so the carrier is answered and the
job is done); a DELIVER job fails when a carrier's channel (disk, share, spool) is
unavailable, which may last longer, so it is retried for about three quarters of an hour
before it becomes a dead letter.

A full disk (:class:`~gateway.exceptions.DiskFull`, or ENOSPC anywhere in the chain) is
neither: it is waited out. The jobs go back with the attempt given back
(``JobQueue.put_back``) and are tried again every ``DISK_FULL_WAIT`` seconds for as long as
it lasts; it is logged once when it begins and once when work goes through again. A file
decided while the disk is full stays decided: its PROCESS job is done at the decision, and
an acknowledgment that cannot be written waits in its DELIVER job.

A database outage (:class:`~gateway.exceptions.DatabaseUnavailable`: the server stopped,
restarting, cut off) is waited out too, and is not the jobs' fault either. The batch in hand
breaks off; once the database answers again (tried every ``OUTAGE_WAIT`` seconds at most)
the worker first gives back every job the database says it holds, with the attempt given
back (``JobQueue.put_back_worker``: it cannot know whether a claim's reply was lost with the
connection), then claims afresh: within seconds of the database's return, without a
restart. The heartbeat renews only the leases of jobs a worker is running (:attr:`in_hand`),
so a batch that broke off is never kept ``doing`` by a live process. Logged once per outage
and process, when it begins and when it ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gateway.exceptions import TransientError
from gateway.model.common import RECORD
from gateway.pipeline import Clock, Pipeline
from gateway.storage.database import is_unavailable
from gateway.storage.disk import Episode, is_disk_full
from gateway.storage.queue import Job, JobKind, JobQueue

log = structlog.get_logger("gateway.worker")


@dataclass(**RECORD)
class RetryPolicy:
    """Exponential backoff: ``first_delay * factor**(attempt - 1)``, capped, then a dead letter."""

    first_delay: float  # seconds before the second attempt
    factor: float
    max_delay: float  # seconds
    max_attempts: int

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt."""
        return timedelta(
            seconds=min(self.first_delay * self.factor ** (attempts - 1), self.max_delay)
        )

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def schedule(self) -> list[float]:
        """Every wait in seconds, first to last (for the runbook and the tests)."""
        return [self.delay(n).total_seconds() for n in range(1, self.max_attempts)]


# 0.2 s, 0.4 s ... 25.6 s: eight attempts within a minute, then a dead letter.
PROCESS_RETRY = RetryPolicy(first_delay=0.2, factor=2, max_delay=300, max_attempts=8)
# 5 s, 10 s ... 21 min 20 s: ten attempts over about 43 minutes, then a dead letter.
DELIVER_RETRY = RetryPolicy(first_delay=5.0, factor=2, max_delay=1800, max_attempts=10)
RETRY = {JobKind.PROCESS: PROCESS_RETRY, JobKind.DELIVER: DELIVER_RETRY}
MAX_ATTEMPTS = PROCESS_RETRY.max_attempts
# Jobs claimed at once: one transaction and one filesystem flush serve them all.
BATCH_SIZE = 32
IDLE_WAIT = 0.05  # seconds between empty claims, doubled up to MAX_IDLE_WAIT
MAX_IDLE_WAIT = 0.5
# Seconds before work stopped by a full disk is tried again (no attempt spent): space freed
# by an operator is used within this long.
DISK_FULL_WAIT = 5.0
# One per process, shared by its worker threads: a full disk is one state, logged once.
DISK_FULL = Episode(
    log,
    began="data dir full: decided files' acknowledgments wait for room (no attempt spent)",
    ended="data dir has room again: waiting work goes through",
)
# Seconds at most between tries while the database is away: its return is used within this.
OUTAGE_WAIT = 1.0
DATABASE_AWAY = Episode(
    log,
    began="database unavailable: workers wait, the jobs in hand go back untried",
    ended="database answers again: workers carry on",
)


class Worker:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        worker_id: str,
        clock: Clock,
        lease: timedelta,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.batch_size = batch_size
        self.pipeline = pipeline
        self.queue: JobQueue = pipeline.queue
        self.worker_id = worker_id
        self.clock = clock
        self.lease = lease
        # The ids of the jobs this worker is running now, for the heartbeat (another thread:
        # replaced whole, never changed in place).
        self.in_hand: frozenset[int] = frozenset()
        # Jobs may still be held in the database by this worker after an outage.
        self._stranded = False

    def run(self, stop: threading.Event) -> None:
        wait = IDLE_WAIT
        while not stop.is_set():
            try:
                if self._stranded:
                    self._give_back_stranded()
                worked = self.run_once()
            except TransientError as exc:
                if is_unavailable(exc):
                    self._stranded = True
                    DATABASE_AWAY.begin(error=str(exc)[:300])
                    stop.wait(wait)
                    wait = min(wait * 2, OUTAGE_WAIT)
                    continue
                if is_disk_full(exc):  # SQLite on the full disk: said once, not per claim
                    DISK_FULL.begin(error=_cause(exc))
                else:
                    log.warning("queue unavailable", error=str(exc), worker=self.worker_id)
                worked = False
            DATABASE_AWAY.end()
            if worked:
                wait = IDLE_WAIT
            else:
                stop.wait(wait)
                wait = min(wait * 2, MAX_IDLE_WAIT)
        try:
            self.queue.release_worker(self.worker_id)
        except TransientError as exc:  # Gateway.run tries again, else the lease runs out
            log.warning("jobs not handed back at stop", error=str(exc), worker=self.worker_id)

    def run_once(self) -> bool:
        """Claim and run one batch of jobs; False when the queue had nothing ready.

        Raises :class:`~gateway.exceptions.DatabaseUnavailable` when the database went away
        with the batch in hand (:meth:`run` gives the batch back once it answers).
        """
        jobs = self.queue.claim_batch(
            self.worker_id, now=self.clock(), lease=self.lease, limit=self.batch_size
        )
        if not jobs:
            return False
        self.in_hand = frozenset(job.id for job in jobs)
        try:
            for kind in JobKind:
                batch = [job for job in jobs if job.kind is kind]
                if batch:
                    self._run_batch(kind, batch)
        finally:
            # Done, handed back, or broken off: in any case no longer renewed.
            self.in_hand = frozenset()
        return True

    def _run_batch(self, kind: JobKind, batch: list[Job]) -> None:
        try:
            self._run(kind, [job.ref for job in batch])
        except Exception as exc:
            if is_unavailable(exc):  # no job is at fault, and none can be told apart now
                raise
            if is_disk_full(exc):  # no job is at fault: all of them wait for room
                self._wait_for_room(batch, exc)
                return
            # Find the job at fault: run each alone, so one bad job cannot hold back the rest.
            for job in batch:
                self._run_alone(job)

    def _give_back_stranded(self) -> None:
        """After an outage: whatever the database says this worker holds goes back untried."""
        given = self.queue.put_back_worker(
            self.worker_id, "database unavailable (handed back untried)", run_after=self.clock()
        )
        self._stranded = False
        if given:
            log.info("jobs handed back after a database outage", count=given, worker=self.worker_id)

    def _run(self, kind: JobKind, refs: list[int]) -> None:
        if kind is JobKind.PROCESS:
            self.pipeline.process_many(refs)
            # Decided and committed: these PROCESS jobs are done. Delivering at once saves
            # the DELIVER jobs' grace period; when it fails, those jobs (queued with the
            # decision) deliver later, and a decided file never goes round again for it.
            try:
                self.pipeline.deliver_many(refs)
            except Exception as exc:
                if is_unavailable(exc):
                    raise  # decided and done; the DELIVER jobs deliver once it is back
                if is_disk_full(exc):
                    DISK_FULL.begin(error=_cause(exc))
                    return
                if len(refs) == 1:
                    log.warning("delivery left to its delivery job", error=repr(exc))
                    return
                # One carrier's folder must not hold back the others' answers: each alone.
                for ref in refs:
                    self._deliver_alone(ref)
                return
        else:
            self.pipeline.deliver_many(refs)
        DISK_FULL.end()

    def _deliver_alone(self, ref: int) -> None:
        try:
            self.pipeline.deliver_many([ref])
        except Exception as exc:
            log.warning("delivery left to its delivery job", submission_id=ref, error=repr(exc))

    def _wait_for_room(self, batch: list[Job], exc: Exception) -> None:
        DISK_FULL.begin(error=_cause(exc))
        run_after = self.clock() + timedelta(seconds=DISK_FULL_WAIT)
        self.queue.put_back(batch, f"disk full: {_cause(exc)}", run_after=run_after)

    def _run_alone(self, job: Job) -> None:
        with structlog.contextvars.bound_contextvars(**job.log_context()):
            try:
                self._run(job.kind, [job.ref])
            except Exception as exc:
                self._failed(job, exc)

    def _failed(self, job: Job, exc: Exception) -> None:
        if is_unavailable(exc):
            raise exc  # not this job's fault: the whole batch goes back (run_once)
        if is_disk_full(exc):
            self._wait_for_room([job], exc)
            return
        now = self.clock()
        policy = RETRY[job.kind]
        if policy.exhausted(job.attempts):
            log.error("job failed for good (dead letter)", attempts=job.attempts, exc_info=exc)
            self.queue.fail(job, repr(exc), now=now)
            return
        delay = policy.delay(job.attempts)
        if isinstance(exc, TransientError):
            log.warning("job will be retried", error=str(exc), delay=delay.total_seconds())
        else:
            log.error("job crashed, will be retried", delay=delay.total_seconds(), exc_info=exc)
        self.queue.retry(job, repr(exc), run_after=now + delay)


def _cause(exc: BaseException) -> str:
    """The innermost error of a chain (the ENOSPC under a DiskFull), for one log line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc)[:300]


def retry_delay(attempts: int) -> timedelta:
    return PROCESS_RETRY.delay(attempts)


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
