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
    _bgm,
    _calls,
    _carrier,
    _Context,
    _conveyance,
    _dtm_period,
    _instant_at,
    _measures,
    _missing,
    _port,
    _reference_with_date,
    _registration,
    _text,
)
from parsers.edifact.segments import Segment
from parsers.records import NoticeHead, conveyance_notice
from parsers.refusal import refuse_at as _refuse

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

    def voyage_date() -> date | None:
        voyage = _reference_with_date(body, "VON")
        return voyage[2] if voyage else None

    def period() -> tuple[date, date]:
        segment = next((s for s in body if s.tag == "DTM" and s.get(1) == PERIOD), None)
        if segment is None:
            _missing(bgm, "DTM+324", "a JKSP (several TDT groups) gives its period")
        return _dtm_period(segment)

    head = NoticeHead(
        header=DocumentHeader(office_code=context.office, sender_reference=None, language=None),
        conveyance=conveyance,
        carrier=carrier,
        port_of_arrival=port_of_arrival,
        amends=amends,
    )
    return conveyance_notice(head, scheduled, voyage_date=voyage_date, period=period)


def _voyage(tdt: Segment) -> str:
    voyage = _text(tdt, 2)
    if not voyage:
        _missing(tdt, "TDT 8028", "the voyage number")
    return voyage
