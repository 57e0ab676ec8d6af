"""309 -> manifest: the heading (M10, N9, P4) every 309 opens with, and the manifest it heads."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import (
    Conveyance,
    Direction,
    DocumentHeader,
    Manifest,
    Party,
    SupportingList,
    SupportingListKind,
    TransportMode,
)
from parsers.x12.documents.bills import pos_groups
from parsers.x12.documents.elements import (
    HEADER_KEYWORDS,
    HEADER_PHRASES,
    TRANSPORT_MODES,
    Body,
    Context,
    Reference,
    bad_structure,
    check_phrases,
    instant_at,
    invalid,
    missing,
    only_one,
    optional_at,
    references_in,
    required_at,
    text,
    value_of,
)
from parsers.x12.segments import Segment

# ---------------------------------------------------------------- 309: heading


@dataclass(slots=True)
class Heading:
    header: DocumentHeader
    direction: Direction
    conveyance: Conveyance
    carrier: Party
    voyage: str
    nil: bool
    m10: Segment
    p4: Segment
    references: list[Reference]


def split_309(body: Body) -> tuple[list[Segment], Segment, list[list[Segment]]]:
    """Heading segments (M10, N9), the P4 and the LX blocks."""
    segments = body.segments
    if not segments or segments[0].id != "M10":
        missing(body.first, "M10", "a 309 starts with M10")
    p4_index = next((i for i, s in enumerate(segments) if s.id == "P4"), None)
    if p4_index is None:
        missing(segments[0], "P4", "the port of call")
    heading = segments[:p4_index]
    blocks: list[list[Segment]] = []
    for segment in segments[p4_index + 1 :]:
        if segment.id == "LX":
            blocks.append([segment])
        elif blocks:
            blocks[-1].append(segment)
        else:
            bad_structure(segment, f"{segment.id} before the first LX")
    return heading, segments[p4_index], blocks


def read_heading(heading: list[Segment], p4: Segment, context: Context) -> Heading:
    m10 = heading[0]
    carriers = [s for s in heading if s.id == "N9" and text(s, 1) == "TJ"]
    if not carriers:
        missing(m10, "N9*TJ", "the carrier: N902 NPWP, N903 name")
    carrier_n9 = carriers[0]
    references = references_in(heading)
    check_phrases(references, HEADER_PHRASES)
    for reference in references:
        if reference.keyword not in HEADER_KEYWORDS:
            invalid(reference.segment, 2, text(reference.segment, 2), "unknown N9*ZZ keyword")
    language = only_one(references, "LANGUAGE")
    direction_code = text(m10, 9)
    imo = optional_at(m10, 4) if text(m10, 10) == "L" else None
    return Heading(
        header=DocumentHeader(
            office_code=context.office,
            sender_reference=optional_at(m10, 7),
            language=value_of(language).lower() if language is not None else None,
        ),
        direction=Direction.INWARD if direction_code == "I" else Direction.OUTWARD,
        conveyance=Conveyance(
            mode=TRANSPORT_MODES.get(text(m10, 2), TransportMode.SEA),
            name=text(m10, 5),
            imo_number=imo,
            call_sign=optional_at(m10, 12),
            flag=optional_at(m10, 3),
        ),
        carrier=Party(
            name=required_at(carrier_n9, 3, "N903 of N9*TJ is the carrier's name"),
            npwp=required_at(carrier_n9, 2, "N902 of N9*TJ is the carrier's NPWP"),
        ),
        voyage=text(m10, 6),
        nil=text(m10, 11) == "Y",
        m10=m10,
        p4=p4,
        references=references,
    )


def to_manifest(heading: Heading, blocks: list[list[Segment]], context: Context) -> Manifest:
    references = heading.references
    origin = only_one(references, "PORT")
    if origin is None:
        missing(heading.m10, "N9*ZZ*PORT OF ORIGIN", "the port of origin of the voyage")
    last = only_one(references, "LAST")
    next_port = only_one(references, "NEXT")
    emergency = only_one(references, "EMERGENCY")
    unloading = only_one(references, "UNLOADING")
    moment = instant_at(context, heading.p4, 2, 5, None)
    port_of_call = text(heading.p4, 1)
    supporting: list[SupportingList] = []
    for reference in references:
        if reference.keyword in SupportingListKind.__members__:
            entries = None
            if reference.argument:
                if not reference.argument.isdigit():
                    invalid(reference.segment, 2, reference.argument, "entries is a number")
                entries = int(reference.argument)
            supporting.append(
                SupportingList(
                    kind=SupportingListKind(reference.keyword),
                    reference=value_of(reference),
                    entries=entries,
                )
            )
    if heading.nil and blocks:
        bad_structure(blocks[0][0], "a nil manifest (M1011 = Y) has no LX")
    if not heading.nil and not blocks:
        bad_structure(heading.p4, "a manifest that is not nil (M1011 = Y) has at least one LX")
    next_code = value_of(next_port) if next_port is not None else None
    default_discharge = port_of_call if heading.direction is Direction.INWARD else next_code
    groups = pos_groups(blocks, default_discharge)
    return Manifest(
        header=heading.header,
        direction=heading.direction,
        conveyance=heading.conveyance,
        carrier=heading.carrier,
        voyage_number=heading.voyage,
        port_of_origin=value_of(origin),
        last_port_of_call=value_of(last) if last is not None else None,
        port_of_call=port_of_call,
        next_port=next_code,
        arrival_at=moment if heading.direction is Direction.INWARD else None,
        departure_at=moment if heading.direction is Direction.OUTWARD else None,
        groups=groups,
        supporting_lists=tuple(supporting),
        nil=heading.nil,
        unloading_started_at=instant_at(context, unloading.segment, 4, 5, 6)
        if unloading is not None
        else None,
        emergency=emergency is not None and value_of(emergency).upper() == "Y",
    )
