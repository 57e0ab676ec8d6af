"""X12 004010 transaction sets -> canonical records (implementation guide: docs/formats/x12.md).

The set has already passed pyx12 against ``schemas/x12`` (segment order, usage, lengths, code
lists); what is refused here is what a pyx12 map cannot say: a 309 that is really a 323, a
house bill whose master is not in the set, a date of 20991301, a keyword in an ``N9*ZZ`` that
the guide does not know. Every refusal is a :class:`~gateway.exceptions.DocumentError` with an
``X12-1xx`` finding located at the segment (file line, position in the set).

X12 dates and times carry no offset. They are read in the time zone of the customs office in
GS03 (``zone_for_office``) unless the segment gives a time code (DTM04, N906): ``UT``/``GM``
UTC, ``07``/``08``/``09`` UTC+7/+8/+9 (WIB/WITA/WIT), ``LT`` the office's local time.
Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from gateway.exceptions import ConfigurationError
from gateway.model import (
    Amendment,
    AmendmentKind,
    Container,
    Conveyance,
    CustomsDocumentRef,
    Direction,
    Document,
    DocumentHeader,
    FieldChange,
    GoodsItem,
    Jksp,
    Manifest,
    Packages,
    Party,
    Pos,
    PosGroup,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
    Rksp,
    ScheduledCall,
    SupportingList,
    SupportingListKind,
    TransportDocument,
    TransportDocumentKind,
    TransportMode,
)
from gateway.model.findings import Location
from parsers import fields
from parsers.base import ZoneForOffice
from parsers.fields import OFFICE_CODE, FieldError
from parsers.refusal import Refused, where
from parsers.refusal import refuse_at as _refuse
from parsers.x12.segments import Segment, TransactionSet

TRANSPORT_MODES = {
    "O": TransportMode.SEA,  # containerized ocean
    "S": TransportMode.SEA,  # ocean
    "A": TransportMode.AIR,
    "J": TransportMode.LAND,  # motor
    "R": TransportMode.LAND,  # rail
}
FIXED_OFFSETS: dict[str, tzinfo] = {
    "UT": UTC,
    "GM": UTC,
    "07": timezone(timedelta(hours=7)),
    "08": timezone(timedelta(hours=8)),
    "09": timezone(timedelta(hours=9)),
}
# DTM01 (data element 374): estimated arrival / departure, and what happened (the arrival
# report: a 323 changing the registered BC 1.0 after the fact).
ETA, ETD, ATA, ATD = "371", "369", "372", "370"


def _missing(segment: Segment | None, what: str, detail: str) -> NoReturn:
    _refuse("X12-102", segment, segment=what, detail=detail)


def _invalid(segment: Segment, index: int, value: str, detail: str) -> NoReturn:
    _refuse("X12-103", segment, value=value, element=f"{segment.id}{index:02d}", detail=detail)


def _structure(segment: Segment | None, detail: str) -> NoReturn:
    _refuse("X12-106", segment, detail=detail)


def to_documents(
    transaction: TransactionSet, *, zone_for_office: ZoneForOffice | None = None
) -> list[Document]:
    """Map one validated 309 or 323 to its canonical records.

    323 -> ``[Rksp]`` (one call at the office) or ``[Jksp]`` (several calls); 309 -> ``[Manifest]``,
    or one :class:`Amendment` per LX carrying an M13 when any LX does.

    ``zone_for_office`` gives the time zone of an office code (``None`` for an unknown office,
    refused with OFF-001). Without it only instants with an explicit time code can be read;
    a local time then raises :class:`ConfigurationError` (the caller must pass the offices).
    """
    try:
        office = transaction.group.receiver.strip()
        if not OFFICE_CODE.fullmatch(office):
            _refuse("X12-104", None, value=office)
        body = _Body(transaction.segments, transaction.line)
        context = _Context(office=office, zone_for_office=zone_for_office)
        if transaction.set_id == "323":
            return [_conveyance_notice(body, context)]
        if transaction.set_id == "309":
            return _manifest_set(body, context)
        _refuse("X12-101", body.first, set_id=transaction.set_id)
    except Refused as refused:
        first = transaction.segments[0] if transaction.segments else None
        if refused.code == "X12-104":
            refused.where = Location(path="GS03")
        default = where(first) or Location(line=transaction.line)
        raise refused.error(default=default) from None


# ---------------------------------------------------------------- reading segments


@dataclass(slots=True)
class _Context:
    office: str
    zone_for_office: ZoneForOffice | None

    def zone(self, segment: Segment, code_index: int | None) -> tzinfo:
        time_code = _text(segment, code_index) if code_index is not None else ""
        if time_code and time_code != "LT":
            fixed = FIXED_OFFSETS.get(time_code)
            if fixed is None:
                _invalid(segment, code_index or 0, time_code, "time code is not LT, UT, 07, 08, 09")
            return fixed
        if self.zone_for_office is None:
            raise ConfigurationError(
                "parsers.x12.documents.to_documents needs zone_for_office to read local times"
            )
        zone = self.zone_for_office(self.office)
        if zone is None:
            _refuse("OFF-001", segment, office=self.office)
        return zone


class _Body:
    """The segments between ST and SE."""

    def __init__(self, segments: Sequence[Segment], line: int) -> None:
        inner = [s for s in segments if s.id not in ("ST", "SE")]
        self.segments = inner
        self.first = segments[0] if segments else None
        self.line = line


def _text(segment: Segment, index: int) -> str:
    return segment.get(index).strip()


def _opt(segment: Segment, index: int) -> str | None:
    return _text(segment, index) or None


def _required(segment: Segment, index: int, detail: str) -> str:
    value = _text(segment, index)
    if not value:
        _missing(segment, f"{segment.id}{index:02d}", detail)
    return value


def _decimal(segment: Segment, index: int) -> Decimal | None:
    raw = _text(segment, index)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        _invalid(segment, index, raw, "not a decimal number")
    if not value.is_finite():
        _invalid(segment, index, raw, "not a decimal number")
    return value


def _integer(segment: Segment, index: int) -> int:
    value = _decimal(segment, index)
    if value is None or value != value.to_integral_value() or value < 0:
        _invalid(segment, index, _text(segment, index), "not a whole number")
    return int(value)


def _date(segment: Segment, index: int) -> date:
    raw = _text(segment, index)
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        _invalid(segment, index, raw, error.detail)


def _time(segment: Segment, index: int) -> time:
    raw = _text(segment, index)
    match = re.fullmatch(r"(\d\d)(\d\d)(?:(\d\d)(\d{1,2})?)?", raw)
    try:
        if match is None:
            raise ValueError(raw)
        hour, minute, second, fraction = match.groups()
        micro = int((fraction or "0").ljust(6, "0"))
        return time(int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        _invalid(segment, index, raw, "not a time HHMM[SS[D[D]]]")


def _instant(
    context: _Context, segment: Segment, date_index: int, time_index: int, code_index: int | None
) -> datetime:
    day = _date(segment, date_index)
    if not _text(segment, time_index):
        _missing(segment, f"{segment.id}{time_index:02d}", "the time of day is required")
    clock = _time(segment, time_index)
    return datetime.combine(day, clock, tzinfo=context.zone(segment, code_index))


def _pos_number(segment: Segment, index: int) -> PosNumber:
    raw = _text(segment, index)
    try:
        return fields.pos_number(raw, shape="a pos number is 12 digits pos+sub-pos+sub-sub-pos")
    except FieldError as error:
        _invalid(segment, index, raw, error.detail)


def _child_number(segment: Segment, parent: PosNumber, index: int) -> PosNumber:
    if parent.sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=index)
    if parent.sub_sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=parent.sub_pos, sub_sub_pos=index)
    _structure(segment, "a pos cannot be nested deeper than sub-sub-pos")


# ---------------------------------------------------------------- N9*ZZ keywords


@dataclass(slots=True)
class _Reference:
    """An ``N9*ZZ``: N902 holds the keyword (and an argument), N903 the value."""

    segment: Segment
    keyword: str
    argument: str
    value: str


def _references(segments: Sequence[Segment]) -> list[_Reference]:
    out = []
    for segment in segments:
        if segment.id == "N9" and _text(segment, 1) == "ZZ":
            keyword, _, argument = _text(segment, 2).partition(" ")
            out.append(_Reference(segment, keyword.upper(), argument.strip(), _text(segment, 3)))
    return out


def _one(references: list[_Reference], keyword: str) -> _Reference | None:
    found = [r for r in references if r.keyword == keyword]
    if len(found) > 1:
        _structure(found[1].segment, f"N9*ZZ*{keyword} is given more than once")
    return found[0] if found else None


def _value(reference: _Reference) -> str:
    if not reference.value:
        _missing(reference.segment, "N903", f"N9*ZZ*{reference.keyword} needs its value in N903")
    return reference.value


HEADER_KEYWORDS = {"LANGUAGE", "PORT", "LAST", "NEXT", "EMERGENCY", "UNLOADING"} | {
    kind.value for kind in SupportingListKind
}
# Multi-word keywords as the guide spells them (N902), normalised to their first word above.
HEADER_PHRASES = {
    "PORT": "PORT OF ORIGIN",
    "LAST": "LAST PORT OF CALL",
    "NEXT": "NEXT PORT",
    "UNLOADING": "UNLOADING STARTED",
}
BILL_PHRASES = {"GROUP": "GROUP", "MARKS": "MARKS", "PORT": "PORT OF DISCHARGE"}
AMENDMENT_KEYWORDS = {"BC11", "POS", "REASON", "DOCUMENT", "OLD", "NEW", "MERGED"}


def _check_phrases(references: list[_Reference], phrases: dict[str, str]) -> None:
    for reference in references:
        phrase = phrases.get(reference.keyword)
        if phrase is not None and f"{reference.keyword} {reference.argument}".strip() != phrase:
            _invalid(reference.segment, 2, _text(reference.segment, 2), f"write {phrase}")


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
        tokens = _text(segment, index).split()
        while tokens:
            key = tokens.pop(0).upper()
            arity = ATTRIBUTE_ARITY.get(key)
            if arity is None:
                _invalid(segment, index, key, f"unknown key; known: {', '.join(ATTRIBUTE_ARITY)}")
            if len(tokens) < arity or key in out:
                _invalid(segment, index, key, "key without its value, or given twice")
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
        _invalid(segment, 2, raw, f"{key} is not a decimal number")


def _attribute_date(segment: Segment, raw: str) -> date:
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        _invalid(segment, 2, raw, error.detail)


def _conveyance_notice(body: _Body, context: _Context) -> Rksp | Jksp:
    segments = body.segments
    v1 = next((s for s in segments if s.id == "V1"), None)
    if v1 is None or segments[0] is not v1:
        _missing(body.first, "V1", "a 323 starts with V1 (vessel)")
    remarks = [s for s in segments if s.id == "K1"]
    if not remarks:
        _missing(v1, "K1", "the first K1 carries the carrier: K101 'NPWP <npwp>', K102 name")
    carrier_k1 = remarks[0]
    npwp_text = _text(carrier_k1, 1)
    if not npwp_text.upper().startswith("NPWP "):
        _invalid(carrier_k1, 1, npwp_text, "K101 of the first K1 is 'NPWP <15 or 16 digits>'")
    carrier = Party(
        name=_required(carrier_k1, 2, "K102 of the first K1 is the carrier's name"),
        npwp=npwp_text[5:].strip(),
    )
    attributes = _attributes(remarks[1]) if len(remarks) > 1 else {}
    attribute_k1 = remarks[1] if len(remarks) > 1 else carrier_k1
    conveyance = Conveyance(
        mode=TRANSPORT_MODES.get(_text(v1, 9), TransportMode.SEA),
        name=_text(v1, 2),
        imo_number=_opt(v1, 1),
        call_sign=attributes["CS"][0] if "CS" in attributes else None,
        flag=_opt(v1, 3),
        gross_tonnage=_attribute_decimal(attribute_k1, attributes, "GT"),
        length_overall_m=_attribute_decimal(attribute_k1, attributes, "LOA"),
        draft_fore_m=_attribute_decimal(attribute_k1, attributes, "DF"),
        draft_aft_m=_attribute_decimal(attribute_k1, attributes, "DA"),
    )
    header = DocumentHeader(
        office_code=context.office,
        sender_reference=attributes["AJU"][0] if "AJU" in attributes else None,
        language=attributes["LANG"][0].lower() if "LANG" in attributes else None,
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
    voyage = _text(v1, 4)
    scheduled = [_scheduled_call(call, voyage, context) for call in calls]
    arrival_ports = {_text(call.arrival, 3) for call in calls if call.arrival is not None}
    if len(arrival_ports) > 1:
        _structure(calls[1].arrival, "every R4*D of a JKSP is the same port (this office)")
    port_of_arrival = arrival_ports.pop()
    if len(scheduled) == 1:
        only = scheduled[0]
        return Rksp(
            header=header,
            conveyance=conveyance,
            carrier=carrier,
            voyage_number=only.voyage_number,
            port_of_origin=only.port_of_origin,
            last_port_of_call=only.last_port_of_call,
            port_of_arrival=port_of_arrival,
            next_port=only.next_port,
            eta=only.eta,
            etd=only.etd,
            actual_arrival=only.actual_arrival,
            actual_departure=only.actual_departure,
            voyage_date=_attribute_date(attribute_k1, attributes["VD"][0])
            if "VD" in attributes
            else None,
            amends=amends,
        )
    if "PERIOD" in attributes:
        start, end = (_attribute_date(attribute_k1, raw) for raw in attributes["PERIOD"])
    else:
        start = min(call.eta.date() for call in scheduled)
        end = max(call.eta.date() for call in scheduled)
    return Jksp(
        header=header,
        conveyance=conveyance,
        carrier=carrier,
        port_of_arrival=port_of_arrival,
        period_start=start,
        period_end=end,
        calls=tuple(scheduled),
        amends=amends,
    )


def _calls(segments: Sequence[Segment]) -> list[_Call]:
    """Cut the R4 loops into calls: [R4*O] [R4*L] R4*D (+DTM, V9) [R4*N]."""
    calls: list[_Call] = []
    pending = _Call()
    current: _Call | None = None  # the call whose R4*D was seen last
    in_arrival = False
    for segment in segments:
        if segment.id == "R4":
            code = _text(segment, 1)
            in_arrival = False
            if code in ("O", "L"):
                if current is not None:
                    current = None
                slot = "origin" if code == "O" else "last"
                if getattr(pending, slot) is not None:
                    _structure(segment, f"two R4*{code} before the R4*D of a call")
                setattr(pending, slot, segment)
            elif code == "D":
                pending.arrival = segment
                current, pending = pending, _Call()
                calls.append(current)
                in_arrival = True
            elif code == "N":
                if current is None or current.next is not None:
                    _structure(segment, "R4*N follows the R4*D of its call")
                current.next = segment
        elif segment.id in ("DTM", "V9"):
            if not in_arrival or current is None:
                _structure(
                    segment, f"{segment.id} belongs in the R4*D loop (the call at the office)"
                )
            current.details.append(segment)
    if pending.origin is not None or pending.last is not None:
        _missing(pending.origin or pending.last, "R4*D", "each call has an R4*D")
    if not calls:
        _missing(segments[-1] if segments else None, "R4*D", "a 323 has at least one R4*D")
    return calls


def _scheduled_call(call: _Call, voyage: str, context: _Context) -> ScheduledCall:
    arrival = call.arrival
    assert arrival is not None
    if call.origin is None:
        _missing(arrival, "R4*O", "each call gives its port of origin before its R4*D")
    if call.last is None:
        _missing(arrival, "R4*L", "each call gives its last port of call before its R4*D")
    instants: dict[str, datetime] = {}
    for detail in call.details:
        if detail.id == "V9":
            voyage = _text(detail, 2)
            continue
        qualifier = _text(detail, 1)
        if qualifier in instants:
            _structure(detail, f"DTM*{qualifier} is given twice for one call")
        instants[qualifier] = _instant(context, detail, 2, 3, 4)
    eta = instants.get(ETA)
    if eta is None:
        _missing(arrival, "DTM*371", "the estimated arrival of the call")
    return ScheduledCall(
        voyage_number=voyage,
        port_of_origin=_text(call.origin, 3),
        last_port_of_call=_text(call.last, 3),
        next_port=_text(call.next, 3) if call.next is not None else None,
        eta=eta,
        etd=instants.get(ETD),
        actual_arrival=instants.get(ATA),
        actual_departure=instants.get(ATD),
    )


# ---------------------------------------------------------------- 309: heading


@dataclass(slots=True)
class _Heading:
    header: DocumentHeader
    direction: Direction
    conveyance: Conveyance
    carrier: Party
    voyage: str
    nil: bool
    m10: Segment
    p4: Segment
    references: list[_Reference]


def _split_309(body: _Body) -> tuple[list[Segment], Segment, list[list[Segment]]]:
    """Heading segments (M10, N9), the P4 and the LX blocks."""
    segments = body.segments
    if not segments or segments[0].id != "M10":
        _missing(body.first, "M10", "a 309 starts with M10")
    p4_index = next((i for i, s in enumerate(segments) if s.id == "P4"), None)
    if p4_index is None:
        _missing(segments[0], "P4", "the port of call")
    heading = segments[:p4_index]
    blocks: list[list[Segment]] = []
    for segment in segments[p4_index + 1 :]:
        if segment.id == "LX":
            blocks.append([segment])
        elif blocks:
            blocks[-1].append(segment)
        else:
            _structure(segment, f"{segment.id} before the first LX")
    return heading, segments[p4_index], blocks


def _heading(heading: list[Segment], p4: Segment, context: _Context) -> _Heading:
    m10 = heading[0]
    carriers = [s for s in heading if s.id == "N9" and _text(s, 1) == "TJ"]
    if not carriers:
        _missing(m10, "N9*TJ", "the carrier: N902 NPWP, N903 name")
    carrier_n9 = carriers[0]
    references = _references(heading)
    _check_phrases(references, HEADER_PHRASES)
    for reference in references:
        if reference.keyword not in HEADER_KEYWORDS:
            _invalid(reference.segment, 2, _text(reference.segment, 2), "unknown N9*ZZ keyword")
    language = _one(references, "LANGUAGE")
    direction_code = _text(m10, 9)
    imo = _opt(m10, 4) if _text(m10, 10) == "L" else None
    return _Heading(
        header=DocumentHeader(
            office_code=context.office,
            sender_reference=_opt(m10, 7),
            language=_value(language).lower() if language is not None else None,
        ),
        direction=Direction.INWARD if direction_code == "I" else Direction.OUTWARD,
        conveyance=Conveyance(
            mode=TRANSPORT_MODES.get(_text(m10, 2), TransportMode.SEA),
            name=_text(m10, 5),
            imo_number=imo,
            call_sign=_opt(m10, 12),
            flag=_opt(m10, 3),
        ),
        carrier=Party(
            name=_required(carrier_n9, 3, "N903 of N9*TJ is the carrier's name"),
            npwp=_required(carrier_n9, 2, "N902 of N9*TJ is the carrier's NPWP"),
        ),
        voyage=_text(m10, 6),
        nil=_text(m10, 11) == "Y",
        m10=m10,
        p4=p4,
        references=references,
    )


def _manifest_set(body: _Body, context: _Context) -> list[Document]:
    heading_segments, p4, blocks = _split_309(body)
    heading = _heading(heading_segments, p4, context)
    if any(segment.id == "M13" for block in blocks for segment in block):
        return list(_amendments(heading, blocks, context))
    return [_manifest(heading, blocks, context)]


def _manifest(heading: _Heading, blocks: list[list[Segment]], context: _Context) -> Manifest:
    references = heading.references
    origin = _one(references, "PORT")
    if origin is None:
        _missing(heading.m10, "N9*ZZ*PORT OF ORIGIN", "the port of origin of the voyage")
    last = _one(references, "LAST")
    next_port = _one(references, "NEXT")
    emergency = _one(references, "EMERGENCY")
    unloading = _one(references, "UNLOADING")
    moment = _instant(context, heading.p4, 2, 5, None)
    port_of_call = _text(heading.p4, 1)
    supporting: list[SupportingList] = []
    for reference in references:
        if reference.keyword in SupportingListKind.__members__:
            entries = None
            if reference.argument:
                if not reference.argument.isdigit():
                    _invalid(reference.segment, 2, reference.argument, "entries is a number")
                entries = int(reference.argument)
            supporting.append(
                SupportingList(
                    kind=SupportingListKind(reference.keyword),
                    reference=_value(reference),
                    entries=entries,
                )
            )
    if heading.nil and blocks:
        _structure(blocks[0][0], "a nil manifest (M1011 = Y) has no LX")
    if not heading.nil and not blocks:
        _structure(heading.p4, "a manifest that is not nil (M1011 = Y) has at least one LX")
    next_code = _value(next_port) if next_port is not None else None
    default_discharge = port_of_call if heading.direction is Direction.INWARD else next_code
    groups = _pos_groups(blocks, default_discharge)
    return Manifest(
        header=heading.header,
        direction=heading.direction,
        conveyance=heading.conveyance,
        carrier=heading.carrier,
        voyage_number=heading.voyage,
        port_of_origin=_value(origin),
        last_port_of_call=_value(last) if last is not None else None,
        port_of_call=port_of_call,
        next_port=next_code,
        arrival_at=moment if heading.direction is Direction.INWARD else None,
        departure_at=moment if heading.direction is Direction.OUTWARD else None,
        groups=groups,
        supporting_lists=tuple(supporting),
        nil=heading.nil,
        unloading_started_at=_instant(context, unloading.segment, 4, 5, 6)
        if unloading is not None
        else None,
        emergency=emergency is not None and _value(emergency).upper() == "Y",
    )


# ---------------------------------------------------------------- 309: bills


@dataclass(slots=True)
class _Bill:
    lx: Segment
    number: int
    bill_of_lading: str
    master: str | None
    group: int | None
    pos: Pos  # sub_pos filled in later
    children: list[_Bill] = field(default_factory=list)
    parent: _Bill | None = None


def _party(segments: Sequence[Segment]) -> Party:
    n1 = segments[0]
    npwp = _opt(n1, 4) if _text(n1, 3) == "FI" else None
    address_lines = [_text(s, i) for s in segments if s.id == "N3" for i in (1, 2)]
    country = next((_opt(s, 4) for s in segments if s.id == "N4"), None)
    return Party(
        name=_text(n1, 2),
        npwp=npwp,
        address=" ".join(line for line in address_lines if line) or None,
        country=country,
    )


def _iter_groups(
    block: Sequence[Segment], start: str, members: set[str]
) -> Iterator[list[Segment]]:
    current: list[Segment] | None = None
    for segment in block:
        if segment.id == start:
            if current is not None:
                yield current
            current = [segment]
        elif segment.id in members and current is not None:
            current.append(segment)
        elif current is not None:
            yield current
            current = None
    if current is not None:
        yield current


def _bill(block: list[Segment], default_discharge: str | None) -> _Bill:
    lx = block[0]
    number = _integer(lx, 1)
    if number == 0 or number > 9999:
        _invalid(lx, 1, _text(lx, 1), "a pos or sub-pos number is 1 to 9999")
    m11 = next((s for s in block if s.id == "M11"), None)
    if m11 is None:
        _missing(lx, "M11", "every bill has an M11")
    bm = [s for s in block if s.id == "N9" and _text(s, 1) == "BM"]
    if len(bm) != 1:
        _missing(lx, "N9*BM", "exactly one N9*BM: B/L number, kind, date")
    bm_segment = bm[0]
    bl_number = _text(bm_segment, 2)
    if _text(m11, 1) != bl_number[-12:]:
        _invalid(m11, 1, _text(m11, 1), f"M1101 is the B/L number {bl_number} (its last 12 chars)")
    kind_raw = _required(bm_segment, 3, "N903 of N9*BM is the kind: BL, SWB, AWB, HBL, HAWB")
    try:
        kind = TransportDocumentKind(kind_raw)
    except ValueError:
        _invalid(bm_segment, 3, kind_raw, "the kind is BL, SWB, AWB, HBL or HAWB")
    if not _text(bm_segment, 4):
        _missing(bm_segment, "N904", "the date of the B/L")
    document = TransportDocument(kind=kind, number=bl_number, date=_date(bm_segment, 4))
    masters = [s for s in block if s.id == "N9" and _text(s, 1) == "MB"]
    if len(masters) > 1:
        _structure(masters[1], "a bill has at most one N9*MB")
    master = _required(masters[0], 2, "N902 of N9*MB is the master B/L") if masters else None
    references = _references(block)
    _check_phrases(references, BILL_PHRASES)
    for reference in references:
        if reference.keyword not in BILL_PHRASES:
            _invalid(reference.segment, 2, _text(reference.segment, 2), "unknown N9*ZZ keyword")
    group_ref = _one(references, "GROUP")
    group = None
    if group_ref is not None:
        raw = _value(group_ref)
        if not raw.isdigit() or not 1 <= int(raw) <= 9:
            _invalid(group_ref.segment, 3, raw, "the group is a number 1 to 6")
        group = int(raw)
    marks = _one(references, "MARKS")
    discharge_ref = _one(references, "PORT")
    discharge = _value(discharge_ref) if discharge_ref is not None else default_discharge
    if discharge is None:
        _missing(lx, "N9*ZZ*PORT OF DISCHARGE", "outward bills need a port of discharge")
    parties: dict[str, Party] = {}
    final_destination = None
    for party_segments in _iter_groups(block, "N1", {"N3", "N4"}):
        code = _text(party_segments[0], 1)
        if code in parties:
            _structure(party_segments[0], f"N1*{code} is given twice in one bill")
        parties[code] = _party(party_segments)
        if code == "FS":
            n4 = next((s for s in party_segments if s.id == "N4"), None)
            if n4 is None or _text(n4, 5) != "UN":
                _missing(party_segments[0], "N4", "N1*FS gives the UN/LOCODE in N405/N406")
            final_destination = _text(n4, 6)
    for code, label in (("SH", "shipper"), ("CN", "consignee")):
        if code not in parties:
            _missing(lx, f"N1*{code}", f"the {label} of the bill")
    containers: list[Container] = []
    goods: list[GoodsItem] = []
    for equipment in _iter_groups(block, "VID", {"N10"}):
        vid = equipment[0]
        if _text(vid, 1) == "CN":
            containers.append(
                Container(
                    number=_text(vid, 2) + _text(vid, 3),
                    size_type=_opt(vid, 9),
                    seals=tuple(seal for seal in (_text(vid, 4), _text(vid, 5)) if seal),
                    loaded=_text(vid, 10) != "E",
                )
            )
        for n10 in equipment[1:]:
            goods.append(
                GoodsItem(
                    hs_code=_text(n10, 5),
                    description=_text(n10, 2),
                    quantity=_decimal(n10, 1),
                    quantity_unit=_opt(n10, 10),
                    value=_decimal(n10, 6),
                    currency=_opt(n10, 13),
                )
            )
    weight = _decimal(m11, 5)
    assert weight is not None  # M1105 is mandatory in the map
    pos = Pos(
        number=PosNumber(pos=number),
        transport_document=document,
        shipper=parties["SH"],
        consignee=parties["CN"],
        notify=parties.get("N1"),
        port_of_loading=_text(m11, 2),
        port_of_discharge=discharge,
        packages=Packages(
            count=_integer(m11, 3),
            kind_code=_text(m11, 4),
            marks=_value(marks) if marks is not None else None,
        ),
        gross_weight_kg=weight,
        volume_m3=_decimal(m11, 7) if _text(m11, 8) == "X" else None,
        final_destination=final_destination,
        containers=tuple(containers),
        goods=tuple(goods),
    )
    return _Bill(
        lx=lx, number=number, bill_of_lading=bl_number, master=master, group=group, pos=pos
    )


def _link(bills: list[_Bill]) -> list[_Bill]:
    """Hang house bills under their master (N9*MB); return the pos-level bills."""
    by_number: dict[str, _Bill] = {}
    top: list[_Bill] = []
    for bill in bills:
        if bill.master is None:
            top.append(bill)
        else:
            master = by_number.get(bill.master)
            if master is None:
                _refuse("X12-105", bill.lx, reference=f"N9*MB*{bill.master}")
            bill.parent = master
            master.children.append(bill)
        if bill.bill_of_lading in by_number:
            _structure(bill.lx, f"B/L {bill.bill_of_lading} is given twice")
        by_number[bill.bill_of_lading] = bill
    return top


def _build(bill: _Bill, number: PosNumber) -> Pos:
    seen: set[int] = set()
    children = []
    for child in bill.children:
        if child.number in seen:
            _structure(child.lx, f"sub-pos {child.number} is given twice under one master")
        seen.add(child.number)
        children.append(_build(child, _child_number(child.lx, number, child.number)))
    return Pos(
        number=number,
        transport_document=bill.pos.transport_document,
        shipper=bill.pos.shipper,
        consignee=bill.pos.consignee,
        notify=bill.pos.notify,
        port_of_loading=bill.pos.port_of_loading,
        port_of_discharge=bill.pos.port_of_discharge,
        packages=bill.pos.packages,
        gross_weight_kg=bill.pos.gross_weight_kg,
        volume_m3=bill.pos.volume_m3,
        final_destination=bill.pos.final_destination,
        containers=bill.pos.containers,
        goods=bill.pos.goods,
        sub_pos=tuple(children),
    )


def _pos_groups(blocks: list[list[Segment]], default_discharge: str | None) -> tuple[PosGroup, ...]:
    top = _link([_bill(block, default_discharge) for block in blocks])
    groups: dict[int, list[Pos]] = {}
    seen: set[int] = set()
    for bill in top:
        if bill.group is None:
            _missing(bill.lx, "N9*ZZ*GROUP", "every pos-level bill gives its group (kelompok pos)")
        if bill.number in seen:
            _structure(bill.lx, f"pos {bill.number} is given twice")
        seen.add(bill.number)
        groups.setdefault(bill.group, []).append(_build(bill, PosNumber(pos=bill.number)))
    return tuple(PosGroup(number=n, pos=tuple(groups[n])) for n in sorted(groups))


# ---------------------------------------------------------------- 309: amendments


def _amendments(
    heading: _Heading, blocks: list[list[Segment]], context: _Context
) -> Iterator[Amendment]:
    pending: list[tuple[list[Segment], list[list[Segment]]]] = []
    for block in blocks:
        if any(s.id == "M13" for s in block):
            pending.append((block, []))
        elif pending and _text(next(s for s in pending[-1][0] if s.id == "M13"), 3) == "E":
            pending[-1][1].append(block)
        else:
            _structure(block[0], "in an amendment set an LX without M13 follows a kind E line")
    for block, breakdown in pending:
        yield _amendment(heading, block, breakdown, context)


def _amendment(
    heading: _Heading,
    block: list[Segment],
    breakdown_blocks: list[list[Segment]],
    context: _Context,
) -> Amendment:
    m13 = next(s for s in block if s.id == "M13")
    references = _references(block)
    for reference in references:
        if reference.keyword not in AMENDMENT_KEYWORDS:
            _invalid(reference.segment, 2, _text(reference.segment, 2), "unknown N9*ZZ keyword")
    bc11 = _one(references, "BC11")
    if bc11 is None:
        _missing(m13, "N9*ZZ*BC11", "the BC 1.1 number (N903) and date (N904) amended")
    bc11_number = _value(bc11)
    if not re.fullmatch(r"\d{6}", bc11_number):
        _invalid(bc11.segment, 3, bc11_number, "a BC 1.1 number is 6 digits")
    if not _text(bc11.segment, 4):
        _missing(bc11.segment, "N904", "the date of the BC 1.1")
    bc11_office = _text(m13, 2)
    if not OFFICE_CODE.fullmatch(bc11_office):
        _invalid(m13, 2, bc11_office, "M1302 is the 6-digit office code of the BC 1.1")
    pos_ref = _one(references, "POS")
    if pos_ref is None:
        _missing(m13, "N9*ZZ*POS", "the pos amended, 12 digits")
    pos_number = _pos_number(pos_ref.segment, 3)
    reasons = [_value(r) for r in references if r.keyword == "REASON"]
    if not reasons:
        _missing(m13, "N9*ZZ*REASON", "the reason of the amendment")
    documents = []
    for reference in references:
        if reference.keyword == "DOCUMENT":
            if not reference.argument or not _text(reference.segment, 4):
                _missing(reference.segment, "N9*ZZ*DOCUMENT", "'DOCUMENT <code>', number, date")
            documents.append(
                CustomsDocumentRef(
                    code=reference.argument,
                    number=_value(reference),
                    date=_date(reference.segment, 4),
                )
            )
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    order: list[str] = []
    for reference in references:
        if reference.keyword in ("OLD", "NEW"):
            if not reference.argument:
                _missing(reference.segment, "N902", f"'{reference.keyword} <field>'")
            target = old if reference.keyword == "OLD" else new
            if reference.argument in target:
                _structure(reference.segment, f"{reference.keyword} {reference.argument} twice")
            target[reference.argument] = reference.value
            if reference.keyword == "NEW":
                order.append(reference.argument)
    for name in old:
        if name not in new:
            _structure(m13, f"OLD {name} without NEW {name}")
    merged = tuple(
        _pos_number(r.segment, 3)
        for r in references
        if r.keyword == "MERGED" and r.argument.upper() == "POS"
    )
    revised = [s for s in block if s.id == "N9" and _text(s, 1) == "BM"]
    revised_document = None
    if revised:
        kind_raw = _required(revised[0], 3, "the kind of the revised B/L")
        try:
            revised_kind = TransportDocumentKind(kind_raw)
        except ValueError:
            _invalid(revised[0], 3, kind_raw, "the kind is BL, SWB, AWB, HBL or HAWB")
        revised_document = TransportDocument(
            kind=revised_kind, number=_text(revised[0], 2), date=_date(revised[0], 4)
        )
    breakdown = []
    for child_block in breakdown_blocks:
        child = _bill(
            child_block, None if heading.direction is Direction.OUTWARD else _text(heading.p4, 1)
        )
        breakdown.append(_build(child, _child_number(child.lx, pos_number, child.number)))
    return Amendment(
        header=heading.header,
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11,
            office_code=bc11_office,
            number=bc11_number,
            date=_date(bc11.segment, 4),
        ),
        pos_number=pos_number,
        kind=AmendmentKind(_text(m13, 3)),
        reason=" ".join(reasons),
        requested_by=heading.carrier,
        supporting_documents=tuple(documents),
        changes=tuple(
            FieldChange(field=name, old_value=old.get(name), new_value=new[name]) for name in order
        ),
        merged_pos=merged,
        revised_transport_document=revised_document,
        breakdown=tuple(breakdown),
    )
