"""Decide: parse, apply the rules, then in one transaction find duplicates, number, store
and acknowledge every document of a batch of submissions, once.

Parsing and the rules run outside the transaction (they read the register through their own
connections, gateway/services/lookups.py); the transaction holds only what must be atomic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway import unreadable
from gateway.channels.base import Channel
from gateway.config import Settings
from gateway.exceptions import DocumentError
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding
from gateway.model.digest import content_digest
from gateway.reference import ReferenceData
from gateway.services import documents, numbers
from gateway.services.acknowledge import Acknowledge
from gateway.services.lookups import Bc10Lookup, Bc11Lookup, CallLookup
from gateway.services.plans import Clock, Decided, Decision, Plan
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.queue import JobKind, JobQueue
from gateway.storage.raw_files import RawFileStore
from handlers import Rule, RuleContext, evaluate
from parsers import detect_format
from parsers.base import Format, ParsedDocument, Parser, ParseResult

log = structlog.get_logger("gateway.pipeline")
# How long the safety-net DELIVER job waits for the worker's own delivery.
DELIVERY_GRACE = timedelta(seconds=5)


class Decide:
    """Every document of a submission decided once: accepted and numbered, or refused."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        raw: RawFileStore,
        queue: JobQueue,
        clock: Clock,
        channels: Mapping[str, Channel],
        rules: tuple[Rule, ...],
        parsers: Mapping[Format, Parser],
        reference: Callable[[], ReferenceData],
        acknowledge: Acknowledge,
    ) -> None:
        self.db = db
        self.settings = settings
        self.raw = raw
        self.queue = queue
        self.clock = clock
        self.channels = channels
        self.rules = rules
        self.parsers = parsers
        self.reference = reference
        self.acknowledge = acknowledge

    def process_many(self, ids: Sequence[int], *, settled: bool = False) -> None:
        """Parse, validate, number or refuse every document of these submissions, once.

        ``settled``: decided once already, and a unique key refused it (see below).
        """
        with self.db.engine.connect() as conn:
            found = store.get_submissions(conn, list(ids))
        missing = set(ids) - {s.id for s in found}
        if missing:
            raise LookupError(f"submissions {sorted(missing)} do not exist")
        todo = [s for s in found if s.status == store.RECEIVED]
        if len(todo) < len(found):
            with self.db.transaction() as conn:
                done = [s.id for s in found if s.status != store.RECEIVED]
                self.queue.complete_many(conn, JobKind.PROCESS, done, now=self.clock())
        if not todo:
            return
        reference = self.reference()
        decided = [(s, *self._decide_or_refuse(s, reference)) for s in todo]
        try:
            with self.db.transaction() as conn:
                plans = self._commit(conn, reference, decided)
        except Exception as exc:
            if unreadable.is_environmental(exc):
                raise
            if len(todo) > 1:  # find the file at fault: each alone
                for submission in todo:
                    self.process_many([submission.id])
                return
            if isinstance(exc, IntegrityError) and not settled:
                # A twin committed first (same content or reference, concurrently): its keys
                # are visible now (a unique key fails only on a committed row), so deciding
                # again refuses this file as its duplicate.
                self.process_many(ids, settled=True)
                return
            # The file's documents broke the transaction (a value the database refuses, a
            # defect in numbering or storing them; a unique key again, with the twin long
            # committed, is such a defect, not a race): it is refused whole, and replayable.
            submission, fmt = decided[0][0], decided[0][1]
            refusal = unreadable.refusal(submission.id, exc, stage="commit")
            unread = self._unreadable(submission, reference, (refusal,))
            fallback: list[Decided] = [(submission, fmt, None, [unread])]
            with self.db.transaction() as conn:
                plans = self._commit(conn, reference, fallback)
        for plan in plans:
            log.info(
                "decided",
                submission_id=plan.submission.id,
                nomor_aju=plan.nomor_aju,
                status=str(plan.status),
                document_type=str(plan.decision.document_type),
                registration=plan.registration.number if plan.registration else None,
                errors=[f.code for f in plan.findings if f.is_error],
            )

    def _decide_or_refuse(
        self, submission: store.Submission, reference: ReferenceData
    ) -> tuple[Format, ParseResult | None, list[Decision]]:
        """:meth:`_decide`, with a defect the file trips refused as FILE-007 (not retried)."""
        try:
            return self._decide(submission, reference)
        except Exception as exc:
            if unreadable.is_environmental(exc):
                raise
            refusal = unreadable.refusal(submission.id, exc, stage="read")
        fmt = detect_format(self.raw.read(submission.raw_path))
        return fmt, None, [self._unreadable(submission, reference, (refusal,))]

    def _decide(
        self, submission: store.Submission, reference: ReferenceData
    ) -> tuple[Format, ParseResult | None, list[Decision]]:
        limit = self.settings.max_file_bytes
        if submission.size > limit:
            refusal = finding("FILE-002", size=submission.size, limit=limit)
            return Format.UNKNOWN, None, [self._unreadable(submission, reference, (refusal,))]
        data = self.raw.read(submission.raw_path)
        fmt = detect_format(data)
        parser = self.parsers.get(fmt)
        try:
            if fmt is Format.UNKNOWN:
                code = "FILE-001" if not data.strip() else "FILE-004"
                raise DocumentError([finding(code)])
            if parser is None:
                raise DocumentError([finding("FILE-005", format=fmt.value)])
            result = parser.parse(data, max_bytes=limit)
        except DocumentError as exc:
            return fmt, None, [self._unreadable(submission, reference, exc.findings)]
        decisions = [
            self._check_envelope_sender(
                self._evaluate(i, item, submission, reference), item, submission, reference, fmt
            )
            for i, item in enumerate(result.documents)
        ]
        if not decisions:  # e.g. an X12 interchange with no transaction set
            decisions = [self._unreadable(submission, reference, (finding("FILE-006"),))]
        return fmt, result, decisions

    @staticmethod
    def _unreadable(
        submission: store.Submission, reference: ReferenceData, findings: tuple[Finding, ...]
    ) -> Decision:
        office = reference.default_office_for(submission.sender)
        return Decision(
            index=0,
            document=None,
            document_type=DocumentType.UNKNOWN,
            office_code=office.code if office else None,
            sender_reference=None,
            findings=findings,
            flags=(),
        )

    def _evaluate(
        self,
        index: int,
        parsed: ParsedDocument,
        submission: store.Submission,
        reference: ReferenceData,
    ) -> Decision:
        document = parsed.document
        if document is None:
            return Decision(
                index=index,
                document=None,
                document_type=parsed.document_type or DocumentType.UNKNOWN,
                office_code=parsed.office_code,
                sender_reference=None,
                findings=parsed.findings,
                flags=(),
                control_key=parsed.control_key,
            )
        context = RuleContext(
            reference=reference,
            now=submission.received_at,
            sender=submission.sender,
            channel_family=self.channels[submission.channel].family,
            bc11=Bc11Lookup(self.db),
            bc10=Bc10Lookup(self.db),
            counter_office=submission.counter_office,
            calls=CallLookup(self.db),
        )
        result = evaluate(document, context, self.rules)
        return Decision(
            index=index,
            document=document,
            document_type=document.document_type,
            office_code=document.header.office_code,
            sender_reference=document.header.sender_reference,
            findings=parsed.findings + result.findings,
            flags=result.flags,
            control_key=parsed.control_key,
            content_key=f"doc:{content_digest(_content(document))}",
        )

    @staticmethod
    def _check_envelope_sender(
        decision: Decision,
        parsed: ParsedDocument,
        submission: store.Submission,
        reference: ReferenceData,
        fmt: Format,
    ) -> Decision:
        """The envelope must name the carrier the channel says sent the file."""
        carrier = reference.carriers.get(submission.sender)
        expected = dict(carrier.senders).get(fmt.value.lower()) if carrier else None
        if parsed.envelope_sender is None or expected is None:
            return decision
        if parsed.envelope_sender == expected:
            return decision
        refusal = finding(
            "SND-003", format=fmt.value, sender_id=parsed.envelope_sender, sender=submission.sender
        )
        return dataclasses.replace(decision, findings=(*decision.findings, refusal))

    def _commit(
        self,
        conn: Connection,
        reference: ReferenceData,
        decided: list[tuple[store.Submission, Format, ParseResult | None, list[Decision]]],
    ) -> list[Plan]:
        now = self.clock()
        ids = [submission.id for submission, _, _, _ in decided]
        owned = store.claim_for_processing(conn, ids, now=now)
        self.queue.complete_many(conn, JobKind.PROCESS, ids, now=now)
        plans = [
            numbers.plan_of(submission, fmt, decision, reference)
            for submission, fmt, _, decisions in decided
            if submission.id in owned
            for decision in decisions
        ]
        results = {submission.id: result for submission, _, result, _ in decided}
        numbers.find_duplicates(conn, plans, reference)
        numbers.number(conn, plans, reference, now)
        documents.record(conn, plans, now)
        self.acknowledge.acknowledge(conn, plans, results, now)
        first_aju: dict[int, tuple[str, str]] = {}
        for plan in plans:
            first_aju.setdefault(plan.submission.id, (plan.fmt.value, plan.nomor_aju))
        store.set_outcome_fields(
            conn, [{"sid": sid, "fmt": f, "aju": a} for sid, (f, a) in first_aju.items()]
        )
        # The worker delivers right after this commit; the DELIVER job is the safety net for
        # a crash in between, so it falls due only after that delivery should be done.
        self.queue.enqueue_many(
            conn, JobKind.DELIVER, sorted(owned), now=now, run_after=now + DELIVERY_GRACE
        )
        return plans


def _content(document: Document) -> Document:
    """The document as the duplicate check compares it: without the sender's own nomor aju
    (a document sent again under a new submission number is the same document; a nomor aju
    used twice has a key of its own, DUP-002)."""
    return dataclasses.replace(
        document, header=dataclasses.replace(document.header, sender_reference=None)
    )
