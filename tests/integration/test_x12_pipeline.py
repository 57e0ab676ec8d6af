"""X12 through the whole pipeline: numbers, 997 / 355 valid by pyx12, refusals, duplicates."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document

from gateway.app import Gateway
from tests.integration.documents import codes, run

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
MAPS = REPO / "schemas" / "x12"
CBP_309 = REPO / "tests" / "fixtures" / "x12" / "apimeister_x12-types_004010_309.x12"


@pytest.fixture(scope="module")
def map_355(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pyx12 map folder where group SO is our 355 (inbound SO is 309/323)."""
    folder = tmp_path_factory.mktemp("maps355")
    for item in MAPS.iterdir():
        if item.name != "maps.xml":
            shutil.copy(item, folder / item.name)
    (folder / "maps.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><maps><version icvn="00401">'
        '<map vriic="004010" fic="SO" abbr="355">355.4010.xml</map></version></maps>',
        encoding="utf-8",
    )
    return folder


def pyx12_valid(path: Path, map_path: Path) -> bool:
    """pyx12's own verdict on one of our acknowledgments."""
    return bool(
        pyx12.x12n_document.x12n_document(
            pyx12.params.params(), str(path), io.StringIO(), None, map_path=str(map_path)
        )
    )


def segments(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="ascii")
    element, terminator = text[3], text[105]
    return [s.strip().split(element) for s in text.split(terminator) if s.strip()]


def acks(result: dict[str, object], kind: str) -> list[Path]:
    return [Path(a["path"]) for a in result["acks"] if a["kind"] == kind]  # type: ignore[attr-defined, index]


def file_acks(gateway: Gateway, kind: str) -> list[Path]:
    out = gateway.settings.cli_dir / "DEMO" / "out"
    return sorted(out.glob(f"*.{kind.lower()}.x12"))


EXPECTED = {
    "rksp.x12": ("RKSP", "BC 1.0"),
    "jksp.x12": ("JKSP", "BC 1.0"),
    "manifest-inward.x12": ("INWARD_MANIFEST", "BC 1.1"),
    "manifest-outward.x12": ("OUTWARD_MANIFEST", "BC 1.1"),
    "manifest-nil.x12": ("NIL_MANIFEST", "BC 1.1"),
}


def test_every_example_is_numbered_and_its_997_and_355_are_valid(
    gateway: Gateway, map_355: Path
) -> None:
    for name, (document_type, kind) in EXPECTED.items():
        [result] = run(gateway, (EXAMPLES / name).read_bytes(), name=name)
        assert (result["format"], result["status"]) == ("X12", "REGISTERED"), result
        assert result["document_type"] == document_type
        assert result["registration"]["kind"] == kind
        [response] = acks(result, "355")
        assert pyx12_valid(response, map_355), response.read_text()
        k1 = next(s for s in segments(response) if s[0] == "K1")
        number = result["registration"]["number"]
        assert k1[1] == "REGISTERED" and number in k1[2]
    reports = file_acks(gateway, "997")
    assert len(reports) == len(EXPECTED)
    for report in reports:
        assert pyx12_valid(report, MAPS), report.read_text()
        assert ["AK5", "A"] in segments(report)


def test_amendment_of_a_registered_bc11_waits_for_the_head_of_office(gateway: Gateway) -> None:
    [manifest] = run(gateway, (EXAMPLES / "manifest-inward.x12").read_bytes())
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]
    text = (EXAMPLES / "amendment.x12").read_text(encoding="ascii")
    text = text.replace("N9*ZZ*BC11*000001*20250115", f"N9*ZZ*BC11*{number}*{day.replace('-', '')}")
    results = run(gateway, text.encode("ascii"))
    assert [r["status"] for r in results] == ["PENDING_APPROVAL"] * len(results), results


