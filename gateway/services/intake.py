"""Intake: keep the bytes durably, then record the submissions and their PROCESS jobs.

One transaction per batch of files, after one filesystem flush of their raw copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import structlog

from gateway.backpressure import Admission
from gateway.channels.base import Inbound, Received
from gateway.services.plans import Clock
from gateway.storage import audit
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.queue import JobKind, JobQueue
from gateway.storage.raw_files import RawFileStore

log = structlog.get_logger("gateway.pipeline")


class Intake:
    """Files in: durable before the sender is told "received" (receive_many)."""

    def __init__(
        self,
        *,
        db: Database,
        raw: RawFileStore,
        queue: JobQueue,
        admission: Admission,
        clock: Clock,
    ) -> None:
        self.db = db
        self.raw = raw
        self.queue = queue
        self.admission = admission
        self.clock = clock

    def receive_many(self, items: Sequence[tuple[Inbound, BinaryIO]]) -> list[Received]:
        """Keep the bytes durably, then record the submissions and their PROCESS jobs.

        Raises :class:`~gateway.exceptions.Overloaded` (nothing stored) while the queue is
        over ``max_queue_depth``.
        """
        self.admission.check()
        stored = self.raw.put_many([stream for _, stream in items])
        now = self.clock()
        with self.db.transaction() as conn:
            recorded = store.insert_submissions(
                conn,
                [
                    store.NewSubmission(
                        channel=inbound.channel,
                        sender=inbound.sender,
                        source_name=inbound.source_name,
                        intake_key=inbound.intake_key,
                        stored=raw,
                        counter_office=inbound.counter_office,
                    )
                    for (inbound, _), raw in zip(items, stored, strict=True)
                ],
                received_at=now,
            )
            results = [Received(submission_id=i, created=c) for i, c in recorded]
            new = [r.submission_id for r in results if r.created]
            self.queue.enqueue_many(conn, JobKind.PROCESS, new, now=now)
            audit.record_many(
                conn,
                [
                    audit.entry(
                        at=now,
                        actor=f"channel:{inbound.channel}",
                        action="received",
                        submission_id=result.submission_id,
                        to_status=store.RECEIVED,
                        detail={
                            "source_name": inbound.source_name,
                            "sha256": raw.sha256,
                            "size": raw.size,
                            "sender": inbound.sender,
                        },
                    )
                    for (inbound, _), raw, result in zip(items, stored, results, strict=True)
                    if result.created
                ],
            )
        for (inbound, _), raw, result in zip(items, stored, results, strict=True):
            log.info(
                "received",
                submission_id=result.submission_id,
                created=result.created,
                sender=inbound.sender,
                channel=inbound.channel,
                source_name=inbound.source_name,
                size=raw.size,
            )
        return results
