"""309 with M13 -> one amendment of a registered pos per LX that carries an M13."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gateway.model import (
    Amendment,
    AmendmentKind,
    CustomsDocumentRef,
    Direction,
    FieldChange,
    RegistrationKind,
    RegistrationRef,
    TransportDocument,
    TransportDocumentKind,
)
from parsers.fields import OFFICE_CODE
from parsers.x12.documents.bills import build_pos, read_bill
from parsers.x12.documents.elements import (
    AMENDMENT_KEYWORDS,
    Context,
    bad_structure,
    child_number,
    date_at,
    invalid,
    missing,
    only_one,
    pos_number_at,
    references_in,
    required_at,
    text,
    value_of,
)
from parsers.x12.documents.manifests import Heading
from parsers.x12.segments import Segment

# ---------------------------------------------------------------- 309: amendments


def to_amendments(
    heading: Heading, blocks: list[list[Segment]], context: Context
) -> Iterator[Amendment]:
    pending: list[tuple[list[Segment], list[list[Segment]]]] = []
    for block in blocks:
        if any(s.id == "M13" for s in block):
            pending.append((block, []))
        elif pending and text(next(s for s in pending[-1][0] if s.id == "M13"), 3) == "E":
            pending[-1][1].append(block)
        else:
            bad_structure(block[0], "in an amendment set an LX without M13 follows a kind E line")
    for block, breakdown in pending:
        yield _amendment(heading, block, breakdown, context)


def _amendment(
    heading: Heading,
    block: list[Segment],
    breakdown_blocks: list[list[Segment]],
    context: Context,
) -> Amendment:
    m13 = next(s for s in block if s.id == "M13")
    references = references_in(block)
    for reference in references:
        if reference.keyword not in AMENDMENT_KEYWORDS:
            invalid(reference.segment, 2, text(reference.segment, 2), "unknown N9*ZZ keyword")
    bc11 = only_one(references, "BC11")
    if bc11 is None:
        missing(m13, "N9*ZZ*BC11", "the BC 1.1 number (N903) and date (N904) amended")
    bc11_number = value_of(bc11)
    if not re.fullmatch(r"\d{6}", bc11_number):
        invalid(bc11.segment, 3, bc11_number, "a BC 1.1 number is 6 digits")
    if not text(bc11.segment, 4):
        missing(bc11.segment, "N904", "the date of the BC 1.1")
    bc11_office = text(m13, 2)
    if not OFFICE_CODE.fullmatch(bc11_office):
        invalid(m13, 2, bc11_office, "M1302 is the 6-digit office code of the BC 1.1")
    pos_ref = only_one(references, "POS")
    if pos_ref is None:
        missing(m13, "N9*ZZ*POS", "the pos amended, 12 digits")
    pos_number = pos_number_at(pos_ref.segment, 3)
    reasons = [value_of(r) for r in references if r.keyword == "REASON"]
    if not reasons:
        missing(m13, "N9*ZZ*REASON", "the reason of the amendment")
    documents = []
    for reference in references:
        if reference.keyword == "DOCUMENT":
            if not reference.argument or not text(reference.segment, 4):
                missing(reference.segment, "N9*ZZ*DOCUMENT", "'DOCUMENT <code>', number, date")
            documents.append(
                CustomsDocumentRef(
                    code=reference.argument,
                    number=value_of(reference),
                    date=date_at(reference.segment, 4),
                )
            )
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    order: list[str] = []
    for reference in references:
        if reference.keyword in ("OLD", "NEW"):
            if not reference.argument:
                missing(reference.segment, "N902", f"'{reference.keyword} <field>'")
            target = old if reference.keyword == "OLD" else new
            if reference.argument in target:
                bad_structure(reference.segment, f"{reference.keyword} {reference.argument} twice")
            target[reference.argument] = reference.value
            if reference.keyword == "NEW":
                order.append(reference.argument)
    for name in old:
        if name not in new:
            bad_structure(m13, f"OLD {name} without NEW {name}")
    merged = tuple(
        pos_number_at(r.segment, 3)
        for r in references
        if r.keyword == "MERGED" and r.argument.upper() == "POS"
    )
    revised = [s for s in block if s.id == "N9" and text(s, 1) == "BM"]
    revised_document = None
    if revised:
        kind_raw = required_at(revised[0], 3, "the kind of the revised B/L")
        try:
            revised_kind = TransportDocumentKind(kind_raw)
        except ValueError:
            invalid(revised[0], 3, kind_raw, "the kind is BL, SWB, AWB, HBL or HAWB")
        revised_document = TransportDocument(
            kind=revised_kind, number=text(revised[0], 2), date=date_at(revised[0], 4)
        )
    breakdown = []
    for child_block in breakdown_blocks:
        child = read_bill(
            child_block, None if heading.direction is Direction.OUTWARD else text(heading.p4, 1)
        )
        breakdown.append(build_pos(child, child_number(child.lx, pos_number, child.number)))
    return Amendment(
        header=heading.header,
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11,
            office_code=bc11_office,
            number=bc11_number,
            date=date_at(bc11.segment, 4),
        ),
        pos_number=pos_number,
        kind=AmendmentKind(text(m13, 3)),
        reason=" ".join(reasons),
        requested_by=heading.carrier,
        supporting_documents=tuple(documents),
        changes=tuple(
            FieldChange(field=name, old_value=old.get(name), new_value=new[name]) for name in order
        ),
        merged_pos=merged,
        revised_transport_document=revised_document,
        breakdown=tuple(breakdown),
    )
