"""Acknowledge: render each submission's receipt and response in its format; store them.

It runs inside the decision's transaction (gateway/services/decide.py): a decision is never
committed without its answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

import structlog
from sqlalchemy.engine import Connection

from gateway import unreadable
from gateway.channels.base import ack_file_name
from gateway.model.outcome import Outcome
from gateway.services.plans import Plan, flags
from gateway.storage import counters
from gateway.storage import submissions as store
from parsers.base import AckFile, AckRenderer, ControlNumbers, Format, ParseResult

log = structlog.get_logger("gateway.pipeline")


class Acknowledge:
    """The answers: one renderer per format, XML when a format's renderer fails."""

    def __init__(self, renderers: Mapping[Format, AckRenderer]) -> None:
        self.renderers = renderers

    def acknowledge(
        self,
        conn: Connection,
        plans: list[Plan],
        results: Mapping[int, ParseResult | None],
        now: datetime,
    ) -> None:
        """Render each submission's acks with its format's renderer; store them for delivery."""
        by_submission: dict[int, list[Plan]] = defaultdict(list)
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
        store.insert_acks(conn, rows)

    def _render(
        self,
        fmt: Format,
        result: ParseResult | None,
        outcomes: list[Outcome],
        numbers: ControlNumbers,
        plans: Mapping[int, Plan],
    ) -> list[AckFile]:
        """The format's acknowledgments; our XML ones when its renderer fails on this file.

        A renderer that raises would roll back the decision and leave the sender with no
        answer at all (the job retried until it is a dead letter): a receipt and response in
        XML are better than that. Operators see the failure in the log.
        """
        renderer = self.renderers.get(fmt, self.renderers[Format.XML])
        try:
            rendered = renderer.render(result, outcomes, numbers)
            stray = [a.document_index for a in rendered if a.document_index not in (None, *plans)]
            if stray:
                raise ValueError(f"acknowledgments for documents {stray} that do not exist")
        except Exception as exc:
            if unreadable.is_environmental(exc) or renderer is self.renderers[Format.XML]:
                raise
            log.error(
                "acknowledgment renderer failed: answering with the XML receipt and response",
                submission_id=outcomes[0].submission_id,
                format=fmt.value,
                error_type=type(exc).__qualname__,
                exc_info=exc,
            )
            rendered = self.renderers[Format.XML].render(None, outcomes, numbers)
        return rendered

    def _outcome(self, plan: Plan, now: datetime) -> Outcome:
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
            flags=flags(plan),
            findings=tuple(plan.findings),
        )
