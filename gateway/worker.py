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
IDLE_WAIT = 0.05  # seconds between empty claims, doubled up to MAX_IDLE_WAIT
MAX_IDLE_WAIT = 0.5


class Worker:
    def __init__(
        self, *, pipeline: Pipeline, worker_id: str, clock: Clock, lease: timedelta
    ) -> None:
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
        """Claim and run one job; False when the queue had nothing ready."""
        job = self.queue.claim(self.worker_id, now=self.clock(), lease=self.lease)
        if job is None:
            return False
        with structlog.contextvars.bound_contextvars(**job.log_context()):
            try:
                self._run(job)
            except Exception as exc:
                self._failed(job, exc)
        return True

    def _run(self, job: Job) -> None:
        if job.kind is JobKind.PROCESS:
            self.pipeline.process(job.ref)
            # Deliver at once; the DELIVER job stays as the safety net if we die first.
            self.pipeline.deliver(job.ref)
        else:
            self.pipeline.deliver(job.ref)

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
