"""CUSCAR with BGM 1225 ``4``/``5`` -> an amendment of a registered pos."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.model import (
    Amendment,
    AmendmentKind,
    Container,
    CustomsDocumentRef,
    DocumentHeader,
    FieldChange,
    Pos,
    PosNumber,
    RegistrationKind,
    TransportDocument,
)
from parsers.edifact.documents.bills import Consignment, gis, read_bill
from parsers.edifact.documents.elements import (
    REFERENCE_DATE,
    SUPPORTING_DOCUMENT_CODES,
    Context,
    dtm_date,
    invalid,
    joined,
    missing,
    party_of,
    pos_number_at,
    registration_ref,
    text_at,
)
from parsers.edifact.segments import Segment
from parsers.refusal import refuse_at

# ---------------------------------------------------------------- CUSCAR 4/5 -> amendment


AMENDMENT_KINDS = {k.value: k for k in AmendmentKind}


def to_amendment(
    bgm: Segment,
    header: Sequence[Segment],
    consignments: Sequence[Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: Context,
) -> Amendment:
    kind_gis = gis(header, "AMK")
    if kind_gis is None:
        missing(bgm, "GIS+x:AMK", "the kind of amendment (A-E)")
    kind = AMENDMENT_KINDS.get(text_at(kind_gis, 1))
    if kind is None:
        invalid(kind_gis, "7365", text_at(kind_gis, 1), "the kind of amendment is A, B, C, D or E")
    bc11 = registration_ref(header, RegistrationKind.BC11, context.office, bgm)
    if not consignments:
        missing(bgm, "CNI", "the pos being amended")
    amended = consignments[0]
    pos_number = pos_number_at(amended.cni, text_at(amended.cni, 2))
    reason = " ".join(
        joined(s, 4, " ") for s in header if s.tag == "FTX" and s.get(1) == "ACD"
    ).strip()
    if not reason:
        missing(bgm, "FTX+ACD", "the reason for the amendment")
    requester = next(
        (s for s in header if s.tag == "NAD" and s.get(1) == "MS"),
        next((s for s in header if s.tag == "NAD" and s.get(1) == "CA"), None),
    )
    if requester is None:
        missing(bgm, "NAD+MS", "the party asking for the amendment")
    changes = []
    for segment in header:
        if segment.tag == "FTX" and segment.get(1) == "CHG":
            field = text_at(segment, 4, 1)
            if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", field):
                invalid(segment, "4440", field, "a field path such as consignee.name")
            new_value = text_at(segment, 4, 3)
            if not new_value:
                missing(segment, "FTX+CHG 4440/3", "the new value")
            changes.append(
                FieldChange(
                    field=field, old_value=text_at(segment, 4, 2) or None, new_value=new_value
                )
            )
    documents = []
    for i, segment in enumerate(header):
        code = SUPPORTING_DOCUMENT_CODES.get(segment.get(1)) if segment.tag == "RFF" else None
        if code is None:
            continue
        following = header[i + 1] if i + 1 < len(header) else None
        if following is None or following.tag != "DTM" or following.get(1) != REFERENCE_DATE:
            missing(segment, "DTM+171", "the date of the supporting document")
        documents.append(
            CustomsDocumentRef(code=code, number=text_at(segment, 1, 2), date=dtm_date(following))
        )
    others = consignments[1:]
    merged: tuple[PosNumber, ...] = ()
    breakdown: tuple[Pos, ...] = ()
    revised: TransportDocument | None = None
    if kind is AmendmentKind.MERGE_POS:
        merged = tuple(pos_number_at(c.cni, text_at(c.cni, 2)) for c in others)
        if not merged:
            missing(amended.cni, "CNI", "kind D names the pos merged into the first CNI")
        revised = read_bill(amended, containers).pos.transport_document
    elif kind is AmendmentKind.BREAKDOWN:
        breakdown = tuple(read_bill(c, containers).pos for c in others)
        if not breakdown:
            missing(amended.cni, "CNI", "kind E gives the house-level pos after the first CNI")
    elif others:
        refuse_at(
            "EDI-106", others[0].cni, detail=f"an amendment of kind {kind.value} names one pos"
        )
    return Amendment(
        header=DocumentHeader(office_code=context.office),
        bc11=bc11,
        pos_number=pos_number,
        kind=kind,
        reason=reason,
        requested_by=party_of(requester),
        supporting_documents=tuple(documents),
        changes=tuple(changes),
        merged_pos=merged,
        revised_transport_document=revised,
        breakdown=breakdown,
    )
