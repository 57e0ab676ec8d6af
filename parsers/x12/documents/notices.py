"""323 -> RKSP (one call at the office) or JKSP (several calls): the conveyance notice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from gateway.model import (
    Conveyance,
    DocumentHeader,
    Jksp,
    Party,
    RegistrationKind,
    RegistrationRef,
    Rksp,
    ScheduledCall,
    TransportMode,
)
from parsers import fields
from parsers.fields import FieldError
from parsers.records import NoticeHead, conveyance_notice
from parsers.x12.documents.elements import (
    ATA,
    ATD,
    ETA,
    ETD,
    TRANSPORT_MODES,
    Body,
    Context,
    bad_structure,
    instant_at,
    invalid,
    missing,
    optional_at,
    required_at,
    text,
)
from parsers.x12.segments import Segment

# ---------------------------------------------------------------- 323: RKSP / JKSP


@dataclass(slots=True)
class _Call:
    origin: Segment | None = None
    last: Segment | None = None
    arrival: Segment | None = None
    next: Segment | None = None
    details: list[Segment] = field(default_factory=list)  # DTM, V9 of the R4*D loop


ATTRIBUTE_ARITY = {"CS": 1, "GT": 1, "LOA": 1, "DF": 1, "DA": 1, "VD": 1, "LANG": 1, "AJU": 1}
ATTRIBUTE_ARITY |= {"PERIOD": 2, "BC10": 2}


def _attributes(segment: Segment) -> dict[str, list[str]]:
    """K1 #2 of a 323: ``KEY VALUE`` pairs across K101 and K102."""
    out: dict[str, list[str]] = {}
    for index in (1, 2):
        tokens = text(segment, index).split()
        while tokens:
            key = tokens.pop(0).upper()
            arity = ATTRIBUTE_ARITY.get(key)
            if arity is None:
                invalid(segment, index, key, f"unknown key; known: {', '.join(ATTRIBUTE_ARITY)}")
            if len(tokens) < arity or key in out:
                invalid(segment, index, key, "key without its value, or given twice")
            out[key] = tokens[:arity]
            del tokens[:arity]
    return out


def _attribute_decimal(segment: Segment, values: dict[str, list[str]], key: str) -> Decimal | None:
    if key not in values:
        return None
    raw = values[key][0]
    try:
        return Decimal(raw)
    except InvalidOperation:
        invalid(segment, 2, raw, f"{key} is not a decimal number")


def _attribute_date(segment: Segment, raw: str) -> date:
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        invalid(segment, 2, raw, error.detail)


def to_conveyance_notice(body: Body, context: Context) -> Rksp | Jksp:
    segments = body.segments
    v1 = next((s for s in segments if s.id == "V1"), None)
    if v1 is None or segments[0] is not v1:
        missing(body.first, "V1", "a 323 starts with V1 (vessel)")
    remarks = [s for s in segments if s.id == "K1"]
    if not remarks:
        missing(v1, "K1", "the first K1 carries the carrier: K101 'NPWP <npwp>', K102 name")
    carrier_k1 = remarks[0]
    npwp_text = text(carrier_k1, 1)
    if not npwp_text.upper().startswith("NPWP "):
        invalid(carrier_k1, 1, npwp_text, "K101 of the first K1 is 'NPWP <15 or 16 digits>'")
    carrier = Party(
        name=required_at(carrier_k1, 2, "K102 of the first K1 is the carrier's name"),
        npwp=npwp_text[5:].strip(),
    )
    attributes = _attributes(remarks[1]) if len(remarks) > 1 else {}
    attribute_k1 = remarks[1] if len(remarks) > 1 else carrier_k1
    conveyance = Conveyance(
        mode=TRANSPORT_MODES.get(text(v1, 9), TransportMode.SEA),
        name=text(v1, 2),
        imo_number=optional_at(v1, 1),
        call_sign=attributes["CS"][0] if "CS" in attributes else None,
        flag=optional_at(v1, 3),
        gross_tonnage=_attribute_decimal(attribute_k1, attributes, "GT"),
        length_overall_m=_attribute_decimal(attribute_k1, attributes, "LOA"),
        draft_fore_m=_attribute_decimal(attribute_k1, attributes, "DF"),
        draft_aft_m=_attribute_decimal(attribute_k1, attributes, "DA"),
    )
    amends = None
    if "BC10" in attributes:
        number, day = attributes["BC10"]
        amends = RegistrationRef(
            kind=RegistrationKind.BC10,
            office_code=context.office,
            number=number,
            date=_attribute_date(attribute_k1, day),
        )
    calls = _calls(segments)
    voyage = text(v1, 4)
    scheduled = [_scheduled_call(call, voyage, context) for call in calls]
    arrival_ports = {text(call.arrival, 3) for call in calls if call.arrival is not None}
    if len(arrival_ports) > 1:
        bad_structure(calls[1].arrival, "every R4*D of a JKSP is the same port (this office)")
    port_of_arrival = arrival_ports.pop()

    def voyage_date() -> date | None:
        if "VD" not in attributes:
            return None
        return _attribute_date(attribute_k1, attributes["VD"][0])

    def period() -> tuple[date, date]:
        if "PERIOD" in attributes:
            start, end = (_attribute_date(attribute_k1, raw) for raw in attributes["PERIOD"])
            return start, end
        days = [call.eta.date() for call in scheduled]
        return min(days), max(days)

    head = NoticeHead(
        header=DocumentHeader(
            office_code=context.office,
            sender_reference=attributes["AJU"][0] if "AJU" in attributes else None,
            language=attributes["LANG"][0].lower() if "LANG" in attributes else None,
        ),
        conveyance=conveyance,
        carrier=carrier,
        port_of_arrival=port_of_arrival,
        amends=amends,
    )
    return conveyance_notice(head, scheduled, voyage_date=voyage_date, period=period)


