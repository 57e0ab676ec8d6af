"""CUSREP -> RKSP (one TDT group) or JKSP (several): the conveyance notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from gateway.model import (
    Conveyance,
    Document,
    DocumentHeader,
    RegistrationKind,
    ScheduledCall,
)
from parsers.edifact.documents.elements import (
    ACTUAL_ARRIVAL,
    ACTUAL_DEPARTURE,
    ARRIVAL,
    DEPARTURE,
    LAST_PORT,
    NEXT_PORT,
    ORIGIN,
    ORIGINAL,
    PERIOD,
    PORT_OF_CALL,
    Context,
    calls_in,
    carrier_in,
    conveyance_of,
    dtm_period,
    instant_at,
    measures_in,
    missing,
    port_of,
    read_bgm,
    reference_with_date,
    registration_ref,
    text_at,
)
from parsers.edifact.segments import Segment
from parsers.records import NoticeHead, conveyance_notice
from parsers.refusal import refuse_at

# ---------------------------------------------------------------- CUSREP -> RKSP / JKSP


def to_conveyance_notice(
    body: Sequence[Segment], context: Context, first: Segment | None
) -> Document:
    bgm, function = read_bgm(body, first)
    calls = calls_in(body)
    if not calls:
        missing(bgm, "TDT", "a CUSREP has one TDT group per call")
    conveyance = conveyance_of(calls[0].tdt)
    for call in calls[1:]:
        other = conveyance_of(call.tdt)
        if (other.name, other.imo_number) != (conveyance.name, conveyance.imo_number):
            refuse_at("EDI-106", call.tdt, detail="every TDT group names the same conveyance")
    measures = measures_in(s for s in body if s.tag == "MEA")
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
    carrier = carrier_in([s for s in body if s.tag != "TDT"], bgm)
    amends = (
        registration_ref(body, RegistrationKind.BC10, context.office, bgm)
        if function != ORIGINAL
        else None
    )
    arrival_ports = {port_of(call, PORT_OF_CALL, True) for call in calls}
    if len(arrival_ports) != 1:
        refuse_at("EDI-106", calls[1].tdt, detail="every call is at the same port (LOC+60)")
    port_of_arrival = arrival_ports.pop() or ""
    scheduled = [
        ScheduledCall(
            voyage_number=voyage_of(call.tdt),
            port_of_origin=port_of(call, ORIGIN, True) or "",
            last_port_of_call=port_of(call, LAST_PORT, True) or "",
            next_port=port_of(call, NEXT_PORT, False),
            eta=instant_at(context, call, PORT_OF_CALL, ARRIVAL, True)
            or datetime.min.replace(tzinfo=UTC),
            etd=instant_at(context, call, PORT_OF_CALL, DEPARTURE, False),
            actual_arrival=instant_at(context, call, PORT_OF_CALL, ACTUAL_ARRIVAL, False),
            actual_departure=instant_at(context, call, PORT_OF_CALL, ACTUAL_DEPARTURE, False),
        )
        for call in calls
    ]

    def voyage_date() -> date | None:
        voyage = reference_with_date(body, "VON")
        return voyage[2] if voyage else None

    def period() -> tuple[date, date]:
        segment = next((s for s in body if s.tag == "DTM" and s.get(1) == PERIOD), None)
        if segment is None:
            missing(bgm, "DTM+324", "a JKSP (several TDT groups) gives its period")
        return dtm_period(segment)

    head = NoticeHead(
        header=DocumentHeader(office_code=context.office, sender_reference=None, language=None),
        conveyance=conveyance,
        carrier=carrier,
        port_of_arrival=port_of_arrival,
        amends=amends,
    )
    return conveyance_notice(head, scheduled, voyage_date=voyage_date, period=period)


def voyage_of(tdt: Segment) -> str:
    voyage = text_at(tdt, 2)
    if not voyage:
        missing(tdt, "TDT 8028", "the voyage number")
    return voyage