def test_the_cbp_309_is_refused_with_reasons_in_both_languages(
    gateway: Gateway, map_355: Path
) -> None:
    results = run(gateway, CBP_309.read_bytes(), name="cbp.x12")
    assert [r["status"] for r in results] == ["REFUSED"]
    [report] = file_acks(gateway, "997")
    ak5 = next(s for s in segments(report) if s[0] == "AK5")
    assert ak5[1] == "R" and "4" in ak5[2:]
    [response] = acks(results[0], "355")
    assert pyx12_valid(response, map_355)
    k1 = [s for s in segments(response) if s[0] == "K1"]
    texts = " ".join("|".join(s[1:]) for s in k1)
    assert "ditolak (AK502 4)" in texts and "refused (AK502 4)" in texts


def _two_sets(valid: str, broken: str) -> bytes:
    """One group with two 309s: the example, and a copy whose second set is ``broken``."""
    text = (EXAMPLES / "manifest-inward.x12").read_text(encoding="ascii")
    lines = text.strip().splitlines()
    body = [line for line in lines if not line.startswith(("ISA", "GS*", "GE*", "IEA"))]
    second = (
        "\n".join(body).replace("ST*309*0001", "ST*309*0002").replace("SE*78*0001", "SE*78*0002")
    )
    second = second.replace(valid, broken)
    head = [line for line in lines if line.startswith(("ISA", "GS*"))]
    tail = [line.replace("GE*1*", "GE*2*") for line in lines if line.startswith(("GE*", "IEA"))]
    return "\n".join([*head, *body, second, *tail]).encode("ascii") + b"\n"


def test_partly_valid_309_registers_the_good_set_and_refuses_the_other(gateway: Gateway) -> None:
    # The second set loses its vessel name (M10-05 is mandatory): a syntax error.
    data = _two_sets("*KM DEMO NUSANTARA*", "**")
    results = run(gateway, data, name="two.x12")
    assert [r["status"] for r in results] == ["REGISTERED", "REFUSED"], results
    assert results[0]["registration"]["number"] == "000001"
    assert "X12-004" in codes(results[1]) or "X12-005" in codes(results[1])
    [report] = file_acks(gateway, "997")
    seg = segments(report)
    ak2 = [s[2] for s in seg if s[0] == "AK2"]
    ak5 = [s[1] for s in seg if s[0] == "AK5"]
    assert list(zip(ak2, ak5, strict=True)) == [("0001", "A"), ("0002", "R")]
    assert next(s for s in seg if s[0] == "AK9")[1:5] == ["P", "2", "2", "1"]


def test_reused_interchange_number_is_refused_with_ta1_025(gateway: Gateway) -> None:
    original = (EXAMPLES / "rksp.x12").read_text(encoding="ascii")
    [first] = run(gateway, original.encode("ascii"), name="a.x12")
    again = original.replace("025N", "026N")  # other content, same ISA13
    [second] = run(gateway, again.encode("ascii"), name="b.x12")
    assert first["status"] == "REGISTERED"
    assert second["status"] == "REFUSED" and codes(second) == ["DUP-003"]
    ta1 = [
        s
        for p in file_acks(gateway, "TA1")
        if p.name.startswith("b-")
        for s in segments(p)
        if s[0] == "TA1"
    ]
    assert [(s[4], s[5]) for s in ta1] == [("R", "025")]


def test_envelope_sender_must_be_the_carrier(gateway: Gateway) -> None:
    data = (EXAMPLES / "rksp.x12").read_bytes()
    [result] = run(gateway, data, partner="SAMU")
    assert result["status"] == "REFUSED" and "SND-003" in codes(result)


def test_a_005010_group_gets_a_999(gateway: Gateway) -> None:
    text = (EXAMPLES / "rksp.x12").read_text(encoding="ascii")
    text = re.sub(r"\*U\*00401\*", "*^*00501*", text, count=1).replace("*X*004010~", "*X*005010~")
    [result] = run(gateway, text.encode("ascii"), name="v5.x12")
    assert result["status"] == "REFUSED"
    [report] = file_acks(gateway, "999")
    seg = segments(report)
    assert ["IK5", "R", "1"] in seg and any(s[0] == "AK1" and s[3] == "005010" for s in seg)
