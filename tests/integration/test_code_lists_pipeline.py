"""Code lists through the whole pipeline: an unknown place (IDQ9Z, shaped like a UN/LOCODE)
and an unknown package type (QX) refuse a manifest in XML, X12 and EDIFACT, and each
format's answer names the code and the pos it is in, read back with an independent reader."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from lxml import etree
from pydifact.parser import Parser

from gateway.app import Gateway
from tests.integration.documents import example, run
from tests.integration.test_x12_pipeline import map_355, pyx12_valid, segments

__all__ = ["map_355"]  # the fixture, for the X12 test below

REPO = Path(__file__).resolve().parents[2]
POS_1 = "group 1/pos 000100000000"
NS = {"r": "urn:pde-gateway:xml:1", "xml": "http://www.w3.org/XML/1998/namespace"}


def refusals(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(code, place) of each error of the report, warnings left out."""
    return [
        (e["code"], (e.get("location") or {}).get("path"))
        for e in result["errors"]
        if e["severity"] == "ERROR"
    ]


def replaced(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def ack(result: dict[str, Any], kind: str) -> Path:
    [path] = [Path(a["path"]) for a in result["acks"] if a["kind"] == kind]
    return path


def test_xml_manifest_with_an_unknown_place_and_package_type(gateway: Gateway) -> None:
    text = replaced(
        example("manifest-inward.xml"),
        ("<PortOfLoading>CNSHA</PortOfLoading>", "<PortOfLoading>IDQ9Z</PortOfLoading>"),
        ("<KindCode>CT</KindCode>", "<KindCode>QX</KindCode>"),
    )
    [result] = run(gateway, text.encode("utf-8"))
    assert result["status"] == "REFUSED" and result["registration"] is None
    assert refusals(result) == [
        ("ID-004", f"{POS_1}/port_of_loading"),
        ("ID-007", f"{POS_1}/packages/kind_code"),
    ]
    response = etree.parse(str(ack(result, "RESPONSE")))
    schema = etree.XMLSchema(etree.parse(str(REPO / "schemas" / "xml" / "response.xsd")))
    assert schema.validate(response), schema.error_log
    errors = {e.findtext("r:Code", namespaces=NS): e for e in response.iterfind(".//r:Error", NS)}
    place = errors["ID-004"]
    assert place.findtext("r:Location/r:Path", namespaces=NS) == f"{POS_1}/port_of_loading"
    english = place.find("r:Message[@xml:lang='en']", NS)
    assert english is not None and "IDQ9Z" in (english.text or "")
    assert "not in UN/LOCODE (edition 2023-1)" in (english.text or "")
    kind = errors["ID-007"]
    assert kind.findtext("r:Location/r:Path", namespaces=NS) == f"{POS_1}/packages/kind_code"


def test_xml_manifest_of_real_places_and_package_types_is_registered(gateway: Gateway) -> None:
    text = replaced(
        example("manifest-inward.xml"),
        ("<PortOfLoading>CNSHA</PortOfLoading>", "<PortOfLoading>KRPUS</PortOfLoading>"),
        ("<KindCode>CT</KindCode>", "<KindCode>BX</KindCode>"),
    )
    [result] = run(gateway, text.encode("utf-8"))
    assert result["status"] == "REGISTERED" and refusals(result) == []


def test_x12_309_with_an_unknown_place_and_package_type(gateway: Gateway, map_355: Path) -> None:
    text = replaced(
        example("manifest-inward.x12"),
        ("M11*PNSHA2501001*CNSHA*200*CT*", "M11*PNSHA2501001*IDQ9Z*200*QX*"),
    )
    [result] = run(gateway, text.encode("ascii"), name="manifest.x12")
    assert result["status"] == "REFUSED"
    assert refusals(result) == [
        ("ID-004", f"{POS_1}/port_of_loading"),
        ("ID-007", f"{POS_1}/packages/kind_code"),
    ]
    response = ack(result, "355")
    assert pyx12_valid(response, map_355), response.read_text()
    rows = segments(response)
    # The findings follow the bill's LX 1 and M11 echo (only bills with findings have one).
    first_bill = rows.index(["LX", "1"])
    following = next(
        (i for i, s in enumerate(rows) if s[0] in ("LX", "SE") and i > first_bill), len(rows)
    )
    k1 = [s for s in rows[first_bill:following] if s[0] == "K1"]
    assert ["K1", "ID-004 ERROR", f"{POS_1}/port_of_loading"[:30]] in k1
    assert ["K1", "ID-007 ERROR", f"{POS_1}/packages/kind_code"[:30]] in k1
    texts = " ".join(" ".join(s[1:]) for s in k1)
    assert "IDQ9Z" in texts and "QX" in texts


def test_edifact_cuscar_with_an_unknown_place_and_package_type(gateway: Gateway) -> None:
    # Both goods items of consignment 1 are of the unknown kind.
    text = replaced(
        example("manifest-inward.edi"),
        ("LOC+9+CNSHA'", "LOC+9+IDQ9Z'"),
        ("GID+1+120:CT'", "GID+1+120:QX'"),
        ("GID+2+80:CT'", "GID+2+80:QX'"),
    )
    [result] = run(gateway, text.encode("latin-1"), name="manifest.edi")
    assert result["status"] == "REFUSED"
    assert refusals(result) == [
        ("ID-004", f"{POS_1}/port_of_loading"),
        ("ID-007", f"{POS_1}/packages/kind_code"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        message = list(Parser().parse(ack(result, "CUSRES").read_text(encoding="latin-1")))
    # Each finding is ERP, ERC (its code), FTX in Indonesian and English, FTX with its place.
    found: dict[str, list[str]] = {}
    current = ""
    for segment in message:
        if segment.tag == "ERC":
            current = str(segment.elements[0])
            found[current] = []
        elif segment.tag == "FTX" and current:
            text = segment.elements[3]  # C108: the text in pieces of 70 characters
            found[current].append(text if isinstance(text, str) else "".join(text))
    assert {"ID-004", "ID-007"} <= set(found)  # and MAN-010, a warning: no RKSP filed first
    assert any("IDQ9Z" in t for t in found["ID-004"])
    assert f"{POS_1}/port_of_loading" in found["ID-004"]
    assert f"{POS_1}/packages/kind_code" in found["ID-007"]


def test_edifact_mixed_package_types_hide_no_unknown_one(gateway: Gateway) -> None:
    # Goods items of two kinds make a pos of packages (PK): fine when both are Rec. 21 codes,
    # refused when one is not.
    mixed = replaced(example("manifest-inward.edi"), ("GID+2+80:CT'", "GID+2+80:BX'"))
    [result] = run(gateway, mixed.encode("latin-1"), name="mixed.edi")
    assert result["status"] == "REGISTERED" and refusals(result) == []
    unknown = replaced(  # another envelope and another call (one BC 1.1 per call)
        example("manifest-inward.edi").replace("MANIN0001", "MANIN0002").replace("025N", "026N"),
        ("GID+2+80:CT'", "GID+2+80:QX'"),
    )
    [refused] = run(gateway, unknown.encode("latin-1"), name="unknown.edi")
    assert refusals(refused) == [("ID-007", f"{POS_1}/packages/kind_code")]
