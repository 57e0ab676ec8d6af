"""X12 004010 transaction sets -> canonical records (implementation guide: docs/formats/x12.md).

The set has already passed pyx12 against ``schemas/x12`` (segment order, usage, lengths, code
lists); what is refused here is what a pyx12 map cannot say: a 309 that is really a 323, a
house bill whose master is not in the set, a date of 20991301, a keyword in an ``N9*ZZ`` that
the guide does not know. Every refusal is a :class:`~gateway.exceptions.DocumentError` with an
``X12-1xx`` finding located at the segment (file line, position in the set).

X12 dates and times carry no offset. They are read in the time zone of the customs office in
GS03 (``zone_for_office``) unless the segment gives a time code (DTM04, N906): ``UT``/``GM``
UTC, ``07``/``08``/``09`` UTC+7/+8/+9 (WIB/WITA/WIT), ``LT`` the office's local time.
Pure functions: no I/O, no clock.
"""

from __future__ import annotations

from gateway.model import Document
from gateway.model.findings import Location
from parsers.base import ZoneForOffice
from parsers.fields import OFFICE_CODE
from parsers.refusal import Refused, refuse_at, where
from parsers.x12.documents.amendments import to_amendments
from parsers.x12.documents.elements import Body, Context
from parsers.x12.documents.manifests import read_heading, split_309, to_manifest
from parsers.x12.documents.notices import to_conveyance_notice
from parsers.x12.segments import TransactionSet


def to_documents(
    transaction: TransactionSet, *, zone_for_office: ZoneForOffice | None = None
) -> list[Document]:
    """Map one validated 309 or 323 to its canonical records.

    323 -> ``[Rksp]`` (one call at the office) or ``[Jksp]`` (several calls); 309 -> ``[Manifest]``,
    or one :class:`Amendment` per LX carrying an M13 when any LX does.

    ``zone_for_office`` gives the time zone of an office code (``None`` for an unknown office,
    refused with OFF-001). Without it only instants with an explicit time code can be read;
    a local time then raises :class:`ConfigurationError` (the caller must pass the offices).
    """
    try:
        office = transaction.group.receiver.strip()
        if not OFFICE_CODE.fullmatch(office):
            refuse_at("X12-104", None, value=office)
        body = Body(transaction.segments, transaction.line)
        context = Context(office=office, zone_for_office=zone_for_office)
        if transaction.set_id == "323":
            return [to_conveyance_notice(body, context)]
        if transaction.set_id == "309":
            return _manifest_set(body, context)
        refuse_at("X12-101", body.first, set_id=transaction.set_id)
    except Refused as refused:
        first = transaction.segments[0] if transaction.segments else None
        if refused.code == "X12-104":
            refused.where = Location(path="GS03")
        default = where(first) or Location(line=transaction.line)
        raise refused.error(default=default) from None


def _manifest_set(body: Body, context: Context) -> list[Document]:
    heading_segments, p4, blocks = split_309(body)
    heading = read_heading(heading_segments, p4, context)
    if any(segment.id == "M13" for block in blocks for segment in block):
        return list(to_amendments(heading, blocks, context))
    return [to_manifest(heading, blocks, context)]
