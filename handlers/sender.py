"""Known office, office running the channel, known carrier with a PDE agreement (Art. 13)."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.messages import finding
from gateway.model import Document, Finding, Flag, Location
from handlers.base import RuleContext
from handlers.rulebook import RuleSeverity, rule

# Electronic channels need a PDE agreement; an officer keying in paper does not.
AGREEMENT_CHANNELS = frozenset({"pde", "media"})
_OFFICE = Location(path="header/office_code")


@rule(
    id="ART3-1-OFFICE",
    article="Art. 3(1), 5(1), 9(1)",
    severity=RuleSeverity.REFUSE,
    checks="The document is addressed to a customs office this gateway serves.",
    example="Office code 999999: refused.",
    codes=["OFF-001"],
)
def check_office_known(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    office_code = document.header.office_code
    if office_code not in ctx.reference.offices:
        yield finding("OFF-001", office=office_code, location=_OFFICE)


@rule(
    id="ART3-1-CHANNEL",
    article="Art. 3(1), 5(1), 9(1)",
    severity=RuleSeverity.REFUSE,
    checks="The office runs the channel the document came in on (PDE, storage media, manual).",
    example="An X12 file over SFTP (pde) for Jayapura, which runs media and manual only: refused.",
    codes=["OFF-002"],
)
def check_office_channel(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    office_code = document.header.office_code
    office = ctx.reference.offices.get(office_code)
    if office is not None and ctx.channel_family not in office.channels:
        yield finding("OFF-002", office=office_code, channel=ctx.channel_family, location=_OFFICE)


@rule(
    id="GW-SENDER",
    article="gateway (SPEC §2 channels)",
    severity=RuleSeverity.REFUSE,
    checks="The sender the channel established is a registered, active carrier.",
    example="A file dropped in the folder of carrier NOBODY: refused.",
    codes=["SND-001"],
)
def check_sender_known(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    carrier = ctx.reference.carriers.get(ctx.sender)
    if carrier is None or not carrier.active:
        yield finding("SND-001", sender=ctx.sender)


@rule(
    id="ART13-AGREEMENT",
    article="Art. 13",
    severity=RuleSeverity.REFUSE,
    checks=(
        "On the electronic channels (pde, media) the carrier has a PDE agreement with the "
        "office in force on the office's calendar day of receipt; the manual channel needs none."
    ),
    example="DEMO files at Soekarno-Hatta (050100), where it has no agreement: refused.",
    codes=["SND-002"],
)
def check_agreement(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    office_code = document.header.office_code
    office = ctx.reference.offices.get(office_code)
    carrier = ctx.reference.carriers.get(ctx.sender)
    # An unknown office or carrier is GW-SENDER's / ART3-1-OFFICE's refusal, not a second one.
    if office is None or carrier is None or not carrier.active:
        return
    if ctx.channel_family in AGREEMENT_CHANNELS:
        today = ctx.now.astimezone(office.zone).date()
        if carrier.agreement_for(office_code, today) is None:
            yield finding("SND-002", sender=ctx.sender, office=office_code, location=_OFFICE)
