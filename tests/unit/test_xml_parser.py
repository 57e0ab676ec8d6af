"""The XML parser: the published examples, hostile input, and error reporting."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from stdnum import imo, iso6346
from stdnum.id import npwp

from gateway.exceptions import (
    DocumentError,
    EncodingError,
    FormatError,
    SizeLimitError,
    XmlDocumentError,
)
from gateway.model import (
    Amendment,
    AmendmentKind,
    Direction,
    DocumentType,
    Jksp,
    Manifest,
    PosClosing,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
    Rksp,
    SupportingListKind,
    TransportDocumentKind,
    TransportMode,
)
from parsers.base import Format, Parser
from parsers.xml import NAMESPACE, XmlParser
from parsers.xml.schema import SCHEMA_DIR, element_path, load_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
MAX = 1_000_000
WIB = timezone(timedelta(hours=7))
UTC_ = UTC

EXAMPLE_FILES = {
    "rksp.xml": ("rksp.xsd", Rksp),
    "jksp.xml": ("jksp.xsd", Jksp),
    "manifest-inward.xml": ("manifest.xsd", Manifest),
    "manifest-outward.xml": ("manifest.xsd", Manifest),
    "manifest-nil.xml": ("manifest.xsd", Manifest),
    "amendment.xml": ("amendment.xsd", Amendment),
    "pos-closing.xml": ("pos-closing.xsd", PosClosing),
}


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def parse(data: bytes, max_bytes: int = MAX) -> object:
    return XmlParser().parse(data, max_bytes=max_bytes).documents[0].document


def refusal(data: bytes, error: type[DocumentError], max_bytes: int = MAX) -> DocumentError:
    with pytest.raises(error) as caught:
        XmlParser().parse(data, max_bytes=max_bytes)
    assert caught.value.findings, "a refusal always carries findings"
    for item in caught.value.findings:
        assert item.message_id and item.message_en
    return caught.value


def line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


# ---------------------------------------------------------------- the examples


def test_parser_fulfils_the_protocol() -> None:
    parser: Parser = XmlParser()
    assert parser.format is Format.XML


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_example_is_valid_against_its_xsd(name: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / EXAMPLE_FILES[name][0])))
    tree = etree.parse(str(EXAMPLES / name))
    assert schema.validate(tree), schema.error_log


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_example_parses_to_its_record(name: str) -> None:
    result = XmlParser().parse(example(name), max_bytes=MAX)
    assert result.format is Format.XML
    assert len(result.documents) == 1
    parsed = result.documents[0]
    assert isinstance(parsed.document, EXAMPLE_FILES[name][1])
    assert parsed.location.path == "/" + etree.QName(etree.fromstring(example(name))).localname
    assert parsed.document.header.office_code == "040300"
    # no sender nomor aju, so every example can be processed on any database
    assert parsed.document.header.sender_reference is None


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_example_identifiers_have_valid_check_digits(name: str) -> None:
    root = etree.fromstring(example(name))
    for element in root.iter(f"{{{NAMESPACE}}}Npwp"):
        assert npwp.is_valid(element.text or ""), element.text
    for element in root.iter(f"{{{NAMESPACE}}}ImoNumber"):
        assert imo.is_valid(element.text or ""), element.text
    for element in root.iter(f"{{{NAMESPACE}}}Container"):
        number = element.findtext(f"{{{NAMESPACE}}}Number") or ""
        assert iso6346.is_valid(number), number


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_example_times_are_far_in_the_future(name: str) -> None:
    root = etree.fromstring(example(name))
    for tag in ("Eta", "Etd", "ArrivalAt", "DepartureAt"):
        for element in root.iter(f"{{{NAMESPACE}}}{tag}"):
            assert (element.text or "").startswith("2099-"), (tag, element.text)


def test_rksp_values() -> None:
    rksp = parse(example("rksp.xml"))
    assert isinstance(rksp, Rksp)
    assert rksp.document_type is DocumentType.RKSP
    assert rksp.header.language == "id"
    assert rksp.conveyance.mode is TransportMode.SEA
    assert rksp.conveyance.imo_number == "9321483"
    assert rksp.conveyance.gross_tonnage == Decimal("27250")
    assert rksp.conveyance.length_overall_m == Decimal("210.50")
    assert rksp.carrier.name == "PT Demo Pelayaran Nusantara"
    assert rksp.carrier.npwp == "013467386041000"
    assert (rksp.port_of_origin, rksp.last_port_of_call, rksp.port_of_arrival) == (
        "CNSHA",
        "SGSIN",
        "IDTPP",
    )
    assert rksp.next_port == "IDSUB"
    assert rksp.eta == datetime(2099, 3, 13, 23, 0, tzinfo=UTC_)
    assert rksp.eta.utcoffset() == timedelta(hours=7)
    assert rksp.etd == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert rksp.voyage_date == date(2099, 3, 10)
    assert rksp.amends is None


def test_jksp_values() -> None:
    jksp = parse(example("jksp.xml"))
    assert isinstance(jksp, Jksp)
    assert jksp.period_start == date(2099, 1, 1)
    assert jksp.period_end == date(2099, 3, 31)
    assert [call.voyage_number for call in jksp.calls] == ["001N", "003N", "005N"]
    assert jksp.first_arrival == datetime(2099, 1, 7, 8, 0, tzinfo=WIB)
    assert jksp.calls[2].etd is None
    assert all(call.eta.tzinfo is not None for call in jksp.calls)


def test_inward_manifest_values() -> None:
    manifest = parse(example("manifest-inward.xml"))
    assert isinstance(manifest, Manifest)
    assert manifest.document_type is DocumentType.INWARD_MANIFEST
    assert manifest.direction is Direction.INWARD
    assert manifest.nil is False and manifest.emergency is False
    assert manifest.arrival_at == datetime(2099, 3, 14, 6, 30, tzinfo=WIB)
    assert manifest.departure_at is None
    assert manifest.port_of_call == "IDTPP"
    assert [g.number for g in manifest.groups] == [1, 2]
    assert [len(g.pos) for g in manifest.groups] == [2, 1]
    assert [str(p.number) for p in manifest.all_pos()] == [
        "000100000000",
        "000100010000",
        "000100020000",
        "000200000000",
        "000300000000",
    ]
    master = manifest.groups[0].pos[0]
    assert master.transport_document.kind is TransportDocumentKind.BILL_OF_LADING
    assert len(master.sub_pos) == 2
    assert [h.number for h in master.sub_pos] == [
        PosNumber(pos=1, sub_pos=1),
        PosNumber(pos=1, sub_pos=2),
    ]
    assert all(
        h.transport_document.kind is TransportDocumentKind.HOUSE_BILL_OF_LADING
        for h in master.sub_pos
    )
    assert master.sub_pos[0].consignee.npwp == "074551235041000"
    assert master.sub_pos[1].goods[0].hs_code == "640399"
    assert master.containers[0].number == "MSKU1234565"
    assert master.containers[0].seals == ("SH778812", "BC0401234")
    assert master.containers[0].size_type == "45G1"
    assert master.packages.count == 200 and master.packages.kind_code == "CT"
    assert master.gross_weight_kg == Decimal("8900.000")
    assert [g.hs_code for g in master.goods] == ["85171300", "6403"]
    assert master.goods[0].quantity == Decimal("2400")
    assert master.goods[0].quantity_unit == "PCE"
    assert master.goods[0].value == Decimal("360000.00")
    assert master.goods[0].currency == "USD"
    direct = manifest.groups[0].pos[1]
    assert [c.number for c in direct.containers] == ["TGHU9876542", "TCLU1234568"]
    assert direct.notify is None
    onward = manifest.groups[1].pos[0]
    assert onward.final_destination == "IDSUB"
    assert onward.containers[0].number == "CSQU3054383"
    assert onward.containers[0].loaded is True
    assert onward.goods[0].hs_code == "8474200000"
    assert [s.kind for s in manifest.supporting_lists] == [
        SupportingListKind.CREW,
        SupportingListKind.PASSENGERS,
        SupportingListKind.SHIPS_STORES,
        SupportingListKind.STOWAGE_PLAN,
        SupportingListKind.MEDICINES,
    ]
    assert manifest.supporting_lists[0].entries == 22


def test_outward_manifest_values() -> None:
    manifest = parse(example("manifest-outward.xml"))
    assert isinstance(manifest, Manifest)
    assert manifest.document_type is DocumentType.OUTWARD_MANIFEST
    assert manifest.direction is Direction.OUTWARD
    assert manifest.arrival_at is None
    assert manifest.departure_at == datetime(2099, 3, 16, 22, 0, tzinfo=WIB)
    assert manifest.next_port == "SGSIN"
    assert [c.number for p in manifest.all_pos() for c in p.containers] == [
        "MSCU6639870",
        "OOLU8822114",
    ]
    assert manifest.groups[0].pos[1].transport_document.kind is TransportDocumentKind.SEA_WAYBILL


def test_nil_manifest_values() -> None:
    manifest = parse(example("manifest-nil.xml"))
    assert isinstance(manifest, Manifest)
    assert manifest.nil is True
    assert manifest.groups == ()
    assert manifest.document_type is DocumentType.NIL_MANIFEST
    assert manifest.arrival_at == datetime(2099, 4, 2, 7, 15, tzinfo=WIB)


def test_amendment_values() -> None:
    amendment = parse(example("amendment.xml"))
    assert isinstance(amendment, Amendment)
    assert amendment.kind is AmendmentKind.CONSIGNEE_NOTIFY
    assert amendment.kind.requires_approval
    assert amendment.bc11 == RegistrationRef(
        kind=RegistrationKind.BC11, office_code="040300", number="000001", date=date(2025, 1, 15)
    )
    assert amendment.pos_number == PosNumber(pos=2)
    assert [c.field for c in amendment.changes] == ["consignee.name", "consignee.npwp"]
    assert amendment.changes[0].new_value == "PT Cahaya Abadi Logistik"
    assert amendment.supporting_documents[0].code == "705"
    assert amendment.requested_by.npwp == "013467386041000"
    assert amendment.breakdown == () and amendment.merged_pos == ()


def test_amendment_breakdown_numbers_follow_the_amended_pos() -> None:
    manifest = example("manifest-inward.xml")
    start = manifest.index(b'<SubPos number="1">')
    end = manifest.index(b"</SubPos>", start) + len(b"</SubPos>")
    sub_pos = manifest[start:end]
    data = (
        example("amendment.xml")
        .replace(b"<Kind>C</Kind>", b"<Kind>E</Kind>")
        .replace(b'<PosNumber pos="2"/>', b'<PosNumber pos="7"/>')
        .replace(b"</Amendment>", b"<Breakdown>" + sub_pos + b"</Breakdown></Amendment>")
    )
    amendment = parse(data)
    assert isinstance(amendment, Amendment)
    assert amendment.kind is AmendmentKind.BREAKDOWN
    assert [p.number for p in amendment.breakdown] == [PosNumber(pos=7, sub_pos=1)]


def test_pos_closing_values() -> None:
    closing = parse(example("pos-closing.xml"))
    assert isinstance(closing, PosClosing)
    assert closing.pos_number == PosNumber(pos=1, sub_pos=1, sub_sub_pos=0)
    assert closing.bc11.kind is RegistrationKind.BC11
    assert closing.closing_document.code == "1"
    assert closing.closing_document.date == date(2025, 1, 20)
    assert closing.packages_closed == 120
    assert closing.gross_weight_kg_closed == Decimal("5400.500")


def test_sender_nomor_aju_is_carried() -> None:
    aju = b"0403" + b"11" + b"DEMO01" + b"20990314" + b"000001"
    assert len(aju) == 26
    data = example("rksp.xml").replace(
        b"<OfficeCode>040300</OfficeCode>",
        b"<OfficeCode>040300</OfficeCode>\n    <NomorAju>" + aju + b"</NomorAju>",
        1,
    )
    rksp = parse(data)
    assert isinstance(rksp, Rksp)
    assert rksp.header.sender_reference == aju.decode()


def test_utf8_bom_is_accepted() -> None:
    assert isinstance(parse(b"\xef\xbb\xbf" + example("rksp.xml")), Rksp)


def test_latin1_declared_encoding_works() -> None:
    data = (
        example("rksp.xml")
        .replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
        .replace(b"Jl. Enggano No. 5", "Jl. Enggano No. 5 (Gedung Pelayaran Ö)".encode("latin-1"))
    )
    rksp = parse(data)
    assert isinstance(rksp, Rksp)
    assert rksp.carrier.address is not None
    assert "Gedung Pelayaran Ö" in rksp.carrier.address


def test_schemas_load_once() -> None:
    assert load_schema("manifest.xsd") is load_schema("manifest.xsd")


# ---------------------------------------------------------------- hostile input

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Rksp xmlns="urn:pde-gateway:xml:1"><Header><OfficeCode>&lol9;</OfficeCode></Header></Rksp>
"""

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Rksp [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Rksp xmlns="urn:pde-gateway:xml:1"><Header><OfficeCode>&xxe;</OfficeCode></Header></Rksp>
"""


def test_billion_laughs_is_refused_fast_without_expansion() -> None:
    started = time.perf_counter()
    error = refusal(BILLION_LAUGHS, XmlDocumentError)
    assert time.perf_counter() - started < 1.0
    assert [f.code for f in error.findings] == ["XML-002"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.line == 2
    assert "lollol" not in str(error)


def test_external_entity_is_refused_and_never_read() -> None:
    error = refusal(XXE, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-002"]
    passwd = Path("/etc/passwd")
    secrets = ["root:"]
    if passwd.exists():
        secrets += [line for line in passwd.read_text().splitlines()[:3] if line]
    texts = [str(error)] + [t for f in error.findings for t in (f.message_id, f.message_en)]
    for secret in secrets:
        assert all(secret not in text for text in texts)


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!DOCTYPE Rksp>",
        b'<!DOCTYPE Rksp SYSTEM "http://example.invalid/rksp.dtd">',
        b"<!doctype Rksp>",
    ],
)
def test_any_doctype_is_refused(prolog: bytes) -> None:
    data = example("rksp.xml").replace(b"<Rksp ", prolog + b"\n<Rksp ", 1)
    error = refusal(data, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-002"]


def test_doctype_in_utf16_is_refused() -> None:
    text = example("rksp.xml").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    text = text.replace("<Rksp ", "<!DOCTYPE Rksp>\n<Rksp ", 1)
    error = refusal(text.encode("utf-16"), XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-002"]


def test_utf16_document_is_accepted() -> None:
    text = example("rksp.xml").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert isinstance(parse(text.encode("utf-16")), Rksp)


def test_file_over_the_limit_is_refused_before_parsing() -> None:
    data = b"<not-even-xml" + b" " * 2000
    error = refusal(data, SizeLimitError, max_bytes=1000)
    assert [f.code for f in error.findings] == ["FILE-002"]
    assert "1000" in error.findings[0].message_en


def test_file_at_the_limit_is_accepted() -> None:
    data = example("rksp.xml")
    assert isinstance(parse(data, max_bytes=len(data)), Rksp)


def test_invalid_utf8_is_an_encoding_error() -> None:
    data = example("rksp.xml").replace(b"KM DEMO NUSANTARA", b"KM DEMO \xff NUSANTARA", 1)
    error = refusal(data, EncodingError)
    assert [f.code for f in error.findings] == ["FILE-003"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.line == line_of(data, b"\xff")


def test_unknown_encoding_is_an_encoding_error() -> None:
    data = example("rksp.xml").replace(b'encoding="UTF-8"', b'encoding="X-NO-SUCH"')
    assert [f.code for f in refusal(data, EncodingError).findings] == ["FILE-003"]


def test_truncated_file_reports_its_line() -> None:
    data = example("manifest-inward.xml")
    cut = data[: data.index(b'<Group number="2">')]
    error = refusal(cut, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-001"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.line is not None
    assert error.findings[0].location.line >= cut.count(b"\n")


@pytest.mark.parametrize("data", [b"", b"  \n\t \r\n"])
def test_empty_file_is_refused(data: bytes) -> None:
    error = refusal(data, FormatError)
    assert [f.code for f in error.findings] == ["FILE-001"]


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><Invoice xmlns="urn:pde-gateway:xml:1"/>',
        b'<?xml version="1.0"?><Rksp xmlns="urn:other"/>',
        b'<?xml version="1.0"?><Rksp/>',
    ],
)
def test_unknown_root_element_is_refused(data: bytes) -> None:
    error = refusal(data, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-004"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.line == 1


def test_bad_locode_reports_line_and_path() -> None:
    data = example("manifest-inward.xml")
    start = data.index(b'<Group number="2">')
    bad = data[:start] + data[start:].replace(
        b"<PortOfDischarge>IDTPP</PortOfDischarge>", b"<PortOfDischarge>ID-TP</PortOfDischarge>", 1
    )
    error = refusal(bad, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-003"]
    location = error.findings[0].location
    assert location is not None
    assert location.path == "/Manifest/Group[2]/Pos/PortOfDischarge"
    assert location.line == line_of(bad, b"ID-TP")
    assert "ID-TP" in error.findings[0].message_en
    assert "[A-Z]{2}[A-Z2-9]{3}" in error.findings[0].message_en


def test_every_schema_error_is_reported() -> None:
    data = (
        example("manifest-inward.xml")
        .replace(b"<Number>TCLU1234568</Number>", b"<Number>TCLU123456</Number>")
        .replace(b"<HsCode>3901</HsCode>", b"<HsCode>39</HsCode>")
    )
    error = refusal(data, XmlDocumentError)
    paths = [f.location.path for f in error.findings if f.location is not None]
    assert paths == [
        "/Manifest/Group[1]/Pos[2]/Containers/Container[2]/Number",
        "/Manifest/Group[1]/Pos[2]/Goods/Item/HsCode",
    ]
    assert all(f.code == "XML-003" for f in error.findings)


def test_datetime_without_offset_is_a_schema_error() -> None:
    data = example("rksp.xml").replace(
        b"<Eta>2099-03-14T06:00:00+07:00</Eta>", b"<Eta>2099-03-14T06:00:00</Eta>"
    )
    error = refusal(data, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-003"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.path == "/Rksp/Eta"


def test_utc_designator_gives_an_aware_datetime() -> None:
    data = example("rksp.xml").replace(
        b"<Eta>2099-03-14T06:00:00+07:00</Eta>", b"<Eta>2099-03-13T23:00:00Z</Eta>"
    )
    rksp = parse(data)
    assert isinstance(rksp, Rksp)
    assert rksp.eta == datetime(2099, 3, 14, 6, 0, tzinfo=WIB)
    assert rksp.eta.utcoffset() == timedelta(0)


def test_hour_24_is_refused_with_its_path() -> None:
    data = example("rksp.xml").replace(b"T06:00:00+07:00</Eta>", b"T24:00:00+07:00</Eta>")
    error = refusal(data, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-003"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.path == "/Rksp/Eta"


def test_nil_manifest_with_groups_is_refused() -> None:
    data = example("manifest-inward.xml").replace(b"<Nil>false</Nil>", b"<Nil>true</Nil>")
    error = refusal(data, XmlDocumentError)
    assert [f.code for f in error.findings] == ["XML-003"]
    assert error.findings[0].location is not None
    assert error.findings[0].location.path == "/Manifest/Group[1]"


def test_duplicate_pos_number_is_a_schema_error() -> None:
    data = example("manifest-inward.xml").replace(b'<Pos number="3">', b'<Pos number="2">')
    assert [f.code for f in refusal(data, XmlDocumentError).findings] == ["XML-003"]


def test_element_path_indexes_only_repeated_siblings() -> None:
    root = etree.fromstring(example("manifest-inward.xml"))
    q = f"{{{NAMESPACE}}}"
    number = root.find(f"{q}Group/{q}Pos/{q}Containers/{q}Container/{q}Number")
    assert number is not None
    assert element_path(number) == "/Manifest/Group[1]/Pos[1]/Containers/Container/Number"


def test_schemas_compiled_from_many_threads_at_once() -> None:
    """Workers start together: libxml2 must never compile two schemas at the same time
    (it corrupted its state: every later document refused as unreadable, or a double free).
    In a child process, because the failure can abort the interpreter."""
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from parsers.xml.schema import DOCUMENT_SCHEMAS, ACK_SCHEMAS, load_schema\n"
        "names = [*DOCUMENT_SCHEMAS.values(), *ACK_SCHEMAS.values()] * 4\n"
        "errors = []\n"
        "start = threading.Barrier(len(names))\n"
        "def go(name):\n"
        "    start.wait()\n"
        "    try:\n"
        "        load_schema(name)\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=go, args=(n,)) for n in names]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "assert not errors, errors\n"
    )
    root = Path(__file__).resolve().parents[2]
    for _ in range(20):
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
