"""Deliver: put the pending acks where their channels deliver them, flushed, then mark them.

The files are written and flushed before the transaction that marks them DELIVERED: a crash
in between delivers them again (the same names), never loses them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from gateway.channels.base import Channel
from gateway.services.plans import Clock
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.queue import JobQueue
from gateway.storage.raw_files import flush_filesystem

log = structlog.get_logger("gateway.pipeline")


class Deliver:
    """Acks out, by the channel each file came by (deliver_many)."""

    def __init__(
        self, *, db: Database, channels: Mapping[str, Channel], queue: JobQueue, clock: Clock
    ) -> None:
        self.db = db
        self.channels = channels
        self.queue = queue
        self.clock = clock

    def deliver_many(self, ids: Sequence[int]) -> list[Path]:
        """Put the submissions' pending acks where their channels deliver them."""
        with self.db.engine.connect() as conn:
            pending = store.pending_acks(conn, list(ids))
        delivered = [self.channels[ack.channel].deliver(ack) for ack in pending]
        flushed: set[int] = set()
        for path in delivered:
            device = path.parent.stat().st_dev
            if device not in flushed:
                flush_filesystem(path.parent)
                flushed.add(device)
        with self.db.transaction() as conn:
            now = self.clock()
            store.mark_delivered(
                conn, [(a.id, p) for a, p in zip(pending, delivered, strict=True)], now=now
            )
            # Not done while an ack written meanwhile waits (a head of office's decision).
            self.queue.complete_deliveries(conn, list(ids), now=now)
        files: dict[int, list[str]] = defaultdict(list)
        for ack, path in zip(pending, delivered, strict=True):
            files[ack.submission_id].append(path.name)
        for submission_id, names in files.items():
            log.info("delivered", submission_id=submission_id, files=names)
        return delivered
