"""Workers: claim jobs from the queue and run them through the pipeline.

Failures are sorted by the exception tree: a ``TransientError`` (or anything unexpected) is
retried with a growing delay; after ``MAX_ATTEMPTS`` the job is parked as ``failed`` for an
operator, and the worker carries on with the next one.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import structlog

from gateway.exceptions import TransientError
from gateway.pipeline import Clock, Pipeline
from gateway.storage.queue import Job, JobKind, JobQueue

log = structlog.get_logger("gateway.worker")

MAX_ATTEMPTS = 8
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
        if job.attempts >= MAX_ATTEMPTS:
            log.error("job failed for good", attempts=job.attempts, exc_info=exc)
            self.queue.fail(job, repr(exc), now=now)
            return
        delay = retry_delay(job.attempts)
        if isinstance(exc, TransientError):
            log.warning("job will be retried", error=str(exc), delay=delay.total_seconds())
        else:
            log.error("job crashed, will be retried", delay=delay.total_seconds(), exc_info=exc)
        self.queue.retry(job, repr(exc), run_after=now + delay)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(0.2 * 2 ** (attempts - 1), 300))


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
