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
from parsers.x12.documents.bills import _pos_groups
from parsers.x12.documents.elements import (
    HEADER_KEYWORDS,
    HEADER_PHRASES,
    TRANSPORT_MODES,
    _Body,
    _check_phrases,
    _Context,
    _instant,
    _invalid,
    _missing,
    _one,
    _opt,
    _Reference,
    _references,
    _required,
    _structure,
    _text,
    _value,
)
from parsers.x12.segments import Segment

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
