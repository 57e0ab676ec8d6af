"""CUSCAR consignments (CNI groups) and equipment (EQD) -> pos: the bills of a manifest or an
amendment, their goods and containers, numbered in their groups (kelompok pos).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from gateway.codelists import package_types
from gateway.model import (
    Container,
    GoodsItem,
    Packages,
    Pos,
    PosGroup,
    PosNumber,
    TransportDocument,
)
from parsers.edifact.documents.elements import (
    BL_DATE,
    DELIVERY,
    DISCHARGE,
    LOADING,
    MASTER_REFERENCES,
    TRANSPORT_DOCUMENTS,
    Context,
    count_at,
    decimal_at,
    dtm_date,
    invalid,
    joined,
    locode,
    missing,
    party_of,
    pos_number_at,
    text_at,
)
from parsers.edifact.segments import Segment
from parsers.refusal import refuse_at

# ---------------------------------------------------------------- CUSCAR -> manifest


@dataclass(slots=True)
class Consignment:
    cni: Segment
    segments: list[Segment]
    goods: list[list[Segment]]


def split_consignments(
    body: Sequence[Segment],
) -> tuple[list[Segment], list[list[Segment]], list[Consignment]]:
    """Header segments, equipment groups (EQD..) and consignment groups (CNI..)."""
    header: list[Segment] = []
    equipment: list[list[Segment]] = []
    consignments: list[Consignment] = []
    for segment in body:
        if segment.tag == "CNI":
            consignments.append(Consignment(cni=segment, segments=[], goods=[]))
        elif consignments:
            current = consignments[-1]
            if segment.tag == "GID":
                current.goods.append([segment])
            elif current.goods:
                current.goods[-1].append(segment)
            else:
                current.segments.append(segment)
        elif segment.tag == "EQD":
            equipment.append([segment])
        elif equipment and segment.tag in ("TSR", "MEA", "DIM", "SEL"):
            equipment[-1].append(segment)
        else:
            header.append(segment)
    return header, equipment, consignments


def gis(segments: Iterable[Segment], code_list: str) -> Segment | None:
    return next((s for s in segments if s.tag == "GIS" and text_at(s, 1, 2) == code_list), None)


def containers_in(equipment: Sequence[Sequence[Segment]]) -> dict[str, tuple[Segment, Container]]:
    found: dict[str, tuple[Segment, Container]] = {}
    for group in equipment:
        eqd = group[0]
        number = text_at(eqd, 2)
        if not _iso6346_valid(number):
            invalid(eqd, "8260", number, "not an ISO 6346 container number with check digit")
        if number in found:
            refuse_at("EDI-106", eqd, detail=f"container {number} is declared twice")
        seals = tuple(text_at(s, 1) for s in group if s.tag == "SEL")
        found[number] = (
            eqd,
            Container(
                number=number,
                size_type=text_at(eqd, 3) or None,
                seals=seals,
                loaded=text_at(eqd, 6) != "4",
            ),
        )
    return found


def _iso6346_valid(number: str) -> bool:
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{7}", number):
        return False
    values = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _LETTER_VALUES, strict=True))
    total = sum((values[c] if c.isalpha() else int(c)) * (2**i) for i, c in enumerate(number[:10]))
    return bool(total % 11 % 10 == int(number[10]))


_LETTER_VALUES = [v for v in range(10, 39) if v % 11 != 0]


@dataclass(slots=True)
class _Bill:
    number: PosNumber
    segment: Segment
    master: str | None  # the master bill number a house bill names
    group: int | None
    pos: Pos


def pos_groups(
    consignments: Sequence[Consignment],
    containers: dict[str, tuple[Segment, Container]],
    context: Context,
) -> tuple[PosGroup, ...]:
    bills = [read_bill(c, containers) for c in consignments]
    masters: dict[str, _Bill] = {}
    children: dict[int, list[_Bill]] = {}
    top: list[_Bill] = []
    for bill in bills:
        if bill.master is None:
            if bill.number.sub_pos:
                invalid(
                    bill.segment, "1004", str(bill.number), "a sub-pos names its master (RFF+MB)"
                )
            masters[bill.pos.transport_document.number] = bill
            top.append(bill)
            children[id(bill)] = []
            continue
        parent = masters.get(bill.master)
        if parent is None:
            refuse_at("EDI-105", bill.segment, reference=f"RFF+MB {bill.master}")
        if bill.number.pos != parent.number.pos or bill.number.sub_pos == 0:
            invalid(
                bill.segment,
                "1004",
                str(bill.number),
                f"a house bill is a sub-pos of pos {parent.number.pos}",
            )
        if bill.group is not None and bill.group != parent.group:
            invalid(bill.segment, "7365", str(bill.group), "a house bill is in its master's group")
        children[id(parent)].append(bill)
    groups: dict[int, list[Pos]] = {}
    seen: set[str] = set()
    for bill in top:
        if bill.group is None:
            missing(bill.segment, "GIS+n:KPOS", "the group (kelompok pos) of the pos")
        pos = bill.pos
        subs = tuple(child.pos for child in children[id(bill)])
        if subs:
            pos = replace(pos, sub_pos=subs)
        for p in pos.walk():
            if str(p.number) in seen:
                invalid(bill.segment, "1004", str(p.number), "pos number used twice")
            seen.add(str(p.number))
        groups.setdefault(bill.group, []).append(pos)
    return tuple(PosGroup(number=n, pos=tuple(p)) for n, p in sorted(groups.items()))


def read_bill(consignment: Consignment, containers: dict[str, tuple[Segment, Container]]) -> _Bill:
    cni = consignment.cni
    number = pos_number_at(cni, text_at(cni, 2))
    segments = consignment.segments
    document: TransportDocument | None = None
    master: str | None = None
    for i, segment in enumerate(segments):
        if segment.tag != "RFF":
            continue
        qualifier = segment.get(1)
        if qualifier in MASTER_REFERENCES:
            master = text_at(segment, 1, 2)
        kind = TRANSPORT_DOCUMENTS.get(qualifier)
        if kind is not None:
            following = segments[i + 1] if i + 1 < len(segments) else None
            if following is None or following.tag != "DTM" or following.get(1) != BL_DATE:
                missing(segment, "DTM+95", "the date of the transport document after its RFF")
            document = TransportDocument(
                kind=kind, number=text_at(segment, 1, 2), date=dtm_date(following)
            )
    if document is None:
        missing(cni, "RFF+BM/SWB/BH/AWB/HWB", "the transport document of the pos")
    parties = {s.get(1): s for s in segments if s.tag == "NAD"}
    for role in ("CZ", "CN"):
        if role not in parties:
            missing(cni, f"NAD+{role}", "shipper (CZ) and consignee (CN) are required")
    locations = {s.get(1): s for s in segments if s.tag == "LOC"}
    for qualifier in (LOADING, DISCHARGE):
        if qualifier not in locations:
            missing(cni, f"LOC+{qualifier}", "ports of loading (9) and discharge (11)")
    totals = {s.get(1): s for s in segments if s.tag == "CNT"}
    if "7" not in totals:
        missing(cni, "CNT+7", "the gross weight in kg")
    weight = totals["7"]
    if text_at(weight, 1, 3) not in ("", "KGM"):
        invalid(weight, "6411", text_at(weight, 1, 3), "the gross weight is in KGM")
    volume = totals.get("15")
    group_gis = gis(segments, "KPOS")
    group: int | None = None
    if group_gis is not None:
        raw = text_at(group_gis, 1)
        if raw not in {"1", "2", "3", "4", "5", "6"}:
            invalid(group_gis, "7365", raw, "the group is 1 to 6")
        group = int(raw)
    goods, packages, bill_containers = _goods(consignment, containers)
    if "11" in totals:
        packages = Packages(
            count=count_at(totals["11"], 1, 2, "6066"),
            kind_code=packages.kind_code,
            marks=packages.marks,
        )
    pos = Pos(
        number=number,
        transport_document=document,
        shipper=party_of(parties["CZ"]),
        consignee=party_of(parties["CN"]),
        notify=party_of(parties["N1"]) if "N1" in parties else None,
        port_of_loading=locode(locations[LOADING]),
        port_of_discharge=locode(locations[DISCHARGE]),
        packages=packages,
        gross_weight_kg=decimal_at(weight, 1, 2, "6066"),
        volume_m3=decimal_at(volume, 1, 2, "6066") if volume is not None else None,
        final_destination=locode(locations[DELIVERY]) if DELIVERY in locations else None,
        containers=bill_containers,
        goods=goods,
    )
    return _Bill(number=number, segment=cni, master=master, group=group, pos=pos)


def _goods(
    consignment: Consignment, containers: dict[str, tuple[Segment, Container]]
) -> tuple[tuple[GoodsItem, ...], Packages, tuple[Container, ...]]:
    items: list[GoodsItem] = []
    count = 0
    kinds: list[str] = []
    marks: list[str] = []
    used: dict[str, Container] = {}
    if not consignment.goods:
        missing(consignment.cni, "GID", "every pos describes its goods (HS heading)")
    for group in consignment.goods:
        gid = group[0]
        if text_at(gid, 2, 1):
            count += count_at(gid, 2, 1, "7224")
            kind = text_at(gid, 2, 2)
            if kind and kind not in kinds:
                kinds.append(kind)
        hs = ""
        description = ""
        quantity: Decimal | None = None
        unit: str | None = None
        value: Decimal | None = None
        currency: str | None = None
        for segment in group:
            if segment.tag == "CST" or (segment.tag == "PIA" and text_at(segment, 2, 2) == "HS"):
                hs = text_at(segment, 2, 1)
                if not re.fullmatch(r"\d{4}(\d{2}){0,3}", hs):
                    invalid(segment, "HS", hs, "an HS code is 4, 6, 8 or 10 digits")
            elif segment.tag == "FTX" and segment.get(1) == "AAA":
                description = " ".join(filter(None, (description, joined(segment, 4, " "))))
            elif segment.tag == "MEA" and segment.get(1) == "CT":
                quantity = decimal_at(segment, 3, 2, "6314")
                unit = text_at(segment, 3, 1) or None
            elif segment.tag == "MOA" and segment.get(1) == "44":
                value = decimal_at(segment, 1, 2, "5004")
                currency = text_at(segment, 1, 3) or None
            elif segment.tag == "PCI":
                text = joined(segment, 2, " ")
                if text and text not in marks:
                    marks.append(text)
            elif segment.tag == "SGP":
                number = text_at(segment, 1)
                if number not in containers:
                    refuse_at("EDI-105", segment, reference=f"SGP {number} (no EQD declares it)")
                used.setdefault(number, containers[number][1])
        if not hs:
            missing(gid, "CST or PIA+5 (HS)", "the HS code of the goods item")
        if not description:
            missing(gid, "FTX+AAA", "the description of the goods item")
        items.append(
            GoodsItem(
                hs_code=hs,
                description=description,
                quantity=quantity,
                quantity_unit=unit,
                value=value,
                currency=currency,
            )
        )
    # Goods items of several kinds make a pos of packages (PK), unless a kind is no Rec. 21
    # code: that one stays, for GW-ID-PACKAGE to refuse rather than PK to hide.
    unknown = [kind for kind in kinds if kind not in package_types()]
    packages = Packages(
        count=count,
        kind_code=kinds[0] if len(kinds) == 1 else (unknown[0] if unknown else "PK"),
        marks=" / ".join(marks) or None,
    )
    return tuple(items), packages, tuple(used.values())
