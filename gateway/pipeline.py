"""The lifecycle every submission goes through, whatever its channel.

::

    channel ──bytes──▶ receive ──▶ [raw store, flushed] ──▶ [db: submission + PROCESS job]
                                                                   │ worker claims a batch
                                                                   ▼
            parse (pure) ──▶ rules (pure) ──▶ one transaction: nomor aju, duplicate check,
            registration number, document rows, receipt + response, DELIVER job
                                                                   │
                                                                   ▼
            channel.deliver(ack) ──▶ [out/ files, flushed] ──▶ [db: acks DELIVERED]

Each step is idempotent: a crash anywhere leaves a job that does the step again, and the
database decides (unique keys, a status guard) that it only takes effect once.

Work is done in batches (group commit): a batch's files are made durable by one filesystem
flush and its database rows by one transaction, so a batch of N costs about what one file
costs. A batch is all or nothing; when it meets a conflict (a twin document committed by
another worker) its submissions are retried one by one.

The steps are services (gateway/services/): intake, decide (with acknowledge in its
transaction) and deliver. The pipeline composes them and keeps the reference data they share.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from gateway.backpressure import Admission
from gateway.channels.base import Channel, Inbound, Received
from gateway.config import Settings
from gateway.reference import ReferenceData
from gateway.services.acknowledge import Acknowledge
from gateway.services.decide import Decide
from gateway.services.deliver import Deliver
from gateway.services.intake import Intake
from gateway.services.plans import Clock
from gateway.storage import reference_store
from gateway.storage.database import Database
from gateway.storage.disk import DataDirSpace
from gateway.storage.queue import JobQueue
from gateway.storage.raw_files import RawFileStore
from handlers import DEFAULT_RULES, Rule
from parsers.base import AckRenderer, Format, Parser
from parsers.edifact import EdifactParser
from parsers.edifact.acks import EdifactAckRenderer
from parsers.x12 import X12Parser
from parsers.x12.acks import X12AckRenderer
from parsers.xml import XmlParser
from parsers.xml.acks import XmlAckRenderer

__all__ = ["REFERENCE_TTL", "Clock", "Pipeline"]

# Reference data changed by another process (`partners add`) is seen within this long.
REFERENCE_TTL = 5.0


class Pipeline:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        clock: Clock,
        rules: tuple[Rule, ...] = DEFAULT_RULES,
        parsers: Mapping[Format, Parser] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.raw = RawFileStore(settings.raw_dir)
        self.queue = JobQueue(db)
        self.admission = Admission(
            self.queue.depth,
            limit=settings.max_queue_depth,
            space=DataDirSpace.for_settings(settings),
        )
        self._reference: tuple[float, ReferenceData] | None = None
        self._intake = Intake(
            db=db, raw=self.raw, queue=self.queue, admission=self.admission, clock=clock
        )
        self._acknowledge = Acknowledge(
            {
                Format.XML: XmlAckRenderer(),
                Format.X12: X12AckRenderer(),
                Format.EDIFACT: EdifactAckRenderer(),
            }
        )
        self._decide = Decide(
            db=db,
            settings=settings,
            raw=self.raw,
            queue=self.queue,
            clock=clock,
            channels=channels,
            rules=rules,
            parsers=parsers
            or {
                Format.XML: XmlParser(),
                Format.X12: X12Parser(zone_for_office=self._office_zone),
                Format.EDIFACT: EdifactParser(zone_for_office=self._office_zone),
            },
            reference=self.reference,
            acknowledge=self._acknowledge,
        )
        self._deliver = Deliver(db=db, channels=channels, queue=self.queue, clock=clock)

    # What callers (and tests) may swap after construction is the services' own.

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self._deliver.channels

    @channels.setter
    def channels(self, channels: Mapping[str, Channel]) -> None:
        self._decide.channels = self._deliver.channels = channels

    @property
    def parsers(self) -> Mapping[Format, Parser]:
        return self._decide.parsers

    @parsers.setter
    def parsers(self, parsers: Mapping[Format, Parser]) -> None:
        self._decide.parsers = parsers

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._decide.rules

    @rules.setter
    def rules(self, rules: tuple[Rule, ...]) -> None:
        self._decide.rules = rules

    @property
    def ack_renderers(self) -> Mapping[Format, AckRenderer]:
        return self._acknowledge.renderers

    @ack_renderers.setter
    def ack_renderers(self, renderers: Mapping[Format, AckRenderer]) -> None:
        self._acknowledge.renderers = renderers

    # -- reference data --------------------------------------------------------------------

    def reference(self) -> ReferenceData:
        cached = self._reference
        if cached is not None and time.monotonic() - cached[0] < REFERENCE_TTL:
            return cached[1]
        with self.db.engine.connect() as conn:
            data = reference_store.load(conn)
        self._reference = (time.monotonic(), data)
        return data

    def _office_zone(self, office_code: str) -> ZoneInfo | None:
        office = self.reference().offices.get(office_code)
        return office.zone if office else None

    # -- the lifecycle ---------------------------------------------------------------------

    def receive(self, inbound: Inbound, stream: BinaryIO) -> Received:
        return self.receive_many([(inbound, stream)])[0]

    def receive_many(self, items: Sequence[tuple[Inbound, BinaryIO]]) -> list[Received]:
        """Keep the bytes durably, then record the submissions and their PROCESS jobs.

        Raises :class:`~gateway.exceptions.Overloaded` (nothing stored) while the queue is
        over ``max_queue_depth``.
        """
        return self._intake.receive_many(items)

    def process(self, submission_id: int) -> None:
        self.process_many([submission_id])

    def process_many(self, ids: Sequence[int], *, settled: bool = False) -> None:
        """Parse, validate, number or refuse every document of these submissions, once."""
        self._decide.process_many(ids, settled=settled)

    def deliver(self, submission_id: int) -> list[Path]:
        return self.deliver_many([submission_id])

    def deliver_many(self, ids: Sequence[int]) -> list[Path]:
        """Put the submissions' pending acks where their channels deliver them."""
        return self._deliver.deliver_many(ids)
