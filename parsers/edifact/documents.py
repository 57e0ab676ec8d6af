"""CUSREP and CUSCAR messages -> canonical records (implementation guide: docs/formats/edifact.md).

The message has already passed :func:`parsers.edifact.structure.check` (segment order, groups,
mandatory segments, representations, code lists). What is refused here is what a segment
table cannot say: a CUSCAR without its conveyance, a house bill whose master is not in the
message, a date of 20991301, an SGP naming a container no EQD declares. Every refusal is a
:class:`~gateway.exceptions.DocumentError` with an ``EDI-1xx`` finding located at the segment
(segment number in the interchange, position in the message).

Times: DTM format 203 (CCYYMMDDHHMM) and 204 (..SS) are local times of the customs office
(``zone_for_office``); 303 (CCYYMMDDHHMMZZZ) carries its zone: ``UTC``/``GMT`` or ``+07``..
Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from gateway.codelists import package_types
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
from parsers.edifact.segments import Message, Segment
from parsers.fields import OFFICE_CODE, FieldError
from parsers.refusal import Refused, where
from parsers.refusal import refuse_at as _refuse

LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
MODES = {"1": TransportMode.SEA, "4": TransportMode.AIR, "3": TransportMode.LAND}
MODES["2"] = TransportMode.LAND  # rail
ORIGINAL, CHANGE, REPLACE = "9", "4", "5"
# LOC 3227 qualifiers
OFFICE, ORIGIN, LAST_PORT, PORT_OF_CALL, NEXT_PORT = "22", "76", "125", "60", "61"
LOADING, DISCHARGE, DELIVERY = "9", "11", "7"
# DTM 2005 qualifiers
ARRIVAL, DEPARTURE, BL_DATE, REFERENCE_DATE, PERIOD = "132", "133", "95", "171", "324"
# What happened (UNCL 2005: arrival / departure date/time, actual), in the arrival report.
ACTUAL_ARRIVAL, ACTUAL_DEPARTURE = "178", "186"
SUPPORTING_LISTS = {
    "CRL": SupportingListKind.CREW,
    "PAL": SupportingListKind.PASSENGERS,
    "SSL": SupportingListKind.SHIPS_STORES,
    "SPL": SupportingListKind.STOWAGE_PLAN,
    "FAL": SupportingListKind.FIREARMS,
    "MDL": SupportingListKind.MEDICINES,
}
TRANSPORT_DOCUMENTS = {
    "BM": TransportDocumentKind.BILL_OF_LADING,
    "SWB": TransportDocumentKind.SEA_WAYBILL,  # gateway-defined qualifier
    "BH": TransportDocumentKind.HOUSE_BILL_OF_LADING,
    "AWB": TransportDocumentKind.AIR_WAYBILL,
    "HWB": TransportDocumentKind.HOUSE_AIR_WAYBILL,
}
MASTER_REFERENCES = ("MB", "MWB")  # RFF of a house bill naming its master bill
SUPPORTING_DOCUMENT_CODES = {"BM": "705", "AWB": "740"}  # UN/ECE 1001 document codes


def _missing(at: Segment | None, what: str, detail: str) -> NoReturn:
    _refuse("EDI-102", at, segment=what, detail=detail)


def _invalid(at: Segment, element: str, value: str, detail: str) -> NoReturn:
    _refuse("EDI-103", at, value=value, element=f"{at.tag} {element}", detail=detail)


def to_documents(
    message: Message, *, zone_for_office: ZoneForOffice | None = None
) -> list[Document]:
    """Map one structurally valid CUSREP or CUSCAR to its canonical records.

    CUSREP -> ``[Rksp]`` (one TDT group) or ``[Jksp]`` (several); CUSCAR with BGM 1225 ``9``
    -> ``[Manifest]`` (inward/outward by ``GIS+I|E:DIR``, nil when no CNI group); CUSCAR with
    1225 ``4``/``5`` -> ``[Amendment]``. A local time (DTM 203/204) needs ``zone_for_office``;
    without it a :class:`ConfigurationError` is raised (the caller must pass the offices).
    """
    body = [s for s in message.segments if s.tag not in ("UNH", "UNT")]
    first = message.segments[0] if message.segments else None
    try:
        context = _Context(office=_office(message, body), zone_for_office=zone_for_office)
        if message.type == "CUSREP":
            return [_conveyance_notice(body, context, first)]
        if message.type == "CUSCAR":
            return [_cuscar(body, context, first)]
        _refuse("EDI-101", first, message=f"{message.type}:{message.version}:{message.release}")
    except Refused as refused:
        raise refused.error(default=where(first) or Location(line=message.line)) from None


# ---------------------------------------------------------------- reading segments


@dataclass(slots=True)
class _Context:
    office: str
    zone_for_office: ZoneForOffice | None

    def local_zone(self, at: Segment) -> tzinfo:
        if self.zone_for_office is None:
            raise ConfigurationError(
                "parsers.edifact.documents.to_documents needs zone_for_office to read local times"
            )
        zone = self.zone_for_office(self.office)
        if zone is None:
            _refuse("OFF-001", at, office=self.office)
        return zone


def _office(message: Message, body: Sequence[Segment]) -> str:
    for segment in body:
        if segment.tag == "CNI":
            break
        if segment.tag == "LOC" and segment.get(1) == OFFICE:
            office = segment.get(2).strip()
            if not OFFICE_CODE.fullmatch(office):
                _refuse("EDI-104", segment, value=office)
            return office
    if OFFICE_CODE.fullmatch(message.recipient.strip()):
        return message.recipient.strip()
    _missing(body[0] if body else None, "LOC+22", "the 6-digit customs office code")


def _text(segment: Segment, index: int, component: int = 1) -> str:
    return segment.get(index, component).strip()


def _joined(segment: Segment, index: int, separator: str) -> str:
    if index > len(segment.elements):
        return ""
    value = segment.elements[index - 1]
    parts = value if isinstance(value, tuple) else (value,)
    return separator.join(p.strip() if separator else p for p in parts if p).strip()


def _decimal(segment: Segment, index: int, component: int, what: str) -> Decimal:
    raw = _text(segment, index, component)
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        _invalid(segment, what, raw, "not a decimal number")
    if not value.is_finite() or value < 0:
        _invalid(segment, what, raw, "not a decimal number")
    return value


def _count(segment: Segment, index: int, component: int, what: str) -> int:
    value = _decimal(segment, index, component, what)
    if value != value.to_integral_value():
        _invalid(segment, what, _text(segment, index, component), "not a whole number")
    return int(value)


def _locode(segment: Segment) -> str:
    value = _text(segment, 2)
    if not LOCODE.fullmatch(value):
        _invalid(segment, "3225", value, "not a UN/LOCODE (e.g. IDTPP)")
    return value


def _date(segment: Segment, raw: str) -> date:
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        _invalid(segment, "2380", raw, error.detail)


def _dtm_date(segment: Segment) -> date:
    value, fmt = _text(segment, 1, 2), _text(segment, 1, 3)
    if fmt != "102":
        _invalid(segment, "2379", fmt, "a date is sent with format 102 (CCYYMMDD)")
    return _date(segment, value)


def _dtm_period(segment: Segment) -> tuple[date, date]:
    value, fmt = _text(segment, 1, 2), _text(segment, 1, 3)
    if fmt != "718" or not re.fullmatch(r"\d{8}-\d{8}", value):
        _invalid(segment, "2380", value, "a period is CCYYMMDD-CCYYMMDD with format 718")
    start, end = _date(segment, value[:8]), _date(segment, value[9:])
    if end < start:
        _invalid(segment, "2380", value, "the period ends before it starts")
    return start, end


_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)?")


def _dtm_instant(context: _Context, segment: Segment) -> datetime:
    value, fmt = _text(segment, 1, 2), _text(segment, 1, 3)
    if fmt in ("203", "204"):
        width = 12 if fmt == "203" else 14
        if not re.fullmatch(rf"\d{{{width}}}", value):
            _invalid(segment, "2380", value, f"format {fmt} is {width} digits")
        zone: tzinfo = context.local_zone(segment)
        digits = value
    elif fmt == "303":
        digits, suffix = value[:12], value[12:]
        if not re.fullmatch(r"\d{12}", digits):
            _invalid(segment, "2380", value, "format 303 is CCYYMMDDHHMM and a time zone")
        if suffix in ("UTC", "GMT", "Z"):
            zone = UTC
        else:
            offset = _OFFSET.fullmatch(suffix)
            if offset is None or int(offset.group(2)) > 14:
                _invalid(segment, "2380", value, "the time zone is UTC or +HH / -HH")
            sign = -1 if offset.group(1) == "-" else 1
            minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
            zone = timezone(sign * timedelta(minutes=minutes))
    else:
        _invalid(segment, "2379", fmt, "a date and time is sent with format 203, 204 or 303")
    try:
        seconds = int(digits[12:14]) if len(digits) >= 14 else 0
        return datetime(
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            seconds,
            tzinfo=zone,
        )
    except ValueError:
        _invalid(segment, "2380", value, "not a valid date and time")


def _pos_number(segment: Segment, raw: str) -> PosNumber:
    try:
        return fields.pos_number(raw, shape="a pos number is 4 digits or 12 digits pos+sub+sub-sub")
    except FieldError as error:
        _invalid(segment, "1004", raw, error.detail)


def _party(segment: Segment) -> Party:
    name = _joined(segment, 4, "")
    if not name:
        _missing(segment, f"NAD+{segment.get(1)} 3036", "the party name")
    npwp = _text(segment, 2) if _text(segment, 2, 2) == "NPWP" else ""
    if npwp and not re.fullmatch(r"\d{15,16}", npwp):
        _invalid(segment, "3039", npwp, "an NPWP is 15 or 16 digits")
    country = _text(segment, 9)
    return Party(
        name=name,
        npwp=npwp or None,
        address=_joined(segment, 5, ", ") or None,
        country=country or None,
    )


def _conveyance(segment: Segment) -> Conveyance:
    mode = MODES.get(_text(segment, 3))
    if mode is None:
        _invalid(segment, "8067", _text(segment, 3), "mode of transport is 1, 2, 3 or 4")
    name = _text(segment, 8, 4)
    if not name:
        _missing(segment, "TDT C222 8212", "the name of the conveyance")
    ident, qualifier = _text(segment, 8, 1), _text(segment, 8, 2)
    imo = ident if qualifier == "146" and ident else None
    if imo is not None and not re.fullmatch(r"\d{7}", imo):
        _invalid(segment, "8213", imo, "an IMO number is 7 digits")
    call_sign = ident if qualifier == "103" and ident else None
    return Conveyance(
        mode=mode,
        name=name,
        imo_number=imo,
        call_sign=call_sign,
        flag=_text(segment, 8, 5) or None,
    )


def _measures(segments: Iterable[Segment]) -> dict[str, Decimal]:
    return {
        _text(s, 2): _decimal(s, 3, 2, "6314")
        for s in segments
        if s.tag == "MEA" and _text(s, 1) == "AAE"
    }


@dataclass(slots=True)
class _Call:
    tdt: Segment
    locations: dict[str, tuple[Segment, list[Segment]]]  # 3227 -> (LOC, its DTMs)
    dtms: list[Segment]  # every DTM of the TDT group


def _calls(body: Sequence[Segment]) -> list[_Call]:
    calls: list[_Call] = []
    current: _Call | None = None
    last: list[Segment] | None = None
    for segment in body:
        if segment.tag == "TDT":
            current = _Call(tdt=segment, locations={}, dtms=[])
            calls.append(current)
            last = None
        elif current is None or segment.tag not in ("LOC", "DTM", "RFF"):
            current, last = None, None
        elif segment.tag == "LOC":
            last = []
            current.locations.setdefault(segment.get(1), (segment, last))
        elif segment.tag == "DTM":
            current.dtms.append(segment)
            if last is not None:
                last.append(segment)
    return calls


def _port(call: _Call, qualifier: str, required: bool) -> str | None:
    found = call.locations.get(qualifier)
    if found is None:
        if required:
            _missing(call.tdt, f"LOC+{qualifier}", "in the TDT group")
        return None
    return _locode(found[0])


def _instant_at(
    context: _Context, call: _Call, qualifier: str, dtm: str, required: bool
) -> datetime | None:
    """DTM ``dtm`` of the call: after its LOC (CUSREP) or anywhere in the TDT group (CUSCAR)."""
    for segment in call.dtms:
        if segment.get(1) == dtm:
            return _dtm_instant(context, segment)
    if required:
        found = call.locations.get(qualifier)
        _missing(found[0] if found else call.tdt, f"DTM+{dtm}", "in the TDT group")
    return None


def _carrier(body: Sequence[Segment], at: Segment | None) -> Party:
    for segment in body:
        if segment.tag == "NAD" and segment.get(1) == "CA":
            return _party(segment)
        if segment.tag in ("CNI", "TDT"):
            break
    _missing(at, "NAD+CA", "the carrier")


def _reference_with_date(
    body: Sequence[Segment], qualifier: str
) -> tuple[Segment, str, date | None] | None:
    """A header RFF (before the first TDT) and the DTM+171 that follows it."""
    for i, segment in enumerate(body):
        if segment.tag in ("TDT", "CNI"):
            return None
        if segment.tag == "RFF" and segment.get(1) == qualifier:
            when = None
            following = body[i + 1] if i + 1 < len(body) else None
            if following is not None and following.tag == "DTM":
                if following.get(1) == REFERENCE_DATE:
                    when = _dtm_date(following)
            return segment, _text(segment, 1, 2), when
    return None


def _registration(
    body: Sequence[Segment], kind: RegistrationKind, office: str, bgm: Segment
) -> RegistrationRef:
    found = _reference_with_date(body, "ACW")
    if found is None:
        _missing(bgm, "RFF+ACW", f"a change names the registered {kind} (number and DTM+171)")
    segment, number, when = found
    if not re.fullmatch(r"\d{6}", number):
        _invalid(segment, "1154", number, f"a {kind} number is 6 digits")
    if when is None:
        _missing(segment, "DTM+171", f"the date of the {kind} after RFF+ACW")
    return RegistrationRef(kind=kind, office_code=office, number=number, date=when)


def _bgm(body: Sequence[Segment], first: Segment | None) -> tuple[Segment, str]:
    bgm = body[0] if body and body[0].tag == "BGM" else None
    if bgm is None:
        _missing(first, "BGM", "the message starts with BGM")
    function = _text(bgm, 3) or ORIGINAL
    if function not in (ORIGINAL, CHANGE, REPLACE):
        _refuse("EDI-107", bgm, function=function)
    return bgm, function


# ---------------------------------------------------------------- CUSREP -> RKSP / JKSP


def _conveyance_notice(
    body: Sequence[Segment], context: _Context, first: Segment | None
) -> Document:
    bgm, function = _bgm(body, first)
    calls = _calls(body)
    if not calls:
        _missing(bgm, "TDT", "a CUSREP has one TDT group per call")
    conveyance = _conveyance(calls[0].tdt)
    for call in calls[1:]:
        other = _conveyance(call.tdt)
        if (other.name, other.imo_number) != (conveyance.name, conveyance.imo_number):
            _refuse("EDI-106", call.tdt, detail="every TDT group names the same conveyance")
    measures = _measures(s for s in body if s.tag == "MEA")
    conveyance = Conveyance(
        mode=conveyance.mode,
        name=conveyance.name,
        imo_number=conveyance.imo_number,
        call_sign=conveyance.call_sign,
        flag=conveyance.flag,
        gross_tonnage=measures.get("GT"),
        length_overall_m=measures.get("LOA"),
        draft_fore_m=measures.get("DRF"),
        draft_aft_m=measures.get("DRA"),
    )
    carrier = _carrier([s for s in body if s.tag != "TDT"], bgm)
    header = DocumentHeader(office_code=context.office, sender_reference=None, language=None)
    amends = (
        _registration(body, RegistrationKind.BC10, context.office, bgm)
        if function != ORIGINAL
        else None
    )
    arrival_ports = {_port(call, PORT_OF_CALL, True) for call in calls}
    if len(arrival_ports) != 1:
        _refuse("EDI-106", calls[1].tdt, detail="every call is at the same port (LOC+60)")
    port_of_arrival = arrival_ports.pop() or ""
    scheduled = [
        ScheduledCall(
            voyage_number=_voyage(call.tdt),
            port_of_origin=_port(call, ORIGIN, True) or "",
            last_port_of_call=_port(call, LAST_PORT, True) or "",
            next_port=_port(call, NEXT_PORT, False),
            eta=_instant_at(context, call, PORT_OF_CALL, ARRIVAL, True)
            or datetime.min.replace(tzinfo=UTC),
            etd=_instant_at(context, call, PORT_OF_CALL, DEPARTURE, False),
            actual_arrival=_instant_at(context, call, PORT_OF_CALL, ACTUAL_ARRIVAL, False),
            actual_departure=_instant_at(context, call, PORT_OF_CALL, ACTUAL_DEPARTURE, False),
        )
        for call in calls
    ]
    if len(calls) == 1:
        only = scheduled[0]
        voyage = _reference_with_date(body, "VON")
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
            voyage_date=voyage[2] if voyage else None,
            amends=amends,
        )
    period = next((s for s in body if s.tag == "DTM" and s.get(1) == PERIOD), None)
    if period is None:
        _missing(bgm, "DTM+324", "a JKSP (several TDT groups) gives its period")
    start, end = _dtm_period(period)
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


def _voyage(tdt: Segment) -> str:
    voyage = _text(tdt, 2)
    if not voyage:
        _missing(tdt, "TDT 8028", "the voyage number")
    return voyage


# ---------------------------------------------------------------- CUSCAR -> manifest


@dataclass(slots=True)
class _Consignment:
    cni: Segment
    segments: list[Segment]
    goods: list[list[Segment]]


def _split(
    body: Sequence[Segment],
) -> tuple[list[Segment], list[list[Segment]], list[_Consignment]]:
    """Header segments, equipment groups (EQD..) and consignment groups (CNI..)."""
    header: list[Segment] = []
    equipment: list[list[Segment]] = []
    consignments: list[_Consignment] = []
    for segment in body:
        if segment.tag == "CNI":
            consignments.append(_Consignment(cni=segment, segments=[], goods=[]))
        elif consignments:
            current = consignments[-1]
            if segment.tag == "GID":
                current.goods.append([segment])
            elif current.goods:
                current.goods[-1].append(segment)
            else:
                current.segments.append(segment)
        elif segment.tag == "EQD":
            equipment.append([segment])
        elif equipment and segment.tag in ("TSR", "MEA", "DIM", "SEL"):
            equipment[-1].append(segment)
        else:
            header.append(segment)
    return header, equipment, consignments


def _gis(segments: Iterable[Segment], code_list: str) -> Segment | None:
    return next((s for s in segments if s.tag == "GIS" and _text(s, 1, 2) == code_list), None)


def _cuscar(body: Sequence[Segment], context: _Context, first: Segment | None) -> Document:
    bgm, function = _bgm(body, first)
    header_segments, equipment, consignments = _split(body)
    containers = _containers(equipment)
    if function != ORIGINAL:
        return _amendment(bgm, header_segments, consignments, containers, context)
    calls = _calls(header_segments)
    if len(calls) != 1:
        _refuse("EDI-106", bgm, detail="a CUSCAR has exactly one TDT group (the conveyance)")
    call = calls[0]
    direction_gis = _gis(header_segments, "DIR")
    if direction_gis is None:
        _missing(bgm, "GIS+I:DIR or GIS+E:DIR", "the direction of the manifest")
    direction = {"I": Direction.INWARD, "E": Direction.OUTWARD}.get(_text(direction_gis, 1))
    if direction is None:
        _invalid(direction_gis, "7365", _text(direction_gis, 1), "I (inward) or E (outward)")
    inward = direction is Direction.INWARD
    arrival = _instant_at(context, call, PORT_OF_CALL, ARRIVAL, inward)
    departure = _instant_at(context, call, PORT_OF_CALL, DEPARTURE, not inward)
    groups = _pos_groups(consignments, containers, context)
    used = {
        c.number for group in groups for pos in group.pos for p in pos.walk() for c in p.containers
    }
    for number, (eqd, _container) in containers.items():
        if number not in used:
            _refuse("EDI-105", eqd, reference=f"EQD {number} (no SGP names it)")
    return Manifest(
        header=DocumentHeader(office_code=context.office),
        direction=direction,
        conveyance=_conveyance(call.tdt),
        carrier=_carrier(header_segments, bgm),
        voyage_number=_voyage(call.tdt),
        port_of_origin=_port(call, ORIGIN, True) or "",
        last_port_of_call=_port(call, LAST_PORT, False),
        port_of_call=_port(call, PORT_OF_CALL, True) or "",
        next_port=_port(call, NEXT_PORT, False),
        arrival_at=arrival if inward else None,
        departure_at=departure if not inward else None,
        groups=groups,
        supporting_lists=_supporting_lists(header_segments),
        nil=not consignments,
    )


def _supporting_lists(header: Sequence[Segment]) -> tuple[SupportingList, ...]:
    lists = []
    for segment in header:
        kind = SUPPORTING_LISTS.get(segment.get(1)) if segment.tag == "RFF" else None
        if kind is None:
            continue
        entries = _text(segment, 1, 3)
        if entries and not entries.isdigit():
            _invalid(segment, "1156", entries, "the number of entries is a whole number")
        lists.append(
            SupportingList(
                kind=kind, reference=_text(segment, 1, 2), entries=int(entries) if entries else None
            )
        )
    return tuple(lists)


def _containers(equipment: Sequence[Sequence[Segment]]) -> dict[str, tuple[Segment, Container]]:
    found: dict[str, tuple[Segment, Container]] = {}
    for group in equipment:
        eqd = group[0]
        number = _text(eqd, 2)
        if not _iso6346_valid(number):
            _invalid(eqd, "8260", number, "not an ISO 6346 container number with check digit")
        if number in found:
            _refuse("EDI-106", eqd, detail=f"container {number} is declared twice")
        seals = tuple(_text(s, 1) for s in group if s.tag == "SEL")
        found[number] = (
            eqd,
            Container(
                number=number,
                size_type=_text(eqd, 3) or None,
                seals=seals,
                loaded=_text(eqd, 6) != "4",
            ),
        )
    return found


def _iso6346_valid(number: str) -> bool:
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{7}", number):
        return False
    values = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _LETTER_VALUES, strict=True))
    total = sum((values[c] if c.isalpha() else int(c)) * (2**i) for i, c in enumerate(number[:10]))
    return bool(total % 11 % 10 == int(number[10]))


_LETTER_VALUES = [v for v in range(10, 39) if v % 11 != 0]


@dataclass(slots=True)
class _Bill:
    number: PosNumber
    segment: Segment
    master: str | None  # the master bill number a house bill names
    group: int | None
    pos: Pos


def _pos_groups(
    consignments: Sequence[_Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: _Context,
) -> tuple[PosGroup, ...]:
    bills = [_bill(c, containers) for c in consignments]
    masters: dict[str, _Bill] = {}
    children: dict[int, list[_Bill]] = {}
    top: list[_Bill] = []
    for bill in bills:
        if bill.master is None:
            if bill.number.sub_pos:
                _invalid(
                    bill.segment, "1004", str(bill.number), "a sub-pos names its master (RFF+MB)"
                )
            masters[bill.pos.transport_document.number] = bill
            top.append(bill)
            children[id(bill)] = []
            continue
        parent = masters.get(bill.master)
        if parent is None:
            _refuse("EDI-105", bill.segment, reference=f"RFF+MB {bill.master}")
        if bill.number.pos != parent.number.pos or bill.number.sub_pos == 0:
            _invalid(
                bill.segment,
                "1004",
                str(bill.number),
                f"a house bill is a sub-pos of pos {parent.number.pos}",
            )
        if bill.group is not None and bill.group != parent.group:
            _invalid(bill.segment, "7365", str(bill.group), "a house bill is in its master's group")
        children[id(parent)].append(bill)
    groups: dict[int, list[Pos]] = {}
    seen: set[str] = set()
    for bill in top:
        if bill.group is None:
            _missing(bill.segment, "GIS+n:KPOS", "the group (kelompok pos) of the pos")
        pos = bill.pos
        subs = tuple(child.pos for child in children[id(bill)])
        if subs:
            pos = _with_subs(pos, subs)
        for p in pos.walk():
            if str(p.number) in seen:
                _invalid(bill.segment, "1004", str(p.number), "pos number used twice")
            seen.add(str(p.number))
        groups.setdefault(bill.group, []).append(pos)
    return tuple(PosGroup(number=n, pos=tuple(p)) for n, p in sorted(groups.items()))


def _with_subs(pos: Pos, subs: tuple[Pos, ...]) -> Pos:
    return Pos(
        number=pos.number,
        transport_document=pos.transport_document,
        shipper=pos.shipper,
        consignee=pos.consignee,
        notify=pos.notify,
        port_of_loading=pos.port_of_loading,
        port_of_discharge=pos.port_of_discharge,
        packages=pos.packages,
        gross_weight_kg=pos.gross_weight_kg,
        volume_m3=pos.volume_m3,
        final_destination=pos.final_destination,
        containers=pos.containers,
        goods=pos.goods,
        sub_pos=subs,
    )


def _bill(consignment: _Consignment, containers: dict[str, tuple[Segment, Container]]) -> _Bill:
    cni = consignment.cni
    number = _pos_number(cni, _text(cni, 2))
    segments = consignment.segments
    document: TransportDocument | None = None
    master: str | None = None
    for i, segment in enumerate(segments):
        if segment.tag != "RFF":
            continue
        qualifier = segment.get(1)
        if qualifier in MASTER_REFERENCES:
            master = _text(segment, 1, 2)
        kind = TRANSPORT_DOCUMENTS.get(qualifier)
        if kind is not None:
            following = segments[i + 1] if i + 1 < len(segments) else None
            if following is None or following.tag != "DTM" or following.get(1) != BL_DATE:
                _missing(segment, "DTM+95", "the date of the transport document after its RFF")
            document = TransportDocument(
                kind=kind, number=_text(segment, 1, 2), date=_dtm_date(following)
            )
    if document is None:
        _missing(cni, "RFF+BM/SWB/BH/AWB/HWB", "the transport document of the pos")
    parties = {s.get(1): s for s in segments if s.tag == "NAD"}
    for role in ("CZ", "CN"):
        if role not in parties:
            _missing(cni, f"NAD+{role}", "shipper (CZ) and consignee (CN) are required")
    locations = {s.get(1): s for s in segments if s.tag == "LOC"}
    for qualifier in (LOADING, DISCHARGE):
        if qualifier not in locations:
            _missing(cni, f"LOC+{qualifier}", "ports of loading (9) and discharge (11)")
    totals = {s.get(1): s for s in segments if s.tag == "CNT"}
    if "7" not in totals:
        _missing(cni, "CNT+7", "the gross weight in kg")
    weight = totals["7"]
    if _text(weight, 1, 3) not in ("", "KGM"):
        _invalid(weight, "6411", _text(weight, 1, 3), "the gross weight is in KGM")
    volume = totals.get("15")
    group_gis = _gis(segments, "KPOS")
    group: int | None = None
    if group_gis is not None:
        raw = _text(group_gis, 1)
        if raw not in {"1", "2", "3", "4", "5", "6"}:
            _invalid(group_gis, "7365", raw, "the group is 1 to 6")
        group = int(raw)
    goods, packages, bill_containers = _goods(consignment, containers)
    if "11" in totals:
        packages = Packages(
            count=_count(totals["11"], 1, 2, "6066"),
            kind_code=packages.kind_code,
            marks=packages.marks,
        )
    pos = Pos(
        number=number,
        transport_document=document,
        shipper=_party(parties["CZ"]),
        consignee=_party(parties["CN"]),
        notify=_party(parties["N1"]) if "N1" in parties else None,
        port_of_loading=_locode(locations[LOADING]),
        port_of_discharge=_locode(locations[DISCHARGE]),
        packages=packages,
        gross_weight_kg=_decimal(weight, 1, 2, "6066"),
        volume_m3=_decimal(volume, 1, 2, "6066") if volume is not None else None,
        final_destination=_locode(locations[DELIVERY]) if DELIVERY in locations else None,
        containers=bill_containers,
        goods=goods,
    )
    return _Bill(number=number, segment=cni, master=master, group=group, pos=pos)


def _goods(
    consignment: _Consignment, containers: dict[str, tuple[Segment, Container]]
) -> tuple[tuple[GoodsItem, ...], Packages, tuple[Container, ...]]:
    items: list[GoodsItem] = []
    count = 0
    kinds: list[str] = []
    marks: list[str] = []
    used: dict[str, Container] = {}
    if not consignment.goods:
        _missing(consignment.cni, "GID", "every pos describes its goods (HS heading)")
    for group in consignment.goods:
        gid = group[0]
        if _text(gid, 2, 1):
            count += _count(gid, 2, 1, "7224")
            kind = _text(gid, 2, 2)
            if kind and kind not in kinds:
                kinds.append(kind)
        hs = ""
        description = ""
        quantity: Decimal | None = None
        unit: str | None = None
        value: Decimal | None = None
        currency: str | None = None
        for segment in group:
            if segment.tag == "CST" or (segment.tag == "PIA" and _text(segment, 2, 2) == "HS"):
                hs = _text(segment, 2, 1)
                if not re.fullmatch(r"\d{4}(\d{2}){0,3}", hs):
                    _invalid(segment, "HS", hs, "an HS code is 4, 6, 8 or 10 digits")
            elif segment.tag == "FTX" and segment.get(1) == "AAA":
                description = " ".join(filter(None, (description, _joined(segment, 4, " "))))
            elif segment.tag == "MEA" and segment.get(1) == "CT":
                quantity = _decimal(segment, 3, 2, "6314")
                unit = _text(segment, 3, 1) or None
            elif segment.tag == "MOA" and segment.get(1) == "44":
                value = _decimal(segment, 1, 2, "5004")
                currency = _text(segment, 1, 3) or None
            elif segment.tag == "PCI":
                text = _joined(segment, 2, " ")
                if text and text not in marks:
                    marks.append(text)
            elif segment.tag == "SGP":
                number = _text(segment, 1)
                if number not in containers:
                    _refuse("EDI-105", segment, reference=f"SGP {number} (no EQD declares it)")
                used.setdefault(number, containers[number][1])
        if not hs:
            _missing(gid, "CST or PIA+5 (HS)", "the HS code of the goods item")
        if not description:
            _missing(gid, "FTX+AAA", "the description of the goods item")
        items.append(
            GoodsItem(
                hs_code=hs,
                description=description,
                quantity=quantity,
                quantity_unit=unit,
                value=value,
                currency=currency,
            )
        )
    # Goods items of several kinds make a pos of packages (PK), unless a kind is no Rec. 21
    # code: that one stays, for GW-ID-PACKAGE to refuse rather than PK to hide.
    unknown = [kind for kind in kinds if kind not in package_types()]
    packages = Packages(
        count=count,
        kind_code=kinds[0] if len(kinds) == 1 else (unknown[0] if unknown else "PK"),
        marks=" / ".join(marks) or None,
    )
    return tuple(items), packages, tuple(used.values())


# ---------------------------------------------------------------- CUSCAR 4/5 -> amendment


AMENDMENT_KINDS = {k.value: k for k in AmendmentKind}


def _amendment(
    bgm: Segment,
    header: Sequence[Segment],
    consignments: Sequence[_Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: _Context,
) -> Amendment:
    kind_gis = _gis(header, "AMK")
    if kind_gis is None:
        _missing(bgm, "GIS+x:AMK", "the kind of amendment (A-E)")
    kind = AMENDMENT_KINDS.get(_text(kind_gis, 1))
    if kind is None:
        _invalid(kind_gis, "7365", _text(kind_gis, 1), "the kind of amendment is A, B, C, D or E")
    bc11 = _registration(header, RegistrationKind.BC11, context.office, bgm)
    if not consignments:
        _missing(bgm, "CNI", "the pos being amended")
    amended = consignments[0]
    pos_number = _pos_number(amended.cni, _text(amended.cni, 2))
    reason = " ".join(
        _joined(s, 4, " ") for s in header if s.tag == "FTX" and s.get(1) == "ACD"
    ).strip()
    if not reason:
        _missing(bgm, "FTX+ACD", "the reason for the amendment")
    requester = next(
        (s for s in header if s.tag == "NAD" and s.get(1) == "MS"),
        next((s for s in header if s.tag == "NAD" and s.get(1) == "CA"), None),
    )
    if requester is None:
        _missing(bgm, "NAD+MS", "the party asking for the amendment")
    changes = []
    for segment in header:
        if segment.tag == "FTX" and segment.get(1) == "CHG":
            field = _text(segment, 4, 1)
            if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", field):
                _invalid(segment, "4440", field, "a field path such as consignee.name")
            new_value = _text(segment, 4, 3)
            if not new_value:
                _missing(segment, "FTX+CHG 4440/3", "the new value")
            changes.append(
                FieldChange(
                    field=field, old_value=_text(segment, 4, 2) or None, new_value=new_value
                )
            )
    documents = []
    for i, segment in enumerate(header):
        code = SUPPORTING_DOCUMENT_CODES.get(segment.get(1)) if segment.tag == "RFF" else None
        if code is None:
            continue
        following = header[i + 1] if i + 1 < len(header) else None
        if following is None or following.tag != "DTM" or following.get(1) != REFERENCE_DATE:
            _missing(segment, "DTM+171", "the date of the supporting document")
        documents.append(
            CustomsDocumentRef(code=code, number=_text(segment, 1, 2), date=_dtm_date(following))
        )
    others = consignments[1:]
    merged: tuple[PosNumber, ...] = ()
    breakdown: tuple[Pos, ...] = ()
    revised: TransportDocument | None = None
    if kind is AmendmentKind.MERGE_POS:
        merged = tuple(_pos_number(c.cni, _text(c.cni, 2)) for c in others)
        if not merged:
            _missing(amended.cni, "CNI", "kind D names the pos merged into the first CNI")
        revised = _bill(amended, containers).pos.transport_document
    elif kind is AmendmentKind.BREAKDOWN:
        breakdown = tuple(_bill(c, containers).pos for c in others)
        if not breakdown:
            _missing(amended.cni, "CNI", "kind E gives the house-level pos after the first CNI")
    elif others:
        _refuse("EDI-106", others[0].cni, detail=f"an amendment of kind {kind.value} names one pos")
    return Amendment(
        header=DocumentHeader(office_code=context.office),
        bc11=bc11,
        pos_number=pos_number,
        kind=kind,
        reason=reason,
        requested_by=_party(requester),
        supporting_documents=tuple(documents),
        changes=tuple(changes),
        merged_pos=merged,
        revised_transport_document=revised,
        breakdown=breakdown,
    )
