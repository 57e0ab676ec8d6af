"""Who may file what: known office running the channel, known carrier with a PDE agreement
(Art. 13), the carrier in the document is the sender or its principal, changes only to the
sender's own registrations, counter uploads only for the counter's office."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from stdnum.id import npwp as npwp_number

from gateway.messages import finding
from gateway.model import (
    Amendment,
    Document,
    Finding,
    Flag,
    Jksp,
    Location,
    PosClosing,
    RegistrationRef,
    Rksp,
)
from gateway.model.common import Party
from handlers.base import Holder, RuleContext
from handlers.rulebook import RuleSeverity, rule

# Electronic channels need a PDE agreement; an officer keying in paper does not.
AGREEMENT_CHANNELS = frozenset({"pde", "media"})
_OFFICE = Location(path="header/office_code")
_CARRIER = Location(path="carrier")


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


def _day(document: Document, ctx: RuleContext) -> date:
    office = ctx.reference.offices.get(document.header.office_code)
    return ctx.now.astimezone(office.zone).date() if office else ctx.now.date()


def _normalised(name: str) -> str:
    return " ".join(name.replace(".", " ").replace(",", " ").split()).casefold()


@rule(
    id="ART13-CARRIER",
    article="Art. 13 (the carrier's own PDE agreement); Art. 2(1), 4(1), 8(1)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "The carrier named in an RKSP, JKSP or manifest is the carrier that sent it (by NPWP; "
        "by name when the document gives no NPWP), or a principal the sender is recorded as "
        "agent for on the office's day of receipt (`pde-gateway partners agencies`)."
    ),
    example="DEMO sends an RKSP naming PT Samudera Indonesia (NPWP 021876545041000): refused.",
    codes=["SND-004", "SND-005"],
)
def check_own_carrier(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    party: Party | None = getattr(document, "carrier", None)
    sender = ctx.reference.carriers.get(ctx.sender)
    if party is None or sender is None:  # unknown sender: GW-SENDER's refusal
        return
    day = _day(document, ctx)
    if party.npwp:
        if npwp_number.is_valid(party.npwp) and not sender.files_for(
            party.npwp, day
        ):  # else ID-001
            yield finding(
                "SND-004",
                party=party.name,
                npwp=party.npwp,
                sender=sender.code,
                sender_name=sender.name,
                sender_npwp=sender.npwp,
                day=day.isoformat(),
                location=_CARRIER,
            )
        return
    names = {_normalised(sender.name)} | {
        _normalised(a.principal_name) for a in sender.agencies if a.in_force(day)
    }
    if _normalised(party.name) not in names:
        yield finding(
            "SND-005",
            party=party.name,
            sender=sender.code,
            sender_name=sender.name,
            location=_CARRIER,
        )


@rule(
    id="ART6-HOLDER",
    article="Art. 2(3), Art. 6(1), Art. 10",
    severity=RuleSeverity.REFUSE,
    checks=(
        "A change of an RKSP/JKSP, an amendment or a pos closing refers to a BC 1.0/BC 1.1 of "
        "the sender: filed by it, or naming a carrier it is recorded as agent for that day."
    ),
    example="SAMU sends an amendment to DEMO's BC 1.1 000001: refused.",
    codes=["SND-006"],
)
def check_holder(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    sender = ctx.reference.carriers.get(ctx.sender)
    if sender is None:
        return
    holder: Holder | None = None
    ref: RegistrationRef | None = None
    if isinstance(document, Rksp | Jksp) and document.amends is not None:
        ref = document.amends
        call = ctx.bc10.get(ref)
        holder = call.holder if call is not None else None
    elif isinstance(document, Amendment | PosClosing):
        ref = document.bc11
        holder = ctx.bc11.holder(ref)
    if holder is None or ref is None or holder.sender == sender.code:
        return
    day = _day(document, ctx)
    filer = ctx.reference.carriers.get(holder.sender)
    if holder.carrier_npwp and sender.files_for(holder.carrier_npwp, day):
        return
    if filer is not None and sender.files_for(filer.npwp, day):
        return
    yield finding(
        "SND-006",
        kind=str(ref.kind),
        number=ref.number,
        date=ref.date.isoformat(),
        office=ref.office_code,
        holder=holder.carrier_name or holder.sender,
        sender=sender.code,
        location=Location(path="amends" if isinstance(document, Rksp | Jksp) else "bc11"),
    )


@rule(
    id="ART3-1B-COUNTER",
    article="Art. 3(1)b, 5(1)b, 9(1)b",
    severity=RuleSeverity.REFUSE,
    checks=(
        "A file an officer takes at the office's counter on storage media (channel media) "
        "holds documents for that office only."
    ),
    example="An officer of 050100 uploads a carrier's RKSP for 040300: refused.",
    codes=["OFF-003"],
)
def check_counter_office(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    counter = ctx.counter_office
    if counter is not None and document.header.office_code != counter:
        yield finding(
            "OFF-003", counter=counter, office=document.header.office_code, location=_OFFICE
        )
