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
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gateway.exceptions import TransientError
from gateway.model.common import RECORD
from gateway.pipeline import Clock, Pipeline
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

    def run(self, stop: threading.Event) -> None:
        wait = IDLE_WAIT
        while not stop.is_set():
            try:
                worked = self.run_once()
            except TransientError as exc:
                log.warning("queue unavailable", error=str(exc), worker=self.worker_id)
                worked = False
            if worked:
                wait = IDLE_WAIT
            else:
                stop.wait(wait)
                wait = min(wait * 2, MAX_IDLE_WAIT)
        self.queue.release_worker(self.worker_id)

    def run_once(self) -> bool:
        """Claim and run one batch of jobs; False when the queue had nothing ready."""
        jobs = self.queue.claim_batch(
            self.worker_id, now=self.clock(), lease=self.lease, limit=self.batch_size
        )
        if not jobs:
            return False
        for kind in JobKind:
            batch = [job for job in jobs if job.kind is kind]
            if not batch:
                continue
            try:
                self._run(kind, [job.ref for job in batch])
            except Exception:
                # Find the job at fault: run each alone, so one bad job cannot hold back the rest.
                for job in batch:
                    self._run_alone(job)
        return True

    def _run(self, kind: JobKind, refs: list[int]) -> None:
        if kind is JobKind.PROCESS:
            self.pipeline.process_many(refs)
            # Deliver at once; the DELIVER jobs stay as the safety net if we die first.
            self.pipeline.deliver_many(refs)
        else:
            self.pipeline.deliver_many(refs)

    def _run_alone(self, job: Job) -> None:
        with structlog.contextvars.bound_contextvars(**job.log_context()):
            try:
                self._run(job.kind, [job.ref])
            except Exception as exc:
                self._failed(job, exc)

    def _failed(self, job: Job, exc: Exception) -> None:
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


def retry_delay(attempts: int) -> timedelta:
    return PROCESS_RETRY.delay(attempts)


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
