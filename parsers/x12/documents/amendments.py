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
from parsers.x12.documents.bills import _bill, _build
from parsers.x12.documents.elements import (
    AMENDMENT_KEYWORDS,
    _child_number,
    _Context,
    _date,
    _invalid,
    _missing,
    _one,
    _pos_number,
    _references,
    _required,
    _structure,
    _text,
    _value,
)
from parsers.x12.documents.manifests import _Heading
from parsers.x12.segments import Segment

# ---------------------------------------------------------------- 309: amendments


def _amendments(
    heading: _Heading, blocks: list[list[Segment]], context: _Context
) -> Iterator[Amendment]:
    pending: list[tuple[list[Segment], list[list[Segment]]]] = []
    for block in blocks:
        if any(s.id == "M13" for s in block):
            pending.append((block, []))
        elif pending and _text(next(s for s in pending[-1][0] if s.id == "M13"), 3) == "E":
            pending[-1][1].append(block)
        else:
            _structure(block[0], "in an amendment set an LX without M13 follows a kind E line")
    for block, breakdown in pending:
        yield _amendment(heading, block, breakdown, context)


def _amendment(
    heading: _Heading,
    block: list[Segment],
    breakdown_blocks: list[list[Segment]],
    context: _Context,
) -> Amendment:
    m13 = next(s for s in block if s.id == "M13")
    references = _references(block)
    for reference in references:
        if reference.keyword not in AMENDMENT_KEYWORDS:
            _invalid(reference.segment, 2, _text(reference.segment, 2), "unknown N9*ZZ keyword")
    bc11 = _one(references, "BC11")
    if bc11 is None:
        _missing(m13, "N9*ZZ*BC11", "the BC 1.1 number (N903) and date (N904) amended")
    bc11_number = _value(bc11)
    if not re.fullmatch(r"\d{6}", bc11_number):
        _invalid(bc11.segment, 3, bc11_number, "a BC 1.1 number is 6 digits")
    if not _text(bc11.segment, 4):
        _missing(bc11.segment, "N904", "the date of the BC 1.1")
    bc11_office = _text(m13, 2)
    if not OFFICE_CODE.fullmatch(bc11_office):
        _invalid(m13, 2, bc11_office, "M1302 is the 6-digit office code of the BC 1.1")
    pos_ref = _one(references, "POS")
    if pos_ref is None:
        _missing(m13, "N9*ZZ*POS", "the pos amended, 12 digits")
    pos_number = _pos_number(pos_ref.segment, 3)
    reasons = [_value(r) for r in references if r.keyword == "REASON"]
    if not reasons:
        _missing(m13, "N9*ZZ*REASON", "the reason of the amendment")
    documents = []
    for reference in references:
        if reference.keyword == "DOCUMENT":
            if not reference.argument or not _text(reference.segment, 4):
                _missing(reference.segment, "N9*ZZ*DOCUMENT", "'DOCUMENT <code>', number, date")
            documents.append(
                CustomsDocumentRef(
                    code=reference.argument,
                    number=_value(reference),
                    date=_date(reference.segment, 4),
                )
            )
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    order: list[str] = []
    for reference in references:
        if reference.keyword in ("OLD", "NEW"):
            if not reference.argument:
                _missing(reference.segment, "N902", f"'{reference.keyword} <field>'")
            target = old if reference.keyword == "OLD" else new
            if reference.argument in target:
                _structure(reference.segment, f"{reference.keyword} {reference.argument} twice")
            target[reference.argument] = reference.value
            if reference.keyword == "NEW":
                order.append(reference.argument)
    for name in old:
        if name not in new:
            _structure(m13, f"OLD {name} without NEW {name}")
    merged = tuple(
        _pos_number(r.segment, 3)
        for r in references
        if r.keyword == "MERGED" and r.argument.upper() == "POS"
    )
    revised = [s for s in block if s.id == "N9" and _text(s, 1) == "BM"]
    revised_document = None
    if revised:
        kind_raw = _required(revised[0], 3, "the kind of the revised B/L")
        try:
            revised_kind = TransportDocumentKind(kind_raw)
        except ValueError:
            _invalid(revised[0], 3, kind_raw, "the kind is BL, SWB, AWB, HBL or HAWB")
        revised_document = TransportDocument(
            kind=revised_kind, number=_text(revised[0], 2), date=_date(revised[0], 4)
        )
    breakdown = []
    for child_block in breakdown_blocks:
        child = _bill(
            child_block, None if heading.direction is Direction.OUTWARD else _text(heading.p4, 1)
        )
        breakdown.append(_build(child, _child_number(child.lx, pos_number, child.number)))
    return Amendment(
        header=heading.header,
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11,
            office_code=bc11_office,
            number=bc11_number,
            date=_date(bc11.segment, 4),
        ),
        pos_number=pos_number,
        kind=AmendmentKind(_text(m13, 3)),
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
