"""EDIFACT through the whole pipeline: numbers, CUSRES and CONTRL, duplicates, sender."""

from __future__ import annotations

import warnings
from pathlib import Path

from pydifact.parser import Parser

from gateway.app import Gateway
from tests.integration.documents import codes, run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXPECTED = {
    "rksp.edi": ("RKSP", "BC 1.0"),
    "jksp.edi": ("JKSP", "BC 1.0"),
    "manifest-inward.edi": ("INWARD_MANIFEST", "BC 1.1"),
    "manifest-outward.edi": ("OUTWARD_MANIFEST", "BC 1.1"),
    "manifest-nil.edi": ("NIL_MANIFEST", "BC 1.1"),
}


def parsed(path: Path) -> list[tuple[str, list[object]]]:
    """Our acknowledgment read back with pydifact, the library we read interchanges with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(s.tag, s.elements) for s in Parser().parse(path.read_text(encoding="latin-1"))]


def test_every_example_is_numbered_and_its_cusres_reads_back(gateway: Gateway) -> None:
    for name, (document_type, kind) in EXPECTED.items():
        [result] = run(gateway, (EXAMPLES / name).read_bytes(), name=name)
        assert (result["format"], result["status"]) == ("EDIFACT", "REGISTERED"), result
        assert result["document_type"] == document_type
        assert result["registration"]["kind"] == kind
        [cusres] = [Path(a["path"]) for a in result["acks"] if a["kind"] == "CUSRES"]
        segments = parsed(cusres)
        tags = [tag for tag, _ in segments]
        assert tags[:3] == ["UNA", "UNB", "UNH"] and tags[-2:] == ["UNT", "UNZ"]
        unt = next(elements for tag, elements in segments if tag == "UNT")
        assert unt[0] == str(tags.index("UNT") - tags.index("UNH") + 1)
        rff = [e[0] for tag, e in segments if tag == "RFF"]
        number = result["registration"]["number"]
        assert ["ABT", f"BC1{'0' if kind == 'BC 1.0' else '1'} {number}"] in rff
    out = gateway.settings.cli_dir / "DEMO" / "out"
    for contrl in out.glob("*.contrl.edi"):  # asked for by UNB 0031 = 1
        segments = parsed(contrl)
        uci = next(e for tag, e in segments if tag == "UCI")
        assert uci[3] == "7"  # acknowledged


def test_reused_interchange_reference_is_refused_with_contrl_26(gateway: Gateway) -> None:
    text = (EXAMPLES / "rksp.edi").read_text(encoding="latin-1")
    [first] = run(gateway, text.encode("latin-1"), name="a.edi")
    again = text.replace("KM DEMO NUSANTARA", "KM DEMO NUSANTARA II")
    [second] = run(gateway, again.encode("latin-1"), name="b.edi")
    assert first["status"] == "REGISTERED"
    assert second["status"] == "REFUSED" and codes(second) == ["DUP-003"]
    out = gateway.settings.cli_dir / "DEMO" / "out"
    [contrl] = list(out.glob("b-*.contrl.edi"))
    uci = next(e for tag, e in parsed(contrl) if tag == "UCI")
    assert uci[3:5] == ["4", "26"]


def test_envelope_sender_must_be_the_carrier(gateway: Gateway) -> None:
    [result] = run(gateway, (EXAMPLES / "rksp.edi").read_bytes(), partner="SAMU")
    assert result["status"] == "REFUSED" and "SND-003" in codes(result)
