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
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway import pos_ledger, unreadable
from gateway.backpressure import Admission
from gateway.call_keys import CallKey, RegisteredCall, keys_of
from gateway.channels.base import Channel, Inbound, Received, ack_file_name
from gateway.config import Settings
from gateway.exceptions import DocumentError
from gateway.messages import finding
from gateway.model import (
    Amendment,
    Document,
    DocumentType,
    Finding,
    Flag,
    Jksp,
    Manifest,
    PosClosing,
    RegistrationKind,
    RegistrationRef,
    Rksp,
)
from gateway.model.digest import content_digest
from gateway.model.outcome import DocumentStatus, Outcome
from gateway.numbering import aju_prefix, check_supplied, format_nomor_aju
from gateway.reference import ReferenceData
from gateway.services.lookups import Bc10Lookup, Bc11Lookup, CallLookup
from gateway.services.serialise import finding_json, flag_json, summarize
from gateway.storage import audit, call_register, counters, reference_store
from gateway.storage import call_facts as facts_store
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.disk import DataDirSpace
from gateway.storage.queue import JobKind, JobQueue
from gateway.storage.raw_files import RawFileStore, flush_filesystem
from gateway.storage.tables import (
    acks,
    dedup_keys,
    registrations,
)
from handlers import DEFAULT_RULES, Rule, RuleContext, evaluate
from handlers.calls import reported
from handlers.register import call_taken
from handlers.registration import accepted_status, registration_kind
from parsers import detect_format
from parsers.base import (
    AckFile,
    AckRenderer,
    ControlNumbers,
    Format,
    ParsedDocument,
    Parser,
    ParseResult,
)
from parsers.edifact import EdifactParser
from parsers.edifact.acks import EdifactAckRenderer
from parsers.x12 import X12Parser
from parsers.x12.acks import X12AckRenderer
from parsers.xml import XmlParser
from parsers.xml.acks import XmlAckRenderer

log = structlog.get_logger("gateway.pipeline")

Clock = Callable[[], datetime]
# Numbering a file whose office is unknown still needs a calendar day; WIB is the capital's.
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")
# How long the safety-net DELIVER job waits for the worker's own delivery.
DELIVERY_GRACE = timedelta(seconds=5)
# Reference data changed by another process (`partners add`) is seen within this long.
REFERENCE_TTL = 5.0


@dataclass(frozen=True, kw_only=True, slots=True)
class _Decision:
    """One document's fate as far as it can be decided outside the transaction."""

    index: int
    document: Document | None
    document_type: DocumentType
    office_code: str | None
    sender_reference: str | None
    findings: tuple[Finding, ...]
    flags: tuple[Flag, ...]
    control_key: str | None = None
    # doc:<digest of what the document says> (gateway/model/digest.py): computed here, outside
    # the processing transaction, as it walks the whole record (0.3 s for 10,000 pos).
    content_key: str | None = None


# A submission as decided outside the transaction: its format, what was read, its documents.
_Decided = tuple[store.Submission, Format, ParseResult | None, list[_Decision]]


