"""Amendments and pos closings must point at a registered BC 1.1 and one of its pos."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.messages import finding
from gateway.model import Amendment, Document, Finding, Flag, Location, PosClosing
from handlers.base import RuleContext


def check_references(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Amendment | PosClosing):
        return
    ref = document.bc11
    pos_numbers = ctx.bc11.pos_numbers(ref)
    where = Location(path="bc11")
    if pos_numbers is None:
        yield finding(
            "REF-001",
            number=ref.number,
            date=ref.date.isoformat(),
            office=ref.office_code,
            location=where,
        )
        return
    wanted = [document.pos_number]
    if isinstance(document, Amendment):
        wanted += list(document.merged_pos)
    for number in wanted:
        if str(number) not in pos_numbers:
            yield finding("REF-002", pos=str(number), number=ref.number, location=where)
