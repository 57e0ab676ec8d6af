"""CUSCAR with BGM 1225 ``9`` -> manifest: the conveyance, its call and the supporting lists."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.model import Container, Direction, DocumentHeader, Manifest, SupportingList
from parsers.edifact.documents.bills import _Consignment, _gis, _pos_groups
from parsers.edifact.documents.elements import (
    ARRIVAL,
    DEPARTURE,
    LAST_PORT,
    NEXT_PORT,
    ORIGIN,
    PORT_OF_CALL,
    SUPPORTING_LISTS,
    _calls,
    _carrier,
    _Context,
    _conveyance,
    _instant_at,
    _invalid,
    _missing,
    _port,
    _text,
)
from parsers.edifact.documents.notices import _voyage
from parsers.edifact.segments import Segment
from parsers.refusal import refuse_at as _refuse


def _manifest(
    bgm: Segment,
    header_segments: Sequence[Segment],
    consignments: Sequence[_Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: _Context,
) -> Manifest:
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
