"""EDIFACT CUSREP/CUSCAR -> canonical records (parsers.edifact.documents), on docs/examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.exceptions import ConfigurationError, DocumentError
from gateway.model import (
    Amendment,
    AmendmentKind,
    Direction,
    DocumentType,
    Jksp,
    Manifest,
    PosNumber,
    RegistrationKind,
    Rksp,
    SupportingListKind,
    TransportDocumentKind,
)
from parsers.edifact.documents import to_documents
from parsers.edifact.envelope import Envelope, read
from parsers.edifact.segments import Message
from parsers.edifact.structure import check

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
WIB = timezone(timedelta(hours=7))


def zone(office: str) -> ZoneInfo | None:
    return ZoneInfo("Asia/Jakarta") if office == "040300" else None


def message(name: str, replace: tuple[str, str] | None = None) -> Message:
    text = (EXAMPLES / name).read_text("utf-8")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    (found,) = read(text, Envelope())
    return found


def mapped(name: str, replace: tuple[str, str] | None = None) -> object:
    msg = message(name, replace)
    assert check(msg) == []
    (document,) = to_documents(msg, zone_for_office=zone)
    return document


def refusal(name: str, replace: tuple[str, str]) -> tuple[str, str]:
    msg = message(name, replace)
    with pytest.raises(DocumentError) as caught:
        to_documents(msg, zone_for_office=zone)
    found = caught.value.findings[0]
    return found.code, str(found.location)


def test_rksp() -> None:
    rksp = mapped("rksp.edi")
    assert isinstance(rksp, Rksp)
    assert rksp.header.office_code == "040300"
    assert rksp.conveyance.imo_number == "9321483"
    assert rksp.conveyance.name == "KM DEMO NUSANTARA"
    assert rksp.conveyance.gross_tonnage == Decimal("27250")
    assert rksp.conveyance.length_overall_m == Decimal("210.50")
    assert rksp.carrier.npwp == "013467386041000"
    assert rksp.carrier.address == "Jl. Enggano No. 5, Tanjung Priok, Jakarta Utara 14310"
    assert (rksp.voyage_number, rksp.voyage_date) == ("025N", date(2099, 3, 10))
    assert (rksp.port_of_origin, rksp.last_port_of_call) == ("CNSHA", "SGSIN")
    assert (rksp.port_of_arrival, rksp.next_port) == ("IDTPP", "IDSUB")
    assert rksp.eta == datetime(2099, 3, 14, 6, 0, tzinfo=WIB)
    assert rksp.eta.tzinfo is not None
    assert rksp.etd == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert rksp.amends is None


def test_rksp_change_amends_bc10() -> None:
    text = (EXAMPLES / "rksp.edi").read_text("utf-8").replace("IDTPP+9'", "IDTPP+4'")
    text = text.replace("RFF+VON", "RFF+ACW:000123'\nDTM+171:20990301:102'\nRFF+VON")
    (msg,) = read(text, Envelope())
    assert check(msg) == []
    (rksp,) = to_documents(msg, zone_for_office=zone)
    assert isinstance(rksp, Rksp)
    assert rksp.amends is not None
    assert rksp.amends.kind is RegistrationKind.BC10
    assert (rksp.amends.number, rksp.amends.date) == ("000123", date(2099, 3, 1))


def test_jksp() -> None:
    jksp = mapped("jksp.edi")
    assert isinstance(jksp, Jksp)
    assert (jksp.period_start, jksp.period_end) == (date(2099, 1, 1), date(2099, 3, 31))
    assert [c.voyage_number for c in jksp.calls] == ["001N", "003N", "005N"]
    assert jksp.calls[2].port_of_origin == "MYPKG"
    assert jksp.calls[2].etd is None
    assert jksp.first_arrival == datetime(2099, 1, 7, 1, 0, tzinfo=UTC)  # 303 with +07
    assert jksp.port_of_arrival == "IDTPP"


def test_inward_manifest() -> None:
    manifest = mapped("manifest-inward.edi")
    assert isinstance(manifest, Manifest)
    assert manifest.document_type is DocumentType.INWARD_MANIFEST
    assert manifest.direction is Direction.INWARD and not manifest.nil
    assert manifest.header.office_code == "040300"
    assert manifest.arrival_at == datetime(2099, 3, 14, 6, 30, tzinfo=WIB)
    assert manifest.departure_at is None
    assert [g.number for g in manifest.groups] == [1, 2]
    assert [str(p.number) for p in manifest.all_pos()] == [
        "000100000000",
        "000100010000",
        "000100020000",
        "000200000000",
        "000300000000",
    ]
    master = manifest.groups[0].pos[0]
    assert master.transport_document.number == "DPNSHA2501001"
    assert master.transport_document.date == date(2025, 1, 5)
    assert [s.transport_document.kind for s in master.sub_pos] == [
        TransportDocumentKind.HOUSE_BILL_OF_LADING
    ] * 2
    assert master.sub_pos[0].shipper.name == "Shenzhen Bright Electronics Co., Ltd."
    assert master.sub_pos[1].goods[0].description == "Men's leather shoes"
    assert (master.packages.count, master.packages.kind_code) == (200, "CT")
    assert master.packages.marks == "SKK/JKT 1-200"
    assert master.gross_weight_kg == Decimal("8900.000")
    assert master.volume_m3 == Decimal("56.400")
    assert master.consignee.npwp == "021876545041000"
    assert master.notify is not None and master.notify.name == "PT Samudera Kargo Konsolidasi"
    (container,) = master.containers
    assert (container.number, container.size_type) == ("MSKU1234565", "45G1")
    assert container.seals == ("SH778812", "BC0401234") and container.loaded
    assert [g.hs_code for g in master.goods] == ["85171300", "6403"]
    assert master.goods[0].quantity == Decimal("2400") and master.goods[0].quantity_unit == "PCE"
    assert master.goods[0].value == Decimal("360000.00") and master.goods[0].currency == "USD"
    direct = manifest.groups[0].pos[1]
    assert [c.number for c in direct.containers] == ["TGHU9876542", "TCLU1234568"]
    onward = manifest.groups[1].pos[0]
    assert onward.final_destination == "IDSUB" and onward.volume_m3 is None
    assert onward.goods[0].hs_code == "8474200000"
    assert [s.kind for s in manifest.supporting_lists][:2] == [
        SupportingListKind.CREW,
        SupportingListKind.PASSENGERS,
    ]
    assert manifest.supporting_lists[0].entries == 22


def test_outward_manifest() -> None:
    manifest = mapped("manifest-outward.edi")
    assert isinstance(manifest, Manifest)
    assert manifest.direction is Direction.OUTWARD
    assert manifest.departure_at == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert manifest.arrival_at is None
    second = manifest.groups[0].pos[1]
    assert second.transport_document.kind is TransportDocumentKind.SEA_WAYBILL
    assert second.packages.kind_code == "PX" and second.final_destination == "MYPEN"


def test_nil_manifest() -> None:
    manifest = mapped("manifest-nil.edi")
    assert isinstance(manifest, Manifest)
    assert manifest.nil and manifest.groups == ()
    assert manifest.document_type is DocumentType.NIL_MANIFEST
    assert manifest.arrival_at == datetime(2099, 4, 2, 7, 15, tzinfo=WIB)


def test_amendment() -> None:
    amendment = mapped("amendment.edi")
    assert isinstance(amendment, Amendment)
    assert amendment.kind is AmendmentKind.CONSIGNEE_NOTIFY
    assert amendment.bc11.kind is RegistrationKind.BC11
    assert (amendment.bc11.office_code, amendment.bc11.number) == ("040300", "000001")
    assert amendment.bc11.date == date(2025, 1, 15)
    assert amendment.pos_number == PosNumber(pos=2)
    assert amendment.reason.startswith("Nama penerima barang pada B/L salah ketik; B/L revisi")
    assert amendment.requested_by.npwp == "013467386041000"
    assert [(d.code, d.number) for d in amendment.supporting_documents] == [
        ("705", "DPNSIN2501002R")
    ]
    assert [(c.field, c.new_value) for c in amendment.changes] == [
        ("consignee.name", "PT Cahaya Abadi Logistik"),
        ("consignee.npwp", "074551235041000"),
    ]


def test_local_time_needs_the_offices() -> None:
    with pytest.raises(ConfigurationError):
        to_documents(message("rksp.edi"))


def test_unknown_office_zone_is_off_001() -> None:
    msg = message("rksp.edi", ("LOC+22+040300'", "LOC+22+999999'"))
    with pytest.raises(DocumentError) as caught:
        to_documents(msg, zone_for_office=zone)
    assert caught.value.findings[0].code == "OFF-001"


@pytest.mark.parametrize(
    ("name", "replace", "code"),
    [
        (
            "manifest-inward.edi",
            (
                "RFF+MB:DPNSHA2501001'\nLOC+9+CNSHA'\nLOC+11+IDTPP'\nNAD+CZ+++Shenzhen",
                "RFF+MB:NOSUCHBILL'\nLOC+9+CNSHA'\nLOC+11+IDTPP'\nNAD+CZ+++Shenzhen",
            ),
            "EDI-105",
        ),
        ("manifest-inward.edi", ("EQD+CN+MSKU1234565", "EQD+CN+MSKU1234566"), "EDI-103"),
        ("manifest-inward.edi", ("CST++6403:HS", "CST++64:HS"), "EDI-103"),
        ("manifest-inward.edi", ("GIS+I:DIR'\n", ""), "EDI-102"),
        (
            "manifest-inward.edi",
            ("DTM+132:209903140630:203", "DTM+132:209913140630:203"),
            "EDI-103",
        ),
        ("manifest-inward.edi", ("LOC+22+040300", "LOC+22+0403"), "EDI-104"),
        ("amendment.edi", ("GIS+C:AMK", "GIS+D:AMK"), "EDI-102"),
    ],
)
def test_refusals(name: str, replace: tuple[str, str], code: str) -> None:
    found, location = refusal(name, replace)
    assert found == code
    assert "at position" in location