def _calls(segments: Sequence[Segment]) -> list[_Call]:
    """Cut the R4 loops into calls: [R4*O] [R4*L] R4*D (+DTM, V9) [R4*N]."""
    calls: list[_Call] = []
    pending = _Call()
    current: _Call | None = None  # the call whose R4*D was seen last
    in_arrival = False
    for segment in segments:
        if segment.id == "R4":
            code = text(segment, 1)
            in_arrival = False
            if code in ("O", "L"):
                if current is not None:
                    current = None
                slot = "origin" if code == "O" else "last"
                if getattr(pending, slot) is not None:
                    bad_structure(segment, f"two R4*{code} before the R4*D of a call")
                setattr(pending, slot, segment)
            elif code == "D":
                pending.arrival = segment
                current, pending = pending, _Call()
                calls.append(current)
                in_arrival = True
            elif code == "N":
                if current is None or current.next is not None:
                    bad_structure(segment, "R4*N follows the R4*D of its call")
                current.next = segment
        elif segment.id in ("DTM", "V9"):
            if not in_arrival or current is None:
                bad_structure(
                    segment, f"{segment.id} belongs in the R4*D loop (the call at the office)"
                )
            current.details.append(segment)
    if pending.origin is not None or pending.last is not None:
        missing(pending.origin or pending.last, "R4*D", "each call has an R4*D")
    if not calls:
        missing(segments[-1] if segments else None, "R4*D", "a 323 has at least one R4*D")
    return calls


def _scheduled_call(call: _Call, voyage: str, context: Context) -> ScheduledCall:
    arrival = call.arrival
    assert arrival is not None
    if call.origin is None:
        missing(arrival, "R4*O", "each call gives its port of origin before its R4*D")
    if call.last is None:
        missing(arrival, "R4*L", "each call gives its last port of call before its R4*D")
    instants: dict[str, datetime] = {}
    for detail in call.details:
        if detail.id == "V9":
            voyage = text(detail, 2)
            continue
        qualifier = text(detail, 1)
        if qualifier in instants:
            bad_structure(detail, f"DTM*{qualifier} is given twice for one call")
        instants[qualifier] = instant_at(context, detail, 2, 3, 4)
    eta = instants.get(ETA)
    if eta is None:
        missing(arrival, "DTM*371", "the estimated arrival of the call")
    return ScheduledCall(
        voyage_number=voyage,
        port_of_origin=text(call.origin, 3),
        last_port_of_call=text(call.last, 3),
        next_port=text(call.next, 3) if call.next is not None else None,
        eta=eta,
        etd=instants.get(ETD),
        actual_arrival=instants.get(ATA),
        actual_departure=instants.get(ATD),
    )
