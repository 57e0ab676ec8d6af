"""The XML Receipt and Response: valid against their XSDs, carrying the outcome's facts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from lxml import etree

from gateway.exceptions import DocumentError
from gateway.model import DocumentType, Finding, Flag, Location, RegistrationKind, Severity
from gateway.model.common import RegistrationRef
from gateway.model.outcome import DocumentStatus, Outcome
from parsers.xml import NAMESPACE, XmlParser, render_receipt, render_response
from parsers.xml.acks import iso_duration
from parsers.xml.schema import load_schema

WIB = timezone(timedelta(hours=7))
NS = {"p": NAMESPACE}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOMOR_AJU = "0403" + "11" + "DEMO01" + "20990314" + "000001"


def outcome(**overrides: object) -> Outcome:
    values: dict[str, object] = {
        "submission_id": 42,
        "document_index": 0,
        "nomor_aju": NOMOR_AJU,
        "sender": "DEMO",
        "office_code": "040300",
        "format": "XML",
        "document_type": DocumentType.INWARD_MANIFEST,
        "status": DocumentStatus.REGISTERED,
        "source_name": "manifest-inward.xml",
        "sha256": "ab" * 32,
        "received_at": datetime(2099, 3, 14, 5, 0, 1, tzinfo=WIB),
        "decided_at": datetime(2099, 3, 14, 5, 0, 2, 250000, tzinfo=WIB),
    }
    values.update(overrides)
    return Outcome(**values)  # type: ignore[arg-type]


def valid(data: bytes, xsd: str) -> etree._Element:
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    schema = load_schema(xsd)
    assert schema.validate(root.getroottree()), schema.error_log
    return root


def text(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and len(found) == 1, (path, found)
    element = found[0]
    assert isinstance(element, etree._Element)
    return element.text or ""


def test_receipt_is_valid_and_identifies_the_document() -> None:
    root = valid(render_receipt(outcome()), "receipt.xsd")
    assert etree.QName(root).localname == "Receipt"
    assert text(root, "/p:Receipt/p:NomorAju") == NOMOR_AJU
    assert text(root, "/p:Receipt/p:SubmissionId") == "42"
    assert text(root, "/p:Receipt/p:OfficeCode") == "040300"
    assert text(root, "/p:Receipt/p:DocumentType") == "INWARD_MANIFEST"
    assert text(root, "/p:Receipt/p:ReceivedAt") == "2099-03-14T05:00:01+07:00"


def test_receipt_without_office_is_valid() -> None:
    root = valid(
        render_receipt(outcome(office_code=None, document_type=DocumentType.UNKNOWN)),
        "receipt.xsd",
    )
    assert not root.xpath("p:OfficeCode", namespaces=NS)


def test_registered_response_carries_number_and_lateness() -> None:
    registered = outcome(
        registration=RegistrationRef(
            kind=RegistrationKind.BC11,
            office_code="040300",
            number="000017",
            date=date(2099, 3, 14),
        ),
        flags=(Flag(code="LATE", lateness=timedelta(hours=1, minutes=30), detail="LATE-002"),),
    )
    root = valid(render_response(registered), "response.xsd")
    assert text(root, "/p:Response/p:Status") == "REGISTERED"
    assert text(root, "/p:Response/p:DecidedAt") == "2099-03-14T05:00:02.250000+07:00"
    assert text(root, "/p:Response/p:Registration/p:Kind") == "BC 1.1"
    assert text(root, "/p:Response/p:Registration/p:OfficeCode") == "040300"
    assert text(root, "/p:Response/p:Registration/p:Number") == "000017"
    assert text(root, "/p:Response/p:Registration/p:Date") == "2099-03-14"
    assert text(root, "/p:Response/p:Flags/p:Flag/p:Code") == "LATE"
    lateness = root.find(f"{{{NAMESPACE}}}Flags/{{{NAMESPACE}}}Flag/{{{NAMESPACE}}}Lateness")
    assert lateness is not None
    assert lateness.text == "PT1H30M"
    assert lateness.get("seconds") == "5400"
    assert not root.xpath("/p:Response/p:Errors", namespaces=NS)


def test_refused_response_carries_every_finding_in_both_languages() -> None:
    refused = outcome(
        status=DocumentStatus.REFUSED,
        findings=(
            Finding(
                code="XML-003",
                severity=Severity.ERROR,
                message_id="Tidak sesuai skema: kode pelabuhan.",
                message_en="Not valid against the schema: port code.",
                location=Location(line=253, path="/Manifest/Group[2]/Pos/PortOfDischarge"),
            ),
            Finding(
                code="ID-001",
                severity=Severity.WARNING,
                message_id="NPWP \x01 tidak sah.",  # a control character must not break the XML
                message_en="The NPWP is not valid.",
            ),
        ),
    )
    root = valid(render_response(refused), "response.xsd")
    assert text(root, "/p:Response/p:Status") == "REFUSED"
    assert not root.xpath("/p:Response/p:Registration", namespaces=NS)
    errors = root.xpath("/p:Response/p:Errors/p:Error", namespaces=NS)
    assert isinstance(errors, list) and len(errors) == 2
    first = errors[0]
    assert isinstance(first, etree._Element)
    assert text(first, "p:Code") == "XML-003"
    assert text(first, "p:Severity") == "ERROR"
    messages = {m.get(XML_LANG): m.text for m in first.findall(f"{{{NAMESPACE}}}Message")}
    assert messages == {
        "id": "Tidak sesuai skema: kode pelabuhan.",
        "en": "Not valid against the schema: port code.",
    }
    assert text(first, "p:Location/p:Line") == "253"
    assert text(first, "p:Location/p:Path") == "/Manifest/Group[2]/Pos/PortOfDischarge"
    second = errors[1]
    assert isinstance(second, etree._Element)
    assert text(second, "p:Severity") == "WARNING"
    assert not second.xpath("p:Location", namespaces=NS)


def test_parser_refusal_renders_as_a_valid_response() -> None:
    with pytest.raises(DocumentError) as caught:
        XmlParser().parse(
            b'<?xml version="1.0"?><Rksp xmlns="urn:pde-gateway:xml:1"/>', max_bytes=1000
        )
    refused = outcome(
        status=DocumentStatus.REFUSED,
        document_type=DocumentType.RKSP,
        findings=caught.value.findings,
    )
    root = valid(render_response(refused), "response.xsd")
    assert text(root, "/p:Response/p:Errors/p:Error[1]/p:Code") == "XML-003"


def test_pending_amendment_response_is_valid() -> None:
    pending = outcome(
        status=DocumentStatus.PENDING_APPROVAL,
        document_type=DocumentType.AMENDMENT,
        flags=(Flag(code="NEEDS_APPROVAL"),),
    )
    root = valid(render_response(pending), "response.xsd")
    assert not root.xpath("//p:Lateness", namespaces=NS)


def test_zone_with_seconds_offset_is_written_in_utc() -> None:
    odd = timezone(timedelta(hours=7, minutes=7, seconds=12))
    root = valid(
        render_receipt(outcome(received_at=datetime(2099, 1, 1, 7, 7, 12, tzinfo=odd))),
        "receipt.xsd",
    )
    assert text(root, "/p:Receipt/p:ReceivedAt") == "2099-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(seconds=59), "PT59S"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=2), "P2D"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "P1DT2H3M4S"),
        (timedelta(seconds=1, microseconds=500000), "PT1.5S"),
        (-timedelta(hours=3), "-PT3H"),
    ],
)
def test_iso_duration(delta: timedelta, expected: str) -> None:
    assert iso_duration(delta) == expected
