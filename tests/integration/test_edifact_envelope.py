"""EDIFACT interchanges that are broken as interchanges: each gets its CONTRL code."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import Gateway
from tests.integration.documents import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edifact"
GOOD = (
    "UNA:+.? '"
    "UNB+UNOC:3+DEMOLINE:ZZ+DJBCPDE:ZZ+990314:0700+IC0001++++1'"
    "UNH+M1+CUSREP:D:99B:UN'BGM+124+V025N+9'UNT+3+M1'"
    "UNZ+1+IC0001'"
)


def contrl(gateway: Gateway) -> list[list[str]]:
    """The segments of the CONTRL we wrote, split plainly (our writer escapes nothing here)."""
    out = gateway.settings.cli_dir / "DEMO" / "out"
    [path] = list(out.glob("*.contrl.edi"))
    text = path.read_text(encoding="latin-1").replace("\n", "")
    return [s.split("+") for s in text.split("'") if s]


CASES = {
    "truncated": (GOOD[:110], "UCI", "13"),
    "missing UNZ": (GOOD.rsplit("UNZ", 1)[0], "UCI", "13"),
    "bad release escape": (GOOD.replace("V025N", "V0?25N"), "UCI", "21"),
    "unknown syntax identifier": (GOOD.replace("UNOC:3", "UNOX:3"), "UCI", "2"),
    "outside the character set": (
        GOOD.replace("UNOC:3", "UNOA:2").replace("V025N", "v025n"),
        "UCI",
        "21",
    ),
    "UNZ count": (GOOD.replace("UNZ+1+", "UNZ+2+"), "UCI", "29"),
    "UNT count": (GOOD.replace("UNT+3+", "UNT+9+"), "UCM", "29"),
    "UNT reference": (GOOD.replace("UNT+3+M1", "UNT+3+M9"), "UCM", "28"),
    "not addressed to the gateway": (GOOD.replace("DJBCPDE", "DJBCXYZ"), "UCI", "7"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broken_interchange_gets_its_contrl_code(make_gateway, name: str) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = make_gateway()
    text, level, code = CASES[name]
    results = run(gateway, text.encode("latin-1"), name="ic.edi")
    assert all(r["status"] == "REFUSED" for r in results), results
    segments = contrl(gateway)
    if level == "UCI":
        uci = next(s for s in segments if s[0] == "UCI")
        assert uci[4:6] == ["4", code], segments
    else:
        ucm = next(s for s in segments if s[0] == "UCM")
        assert ucm[3:5] == ["4", code], segments
    for result in results:
        assert all(e["message_id"] and e["message_en"] for e in result["errors"])


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.edi")), ids=lambda p: p.name[:40])
def test_every_third_party_interchange_is_answered_without_a_crash(
    make_gateway, path: Path
) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = make_gateway()
    results = run(gateway, path.read_bytes(), name=path.name)
    assert results and all(r["status"] in {"REGISTERED", "REFUSED"} for r in results)
    for result in results:
        if result["status"] == "REFUSED":
            assert result["errors"], result
    kinds = {a["kind"] for r in results for a in r["acks"]}
    assert "CUSRES" in kinds or "RESPONSE" in kinds, kinds


def test_the_d95b_cuscar_is_rejected_for_its_unt_count(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = make_gateway()
    data = (FIXTURES / "chrishumphreys_cuscar_d95b_simple.edi").read_bytes()
    [result] = run(gateway, data, name="cuscar.edi")
    assert result["status"] == "REFUSED"
    ucm = next(s for s in contrl(gateway) if s[0] == "UCM")
    assert ucm[3:5] == ["4", "29"]
    cusres = next(Path(a["path"]) for a in result["acks"] if a["kind"] == "CUSRES")
    text = cusres.read_text(encoding="latin-1")
    assert "ditolak (CONTRL 29)" in text and "refused (CONTRL 29)" in text
