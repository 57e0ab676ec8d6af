"""CUSCAR with BGM 1225 ``9`` -> manifest: the conveyance, its call and the supporting lists."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.model import Container, Direction, DocumentHeader, Manifest, SupportingList
from parsers.edifact.documents.bills import Consignment, gis, pos_groups
from parsers.edifact.documents.elements import (
    ARRIVAL,
    DEPARTURE,
    LAST_PORT,
    NEXT_PORT,
    ORIGIN,
    PORT_OF_CALL,
    SUPPORTING_LISTS,
    Context,
    calls_in,
    carrier_in,
    conveyance_of,
    instant_at,
    invalid,
    missing,
    port_of,
    text_at,
)
from parsers.edifact.documents.notices import voyage_of
from parsers.edifact.segments import Segment
from parsers.refusal import refuse_at


def to_manifest(
    bgm: Segment,
    header_segments: Sequence[Segment],
    consignments: Sequence[Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: Context,
) -> Manifest:
    calls = calls_in(header_segments)
    if len(calls) != 1:
        refuse_at("EDI-106", bgm, detail="a CUSCAR has exactly one TDT group (the conveyance)")
    call = calls[0]
    direction_gis = gis(header_segments, "DIR")
    if direction_gis is None:
        missing(bgm, "GIS+I:DIR or GIS+E:DIR", "the direction of the manifest")
    direction = {"I": Direction.INWARD, "E": Direction.OUTWARD}.get(text_at(direction_gis, 1))
    if direction is None:
        invalid(direction_gis, "7365", text_at(direction_gis, 1), "I (inward) or E (outward)")
    inward = direction is Direction.INWARD
    arrival = instant_at(context, call, PORT_OF_CALL, ARRIVAL, inward)
    departure = instant_at(context, call, PORT_OF_CALL, DEPARTURE, not inward)
    groups = pos_groups(consignments, containers, context)
    used = {
        c.number for group in groups for pos in group.pos for p in pos.walk() for c in p.containers
    }
    for number, (eqd, _container) in containers.items():
        if number not in used:
            refuse_at("EDI-105", eqd, reference=f"EQD {number} (no SGP names it)")
    return Manifest(
        header=DocumentHeader(office_code=context.office),
        direction=direction,
        conveyance=conveyance_of(call.tdt),
        carrier=carrier_in(header_segments, bgm),
        voyage_number=voyage_of(call.tdt),
        port_of_origin=port_of(call, ORIGIN, True) or "",
        last_port_of_call=port_of(call, LAST_PORT, False),
        port_of_call=port_of(call, PORT_OF_CALL, True) or "",
        next_port=port_of(call, NEXT_PORT, False),
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
        entries = text_at(segment, 1, 3)
        if entries and not entries.isdigit():
            invalid(segment, "1156", entries, "the number of entries is a whole number")
        lists.append(
            SupportingList(
                kind=kind,
                reference=text_at(segment, 1, 2),
                entries=int(entries) if entries else None,
            )
        )
    return tuple(lists)
