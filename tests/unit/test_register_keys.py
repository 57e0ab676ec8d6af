"""What identifies a call (gateway/call_keys.py) and a document's content (gateway/model/digest.py).

Pure: the example documents are parsed by the product's readers and keyed; no database.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from gateway.call_keys import KEY_LENGTH, Register, conveyance_identities, keys_of
from gateway.model import Conveyance, Direction, Document, Jksp, Manifest, Rksp, TransportMode
from gateway.model.common import RegistrationKind, RegistrationRef
from gateway.model.digest import content_digest
from parsers.edifact import EdifactParser
from parsers.x12 import X12Parser
from parsers.xml import XmlParser

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")


def parse(data: bytes) -> list[Document]:
    head = data.lstrip()[:3]
    parser: XmlParser | X12Parser | EdifactParser
    if head == b"ISA":
        parser = X12Parser(zone_for_office=lambda _: WIB)
    elif head in (b"UNA", b"UNB"):
        parser = EdifactParser(zone_for_office=lambda _: WIB)
    else:
        parser = XmlParser()
    result = parser.parse(data, max_bytes=10_000_000)
    documents = [d.document for d in result.documents]
    assert all(d is not None for d in documents), [d.findings for d in result.documents]
    return [d for d in documents if d is not None]


def one(name: str) -> Document:
    [document] = parse((EXAMPLES / name).read_bytes())
    return document


def keys(document: Document, zone: ZoneInfo = WIB) -> list[str]:
    return [str(k) for k in keys_of(document, zone)]


# -- the call ------------------------------------------------------------------------------


def test_an_rksp_is_keyed_on_office_imo_voyage_and_arrival_day() -> None:
    assert keys(one("rksp.xml")) == ["BC10|040300|IMO:9321483|025N|2099-03-14"]
    # The same call in every format: X12 and EDIFACT carry the same IMO, voyage and ETA.
    assert keys(one("rksp.x12")) == keys(one("rksp.edi")) == keys(one("rksp.xml"))


def test_a_jksp_holds_each_of_its_calls() -> None:
    assert keys(one("jksp.xml")) == [
        "BC10|040300|IMO:9321483|001N|2099-01-07",
        "BC10|040300|IMO:9321483|003N|2099-01-21",
        "BC10|040300|IMO:9321483|005N|2099-02-04",
    ]


def test_manifests_are_keyed_per_direction_and_nil_counts_as_its_direction() -> None:
    inward, outward, nil = (
        one("manifest-inward.xml"),
        one("manifest-outward.xml"),
        one("manifest-nil.xml"),
    )
    assert keys(inward) == ["BC11-IN|040300|IMO:9321483|025N|2099-03-14"]
    assert keys(outward) == ["BC11-OUT|040300|IMO:9321483|025S|2099-03-16"]
    assert isinstance(nil, Manifest) and nil.nil and nil.direction is Direction.INWARD
    assert keys(nil) == ["BC11-IN|040300|IMO:9321483|027N|2099-04-02"]
    assert isinstance(inward, Manifest)
    same_arrival = dataclasses.replace(nil, voyage_number="025N", arrival_at=inward.arrival_at)
    assert keys(same_arrival) == keys(inward)
    undated = dataclasses.replace(inward, arrival_at=None)
    assert keys(undated) == ["BC11-IN|040300|IMO:9321483|025N|"]


def test_the_day_is_the_offices_calendar_day() -> None:
    rksp = one("rksp.xml")
    assert isinstance(rksp, Rksp)
    late = dataclasses.replace(rksp, eta=datetime(2099, 3, 14, 16, 30, tzinfo=UTC))
    assert keys(late, WIB)[0].endswith("|2099-03-14")  # 23:30 WIB
    assert keys(late, WIT)[0].endswith("|2099-03-15")  # 01:30 WIT
    # Another spelling of the same instant is the same day.
    same = dataclasses.replace(rksp, eta=rksp.eta.astimezone(timezone(timedelta(hours=-5))))
    assert keys(same) == keys(rksp)


def test_changes_and_other_documents_hold_no_call() -> None:
    rksp, jksp = one("rksp.xml"), one("jksp.xml")
    ref = RegistrationRef(
        kind=RegistrationKind.BC10, office_code="040300", number="000001", date=rksp_day()
    )
    assert isinstance(rksp, Rksp) and isinstance(jksp, Jksp)
    assert keys(dataclasses.replace(rksp, amends=ref)) == []
    assert keys(dataclasses.replace(jksp, amends=ref)) == []
    assert keys(one("amendment.xml")) == [] and keys(one("pos-closing.xml")) == []


def rksp_day() -> datetime:
    return datetime(2026, 3, 10, tzinfo=UTC)


def conveyance(**fields: str | None) -> Conveyance:
    return Conveyance(mode=TransportMode.SEA, name=fields.pop("name", None) or "KM X", **fields)  # type: ignore[arg-type]


def test_the_imo_number_decides_when_stated() -> None:
    assert conveyance_identities(conveyance(imo_number="9321483", call_sign="PKDN")) == (
        "IMO:9321483",
    )
    # Two IMO numbers are two ships, even with the same call sign and name.
    assert conveyance_identities(
        conveyance(imo_number="9321483", call_sign="PKDN")
    ) != conveyance_identities(conveyance(imo_number="9074729", call_sign="PKDN"))
    assert conveyance_identities(conveyance(imo_number="IMO 9321483")) == ("IMO:9321483",)


def test_without_imo_call_sign_and_registration_then_the_name() -> None:
    assert conveyance_identities(conveyance(call_sign="pk-dn", registration_number="GT 123")) == (
        "CS:PKDN",
        "REG:GT123",
    )
    aircraft = Conveyance(mode=TransportMode.AIR, name="Garuda", registration_number="PK-GMA")
    assert conveyance_identities(aircraft) == ("REG:PKGMA",)
    assert conveyance_identities(dataclasses.replace(aircraft, registration_number=" pk gma ")) == (
        "REG:PKGMA",
    )
    assert conveyance_identities(conveyance(name="KM.  Sinar\tBintan")) == ("NAME:KMSINARBINTAN",)
    assert conveyance_identities(conveyance(name="km sinar bintan")) == ("NAME:KMSINARBINTAN",)


def test_voyage_numbers_are_compared_without_case_or_blanks() -> None:
    rksp = one("rksp.xml")
    assert isinstance(rksp, Rksp)
    assert keys(dataclasses.replace(rksp, voyage_number=" 025 n ")) == keys(rksp)
    assert keys(dataclasses.replace(rksp, voyage_number="026N")) != keys(rksp)
    [key] = keys_of(dataclasses.replace(rksp, voyage_number=" 025 n "), WIB)
    assert key.voyage_as_sent == "025 n" and key.register is Register.BC10


def test_a_key_never_outgrows_its_column() -> None:
    rksp = one("rksp.xml")
    assert isinstance(rksp, Rksp)
    long = dataclasses.replace(
        rksp,
        conveyance=conveyance(name="N" * 300),
        voyage_number="V" * 300,
    )
    [key] = keys(long)
    assert len(key) <= KEY_LENGTH and key.startswith("BC10|040300|sha256:")


# -- the content ---------------------------------------------------------------------------


def reindented(data: bytes) -> bytes:
    root = etree.fromstring(data)
    for element in root.iter():
        if len(element):
            element.text = "\n" + " " * 7
        element.tail = "\n\t"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


XML_SPELLINGS = {
    "extra newline": lambda d: d + b"\n\n",
    "CRLF": lambda d: d.replace(b"\n", b"\r\n"),
    "re-indented": reindented,
    "one line": lambda d: re.sub(rb">\s+<", b"><", d),
}


@pytest.mark.parametrize("name", ["rksp.xml", "jksp.xml", "manifest-inward.xml", "amendment.xml"])
@pytest.mark.parametrize("spelling", sorted(XML_SPELLINGS))
def test_xml_spelled_otherwise_means_the_same_document(name: str, spelling: str) -> None:
    data = (EXAMPLES / name).read_bytes()
    other = XML_SPELLINGS[spelling](data)
    assert other != data
    assert content_digest(parse(other)[0]) == content_digest(parse(data)[0])


def test_x12_with_other_control_numbers_and_terminators_means_the_same_document() -> None:
    data = (EXAMPLES / "rksp.x12").read_text()
    other = (
        data.replace("000000101", "000000777")
        .replace("*101*X*", "*777*X*")
        .replace("GE*1*101~", "GE*1*777~")
        .replace("ST*323*0001~", "ST*323*4321~")
        .replace("SE*11*0001~", "SE*11*4321~")
        .replace("~\n", "~\r\n")
    )
    assert other != data
    assert content_digest(parse(other.encode())[0]) == content_digest(parse(data.encode())[0])
    bare = data.replace("~\n", "~")
    assert content_digest(parse(bare.encode())[0]) == content_digest(parse(data.encode())[0])


def test_edifact_with_other_references_and_layout_means_the_same_document() -> None:
    data = (EXAMPLES / "rksp.edi").read_text(encoding="latin-1")
    other = data.replace("RKSP0001", "RKSP0777").replace("RKSP025N", "REF777").replace("'\n", "'")
    assert other != data
    assert content_digest(parse(other.encode("latin-1"))[0]) == content_digest(
        parse(data.encode("latin-1"))[0]
    )


def test_what_the_document_says_changes_its_digest() -> None:
    rksp = one("rksp.xml")
    assert isinstance(rksp, Rksp)
    digest = content_digest(rksp)
    assert content_digest(dataclasses.replace(rksp, etd=None)) != digest
    assert content_digest(dataclasses.replace(rksp, voyage_number="025S")) != digest
    assert content_digest(dataclasses.replace(rksp, port_of_origin="SGSIN")) != digest
    # Case is kept: it may be meaningful.
    assert content_digest(dataclasses.replace(rksp, next_port="idsub")) != digest


def test_equal_values_spelled_otherwise_have_one_digest() -> None:
    rksp = one("rksp.xml")
    assert isinstance(rksp, Rksp)
    digest = content_digest(rksp)
    same_instant = rksp.eta.astimezone(UTC)
    assert content_digest(dataclasses.replace(rksp, eta=same_instant)) == digest
    assert rksp.conveyance.length_overall_m == Decimal("210.50")
    shorter = dataclasses.replace(rksp.conveyance, length_overall_m=Decimal("210.5"))
    assert content_digest(dataclasses.replace(rksp, conveyance=shorter)) == digest
    assert content_digest(dataclasses.replace(rksp, voyage_number=" 025N ")) == digest


def test_the_benchmarks_send_distinct_calls() -> None:
    """bench/ registers N files as N numbers: each RKSP it makes is a call of its own."""
    from bench.generate import rksp_xml

    seen: set[str] = set()
    for index in [*range(2000), 10**6]:  # bench/filedrop.py and bench/sftp.py warm up on 10**6
        for key in keys(parse(rksp_xml(index))[0]):
            assert key not in seen, (index, key)
            seen.add(key)
    assert len(seen) == 2001