@dataclass(kw_only=True, slots=True)
class _Plan:
    """A document on its way through the processing transaction (mutable while deciding)."""

    submission: store.Submission
    fmt: Format
    decision: _Decision
    findings: list[Finding]
    keys: list[str]  # dedup keys it holds once accepted: doc:<content digest>, aju:<nomor aju>
    legacy_keys: list[str] = dataclasses.field(default_factory=list)  # looked up, not held
    call_keys: tuple[CallKey, ...] = ()  # held once registered (gateway/call_keys.py)
    call_taken: RegisteredCall | _Plan | None = None  # the call's number: registered, or
    # an earlier plan of this batch (holding key call_key)
    call_key: str = ""
    supplied_ok: bool = False
    stores_control_key: bool = False  # the first document of its envelope records the key
    status: DocumentStatus = DocumentStatus.REFUSED
    duplicate_of: _Plan | str | None = None  # an earlier plan in this batch, or a nomor aju
    duplicate_key: str = ""
    nomor_aju: str = ""
    registration: RegistrationRef | None = None
    document_id: int = 0
    kind: RegistrationKind | None = None

    @property
    def refused(self) -> bool:
        return self.call_taken is not None or any(f.is_error for f in self.findings)


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
        self.channels = channels
        self.clock = clock
        self.rules = rules
        self.parsers: Mapping[Format, Parser] = parsers or {
            Format.XML: XmlParser(),
            Format.X12: X12Parser(zone_for_office=self._office_zone),
            Format.EDIFACT: EdifactParser(zone_for_office=self._office_zone),
        }
        self.ack_renderers: Mapping[Format, AckRenderer] = {
            Format.XML: XmlAckRenderer(),
            Format.X12: X12AckRenderer(),
            Format.EDIFACT: EdifactAckRenderer(),
        }
        self.raw = RawFileStore(settings.raw_dir)
        self.queue = JobQueue(db)
        self.admission = Admission(
            self.queue.depth,
            limit=settings.max_queue_depth,
            space=DataDirSpace.for_settings(settings),
        )
        self._reference: tuple[float, ReferenceData] | None = None

    # -- receive -------------------------------------------------------------------------

    def receive(self, inbound: Inbound, stream: BinaryIO) -> Received:
        return self.receive_many([(inbound, stream)])[0]

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

    # -- process -------------------------------------------------------------------------

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

    def process(self, submission_id: int) -> None:
        self.process_many([submission_id])

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
            fallback: list[_Decided] = [(submission, fmt, None, [unread])]
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
    ) -> tuple[Format, ParseResult | None, list[_Decision]]:
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
    ) -> tuple[Format, ParseResult | None, list[_Decision]]:
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
    ) -> _Decision:
        office = reference.default_office_for(submission.sender)
        return _Decision(
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
    ) -> _Decision:
        document = parsed.document
        if document is None:
            return _Decision(
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
        return _Decision(
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
        decision: _Decision,
        parsed: ParsedDocument,
        submission: store.Submission,
        reference: ReferenceData,
        fmt: Format,
    ) -> _Decision:
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
        decided: list[tuple[store.Submission, Format, ParseResult | None, list[_Decision]]],
    ) -> list[_Plan]:
        now = self.clock()
        ids = [submission.id for submission, _, _, _ in decided]
        owned = store.claim_for_processing(conn, ids, now=now)
        self.queue.complete_many(conn, JobKind.PROCESS, ids, now=now)
        plans = [
            self._plan(submission, fmt, decision, reference)
            for submission, fmt, _, decisions in decided
            if submission.id in owned
            for decision in decisions
        ]
        results = {submission.id: result for submission, _, result, _ in decided}
        self._find_duplicates(conn, plans, reference)
        self._number(conn, plans, reference, now)
        self._store(conn, plans, now)
        self._acknowledge(conn, plans, results, now)
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

    @staticmethod
    def _plan(
        submission: store.Submission,
        fmt: Format,
        decision: _Decision,
        reference: ReferenceData,
    ) -> _Plan:
        document = decision.document
        file_key = f"sha:{submission.sha256}:{decision.index}"
        plan = _Plan(
            submission=submission,
            fmt=fmt,
            decision=decision,
            findings=list(decision.findings),
            # What the document means, not how its file spells it (gateway/model/digest.py);
            # the file's bytes are still looked up for documents accepted before schema 0008.
            keys=[decision.content_key] if decision.content_key else [file_key],
            legacy_keys=[file_key] if decision.content_key else [],
        )
        office = reference.offices.get(decision.office_code or "")
        if document is not None and office is not None and registration_kind(document):
            plan.call_keys = keys_of(document, office.zone)
        supplied = decision.sender_reference
        if supplied:
            carrier = reference.carriers.get(submission.sender)
            problem = check_supplied(supplied, aju_code=carrier.aju_code if carrier else "")
            if problem:
                plan.findings.append(finding("AJU-001", nomor_aju=supplied, detail=problem))
            else:
                plan.supplied_ok = True
                plan.keys.append(f"aju:{supplied}")
        return plan

    @staticmethod
    def _find_duplicates(conn: Connection, plans: list[_Plan], reference: ReferenceData) -> None:
        """Same sender, same content or same nomor aju as an accepted document: refused.
        A call that has its BC 1.0 (a call and direction that has its BC 1.1) already,
        whoever sent it: refused.

        An envelope control number used before (X12 ISA13) refuses every document of the
        envelope, whatever their content, and nothing in it is numbered again.

        Each check reads the keys committed before this transaction and those of the batch's
        earlier documents; a twin another worker commits meanwhile makes this transaction
        fail on the keys' primary keys, and its retry finds the twin here.
        """
        controlled = [p for p in plans if p.decision.control_key]
        used = store.find_duplicates(
            conn, [(p.submission.sender, p.decision.control_key or "") for p in controlled]
        )
        first_of: dict[tuple[str, str], _Plan] = {}
        reused_envelope: set[int] = set()
        for plan in controlled:
            pair = (plan.submission.sender, plan.decision.control_key or "")
            owner = first_of.setdefault(pair, plan)
            reused = pair in used or owner.submission.id != plan.submission.id
            if reused:
                control = pair[1].rsplit(":", 1)[-1]
                plan.findings.append(finding("DUP-003", control=control))
                reused_envelope.add(id(plan))
            elif owner is plan:
                plan.stores_control_key = True
        # A document refused by a rule is still told it is a duplicate (a resent RKSP is told
        # its call has its BC 1.0, and that it was received before); a reused envelope is
        # refused as such only.
        candidates = [
            p
            for p in plans
            if p.decision.document is not None
            and p.submission.sender in reference.carriers
            and id(p) not in reused_envelope
        ]
        taken = store.find_duplicates(
            conn,
            [(p.submission.sender, k) for p in candidates for k in (*p.keys, *p.legacy_keys)],
        )
        in_batch: dict[tuple[str, str], _Plan] = {}
        for plan in candidates:
            for key in (*plan.keys, *plan.legacy_keys):
                pair = (plan.submission.sender, key)
                earlier: _Plan | str | None = taken.get(pair) or in_batch.get(pair)
                if earlier is not None:
                    plan.duplicate_of, plan.duplicate_key = earlier, key
                    break
            if plan.duplicate_of is None and not plan.refused:
                for key in plan.keys:
                    in_batch[(plan.submission.sender, key)] = plan

        # A supplied nomor aju shares its namespace with the ones the gateway generated for
        # the same sender code: one the gateway gave out already is a duplicate too.
        supplied = [p for p in candidates if p.supplied_ok and p.duplicate_of is None]
        given = store.nomor_aju_taken(conn, [p.decision.sender_reference or "" for p in supplied])
        for plan in supplied:
            aju = plan.decision.sender_reference or ""
            if aju in given:
                plan.duplicate_of, plan.duplicate_key = aju, f"aju:{aju}"

        # One number per call, whoever sends it (gateway/call_keys.py).
        keyed = [p for p in plans if p.call_keys and not p.refused]
        registered = call_register.find(conn, [str(k) for p in keyed for k in p.call_keys])
        calls: dict[str, _Plan] = {}
        for plan in keyed:
            for call in plan.call_keys:
                holder = registered.get(str(call)) or calls.get(str(call))
                if holder is not None:
                    plan.call_taken, plan.call_key = holder, str(call)
                    break
            if plan.call_taken is None and plan.duplicate_of is None:
                calls.update((str(call), plan) for call in plan.call_keys)

    def _number(
        self, conn: Connection, plans: list[_Plan], reference: ReferenceData, now: datetime
    ) -> None:
        """Nomor aju for every document, then registration numbers for accepted ones.

        Each sequence is bumped once per batch by the number of values it needs, so the
        counters' rows are locked once and the values follow the documents' order.
        """
        carriers = reference.carriers
        generated: dict[str, list[_Plan]] = defaultdict(list)
        for plan in plans:
            if plan.supplied_ok and plan.duplicate_of is None and not plan.refused:
                plan.nomor_aju = plan.decision.sender_reference or ""
                continue
            office = reference.offices.get(plan.decision.office_code or "")
            day = plan.submission.received_at.astimezone(office.zone if office else DEFAULT_ZONE)
            carrier = carriers.get(plan.submission.sender)
            prefix = aju_prefix(
                plan.decision.office_code,
                plan.decision.document_type,
                carrier.aju_code if carrier else "XXXXXX",
                day.date(),
            )
            generated[prefix].append(plan)
        # Senders may supply numbers of this namespace: the sequence skips the ones in use
        # (by an earlier document, or supplied by another document of this batch).
        supplied = {p.nomor_aju for p in plans if p.nomor_aju}
        for prefix, group in generated.items():
            waiting = list(group)
            while waiting:
                first = counters.allocate(conn, f"aju:{prefix}", len(waiting))
                offered = [format_nomor_aju(prefix, first + n) for n in range(len(waiting))]
                used = supplied | store.nomor_aju_taken(conn, offered)
                free = [aju for aju in offered if aju not in used]
                for plan, aju in zip(waiting, free, strict=False):
                    plan.nomor_aju = aju
                waiting = waiting[len(free) :]

        sequences: dict[tuple[str, str, int], list[_Plan]] = defaultdict(list)
        for plan in plans:
            if plan.duplicate_of is not None:
                earlier = plan.duplicate_of
                if plan.duplicate_key.startswith("aju:"):
                    plan.findings.append(
                        finding("DUP-002", nomor_aju=plan.decision.sender_reference)
                    )
                else:
                    aju = earlier.nomor_aju if isinstance(earlier, _Plan) else earlier
                    plan.findings.append(finding("DUP-001", nomor_aju=aju))
            document = plan.decision.document
            if plan.refused or document is None:
                plan.status = DocumentStatus.REFUSED
                continue
            plan.status = accepted_status(document)
            kind = registration_kind(document)
            office = reference.offices.get(plan.decision.office_code or "")
            if kind is not None and office is not None:
                year = now.astimezone(office.zone).year
                sequences[(office.code, str(kind), year)].append(plan)
                plan.kind = kind
        for (office_code, kind_name, year), group in sequences.items():
            kind = RegistrationKind(kind_name)
            sequence = counters.registration_sequence(office_code, kind_name, year)
            first = counters.allocate(conn, sequence, len(group))
            zone = reference.offices[office_code].zone
            for offset, plan in enumerate(group):
                plan.registration = RegistrationRef(
                    kind=kind,
                    office_code=office_code,
                    number=f"{first + offset:06d}",
                    date=now.astimezone(zone).date(),
                )
        # Refusals naming the number of the call: known now for an earlier plan of the batch.
        for plan in plans:
            holder, document = plan.call_taken, plan.decision.document
            if holder is None or document is None:
                continue
            if isinstance(holder, _Plan):
                if holder.registration is None:  # it held the call's keys: it was numbered
                    raise RuntimeError(f"{holder.nomor_aju} holds a call but has no number")
                holder = RegisteredCall(
                    key=plan.call_key,
                    registration=holder.registration,
                    document_type=holder.decision.document_type,
                )
            refusal = call_taken(document, plan.call_keys, holder)
            at = next((i for i, f in enumerate(plan.findings) if f.code.startswith("DUP-")), None)
            plan.findings.insert(len(plan.findings) if at is None else at, refusal)

    def _store(self, conn: Connection, plans: list[_Plan], now: datetime) -> None:
        ids = store.insert_documents(
            conn,
            [
                {
                    "submission_id": p.submission.id,
                    "doc_index": p.decision.index,
                    "nomor_aju": p.nomor_aju,
                    "sender": p.submission.sender,
                    "office_code": p.decision.office_code,
                    "document_type": str(p.decision.document_type),
                    "status": str(p.status),
                    "sender_reference": p.decision.sender_reference,
                    "flags": [flag_json(f) for f in self._flags(p)],
                    "findings": [finding_json(f) for f in p.findings],
                    "summary": summarize(p.decision.document),
                    "decided_at": now,
                }
                for p in plans
            ],
        )
        dedup, regs, trail = [], [], []
        held_calls: list[tuple[str, int]] = []
        ledger: list[pos_ledger.Accepted] = []
        for plan, document_id in zip(plans, ids, strict=True):
            plan.document_id = document_id
            submission = plan.submission
            if plan.status is not DocumentStatus.REFUSED:
                dedup += [
                    {"sender": submission.sender, "key": k, "document_id": document_id}
                    for k in plan.keys
                ]
            if plan.stores_control_key:  # spent once received, whatever became of it
                dedup.append(
                    {
                        "sender": submission.sender,
                        "key": plan.decision.control_key,
                        "document_id": document_id,
                    }
                )
            if plan.registration is not None:
                held_calls += [(str(call), document_id) for call in plan.call_keys]
                ref = plan.registration
                regs.append(
                    {
                        "document_id": document_id,
                        "kind": str(ref.kind),
                        "office_code": ref.office_code,
                        "year": ref.date.year,
                        "number": ref.number,
                        "registration_date": ref.date,
                        "registered_at": now,
                    }
                )
            document = plan.decision.document
            if plan.status is not DocumentStatus.REFUSED and (
                isinstance(document, Amendment | PosClosing)
                or (isinstance(document, Manifest) and plan.registration is not None)
            ):
                ledger.append(
                    pos_ledger.Accepted(
                        document_id=document_id, submission_id=submission.id, document=document
                    )
                )
            trail.append(
                audit.entry(
                    at=now,
                    actor="pipeline",
                    action="decided",
                    submission_id=submission.id,
                    document_id=document_id,
                    from_status=store.RECEIVED,
                    to_status=str(plan.status),
                    detail={
                        "nomor_aju": plan.nomor_aju,
                        "registration": plan.registration.number if plan.registration else None,
                        "errors": [f.code for f in plan.findings if f.is_error],
                    },
                )
            )
        store.insert_rows(conn, dedup_keys, dedup)
        store.insert_rows(conn, registrations, regs)
        call_register.insert(conn, held_calls)
        audit.record_many(conn, trail)
        # After the registrations: an amendment or closing may name a BC 1.1 of this batch.
        pos_ledger.record_accepted(conn, ledger, now=now)
        self._record_reported_facts(conn, plans, now)

    @staticmethod
    def _record_reported_facts(conn: Connection, plans: list[_Plan], now: datetime) -> None:
        """Actual arrivals and departures an accepted RKSP/JKSP reports become facts of the
        call: of the BC 1.0 it changes (the arrival report), or of its own registration."""
        for plan in plans:
            document = plan.decision.document
            if plan.status is DocumentStatus.REFUSED or not isinstance(document, Rksp | Jksp):
                continue
            facts = reported(document)
            ref = document.amends or plan.registration
            if not facts or ref is None:
                continue
            call = facts_store.find_bc10(conn, ref.office_code, ref.number, ref.date)
            if call is None:
                continue
            for fact in facts:
                events = (
                    (facts_store.CallEvent.ARRIVAL, fact.arrival),
                    (facts_store.CallEvent.DEPARTURE, fact.departure),
                )
                for event, at in events:
                    if at is None:
                        continue
                    try:
                        facts_store.record(
                            conn,
                            call,
                            voyage=fact.voyage,
                            event=event,
                            occurred_at=at,
                            source=facts_store.FactSource.CARRIER,
                            recorded_by=f"carrier:{plan.submission.sender}",
                            now=now,
                            document_id=plan.document_id,
                        )
                    except facts_store.CallFactError as exc:
                        # The rules checked it (ART1-18-ACTUAL); an officer's record made
                        # meanwhile may still contradict it: the officer's stands.
                        log.warning(
                            "reported fact not recorded",
                            nomor_aju=plan.nomor_aju,
                            reason=exc.finding.code,
                        )

    def _acknowledge(
        self,
        conn: Connection,
        plans: list[_Plan],
        results: Mapping[int, ParseResult | None],
        now: datetime,
    ) -> None:
        """Render each submission's acks with its format's renderer; store them for delivery."""
        by_submission: dict[int, list[_Plan]] = defaultdict(list)
        for plan in plans:
            by_submission[plan.submission.id].append(plan)

        def numbers(name: str) -> int:
            return counters.allocate(conn, f"ctl:{name}")

        rows = []
        for submission_id, group in by_submission.items():
            submission, fmt = group[0].submission, group[0].fmt
            outcomes = [self._outcome(p, now) for p in group]
            by_index = {p.decision.index: p for p in group}
            rendered = self._render(fmt, results.get(submission_id), outcomes, numbers, by_index)
            for ack in rendered:
                answered = None if ack.document_index is None else by_index[ack.document_index]
                tag = (answered or group[0]).nomor_aju
                rows.append(
                    {
                        "submission_id": submission_id,
                        "document_id": answered.document_id if answered else None,
                        "kind": ack.kind,
                        "channel": submission.channel,
                        "partner": submission.sender,
                        "file_name": ack_file_name(submission.source_name, tag, ack.suffix),
                        "body": ack.body,
                        "status": "PENDING",
                        "created_at": now,
                    }
                )
        store.insert_rows(conn, acks, rows)

    def _render(
        self,
        fmt: Format,
        result: ParseResult | None,
        outcomes: list[Outcome],
        numbers: ControlNumbers,
        plans: Mapping[int, _Plan],
    ) -> list[AckFile]:
        """The format's acknowledgments; our XML ones when its renderer fails on this file.

        A renderer that raises would roll back the decision and leave the sender with no
        answer at all (the job retried until it is a dead letter): a receipt and response in
        XML are better than that. Operators see the failure in the log.
        """
        renderer = self.ack_renderers.get(fmt, self.ack_renderers[Format.XML])
        try:
            rendered = renderer.render(result, outcomes, numbers)
            stray = [a.document_index for a in rendered if a.document_index not in (None, *plans)]
            if stray:
                raise ValueError(f"acknowledgments for documents {stray} that do not exist")
        except Exception as exc:
            if unreadable.is_environmental(exc) or renderer is self.ack_renderers[Format.XML]:
                raise
            log.error(
                "acknowledgment renderer failed: answering with the XML receipt and response",
                submission_id=outcomes[0].submission_id,
                format=fmt.value,
                error_type=type(exc).__qualname__,
                exc_info=exc,
            )
            rendered = self.ack_renderers[Format.XML].render(None, outcomes, numbers)
        return rendered

    @staticmethod
    def _flags(plan: _Plan) -> tuple[Flag, ...]:
        return plan.decision.flags if plan.status is not DocumentStatus.REFUSED else ()

    def _outcome(self, plan: _Plan, now: datetime) -> Outcome:
        submission = plan.submission
        return Outcome(
            submission_id=submission.id,
            document_index=plan.decision.index,
            nomor_aju=plan.nomor_aju,
            sender=submission.sender,
            office_code=plan.decision.office_code,
            format=plan.fmt.value,
            document_type=plan.decision.document_type,
            status=plan.status,
            source_name=submission.source_name,
            sha256=submission.sha256,
            received_at=submission.received_at,
            decided_at=now,
            registration=plan.registration,
            flags=self._flags(plan),
            findings=tuple(plan.findings),
        )

    # -- deliver -------------------------------------------------------------------------

    def deliver(self, submission_id: int) -> list[Path]:
        return self.deliver_many([submission_id])

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


def _content(document: Document) -> Document:
    """The document as the duplicate check compares it: without the sender's own nomor aju
    (a document sent again under a new submission number is the same document; a nomor aju
    used twice has a key of its own, DUP-002)."""
    return dataclasses.replace(
        document, header=dataclasses.replace(document.header, sender_reference=None)
    )
