"""Deadlines that make a document late (flagged, still numbered): Art. 2 and Art. 8(2).

The full deadline book (inward manifest windows, emergencies, exemptions) is the rule book's;
these two belong to registration because the response must say LATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from gateway.messages import finding
from gateway.model import Direction, Document, Finding, Flag, Jksp, Manifest, Rksp, Severity
from handlers.base import RuleContext

RKSP_LEAD = timedelta(hours=24)
OUTWARD_GRACE = timedelta(hours=24)


def check_timing(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    due = None
    code = ""
    if isinstance(document, Rksp) and document.amends is None:
        due, code = document.eta - RKSP_LEAD, "LATE-001"
    elif isinstance(document, Jksp) and document.amends is None and document.calls:
        due, code = document.first_arrival - RKSP_LEAD, "LATE-001"
    elif (
        isinstance(document, Manifest)
        and document.direction is Direction.OUTWARD
        and document.departure_at is not None
    ):
        due, code = document.departure_at + OUTWARD_GRACE, "LATE-002"
    if due is not None and ctx.now > due:
        lateness = ctx.now - due
        yield Flag(code="LATE", lateness=lateness, detail=code)
        yield finding(code, severity=Severity.WARNING, lateness=format_duration(lateness))


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours or days else []
    parts.append(f"{minutes} min")
    return " ".join(parts)
