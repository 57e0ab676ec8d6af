"""Known office, office running the channel, known carrier with a PDE agreement (Art. 13)."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.messages import finding
from gateway.model import Document, Finding, Flag, Location
from handlers.base import RuleContext

# Electronic channels need a PDE agreement; an officer keying in paper does not.
AGREEMENT_CHANNELS = frozenset({"pde", "media"})


def check_office_and_sender(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    office_code = document.header.office_code
    office = ctx.reference.offices.get(office_code)
    where = Location(path="header/office_code")
    if office is None:
        yield finding("OFF-001", office=office_code, location=where)
    elif ctx.channel_family not in office.channels:
        yield finding("OFF-002", office=office_code, channel=ctx.channel_family, location=where)
    carrier = ctx.reference.carriers.get(ctx.sender)
    if carrier is None or not carrier.active:
        yield finding("SND-001", sender=ctx.sender)
        return
    if office is not None and ctx.channel_family in AGREEMENT_CHANNELS:
        today = ctx.now.astimezone(office.zone).date()
        if carrier.agreement_for(office_code, today) is None:
            yield finding("SND-002", sender=ctx.sender, office=office_code, location=where)
