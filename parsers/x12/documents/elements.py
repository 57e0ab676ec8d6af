"""Reading X12 segments for the mappers: element values, dates and times in the office's zone,
pos numbers, the ``N9*ZZ`` keywords, and the X12-1xx refusals placed at a segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from gateway.exceptions import ConfigurationError
from gateway.model import PosNumber, SupportingListKind, TransportMode
from parsers import fields
from parsers.base import ZoneForOffice
from parsers.fields import FieldError
from parsers.refusal import refuse_at
from parsers.x12.segments import Segment

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


def missing(segment: Segment | None, what: str, detail: str) -> NoReturn:
    refuse_at("X12-102", segment, segment=what, detail=detail)


def invalid(segment: Segment, index: int, value: str, detail: str) -> NoReturn:
    refuse_at("X12-103", segment, value=value, element=f"{segment.id}{index:02d}", detail=detail)


def bad_structure(segment: Segment | None, detail: str) -> NoReturn:
    refuse_at("X12-106", segment, detail=detail)


# ---------------------------------------------------------------- reading segments


@dataclass(slots=True)
class Context:
    office: str
    zone_for_office: ZoneForOffice | None

    def zone(self, segment: Segment, code_index: int | None) -> tzinfo:
        time_code = text(segment, code_index) if code_index is not None else ""
        if time_code and time_code != "LT":
            fixed = FIXED_OFFSETS.get(time_code)
            if fixed is None:
                invalid(segment, code_index or 0, time_code, "time code is not LT, UT, 07, 08, 09")
            return fixed
        if self.zone_for_office is None:
            raise ConfigurationError(
                "parsers.x12.documents.to_documents needs zone_for_office to read local times"
            )
        zone = self.zone_for_office(self.office)
        if zone is None:
            refuse_at("OFF-001", segment, office=self.office)
        return zone


class Body:
    """The segments between ST and SE."""

    def __init__(self, segments: Sequence[Segment], line: int) -> None:
        inner = [s for s in segments if s.id not in ("ST", "SE")]
        self.segments = inner
        self.first = segments[0] if segments else None
        self.line = line


def text(segment: Segment, index: int) -> str:
    return segment.get(index).strip()


def optional_at(segment: Segment, index: int) -> str | None:
    return text(segment, index) or None


def required_at(segment: Segment, index: int, detail: str) -> str:
    value = text(segment, index)
    if not value:
        missing(segment, f"{segment.id}{index:02d}", detail)
    return value


def decimal_at(segment: Segment, index: int) -> Decimal | None:
    raw = text(segment, index)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        invalid(segment, index, raw, "not a decimal number")
    if not value.is_finite():
        invalid(segment, index, raw, "not a decimal number")
    return value


def integer_at(segment: Segment, index: int) -> int:
    value = decimal_at(segment, index)
    if value is None or value != value.to_integral_value() or value < 0:
        invalid(segment, index, text(segment, index), "not a whole number")
    return int(value)


def date_at(segment: Segment, index: int) -> date:
    raw = text(segment, index)
    try:
        return fields.ccyymmdd(raw)
    except FieldError as error:
        invalid(segment, index, raw, error.detail)


def time_at(segment: Segment, index: int) -> time:
    raw = text(segment, index)
    match = re.fullmatch(r"(\d\d)(\d\d)(?:(\d\d)(\d{1,2})?)?", raw)
    try:
        if match is None:
            raise ValueError(raw)
        hour, minute, second, fraction = match.groups()
        micro = int((fraction or "0").ljust(6, "0"))
        return time(int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        invalid(segment, index, raw, "not a time HHMM[SS[D[D]]]")


def instant_at(
    context: Context, segment: Segment, date_index: int, time_index: int, code_index: int | None
) -> datetime:
    day = date_at(segment, date_index)
    if not text(segment, time_index):
        missing(segment, f"{segment.id}{time_index:02d}", "the time of day is required")
    clock = time_at(segment, time_index)
    return datetime.combine(day, clock, tzinfo=context.zone(segment, code_index))


def pos_number_at(segment: Segment, index: int) -> PosNumber:
    raw = text(segment, index)
    try:
        return fields.pos_number(raw, shape="a pos number is 12 digits pos+sub-pos+sub-sub-pos")
    except FieldError as error:
        invalid(segment, index, raw, error.detail)


def child_number(segment: Segment, parent: PosNumber, index: int) -> PosNumber:
    if parent.sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=index)
    if parent.sub_sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=parent.sub_pos, sub_sub_pos=index)
    bad_structure(segment, "a pos cannot be nested deeper than sub-sub-pos")


# ---------------------------------------------------------------- N9*ZZ keywords


@dataclass(slots=True)
class Reference:
    """An ``N9*ZZ``: N902 holds the keyword (and an argument), N903 the value."""

    segment: Segment
    keyword: str
    argument: str
    value: str


def references_in(segments: Sequence[Segment]) -> list[Reference]:
    out = []
    for segment in segments:
        if segment.id == "N9" and text(segment, 1) == "ZZ":
            keyword, _, argument = text(segment, 2).partition(" ")
            out.append(Reference(segment, keyword.upper(), argument.strip(), text(segment, 3)))
    return out


def only_one(references: list[Reference], keyword: str) -> Reference | None:
    found = [r for r in references if r.keyword == keyword]
    if len(found) > 1:
        bad_structure(found[1].segment, f"N9*ZZ*{keyword} is given more than once")
    return found[0] if found else None


def value_of(reference: Reference) -> str:
    if not reference.value:
        missing(reference.segment, "N903", f"N9*ZZ*{reference.keyword} needs its value in N903")
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


def check_phrases(references: list[Reference], phrases: dict[str, str]) -> None:
    for reference in references:
        phrase = phrases.get(reference.keyword)
        if phrase is not None and f"{reference.keyword} {reference.argument}".strip() != phrase:
            invalid(reference.segment, 2, text(reference.segment, 2), f"write {phrase}")
