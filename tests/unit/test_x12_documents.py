"""X12 309/323 transaction sets -> canonical records (parsers.x12.documents).

The example interchanges in docs/examples/*.x12 are split into TransactionSet records by a
small reader below (the gateway's own envelope reader is tested elsewhere), mapped, and checked
value by value against the same data as the XML examples.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
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
    TransportMode,
)
from parsers.x12.documents import to_documents
from parsers.x12.segments import Group, Interchange, Segment, TransactionSet

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
WIB = ZoneInfo("Asia/Jakarta")
ZONES = {"040300": WIB, "070100": WIB, "180100": ZoneInfo("Asia/Makassar")}


def zone_for_office(code: str) -> tzinfo | None:
    return ZONES.get(code)


def split_segments(text: str) -> tuple[list[list[str | tuple[str, ...]]], str]:
    """Segments as element lists, using the delimiters the ISA declares."""
    text = text.lstrip()
    element, component, terminator = text[3], text[104], text[105]
    segments: list[list[str | tuple[str, ...]]] = []
    for raw in text.split(terminator):
        raw = raw.replace("\r", "").replace("\n", "")
        if not raw:
            continue
        parts = raw.split(element)
        elements: list[str | tuple[str, ...]] = [parts[0]]
        for index, value in enumerate(parts[1:], 1):
            if component in value and not (parts[0] == "ISA" and index == 16):
                elements.append(tuple(value.split(component)))
            else:
                elements.append(value)
        segments.append(elements)
    return segments, component


def read_transaction_sets(text: str) -> list[TransactionSet]:
    segments, _ = split_segments(text)
    sets: list[TransactionSet] = []
    interchange: Interchange | None = None
    group: Group | None = None
    current: list[Segment] = []
    start = 0
    for number, parts in enumerate(segments, 1):
        seg_id, values = str(parts[0]), tuple(parts[1:])
        flat = [v if isinstance(v, str) else v[0] for v in values]
        if seg_id == "ISA":
            interchange = Interchange(
                sender_qualifier=flat[4],
                sender_id=flat[5].strip(),
                receiver_qualifier=flat[6],
                receiver_id=flat[7].strip(),
                date=flat[8],
                time=flat[9],
                version=flat[11],
                control_number=flat[12],
                ack_requested=flat[13] == "1",
                usage=flat[14],
            )
        elif seg_id == "GS":
            group = Group(
                functional_id=flat[0],
                sender=flat[1],
                receiver=flat[2],
                date=flat[3],
                time=flat[4],
                control_number=flat[5],
                version=flat[7],
            )
        elif seg_id == "ST":
            start = number
            current = [Segment(id="ST", elements=values, position=1, line=number)]
        elif current:
            current.append(
                Segment(id=seg_id, elements=values, position=len(current) + 1, line=number)
            )
            if seg_id == "SE":
                assert interchange is not None and group is not None
                sets.append(
                    TransactionSet(
                        set_id=str(current[0].elements[0]),
                        control_number=str(current[0].elements[1]),
                        interchange=interchange,
                        group=group,
                        segments=tuple(current),
                        line=start,
                    )
                )
                current = []
    return sets


def example_set(name: str) -> TransactionSet:
    (transaction,) = read_transaction_sets((EXAMPLES / name).read_text())
    return transaction


def mapped(name: str) -> list[object]:
    return list(to_documents(example_set(name), zone_for_office=zone_for_office))


def refused(text: str) -> DocumentError:
    (transaction,) = read_transaction_sets(text)
    with pytest.raises(DocumentError) as caught:
        to_documents(transaction, zone_for_office=zone_for_office)
    return caught.value


def variant(name: str, old: str, new: str) -> str:
    text = (EXAMPLES / name).read_text()
    assert old in text, old
    return text.replace(old, new, 1)


# ---------------------------------------------------------------- the reader itself


def test_reader_takes_delimiters_from_the_isa() -> None:
    text = (EXAMPLES / "rksp.x12").read_text().replace("~\n", "!").replace("*", "|")
    text = text.replace("|>!", "|^!", 1)  # ISA16
    (transaction,) = read_transaction_sets(text)
    assert transaction.set_id == "323"
    assert transaction.group.receiver == "040300"
    assert transaction.interchange.sender_id == "DEMOLINE"
    assert transaction.interchange.ack_requested is True
    assert [s.id for s in transaction.segments][:3] == ["ST", "V1", "K1"]
    assert transaction.segments[1].position == 2
    assert transaction.segments[1].line == 4


# ---------------------------------------------------------------- 323


def test_rksp() -> None:
    (rksp,) = mapped("rksp.x12")
    assert isinstance(rksp, Rksp)
    assert rksp.document_type is DocumentType.RKSP
    assert rksp.header.office_code == "040300"
    assert rksp.header.sender_reference is None
    assert rksp.conveyance.mode is TransportMode.SEA
    assert rksp.conveyance.name == "KM DEMO NUSANTARA"
    assert rksp.conveyance.imo_number == "9321483"
    assert rksp.conveyance.call_sign == "PKDN"
    assert rksp.conveyance.flag == "ID"
    assert rksp.conveyance.gross_tonnage == Decimal("27250")
    assert rksp.conveyance.length_overall_m == Decimal("210.50")
    assert (rksp.conveyance.draft_fore_m, rksp.conveyance.draft_aft_m) == (
        Decimal("10.20"),
        Decimal("10.80"),
    )
    assert rksp.carrier.npwp == "013467386041000"
    assert rksp.carrier.name == "PT Demo Pelayaran Nusantara"
    assert rksp.voyage_number == "025N"
    assert rksp.voyage_date == date(2099, 3, 10)
    assert (rksp.port_of_origin, rksp.last_port_of_call) == ("CNSHA", "SGSIN")
    assert (rksp.port_of_arrival, rksp.next_port) == ("IDTPP", "IDSUB")
    assert rksp.eta == datetime(2099, 3, 14, 6, 0, tzinfo=WIB)
    assert rksp.eta.utcoffset() == timedelta(hours=7)
    assert rksp.etd == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert rksp.amends is None


def test_jksp_calls_with_their_own_voyages_and_time_codes() -> None:
    (jksp,) = mapped("jksp.x12")
    assert isinstance(jksp, Jksp)
    assert jksp.document_type is DocumentType.JKSP
    assert jksp.header.language == "en"
    assert jksp.port_of_arrival == "IDTPP"
    assert (jksp.period_start, jksp.period_end) == (date(2099, 1, 1), date(2099, 3, 31))
    assert [c.voyage_number for c in jksp.calls] == ["001N", "003N", "005N"]
    assert [c.port_of_origin for c in jksp.calls] == ["SGSIN", "SGSIN", "MYPKG"]
    assert all(c.next_port == "IDSUB" for c in jksp.calls)
    first, second, third = jksp.calls
    assert first.eta == datetime(2099, 1, 7, 8, 0, tzinfo=WIB)  # no DTM04: the office's zone
    assert second.eta == datetime(2099, 1, 21, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    assert third.eta == datetime(2099, 2, 4, 1, 0, tzinfo=UTC)  # DTM04 UT
    assert third.eta == datetime(2099, 2, 4, 8, 0, tzinfo=WIB)
    assert third.etd is None
    assert jksp.first_arrival == first.eta


def test_323_with_one_call_but_no_period_is_an_rksp_and_jksp_period_defaults() -> None:
    text = variant("jksp.x12", "*PERIOD 20990101 20990331~", "~")
    (transaction,) = read_transaction_sets(text)
    (jksp,) = to_documents(transaction, zone_for_office=zone_for_office)
    assert isinstance(jksp, Jksp)
    assert (jksp.period_start, jksp.period_end) == (date(2099, 1, 7), date(2099, 2, 4))


def test_rksp_amending_a_bc10() -> None:
    text = variant("rksp.x12", "VD 20990310*", "BC10 000123 20990301*")
    (transaction,) = read_transaction_sets(text)
    (rksp,) = to_documents(transaction, zone_for_office=zone_for_office)
    assert isinstance(rksp, Rksp)
    assert rksp.amends is not None
    assert rksp.amends.kind is RegistrationKind.BC10
    assert (rksp.amends.office_code, rksp.amends.number) == ("040300", "000123")
    assert rksp.amends.date == date(2099, 3, 1)


# ---------------------------------------------------------------- 309 manifests


def test_inward_manifest() -> None:
    (manifest,) = mapped("manifest-inward.x12")
    assert isinstance(manifest, Manifest)
    assert manifest.document_type is DocumentType.INWARD_MANIFEST
    assert manifest.direction is Direction.INWARD
    assert manifest.nil is False
    assert manifest.header.office_code == "040300"
    assert manifest.header.language == "id"
    assert manifest.carrier.npwp == "013467386041000"
    assert manifest.conveyance.imo_number == "9321483"
    assert manifest.conveyance.call_sign == "PKDN"
    assert manifest.voyage_number == "025N"
    assert (manifest.port_of_origin, manifest.last_port_of_call) == ("CNSHA", "SGSIN")
    assert (manifest.port_of_call, manifest.next_port) == ("IDTPP", "IDSUB")
    assert manifest.arrival_at == datetime(2099, 3, 14, 6, 30, tzinfo=WIB)
    assert manifest.departure_at is None
    kinds = {s.kind: s for s in manifest.supporting_lists}
    assert kinds[SupportingListKind.CREW].entries == 22
    assert kinds[SupportingListKind.STOWAGE_PLAN].reference == "BAPLIE-025N-IDTPP"
    assert kinds[SupportingListKind.SHIPS_STORES].entries is None

    assert [g.number for g in manifest.groups] == [1, 2]
    assert [p.number.pos for p in manifest.groups[0].pos] == [1, 2]
    assert len(list(manifest.all_pos())) == 5

    master = manifest.groups[0].pos[0]
    assert master.transport_document.number == "DPNSHA2501001"
    assert master.transport_document.kind is TransportDocumentKind.BILL_OF_LADING
    assert master.transport_document.date == date(2025, 1, 5)
    assert master.packages.count == 200 and master.packages.kind_code == "CT"
    assert master.packages.marks == "SKK/JKT 1-200"
    assert master.gross_weight_kg == Decimal("8900.000")
    assert master.volume_m3 == Decimal("56.400")
    assert master.consignee.npwp == "021876545041000"
    assert master.notify is not None and master.notify.name == "PT Samudera Kargo Konsolidasi"
    assert master.shipper.address == "No. 88 Yangshupu Road, Shanghai"
    assert master.shipper.country == "CN"
    (container,) = master.containers
    assert container.number == "MSKU1234565"
    assert container.size_type == "45G1"
    assert container.seals == ("SH778812", "BC0401234")
    assert container.loaded is True
    assert [g.hs_code for g in master.goods] == ["85171300", "6403"]
    assert master.goods[0].quantity == Decimal("2400")
    assert master.goods[0].quantity_unit == "PCE"
    assert (master.goods[0].value, master.goods[0].currency) == (Decimal("360000"), "USD")

    house_1, house_2 = master.sub_pos
    assert house_1.number == PosNumber(pos=1, sub_pos=1)
    assert str(house_2.number) == "000100020000"
    assert house_1.transport_document.kind is TransportDocumentKind.HOUSE_BILL_OF_LADING
    assert house_1.transport_document.number == "SKKSHA25010017"
    assert house_1.containers == ()
    assert house_1.goods[0].description == "Smartphones, 128 GB"
    assert house_2.goods[0].hs_code == "640399"
    assert house_2.consignee.npwp == "031245780041000"

    direct = manifest.groups[0].pos[1]
    assert [c.number for c in direct.containers] == ["TGHU9876542", "TCLU1234568"]
    assert [c.seals for c in direct.containers] == [("SG551203",), ("SG551204",)]
    assert direct.port_of_discharge == "IDTPP"  # inward default: the port of call

    onward = manifest.groups[1].pos[0]
    assert onward.number == PosNumber(pos=3)
    assert onward.final_destination == "IDSUB"
    assert onward.volume_m3 is None
    assert onward.goods[0].hs_code == "8474200000"


def test_outward_manifest() -> None:
    (manifest,) = mapped("manifest-outward.x12")
    assert isinstance(manifest, Manifest)
    assert manifest.document_type is DocumentType.OUTWARD_MANIFEST
    assert manifest.direction is Direction.OUTWARD
    assert manifest.departure_at == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert manifest.arrival_at is None
    assert manifest.header.language == "en"
    coffee, rubber = manifest.groups[0].pos
    assert coffee.port_of_discharge == "SGSIN"
    assert coffee.final_destination == "DEHAM"
    assert coffee.shipper.npwp == "074551235041000"
    assert coffee.consignee.npwp is None and coffee.consignee.country == "DE"
    assert rubber.transport_document.kind is TransportDocumentKind.SEA_WAYBILL
    assert rubber.port_of_discharge == "SGSIN"  # outward default: the next port
    assert rubber.containers[0].number == "OOLU8822114"
    assert rubber.goods[0].hs_code == "400122"


def test_nil_manifest() -> None:
    (manifest,) = mapped("manifest-nil.x12")
    assert isinstance(manifest, Manifest)
    assert manifest.nil is True
    assert manifest.document_type is DocumentType.NIL_MANIFEST
    assert manifest.groups == ()
    assert manifest.voyage_number == "027N"
    assert manifest.arrival_at == datetime(2099, 4, 2, 7, 15, tzinfo=WIB)
    assert [s.kind for s in manifest.supporting_lists] == [
        SupportingListKind.CREW,
        SupportingListKind.SHIPS_STORES,
    ]


# ---------------------------------------------------------------- 309 amendments


def test_amendment_kind_c() -> None:
    (amendment,) = mapped("amendment.x12")
    assert isinstance(amendment, Amendment)
    assert amendment.document_type is DocumentType.AMENDMENT
    assert amendment.kind is AmendmentKind.CONSIGNEE_NOTIFY
    assert amendment.kind.requires_approval
    assert amendment.bc11.kind is RegistrationKind.BC11
    assert (amendment.bc11.office_code, amendment.bc11.number) == ("040300", "000001")
    assert amendment.bc11.date == date(2025, 1, 15)
    assert amendment.pos_number == PosNumber(pos=2)
    assert amendment.reason == (
        "Nama penerima barang pada B/L salah ketik; B/L revisi telah diterbitkan pengirim."
    )
    assert amendment.requested_by.npwp == "013467386041000"
    (document,) = amendment.supporting_documents
    assert (document.code, document.number, document.date) == (
        "705",
        "DPNSIN2501002R",
        date(2025, 1, 16),
    )
    assert [(c.field, c.old_value, c.new_value) for c in amendment.changes] == [
        ("consignee.name", "PT Cahya Abadi Logistik", "PT Cahaya Abadi Logistik"),
        ("consignee.npwp", "031245780041000", "074551235041000"),
    ]


def test_amendment_kind_e_takes_the_following_lx_as_breakdown() -> None:
    breakdown = "\n".join(
        [
            "LX*1~",
            "M11*KSHA25010017*CNSHA*120*CT*5400.5*K****SKKS~",
            "N9*BM*SKKSHA25010017*HBL*20250104~",
            "N1*SH*Shenzhen Bright Electronics Co., Ltd.~",
            "N1*CN*PT Sinar Niaga Sejahtera*FI*074551235041000~",
            "VID*NC**NC~",
            "N10*2400*Smartphones**J*85171300~",
        ]
    )
    text = variant("amendment.x12", "*C*PNSIN2501002*", "*E*PNSIN2501002*")
    text = text.replace("SE*17*0001~", breakdown + "\nSE*24*0001~")
    text = text.replace("N9*ZZ*POS*000200000000~", "N9*ZZ*POS*000100000000~")
    (transaction,) = read_transaction_sets(text)
    (amendment,) = to_documents(transaction, zone_for_office=zone_for_office)
    assert isinstance(amendment, Amendment)
    assert amendment.kind is AmendmentKind.BREAKDOWN
    assert not amendment.kind.requires_approval
    (house,) = amendment.breakdown
    assert house.number == PosNumber(pos=1, sub_pos=1)
    assert house.port_of_discharge == "IDTPP"


# ---------------------------------------------------------------- refusals


def only_finding(error: DocumentError) -> tuple[str, str | None, int | None]:
    (found,) = error.findings
    assert found.message_id and found.message_en
    assert found.location is not None
    return found.code, found.location.path, found.location.line


def test_355_inbound_is_refused() -> None:
    error = refused(variant("manifest-nil.x12", "ST*309*0001", "ST*355*0001"))
    assert only_finding(error) == ("X12-101", "ST at position 1", 3)


def test_gs03_must_be_an_office_code() -> None:
    error = refused(variant("rksp.x12", "*DEMOLINE*040300*", "*DEMOLINE*DJBC*"))
    assert only_finding(error)[:2] == ("X12-104", "GS03")


def test_unknown_office_zone_is_refused_for_local_times() -> None:
    error = refused(variant("rksp.x12", "*DEMOLINE*040300*", "*DEMOLINE*999999*"))
    assert only_finding(error)[0] == "OFF-001"


def test_local_times_need_the_office_zones() -> None:
    (transaction,) = read_transaction_sets((EXAMPLES / "manifest-nil.x12").read_text())
    with pytest.raises(ConfigurationError):
        to_documents(transaction)


def test_explicit_time_code_needs_no_office_zone() -> None:
    text = variant("rksp.x12", "*DEMOLINE*040300*", "*DEMOLINE*999999*")
    text = text.replace("20990314*0600*LT~", "20990313*2300*UT~")
    text = text.replace("20990316*2200*LT~", "20990316*1500*UT~")
    (transaction,) = read_transaction_sets(text)
    (rksp,) = to_documents(transaction, zone_for_office=zone_for_office)
    assert isinstance(rksp, Rksp)
    assert rksp.eta == datetime(2099, 3, 14, 6, 0, tzinfo=WIB)


def test_house_bill_with_unknown_master() -> None:
    text = variant("manifest-inward.x12", "N9*MB*DPNSHA2501001~", "N9*MB*NOSUCHBL~")
    code, path, _ = only_finding(refused(text))
    assert code == "X12-105"
    assert path is not None and path.startswith("LX at position")


def test_bad_date_is_refused_with_its_element() -> None:
    error = refused(variant("rksp.x12", "DTM*371*20990314", "DTM*371*20991314"))
    (found,) = error.findings
    assert found.code == "X12-103"
    assert "DTM02" in found.message_en
    assert found.location is not None
    assert found.location.path == "DTM at position 8"  # the position AK302 reports


def test_nil_manifest_with_bills_is_refused() -> None:
    text = variant("manifest-inward.x12", "*I*L*N*PKDN~", "*I*L*Y*PKDN~")
    assert only_finding(refused(text))[0] == "X12-106"


def test_missing_group_is_refused() -> None:
    text = variant("manifest-outward.x12", "N9*ZZ*GROUP*1~\n", "")
    code, path, _ = only_finding(refused(text))
    assert code == "X12-102"
    assert path == "LX at position 9"


def test_m11_must_match_the_bill_of_lading() -> None:
    text = variant("manifest-outward.x12", "M11*PNTPP2503101*", "M11*PNTPP2503109*")
    assert only_finding(refused(text))[0] == "X12-103"


def test_unknown_keyword_is_refused() -> None:
    text = variant("manifest-nil.x12", "N9*ZZ*LANGUAGE*id~", "N9*ZZ*BAHASA*id~")
    assert only_finding(refused(text))[0] == "X12-103"


def test_emergency_and_unloading_started() -> None:
    text = variant(
        "manifest-nil.x12",
        "N9*ZZ*LANGUAGE*id~",
        "N9*ZZ*LANGUAGE*id~\nN9*ZZ*EMERGENCY*Y~\nN9*ZZ*UNLOADING STARTED**20990402*0930*08~",
    )
    text = text.replace("SE*11*0001", "SE*13*0001")
    (transaction,) = read_transaction_sets(text)
    (manifest,) = to_documents(transaction, zone_for_office=zone_for_office)
    assert isinstance(manifest, Manifest)
    assert manifest.emergency is True
    assert manifest.unloading_started_at == datetime(2099, 4, 2, 8, 30, tzinfo=WIB)
