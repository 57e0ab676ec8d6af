"""309 LX blocks -> pos: the bills of a manifest, house bills linked to their master, numbered
in their groups (kelompok pos).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gateway.model import (
    Container,
    GoodsItem,
    Packages,
    Party,
    Pos,
    PosGroup,
    PosNumber,
    TransportDocument,
    TransportDocumentKind,
)
from parsers.refusal import refuse_at
from parsers.x12.documents.elements import (
    BILL_PHRASES,
    bad_structure,
    check_phrases,
    child_number,
    date_at,
    decimal_at,
    integer_at,
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

# ---------------------------------------------------------------- 309: bills


@dataclass(slots=True)
class Bill:
    lx: Segment
    number: int
    bill_of_lading: str
    master: str | None
    group: int | None
    pos: Pos  # sub_pos filled in later
    children: list[Bill] = field(default_factory=list)
    parent: Bill | None = None


def _party(segments: Sequence[Segment]) -> Party:
    n1 = segments[0]
    npwp = optional_at(n1, 4) if text(n1, 3) == "FI" else None
    address_lines = [text(s, i) for s in segments if s.id == "N3" for i in (1, 2)]
    country = next((optional_at(s, 4) for s in segments if s.id == "N4"), None)
    return Party(
        name=text(n1, 2),
        npwp=npwp,
        address=" ".join(line for line in address_lines if line) or None,
        country=country,
    )


def _iter_groups(
    block: Sequence[Segment], start: str, members: set[str]
) -> Iterator[list[Segment]]:
    current: list[Segment] | None = None
    for segment in block:
        if segment.id == start:
            if current is not None:
                yield current
            current = [segment]
        elif segment.id in members and current is not None:
            current.append(segment)
        elif current is not None:
            yield current
            current = None
    if current is not None:
        yield current


def read_bill(block: list[Segment], default_discharge: str | None) -> Bill:
    lx = block[0]
    number = integer_at(lx, 1)
    if number == 0 or number > 9999:
        invalid(lx, 1, text(lx, 1), "a pos or sub-pos number is 1 to 9999")
    m11 = next((s for s in block if s.id == "M11"), None)
    if m11 is None:
        missing(lx, "M11", "every bill has an M11")
    bm = [s for s in block if s.id == "N9" and text(s, 1) == "BM"]
    if len(bm) != 1:
        missing(lx, "N9*BM", "exactly one N9*BM: B/L number, kind, date")
    bm_segment = bm[0]
    bl_number = text(bm_segment, 2)
    if text(m11, 1) != bl_number[-12:]:
        invalid(m11, 1, text(m11, 1), f"M1101 is the B/L number {bl_number} (its last 12 chars)")
    kind_raw = required_at(bm_segment, 3, "N903 of N9*BM is the kind: BL, SWB, AWB, HBL, HAWB")
    try:
        kind = TransportDocumentKind(kind_raw)
    except ValueError:
        invalid(bm_segment, 3, kind_raw, "the kind is BL, SWB, AWB, HBL or HAWB")
    if not text(bm_segment, 4):
        missing(bm_segment, "N904", "the date of the B/L")
    document = TransportDocument(kind=kind, number=bl_number, date=date_at(bm_segment, 4))
    masters = [s for s in block if s.id == "N9" and text(s, 1) == "MB"]
    if len(masters) > 1:
        bad_structure(masters[1], "a bill has at most one N9*MB")
    master = required_at(masters[0], 2, "N902 of N9*MB is the master B/L") if masters else None
    references = references_in(block)
    check_phrases(references, BILL_PHRASES)
    for reference in references:
        if reference.keyword not in BILL_PHRASES:
            invalid(reference.segment, 2, text(reference.segment, 2), "unknown N9*ZZ keyword")
    group_ref = only_one(references, "GROUP")
    group = None
    if group_ref is not None:
        raw = value_of(group_ref)
        if not raw.isdigit() or not 1 <= int(raw) <= 9:
            invalid(group_ref.segment, 3, raw, "the group is a number 1 to 6")
        group = int(raw)
    marks = only_one(references, "MARKS")
    discharge_ref = only_one(references, "PORT")
    discharge = value_of(discharge_ref) if discharge_ref is not None else default_discharge
    if discharge is None:
        missing(lx, "N9*ZZ*PORT OF DISCHARGE", "outward bills need a port of discharge")
    parties: dict[str, Party] = {}
    final_destination = None
    for party_segments in _iter_groups(block, "N1", {"N3", "N4"}):
        code = text(party_segments[0], 1)
        if code in parties:
            bad_structure(party_segments[0], f"N1*{code} is given twice in one bill")
        parties[code] = _party(party_segments)
        if code == "FS":
            n4 = next((s for s in party_segments if s.id == "N4"), None)
            if n4 is None or text(n4, 5) != "UN":
                missing(party_segments[0], "N4", "N1*FS gives the UN/LOCODE in N405/N406")
            final_destination = text(n4, 6)
    for code, label in (("SH", "shipper"), ("CN", "consignee")):
        if code not in parties:
            missing(lx, f"N1*{code}", f"the {label} of the bill")
    containers: list[Container] = []
    goods: list[GoodsItem] = []
    for equipment in _iter_groups(block, "VID", {"N10"}):
        vid = equipment[0]
        if text(vid, 1) == "CN":
            containers.append(
                Container(
                    number=text(vid, 2) + text(vid, 3),
                    size_type=optional_at(vid, 9),
                    seals=tuple(seal for seal in (text(vid, 4), text(vid, 5)) if seal),
                    loaded=text(vid, 10) != "E",
                )
            )
        for n10 in equipment[1:]:
            goods.append(
                GoodsItem(
                    hs_code=text(n10, 5),
                    description=text(n10, 2),
                    quantity=decimal_at(n10, 1),
                    quantity_unit=optional_at(n10, 10),
                    value=decimal_at(n10, 6),
                    currency=optional_at(n10, 13),
                )
            )
    weight = decimal_at(m11, 5)
    assert weight is not None  # M1105 is mandatory in the map
    pos = Pos(
        number=PosNumber(pos=number),
        transport_document=document,
        shipper=parties["SH"],
        consignee=parties["CN"],
        notify=parties.get("N1"),
        port_of_loading=text(m11, 2),
        port_of_discharge=discharge,
        packages=Packages(
            count=integer_at(m11, 3),
            kind_code=text(m11, 4),
            marks=value_of(marks) if marks is not None else None,
        ),
        gross_weight_kg=weight,
        volume_m3=decimal_at(m11, 7) if text(m11, 8) == "X" else None,
        final_destination=final_destination,
        containers=tuple(containers),
        goods=tuple(goods),
    )
    return Bill(lx=lx, number=number, bill_of_lading=bl_number, master=master, group=group, pos=pos)


def _link(bills: list[Bill]) -> list[Bill]:
    """Hang house bills under their master (N9*MB); return the pos-level bills."""
    by_number: dict[str, Bill] = {}
    top: list[Bill] = []
    for bill in bills:
        if bill.master is None:
            top.append(bill)
        else:
            master = by_number.get(bill.master)
            if master is None:
                refuse_at("X12-105", bill.lx, reference=f"N9*MB*{bill.master}")
            bill.parent = master
            master.children.append(bill)
        if bill.bill_of_lading in by_number:
            bad_structure(bill.lx, f"B/L {bill.bill_of_lading} is given twice")
        by_number[bill.bill_of_lading] = bill
    return top


def build_pos(bill: Bill, number: PosNumber) -> Pos:
    seen: set[int] = set()
    children = []
    for child in bill.children:
        if child.number in seen:
            bad_structure(child.lx, f"sub-pos {child.number} is given twice under one master")
        seen.add(child.number)
        children.append(build_pos(child, child_number(child.lx, number, child.number)))
    return Pos(
        number=number,
        transport_document=bill.pos.transport_document,
        shipper=bill.pos.shipper,
        consignee=bill.pos.consignee,
        notify=bill.pos.notify,
        port_of_loading=bill.pos.port_of_loading,
        port_of_discharge=bill.pos.port_of_discharge,
        packages=bill.pos.packages,
        gross_weight_kg=bill.pos.gross_weight_kg,
        volume_m3=bill.pos.volume_m3,
        final_destination=bill.pos.final_destination,
        containers=bill.pos.containers,
        goods=bill.pos.goods,
        sub_pos=tuple(children),
    )


def pos_groups(blocks: list[list[Segment]], default_discharge: str | None) -> tuple[PosGroup, ...]:
    top = _link([read_bill(block, default_discharge) for block in blocks])
    groups: dict[int, list[Pos]] = {}
    seen: set[int] = set()
    for bill in top:
        if bill.group is None:
            missing(bill.lx, "N9*ZZ*GROUP", "every pos-level bill gives its group (kelompok pos)")
        if bill.number in seen:
            bad_structure(bill.lx, f"pos {bill.number} is given twice")
        seen.add(bill.number)
        groups.setdefault(bill.group, []).append(build_pos(bill, PosNumber(pos=bill.number)))
    return tuple(PosGroup(number=n, pos=tuple(groups[n])) for n in sorted(groups))
