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
    again = text.replace("RFF+VON:025N", "RFF+VON:026N").replace("TDT+20+025N", "TDT+20+026N")
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


def _amendment(number: str, day: str, kind: str, consignments: str) -> bytes:
    """docs/examples/amendment.edi pointed at a registered BC 1.1, as kind ``kind``."""
    text = (EXAMPLES / "amendment.edi").read_text(encoding="latin-1")
    text = text.replace(
        "RFF+ACW:000001'\nDTM+171:20250115:102'",
        f"RFF+ACW:{number}'\nDTM+171:{day.replace('-', '')}:102'",
    )
    text = text.replace("GIS+C:AMK'", f"GIS+{kind}:AMK'")
    if kind != "C":
        text = "".join(
            line for line in text.splitlines(keepends=True) if not line.startswith("FTX+CHG")
        )
    head, tail = text.split("CNI+1+0002'\n")
    body = consignments.strip() + "\n"
    segments = head.count("'\n") - 2 + body.count("'\n") + 1  # UNH..UNT, UNA/UNB not counted
    tail = f"UNT+{segments}+AMD000001'\nUNZ+1+AMD0001'\n"
    # each amendment its own interchange reference: a reused one is a duplicate (DUP-003)
    return (head + body + tail).replace("AMD0001'", f"AMD000{kind}'").encode("latin-1")


# pos 2 of manifest-inward.edi: a house bill under pos 1 (sub-pos 0001 0001)
REVISED_POS_1 = """CNI+1+0001'
CNT+7:8900.000:KGM'
RFF+BM:DPNSHA2501001R'
DTM+95:20250116:102'
LOC+9+CNSHA'
LOC+11+IDTPP'
GIS+1:KPOS'
NAD+CZ+++Shanghai Global Freight Co., Ltd.+++++CN'
NAD+CN+021876545041000:NPWP++PT Samudera Kargo Konsolidasi+++++ID'
GID+1+200:CT'
FTX+AAA+++Smartphones'
CST++85171300:HS'
"""


def test_edifact_amendments_of_kind_c_d_and_e(gateway: Gateway) -> None:
    [manifest] = run(gateway, (EXAMPLES / "manifest-inward.edi").read_bytes(), name="m.edi")
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]

    [kind_c] = run(gateway, _amendment(number, day, "C", "CNI+1+0002'"), name="c.edi")
    assert kind_c["status"] == "PENDING_APPROVAL", kind_c

    merge = REVISED_POS_1 + "CNI+2+0002'\n"
    [kind_d] = run(gateway, _amendment(number, day, "D", merge), name="d.edi")
    # Pos 0001 and 0002 have different shippers, consignees and ports of loading: Art. 6(1) d
    # allows no merge of them, whatever the format said.
    assert (kind_d["document_type"], kind_d["status"]) == ("AMENDMENT", "REFUSED")
    assert set(codes(kind_d)) == {"AMD-006"}
    assert any("shipper" in e["message_en"] for e in kind_d["errors"])

    house = (
        REVISED_POS_1.replace("CNI+1+0001'", "CNI+2+000100030000'")
        .replace("RFF+BM:DPNSHA2501001R'", "RFF+BH:SKKSHA25010099'")
        .replace("DTM+95:20250116:102'\n", "DTM+95:20250116:102'\nRFF+MB:DPNSHA2501001'\n")
        .replace("GIS+1:KPOS'\n", "")
    )
    [kind_e] = run(gateway, _amendment(number, day, "E", REVISED_POS_1 + house), name="e.edi")
    assert kind_e["status"] == "ACCEPTED", kind_e  # a breakdown applies at once (Art. 6)
