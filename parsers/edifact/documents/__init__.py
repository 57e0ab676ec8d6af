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

from collections.abc import Sequence

from gateway.model import Document
from gateway.model.findings import Location
from parsers.base import ZoneForOffice
from parsers.edifact.documents.amendments import to_amendment
from parsers.edifact.documents.bills import containers_in, split_consignments
from parsers.edifact.documents.elements import ORIGINAL, Context, office_of, read_bgm
from parsers.edifact.documents.manifests import to_manifest
from parsers.edifact.documents.notices import to_conveyance_notice
from parsers.edifact.segments import Message, Segment
from parsers.refusal import Refused, refuse_at, where


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
        context = Context(office=office_of(message, body), zone_for_office=zone_for_office)
        if message.type == "CUSREP":
            return [to_conveyance_notice(body, context, first)]
        if message.type == "CUSCAR":
            return [_cuscar(body, context, first)]
        refuse_at("EDI-101", first, message=f"{message.type}:{message.version}:{message.release}")
    except Refused as refused:
        raise refused.error(default=where(first) or Location(line=message.line)) from None


def _cuscar(body: Sequence[Segment], context: Context, first: Segment | None) -> Document:
    bgm, function = read_bgm(body, first)
    header_segments, equipment, consignments = split_consignments(body)
    containers = containers_in(equipment)
    if function != ORIGINAL:
        return to_amendment(bgm, header_segments, consignments, containers, context)
    return to_manifest(bgm, header_segments, consignments, containers, context)
