"""The head of office's decision on an amendment goes back to the carrier (Art. 6(2)).

An amendment of kind A-D is answered twice. When it arrives, its response says
PENDING_APPROVAL; when the head of office approves or refuses it (console or
``pde-gateway amendments``), the carrier's system gets a second response for the same
document, in the format the amendment came in and on the channel it came by:

- XML: a ``Response`` with Status APPROVED or REFUSED and a ``Decision`` (``….decision.xml``);
- X12: a 355 (``….decision.355.x12``);
- EDIFACT: a CUSRES (``….decision.cusres.edi``).

A refusal carries the head of office's reason (AMD-102, both languages). The response is
rendered and stored as an acknowledgment of kind ``DECISION`` in the deciding transaction,
with the submission's DELIVER job queued again: a decision is never taken without its answer,
and the worker delivers it like any other (retries, dead letters, redelivery). Its name is
the first response's with ``decision`` in it, so it never replaces that file.

The file is parsed again before the transaction (parsers are pure): the answer goes back in
the sender's envelope (X12 delimiters and ISA ids, the echo of its M10/P4, the EDIFACT
message reference), as the first response did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection

from gateway import unreadable
from gateway.channels.base import ack_file_name
from gateway.model import DocumentType
from gateway.model.common import RECORD
from gateway.model.outcome import DocumentStatus, HeadDecision, Outcome
from gateway.pipeline import Pipeline
from gateway.pos_ledger import Answer, Decision
from gateway.storage import audit, counters
from gateway.storage import submissions as store
from gateway.storage.amendments import AmendmentRow, AmendmentStatus
from gateway.storage.queue import JobQueue
from gateway.storage.tables import acks, documents
from parsers import detect_format
from parsers.base import AckFile, ControlNumbers, DecisionRenderer, Format, ParseResult
from parsers.edifact.acks import EdifactAckRenderer
from parsers.x12.acks import X12AckRenderer
from parsers.xml.acks import XmlAckRenderer

log = structlog.get_logger("gateway.decision_responses")

KIND = "DECISION"


@dataclass(**RECORD)
class _Read:
    """What the answer needs from outside the deciding transaction."""

    submission: store.Submission
    document_index: int
    document_type: DocumentType
    format: Format  # of the answer: the file's, or XML when we could not tell
    result: ParseResult | None  # the file parsed again; None: answered in XML


class DecisionResponder:
    """Writes the decision's response for the carrier (``pos_ledger.Respond``)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.renderers: Mapping[Format, DecisionRenderer] = {
            Format.XML: XmlAckRenderer(),
            Format.X12: X12AckRenderer(),
            Format.EDIFACT: EdifactAckRenderer(),
        }

    def prepare(self, amendment: AmendmentRow) -> Answer:
        read = self._read(amendment)

        def answer(conn: Connection, decision: Decision) -> None:
            self._answer(conn, amendment, read, decision)

        return answer

    def _read(self, amendment: AmendmentRow) -> _Read:
        with self.pipeline.db.engine.connect() as conn:
            submission = store.get_submission(conn, amendment.submission_id)
            document = conn.execute(
                sa.select(documents.c.doc_index, documents.c.document_type).where(
                    documents.c.id == amendment.document_id
                )
            ).one()
        if submission is None:
            raise LookupError(f"submission {amendment.submission_id} is gone")
        data = self.pipeline.raw.read(submission.raw_path)
        fmt = detect_format(data)
        parser = self.pipeline.parsers.get(fmt)
        result = None
        if parser is not None:
            try:
                result = parser.parse(data, max_bytes=self.pipeline.settings.max_file_bytes)
            except Exception as exc:
                if unreadable.is_environmental(exc):
                    raise
                # It was read when it came in; should a parser have changed since, the
                # carrier still gets its answer.
                log.warning(
                    "amendment file cannot be read again: the decision goes back in XML",
                    submission_id=submission.id,
                    error_type=type(exc).__qualname__,
                )
        return _Read(
            submission=submission,
            document_index=int(document.doc_index),
            document_type=DocumentType(document.document_type),
            format=fmt if fmt in self.renderers else Format.XML,
            result=result,
        )

    def _answer(
        self, conn: Connection, amendment: AmendmentRow, read: _Read, decision: Decision
    ) -> None:
        submission = read.submission
        approved = decision.status is AmendmentStatus.APPROVED
        outcome = Outcome(
            submission_id=submission.id,
            document_index=read.document_index,
            nomor_aju=amendment.nomor_aju,
            sender=submission.sender,
            office_code=amendment.office_code,
            format=read.format.value,
            document_type=read.document_type,
            status=DocumentStatus.APPROVED if approved else DocumentStatus.REFUSED,
            source_name=submission.source_name,
            sha256=submission.sha256,
            received_at=submission.received_at,
            decided_at=decision.decided_at,
            findings=() if approved else (decision.message,),
            decision=HeadDecision(
                decided_by=decision.decided_by,
                pos_number=decision.pos_number,
                pos_version=decision.pos_version,
                reason=decision.reason,
                message=decision.message,
            ),
        )

        def numbers(name: str) -> int:
            return counters.allocate(conn, f"ctl:{name}")

        ack = self._render(read, outcome, numbers)
        file_name = ack_file_name(submission.source_name, amendment.nomor_aju, ack.suffix)
        now = decision.decided_at
        store.insert_rows(
            conn,
            acks,
            [
                {
                    "submission_id": submission.id,
                    "document_id": amendment.document_id,
                    "kind": KIND,
                    "channel": submission.channel,
                    "partner": submission.sender,
                    "file_name": file_name,
                    "body": ack.body,
                    "status": "PENDING",
                    "created_at": now,
                }
            ],
        )
        audit.record(
            conn,
            at=now,
            actor=f"user:{decision.decided_by}",
            action="decision response written",
            submission_id=submission.id,
            document_id=amendment.document_id,
            to_status=str(outcome.status),
            detail={
                "nomor_aju": amendment.nomor_aju,
                "file_name": file_name,
                "channel": submission.channel,
                "format": outcome.format,
                "reason": decision.reason,
            },
        )
        # Last: the job row is what a worker delivering this submission right now waits on
        # (JobQueue.complete_deliveries).
        JobQueue.redeliver(conn, submission.id, now=now)

    def _render(self, read: _Read, outcome: Outcome, numbers: ControlNumbers) -> AckFile:
        """The format's decision response; our XML one when its renderer fails (a decision
        the renderer cannot answer would otherwise be one the head of office cannot take)."""
        xml = self.renderers[Format.XML]
        renderer = self.renderers[read.format]
        try:
            return renderer.render_decision(read.result, outcome, numbers)
        except Exception as exc:
            if unreadable.is_environmental(exc) or renderer is xml:
                raise
            log.error(
                "decision renderer failed: answering with the XML response",
                submission_id=outcome.submission_id,
                format=read.format.value,
                error_type=type(exc).__qualname__,
                exc_info=exc,
            )
            return xml.render_decision(None, outcome, numbers)
