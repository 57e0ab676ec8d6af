"""Decision tables for what a manifest must contain (handlers/content.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from gateway.model import (
    Amendment,
    AmendmentKind,
    Direction,
    DocumentHeader,
    DocumentType,
    Finding,
    Flag,
    GoodsItem,
    PosGroup,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
    Severity,
    TransportDocumentKind,
    TransportMode,
)
from handlers.base import Bc10Call
from tests.unit.rulebook_records import (
    CARRIER,
    IMO,
    apply,
    bc10_call,
    codes,
    context,
    conveyance,
    goods,
    manifest,
    pos,
    rksp,
)

NOW = context(datetime(2026, 3, 1, tzinfo=UTC))


def findings(items: list[Finding | Flag]) -> list[Finding]:
    assert all(isinstance(i, Finding) for i in items), items
    return [i for i in items if isinstance(i, Finding)]


# -- ART4-4-GROUP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "group", "valid"),
    [
        (Direction.INWARD, 0, False),
        (Direction.INWARD, 1, True),
        (Direction.INWARD, 6, True),
        (Direction.INWARD, 7, False),
        (Direction.OUTWARD, 0, False),
        (Direction.OUTWARD, 1, True),
        (Direction.OUTWARD, 5, True),
        (Direction.OUTWARD, 6, False),
    ],
)
def test_group_numbers_valid_for_the_direction(
    direction: Direction, group: int, valid: bool
) -> None:
    document = manifest(direction=direction, groups=(PosGroup(number=group, pos=(pos(1),)),))
    items = findings(apply("ART4-4-GROUP", document, NOW))
    assert [f.code for f in items] == ([] if valid else ["MAN-001"])
    for item in items:
        assert ("1-6" if direction is Direction.INWARD else "1-5") in item.message_en


def test_a_pos_is_in_exactly_one_group() -> None:
    twice = manifest(
        groups=(PosGroup(number=1, pos=(pos(1),)), PosGroup(number=2, pos=(pos(1, "OTHER"),)))
    )
    assert codes(apply("ART4-4-GROUP", twice, NOW)) == ["MAN-002"]
    apart = manifest(groups=(PosGroup(number=1, pos=(pos(1),)), PosGroup(number=2, pos=(pos(2),))))
    assert codes(apply("ART4-4-GROUP", apart, NOW)) == []


# -- ART4-5-POS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numbers", "refused"),
    [
        pytest.param(("BL-A", "BL-B"), 0, id="distinct"),
        pytest.param(("BL-A", "BL-A"), 1, id="same-bl-twice"),
        pytest.param(("BL-A", " bl-a "), 1, id="same-bl-other-spelling"),
        pytest.param(("BL-A", "BL-A", "BL-A"), 2, id="three-times"),
    ],
)
def test_one_pos_per_bill_of_lading(numbers: tuple[str, ...], refused: int) -> None:
    document = manifest(
        groups=(PosGroup(number=1, pos=tuple(pos(i + 1, n) for i, n in enumerate(numbers))),)
    )
    assert codes(apply("ART4-5-POS", document, NOW)) == ["MAN-003"] * refused


def test_a_house_bill_may_not_repeat_a_bill_of_the_manifest() -> None:
    house = pos(1, "BL-A", kind=TransportDocumentKind.HOUSE_BILL_OF_LADING, sub=1)
    document = manifest(groups=(PosGroup(number=1, pos=(pos(1, "BL-A", sub_pos=(house,)),)),))
    assert codes(apply("ART4-5-POS", document, NOW)) == ["MAN-003"]


@pytest.mark.parametrize(
    ("mode", "kind", "fits"),
    [
        (TransportMode.SEA, TransportDocumentKind.BILL_OF_LADING, True),
        (TransportMode.SEA, TransportDocumentKind.SEA_WAYBILL, True),
        (TransportMode.SEA, TransportDocumentKind.AIR_WAYBILL, False),
        (TransportMode.AIR, TransportDocumentKind.AIR_WAYBILL, True),
        (TransportMode.AIR, TransportDocumentKind.BILL_OF_LADING, False),
        (TransportMode.LAND, TransportDocumentKind.AIR_WAYBILL, True),
    ],
)
def test_transport_document_fits_the_mode(
    mode: TransportMode, kind: TransportDocumentKind, fits: bool
) -> None:
    document = manifest(mode=mode, groups=(PosGroup(number=1, pos=(pos(1, kind=kind),)),))
    assert codes(apply("ART4-5-POS", document, NOW)) == ([] if fits else ["MAN-004"])


# -- ART4-5-HS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hs", "code"),
    [
        ("8517", None),
        ("85171300", None),
        ("8474200000", None),
        ("0901", None),  # leading zero kept
        ("851", "ID-005"),  # fewer than 4 digits
        ("85A7", "ID-005"),
        ("85171300001", "ID-005"),  # more than 10 digits
        ("1234", "MAN-005"),  # no such heading
        ("0000", "MAN-005"),
        ("9901", "MAN-005"),
        ("9999", "MAN-005"),  # chapter 99 "not specified according to kind"
    ],
)
def test_hs_heading_exists(hs: str, code: str | None) -> None:
    document = manifest(groups=(PosGroup(number=1, pos=(pos(1, items=(goods(hs),)),)),))
    items = findings(apply("ART4-5-HS", document, NOW))
    assert [f.code for f in items] == ([] if code is None else [code])
    where = "group 1/pos 000100000000/goods[0]"
    assert all(f.location and f.location.path == where for f in items)


def test_hs_heading_of_a_consolidated_breakdown_is_checked_too() -> None:
    breakdown = Amendment(
        header=DocumentHeader(office_code="040300"),
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11, office_code="040300", number="000001", date=date(2026, 3, 1)
        ),
        pos_number=PosNumber(pos=1),
        kind=AmendmentKind.BREAKDOWN,
        reason="house bills",
        requested_by=CARRIER,
        breakdown=(pos(1, items=(goods("1234"),), sub=1),),
    )
    assert codes(apply("ART4-5-HS", breakdown, NOW)) == ["MAN-005"]


# -- ART4-6-FIVE ----------------------------------------------------------------------------


def items_by_value(count: int, blank: int) -> tuple[GoodsItem, ...]:
    """``count`` items worth 100, 200, ...; item ``blank`` (1-based) has no description."""
    return tuple(
        goods(description="" if i == blank else f"Item {i}", value=str(100 * i))
        for i in range(1, count + 1)
    )


@pytest.mark.parametrize(
    ("count", "blank", "refused"),
    [
        pytest.param(5, 1, True, id="five-items-smallest-blank"),
        pytest.param(6, 1, False, id="six-items-smallest-blank"),
        pytest.param(6, 2, True, id="six-items-second-smallest-blank"),
        pytest.param(6, 6, True, id="six-items-largest-blank"),
        pytest.param(9, 4, False, id="nine-items-fourth-smallest-blank"),
        pytest.param(9, 5, True, id="nine-items-fifth-largest-blank"),
    ],
)
def test_the_five_largest_by_value_are_described(count: int, blank: int, refused: bool) -> None:
    document = manifest(
        groups=(PosGroup(number=1, pos=(pos(1, items=items_by_value(count, blank)),)),)
    )
    assert codes(apply("ART4-6-FIVE", document, NOW)) == (["MAN-006"] if refused else [])


def test_ranked_by_quantity_when_a_value_is_missing() -> None:
    # Item 1 is the most valuable but the smallest by quantity; item 6 states no value, so the
    # items are ranked by quantity and item 1 may stay undescribed.
    ranked = [
        goods(description=f"Item {i}", quantity=str(i), value=str(1000 - i)) for i in range(1, 7)
    ]
    ranked[0] = dataclasses.replace(ranked[0], description="")
    ranked[5] = dataclasses.replace(ranked[5], value=None)
    document = manifest(groups=(PosGroup(number=1, pos=(pos(1, items=tuple(ranked)),)),))
    assert codes(apply("ART4-6-FIVE", document, NOW)) == []
    # Neither value nor quantity ranks every item: none may be left out.
    ranked[5] = dataclasses.replace(ranked[5], quantity=None)
    unrankable = manifest(groups=(PosGroup(number=1, pos=(pos(1, items=tuple(ranked)),)),))
    assert codes(apply("ART4-6-FIVE", unrankable, NOW)) == ["MAN-006"]


# -- ART4-9-NIL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nil", "has_pos", "code"),
    [(True, False, None), (True, True, "MAN-007"), (False, True, None), (False, False, "MAN-008")],
)
def test_nil_manifests(nil: bool, has_pos: bool, code: str | None) -> None:
    groups = (PosGroup(number=1, pos=(pos(1),)),) if has_pos else ()
    document = manifest(nil=nil, groups=groups)
    assert codes(apply("ART4-9-NIL", document, NOW)) == ([] if code is None else [code])


def test_nil_outward_manifest() -> None:
    document = manifest(direction=Direction.OUTWARD, nil=True)
    assert document.document_type is DocumentType.NIL_MANIFEST
    assert codes(apply("ART4-9-NIL", document, NOW)) == []


# -- ART4-1-LANGUAGE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "accepted"),
    [
        ("id", True),
        ("en", True),
        ("EN", True),
        ("ind", True),
        ("eng", True),
        (None, True),
        ("fr", False),
        ("ms", False),
        ("", False),
    ],
)
def test_manifest_language_indonesian_or_english(language: str | None, accepted: bool) -> None:
    document = manifest(header=DocumentHeader(office_code="040300", language=language))
    assert codes(apply("ART4-1-LANGUAGE", document, NOW)) == ([] if accepted else ["MAN-009"])


def test_language_rule_is_for_manifests() -> None:
    document = rksp(header=DocumentHeader(office_code="040300", language="fr"))
    assert apply("ART4-1-LANGUAGE", document, NOW) == []


# -- ART4-1-BC10 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "manifest_changes", "linked"),
    [
        pytest.param((bc10_call(),), {}, True, id="rksp-same-imo-voyage"),
        pytest.param((), {}, False, id="no-bc10"),
        pytest.param((bc10_call(voyages=("026N",)),), {}, False, id="other-voyage"),
        pytest.param((bc10_call(office="070100"),), {}, False, id="other-office"),
        pytest.param((bc10_call(imo="9074729"),), {}, False, id="same-name-other-imo"),
        pytest.param(
            (bc10_call(name="km demo nusantara", imo=None),),
            {"conveyance": conveyance(imo_number=None)},
            True,
            id="no-imo-same-name",
        ),
        pytest.param((bc10_call(name="KM OTHER", imo=IMO),), {}, True, id="same-imo-other-name"),
        pytest.param(
            (bc10_call(document_type=DocumentType.JKSP, voyages=("023N", "025N", "027N")),),
            {},
            True,
            id="jksp-call",
        ),
    ],
)
def test_inward_manifest_linked_to_the_bc10_of_its_call(
    known: tuple[Bc10Call, ...], manifest_changes: dict[str, object], linked: bool
) -> None:
    document = manifest(**manifest_changes)
    items = findings(apply("ART4-1-BC10", document, context(NOW.now, bc10=known)))
    assert [f.code for f in items] == ([] if linked else ["MAN-010"])
    assert all(f.severity is Severity.WARNING for f in items)


def test_no_bc10_asked_of_outward_manifests_or_land_arrivals_from_abroad() -> None:
    outward = manifest(direction=Direction.OUTWARD)
    land = manifest(
        mode=TransportMode.LAND,
        last_port_of_call="MYKCH",
        conveyance=conveyance(TransportMode.LAND),
    )
    assert apply("ART4-1-BC10", outward, NOW) == []
    assert apply("ART4-1-BC10", land, NOW) == []
