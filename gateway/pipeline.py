"""The lifecycle every submission goes through, whatever its channel.

::

    channel ──bytes──▶ receive ──▶ [raw store: fsync] ──▶ [db: submission + PROCESS job]
                                                                  │ worker claims
                                                                  ▼
            parse (pure) ──▶ rules (pure) ──▶ one transaction: nomor aju, duplicate check,
            registration number, document rows, receipt + response, DELIVER job
                                                                  │ worker claims
                                                                  ▼
            channel.deliver(ack) ──▶ [out/ file: fsync + rename] ──▶ [db: ack DELIVERED]

Each step is idempotent: a crash anywhere leaves a job that does the step again, and the
database decides (unique keys, a status guard) that it only takes effect once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.channels.base import Channel, Inbound, Received, ack_file_name
from gateway.config import Settings
from gateway.exceptions import DocumentError, TransientError
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding, Flag, Manifest, RegistrationRef
from gateway.model.outcome import DocumentStatus, Outcome
from gateway.numbering import aju_prefix, check_supplied, format_nomor_aju
from gateway.reference import ReferenceData
from gateway.storage import counters, reference_store
from gateway.storage import submissions as store
from gateway.storage.database import Database
from gateway.storage.queue import JobKind, JobQueue
from gateway.storage.raw_files import RawFileStore
from handlers import DEFAULT_RULES, Rule, RuleContext, evaluate
from handlers.registration import accepted_status, registration_kind
from parsers import detect_format
from parsers.base import Format, ParsedDocument, Parser
from parsers.xml import XmlParser
from parsers.xml.acks import render_receipt, render_response

log = structlog.get_logger("gateway.pipeline")

Clock = Callable[[], datetime]
# Numbering a file whose office is unknown still needs a calendar day; WIB is the capital's.
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Decision:
    """One document's fate, decided outside the transaction where it can be."""

    index: int
    document: Document | None
    document_type: DocumentType
    office_code: str | None
    sender_reference: str | None
    findings: tuple[Finding, ...]
    flags: tuple[Flag, ...]


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
        self.parsers: Mapping[Format, Parser] = parsers or {Format.XML: XmlParser()}
        self.raw = RawFileStore(settings.raw_dir)
        self.queue = JobQueue(db)

    # -- receive -------------------------------------------------------------------------

    def receive(self, inbound: Inbound, stream: BinaryIO) -> Received:
        """Keep the bytes durably, then record the submission and its PROCESS job."""
        stored = self.raw.put(stream)
        now = self.clock()
        with self.db.transaction() as conn:
            submission_id, created = store.insert_submission(
                conn,
                channel=inbound.channel,
                sender=inbound.sender,
                source_name=inbound.source_name,
                intake_key=inbound.intake_key,
                stored=stored,
                received_at=now,
            )
            if created:
                self.queue.enqueue(conn, JobKind.PROCESS, submission_id, now=now)
                store.audit(
                    conn,
                    at=now,
                    actor=f"channel:{inbound.channel}",
                    action="received",
                    submission_id=submission_id,
                    to_status=store.RECEIVED,
                    detail={
                        "source_name": inbound.source_name,
                        "sha256": stored.sha256,
                        "size": stored.size,
                        "sender": inbound.sender,
                    },
                )
        log.info(
            "received",
            submission_id=submission_id,
            created=created,
            sender=inbound.sender,
            channel=inbound.channel,
            source_name=inbound.source_name,
            size=stored.size,
        )
        return Received(submission_id=submission_id, created=created)

    # -- process -------------------------------------------------------------------------

    def reference(self) -> ReferenceData:
        with self.db.engine.connect() as conn:
            return reference_store.load(conn)

    def process(self, submission_id: int) -> None:
        """Parse, validate, number or refuse every document of the submission, exactly once."""
        with structlog.contextvars.bound_contextvars(submission_id=submission_id):
            with self.db.engine.connect() as conn:
                submission = store.get_submission(conn, submission_id)
            if submission is None:
                raise LookupError(f"submission {submission_id} does not exist")
            if submission.status != store.RECEIVED:
                log.info("already processed", status=submission.status)
                with self.db.transaction() as conn:
                    self.queue.complete(conn, JobKind.PROCESS, submission_id, now=self.clock())
                return
            reference = self.reference()
            fmt, decisions = self._decide(submission, reference)
            try:
                with self.db.transaction() as conn:
                    self._commit(conn, submission, reference, fmt, decisions)
            except IntegrityError as exc:
                # A twin document committed first (same content or reference, concurrently).
                raise TransientError(f"concurrent duplicate, will retry: {exc.orig}") from exc

    def _decide(
        self, submission: store.Submission, reference: ReferenceData
    ) -> tuple[Format, list[_Decision]]:
        limit = self.settings.max_file_bytes
        if submission.size > limit:
            refusal = finding("FILE-002", size=submission.size, limit=limit)
            return Format.UNKNOWN, [self._unreadable(submission, reference, (refusal,))]
        data = self.raw.read(submission.raw_path)
        fmt = detect_format(data)
        parser = self.parsers.get(fmt)
        try:
            if fmt is Format.UNKNOWN:
                code = "FILE-001" if not data.strip() else "FILE-004"
                raise DocumentError([finding(code)])
            if parser is None:
                raise DocumentError([finding("FILE-005", format=fmt.value)])
            parsed = parser.parse(data, max_bytes=limit).documents
        except DocumentError as exc:
            return fmt, [self._unreadable(submission, reference, exc.findings)]
        return fmt, [
            self._evaluate(i, item, submission, reference) for i, item in enumerate(parsed)
        ]

    def _unreadable(
        self,
        submission: store.Submission,
        reference: ReferenceData,
        findings: tuple[Finding, ...],
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
        context = RuleContext(
            reference=reference,
            now=submission.received_at,
            sender=submission.sender,
            channel_family=self.channels[submission.channel].family,
            bc11=_Bc11Lookup(self.db),
        )
        result = evaluate(document, context, self.rules)
        return _Decision(
            index=index,
            document=document,
            document_type=document.document_type,
            office_code=document.header.office_code,
            sender_reference=document.header.sender_reference,
            findings=result.findings,
            flags=result.flags,
        )

    def _commit(
        self,
        conn: Connection,
        submission: store.Submission,
        reference: ReferenceData,
        fmt: Format,
        decisions: list[_Decision],
    ) -> None:
        now = self.clock()
        if not store.mark_processed(conn, submission.id, fmt=fmt.value, now=now):
            log.info("processed by another worker meanwhile")
            self.queue.complete(conn, JobKind.PROCESS, submission.id, now=now)
            return
        carrier = reference.carriers.get(submission.sender)
        aju_code = carrier.aju_code if carrier else "XXXXXX"
        outcomes = []
        for decision in decisions:
            outcome = self._commit_document(
                conn, submission, reference, fmt, decision, aju_code, now
            )
            outcomes.append(outcome)
        store.set_nomor_aju(conn, submission.id, outcomes[0].nomor_aju)
        self.queue.enqueue(conn, JobKind.DELIVER, submission.id, now=now)
        self.queue.complete(conn, JobKind.PROCESS, submission.id, now=now)
        for outcome in outcomes:
            log.info(
                "decided",
                nomor_aju=outcome.nomor_aju,
                status=str(outcome.status),
                document_type=str(outcome.document_type),
                registration=outcome.registration.number if outcome.registration else None,
                errors=[f.code for f in outcome.findings if f.is_error],
            )

    def _commit_document(
        self,
        conn: Connection,
        submission: store.Submission,
        reference: ReferenceData,
        fmt: Format,
        decision: _Decision,
        aju_code: str,
        now: datetime,
    ) -> Outcome:
        findings = list(decision.findings)
        office = reference.offices.get(decision.office_code or "")
        zone = office.zone if office else DEFAULT_ZONE
        received_day = submission.received_at.astimezone(zone).date()

        nomor_aju = None
        supplied = decision.sender_reference
        dedup: list[str] = [f"sha:{submission.sha256}:{decision.index}"]
        if supplied:
            problem = check_supplied(supplied, aju_code=aju_code)
            if problem:
                findings.append(finding("AJU-001", nomor_aju=supplied, detail=problem))
            else:
                dedup.append(f"aju:{supplied}")
        refused = any(f.is_error for f in findings)
        if not refused and submission.sender in reference.carriers:
            duplicate = store.find_duplicate(conn, submission.sender, dedup)
            if duplicate is not None:
                key, earlier = duplicate
                code = "DUP-002" if key.startswith("aju:") else "DUP-001"
                findings.append(finding(code, nomor_aju=supplied if code == "DUP-002" else earlier))
                refused = True
        if supplied and not refused:
            nomor_aju = supplied
        if nomor_aju is None:
            prefix = aju_prefix(
                decision.office_code, decision.document_type, aju_code, received_day
            )
            nomor_aju = format_nomor_aju(prefix, counters.next_value(conn, f"aju:{prefix}"))

        document = decision.document
        registration = None
        if refused or document is None:
            status = DocumentStatus.REFUSED
        else:
            status = accepted_status(document)
            kind = registration_kind(document)
            if kind is not None and office is not None:
                local = now.astimezone(office.zone)
                sequence = counters.registration_sequence(office.code, str(kind), local.year)
                number = counters.next_value(conn, sequence)
                registration = RegistrationRef(
                    kind=kind, office_code=office.code, number=f"{number:06d}", date=local.date()
                )
        flags = decision.flags if status is not DocumentStatus.REFUSED else ()
        document_id = store.insert_document(
            conn,
            submission_id=submission.id,
            doc_index=decision.index,
            nomor_aju=nomor_aju,
            sender=submission.sender,
            office_code=decision.office_code,
            document_type=str(decision.document_type),
            status=str(status),
            sender_reference=supplied,
            flags=[_flag_json(f) for f in flags],
            findings=[_finding_json(f) for f in findings],
            summary=summarize(document),
            decided_at=now,
        )
        if status is not DocumentStatus.REFUSED:
            store.insert_dedup_keys(conn, submission.sender, dedup, document_id)
        if registration is not None:
            store.insert_registration(
                conn,
                document_id=document_id,
                ref=registration,
                year=int(registration.date.year),
                now=now,
            )
        if isinstance(document, Manifest) and registration is not None:
            store.insert_pos(conn, document_id, _pos_rows(document))
        store.audit(
            conn,
            at=now,
            actor="pipeline",
            action="decided",
            submission_id=submission.id,
            document_id=document_id,
            from_status=store.RECEIVED,
            to_status=str(status),
            detail={
                "nomor_aju": nomor_aju,
                "registration": registration.number if registration else None,
                "errors": [f.code for f in findings if f.is_error],
            },
        )
        outcome = Outcome(
            submission_id=submission.id,
            document_index=decision.index,
            nomor_aju=nomor_aju,
            sender=submission.sender,
            office_code=decision.office_code,
            format=fmt.value,
            document_type=decision.document_type,
            status=status,
            source_name=submission.source_name,
            sha256=submission.sha256,
            received_at=submission.received_at,
            decided_at=now,
            registration=registration,
            flags=tuple(flags),
            findings=tuple(findings),
        )
        for ack_kind, body in (
            ("RECEIPT", render_receipt(outcome)),
            ("RESPONSE", render_response(outcome)),
        ):
            store.insert_ack(
                conn,
                submission_id=submission.id,
                document_id=document_id,
                kind=ack_kind,
                channel=submission.channel,
                partner=submission.sender,
                file_name=ack_file_name(submission.source_name, nomor_aju, ack_kind),
                body=body,
                created_at=now,
            )
        return outcome

    # -- deliver -------------------------------------------------------------------------

    def deliver(self, submission_id: int) -> list[Path]:
        """Put the submission's pending acks where its channel delivers them."""
        with self.db.engine.connect() as conn:
            pending = store.pending_acks(conn, submission_id)
        delivered = [self.channels[ack.channel].deliver(ack) for ack in pending]
        with self.db.transaction() as conn:
            for ack, path in zip(pending, delivered, strict=True):
                store.mark_delivered(conn, ack.id, path=path, now=self.clock())
            self.queue.complete(conn, JobKind.DELIVER, submission_id, now=self.clock())
        if delivered:
            log.info("delivered", submission_id=submission_id, files=[p.name for p in delivered])
        return delivered


class _Bc11Lookup:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        with self.db.engine.connect() as conn:
            return store.bc11_pos_numbers(conn, ref)


def _pos_rows(manifest: Manifest) -> list[dict[str, Any]]:
    rows = []
    for group in manifest.groups:
        for top in group.pos:
            for pos in top.walk():
                rows.append(
                    {
                        "group_number": group.number,
                        "pos_number": str(pos.number),
                        "transport_document": pos.transport_document.number,
                    }
                )
    return rows


def summarize(document: Document | None) -> dict[str, Any]:
    """A few fields the console and `status` show without reading the raw file again."""
    if document is None:
        return {}
    summary: dict[str, Any] = {"office": document.header.office_code}
    conveyance = getattr(document, "conveyance", None)
    if conveyance is not None:
        summary["conveyance"] = conveyance.name
        summary["mode"] = str(conveyance.mode)
    for name in ("voyage_number", "eta", "arrival_at", "departure_at"):
        value = getattr(document, name, None)
        if value is not None:
            summary[name] = value.isoformat() if isinstance(value, datetime) else value
    if isinstance(document, Manifest):
        summary["pos_count"] = sum(1 for _ in document.all_pos())
    return summary


def _finding_json(f: Finding) -> dict[str, Any]:
    location = None
    if f.location is not None:
        location = {"line": f.location.line, "path": f.location.path}
    return {
        "code": f.code,
        "severity": str(f.severity),
        "message_id": f.message_id,
        "message_en": f.message_en,
        "location": location,
    }


def _flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "code": flag.code,
        "detail": flag.detail,
        "lateness_seconds": int(flag.lateness.total_seconds()) if flag.lateness else None,
    }
