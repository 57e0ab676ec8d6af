"""Reading EDIFACT segments for the mappers: data elements and components, DTM dates and
instants, pos numbers, the parties, conveyance and calls every message names, and the
EDI-1xx refusals placed at a segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from gateway.exceptions import ConfigurationError
from gateway.model import (
    Conveyance,
    Party,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
    SupportingListKind,
    TransportDocumentKind,
    TransportMode,
)
from parsers import fields
from parsers.base import ZoneForOffice
from parsers.edifact.segments import Message, Segment
from parsers.fields import OFFICE_CODE, FieldError
from parsers.refusal import refuse_at

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


def missing(at: Segment | None, what: str, detail: str) -> NoReturn:
    refuse_at("EDI-102", at, segment=what, detail=detail)


def invalid(at: Segment, element: str, value: str, detail: str) -> NoReturn:
    refuse_at("EDI-103", at, value=value, element=f"{at.tag} {element}", detail=detail)


# ---------------------------------------------------------------- reading segments


@dataclass(slots=True)
class Context:
    office: str
    zone_for_office: ZoneForOffice | None

    def local_zone(self, at: Segment) -> tzinfo:
        if self.zone_for_office is None:
            raise ConfigurationError(
                "parsers.edifact.documents.to_documents needs zone_for_office to read local times"
            )
        zone = self.zone_for_office(self.office)
        if zone is None:
            refuse_at("OFF-001", at, office=self.office)
        return zone


def office_of(message: Message, body: Sequence[Segment]) -> str:
    for segment in body:
        if segment.tag == "CNI":
            break
        if segment.tag == "LOC" and segment.get(1) == OFFICE:
            office = segment.get(2).strip()
            if not OFFICE_CODE.fullmatch(office):
                refuse_at("EDI-104", segment, value=office)
            return office
    if OFFICE_CODE.fullmatch(message.recipient.strip()):
        return message.recipient.strip()
    missing(body[0] if body else None, "LOC+22", "the 6-digit customs office code")


def text_at(segment: Segment, index: int, component: int = 1) -> str:
    return segment.get(index, component).strip()


def joined(segment: Segment, index: int, separator: str) -> str:
    if index > len(segment.elements):
        return ""
    value = segment.elements[index - 1]
    parts = value if isinstance(value, tuple) else (value,)
    return separator.join(p.strip() if separator else p for p in parts if p).strip()


def decimal_at(segment: Segment, index: int, component: int, what: str) -> Decimal:
    raw = text_at(segment, index, component)
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        invalid(segment, what, raw, "not a decimal number")
    if not value.is_finite() or value < 0:
        invalid(segment, what, raw, "not a decimal number")
    return value


def count_at(segment: Segment, index: int, component: int, what: str) -> int:
    value = decimal_at(segment, index, component, what)
    if value != value.to_integral_value():
        invalid(segment, what, text_at(segment, index, component), "not a whole number")
    return int(value)


def locode(segment: Segment) -> str:
    value = text_at(segment, 2)
    if not LOCODE.fullmatch(value):
        invalid(segment, "3225", value, "not a UN/LOCODE (e.g. IDTPP)")
    return value


def _date(segment: Segment, raw: str) -> date:
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        invalid(segment, "2380", raw, error.detail)


def dtm_date(segment: Segment) -> date:
    value, fmt = text_at(segment, 1, 2), text_at(segment, 1, 3)
    if fmt != "102":
        invalid(segment, "2379", fmt, "a date is sent with format 102 (CCYYMMDD)")
    return _date(segment, value)


def dtm_period(segment: Segment) -> tuple[date, date]:
    value, fmt = text_at(segment, 1, 2), text_at(segment, 1, 3)
    if fmt != "718" or not re.fullmatch(r"\d{8}-\d{8}", value):
        invalid(segment, "2380", value, "a period is CCYYMMDD-CCYYMMDD with format 718")
    start, end = _date(segment, value[:8]), _date(segment, value[9:])
    if end < start:
        invalid(segment, "2380", value, "the period ends before it starts")
    return start, end


_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)?")


def _dtm_instant(context: Context, segment: Segment) -> datetime:
    value, fmt = text_at(segment, 1, 2), text_at(segment, 1, 3)
    if fmt in ("203", "204"):
        width = 12 if fmt == "203" else 14
        if not re.fullmatch(rf"\d{{{width}}}", value):
            invalid(segment, "2380", value, f"format {fmt} is {width} digits")
        zone: tzinfo = context.local_zone(segment)
        digits = value
    elif fmt == "303":
        digits, suffix = value[:12], value[12:]
        if not re.fullmatch(r"\d{12}", digits):
            invalid(segment, "2380", value, "format 303 is CCYYMMDDHHMM and a time zone")
        if suffix in ("UTC", "GMT", "Z"):
            zone = UTC
        else:
            offset = _OFFSET.fullmatch(suffix)
            if offset is None or int(offset.group(2)) > 14:
                invalid(segment, "2380", value, "the time zone is UTC or +HH / -HH")
            sign = -1 if offset.group(1) == "-" else 1
            minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
            zone = timezone(sign * timedelta(minutes=minutes))
    else:
        invalid(segment, "2379", fmt, "a date and time is sent with format 203, 204 or 303")
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
        invalid(segment, "2380", value, "not a valid date and time")


def pos_number_at(segment: Segment, raw: str) -> PosNumber:
    try:
        return fields.pos_number(raw, shape="a pos number is 4 digits or 12 digits pos+sub+sub-sub")
    except FieldError as error:
        invalid(segment, "1004", raw, error.detail)


def party_of(segment: Segment) -> Party:
    name = joined(segment, 4, "")
    if not name:
        missing(segment, f"NAD+{segment.get(1)} 3036", "the party name")
    npwp = text_at(segment, 2) if text_at(segment, 2, 2) == "NPWP" else ""
    if npwp and not re.fullmatch(r"\d{15,16}", npwp):
        invalid(segment, "3039", npwp, "an NPWP is 15 or 16 digits")
    country = text_at(segment, 9)
    return Party(
        name=name,
        npwp=npwp or None,
        address=joined(segment, 5, ", ") or None,
        country=country or None,
    )


def conveyance_of(segment: Segment) -> Conveyance:
    mode = MODES.get(text_at(segment, 3))
    if mode is None:
        invalid(segment, "8067", text_at(segment, 3), "mode of transport is 1, 2, 3 or 4")
    name = text_at(segment, 8, 4)
    if not name:
        missing(segment, "TDT C222 8212", "the name of the conveyance")
    ident, qualifier = text_at(segment, 8, 1), text_at(segment, 8, 2)
    imo = ident if qualifier == "146" and ident else None
    if imo is not None and not re.fullmatch(r"\d{7}", imo):
        invalid(segment, "8213", imo, "an IMO number is 7 digits")
    call_sign = ident if qualifier == "103" and ident else None
    return Conveyance(
        mode=mode,
        name=name,
        imo_number=imo,
        call_sign=call_sign,
        flag=text_at(segment, 8, 5) or None,
    )


def measures_in(segments: Iterable[Segment]) -> dict[str, Decimal]:
    return {
        text_at(s, 2): decimal_at(s, 3, 2, "6314")
        for s in segments
        if s.tag == "MEA" and text_at(s, 1) == "AAE"
    }


@dataclass(slots=True)
class _Call:
    tdt: Segment
    locations: dict[str, tuple[Segment, list[Segment]]]  # 3227 -> (LOC, its DTMs)
    dtms: list[Segment]  # every DTM of the TDT group


def calls_in(body: Sequence[Segment]) -> list[_Call]:
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


def port_of(call: _Call, qualifier: str, required: bool) -> str | None:
    found = call.locations.get(qualifier)
    if found is None:
        if required:
            missing(call.tdt, f"LOC+{qualifier}", "in the TDT group")
        return None
    return locode(found[0])


def instant_at(
    context: Context, call: _Call, qualifier: str, dtm: str, required: bool
) -> datetime | None:
    """DTM ``dtm`` of the call: after its LOC (CUSREP) or anywhere in the TDT group (CUSCAR)."""
    for segment in call.dtms:
        if segment.get(1) == dtm:
            return _dtm_instant(context, segment)
    if required:
        found = call.locations.get(qualifier)
        missing(found[0] if found else call.tdt, f"DTM+{dtm}", "in the TDT group")
    return None


def carrier_in(body: Sequence[Segment], at: Segment | None) -> Party:
    for segment in body:
        if segment.tag == "NAD" and segment.get(1) == "CA":
            return party_of(segment)
        if segment.tag in ("CNI", "TDT"):
            break
    missing(at, "NAD+CA", "the carrier")


def reference_with_date(
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
                    when = dtm_date(following)
            return segment, text_at(segment, 1, 2), when
    return None


def registration_ref(
    body: Sequence[Segment], kind: RegistrationKind, office: str, bgm: Segment
) -> RegistrationRef:
    found = reference_with_date(body, "ACW")
    if found is None:
        missing(bgm, "RFF+ACW", f"a change names the registered {kind} (number and DTM+171)")
    segment, number, when = found
    if not re.fullmatch(r"\d{6}", number):
        invalid(segment, "1154", number, f"a {kind} number is 6 digits")
    if when is None:
        missing(segment, "DTM+171", f"the date of the {kind} after RFF+ACW")
    return RegistrationRef(kind=kind, office_code=office, number=number, date=when)


def read_bgm(body: Sequence[Segment], first: Segment | None) -> tuple[Segment, str]:
    bgm = body[0] if body and body[0].tag == "BGM" else None
    if bgm is None:
        missing(first, "BGM", "the message starts with BGM")
    function = text_at(bgm, 3) or ORIGINAL
    if function not in (ORIGINAL, CHANGE, REPLACE):
        refuse_at("EDI-107", bgm, function=function)
    return bgm, function
