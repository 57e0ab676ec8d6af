"""Every malformed interchange gets an acknowledgment that names its fault (pyx12's cases).

The file name says what is wrong: a TA1 note code (001, 021, 023, 024, 025), an AK905 group
code (4, 5, 6), an AK502 set code (3, 4, 23), an AK304 segment code (1, 8), one of pyx12's
own segment checks (HL1, HL2, LX, SEG1), X12Error for a file that is not an interchange, or
None. The cases carry 837 claims, which a customs gateway does not serve: "None" therefore
means the envelope is accepted (no TA1 fault, no group fault) and the only set-level code is
AK502 1, transaction set not supported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.app import Gateway
from tests.integration.documents import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "malformed"
CASES = sorted(FIXTURES.glob("*_expect-*.x12"))
TA1_CODES = {"001", "021", "023", "024", "025"}


def segments(text: str) -> list[list[str]]:
    element, terminator = text[3], text[105]
    return [s.strip().split(element) for s in text.split(terminator) if s.strip()]


def acknowledged(result: dict[str, object], out: Path) -> dict[str, set[str]]:
    """Codes by where they appear: TA1 note, AK905, AK502, AK304, and our finding texts."""
    found: dict[str, set[str]] = {k: set() for k in ("TA1", "AK905", "AK502", "AK304", "text")}
    for ack in out.iterdir():
        text = ack.read_text(encoding="ascii", errors="replace")
        if not text.startswith("ISA"):
            continue
        for seg in segments(text):
            if seg[0] == "TA1":
                found["TA1"].add(f"{seg[4]}:{seg[5]}")
            elif seg[0] == "AK9":
                found["AK905"].update(seg[5:])
            elif seg[0] in {"AK5", "IK5"}:
                found["AK502"].update(seg[2:])
            elif seg[0] in {"AK3", "IK3"}:
                found["AK304"].add(seg[4] if len(seg) > 4 else "")
    for error in result["errors"]:  # type: ignore[attr-defined]
        found["text"].add(error["message_en"])
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name.removeprefix("pyx12_")[:60])
def test_malformed_interchange_is_answered_with_its_code(
    make_gateway, case: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    gateway: Gateway = make_gateway()
    expected = re.search(r"_expect-([^.]+)\.x12$", case.name).group(1)  # type: ignore[union-attr]
    results = run(gateway, case.read_bytes(), name=case.name)
    out = gateway.settings.cli_dir / "DEMO" / "out"
    found = acknowledged(results[0], out)
    texts = " ".join(found["text"])
    if expected == "None":
        assert not any(note.startswith("R") for note in found["TA1"]), found
        assert found["AK905"] == set() and found["AK502"] <= {"1"}, found
    elif expected == "X12Error":
        assert [r["errors"][0]["code"] for r in results] == ["X12-001"]
    elif expected in TA1_CODES:
        assert any(note.endswith(f":{expected}") for note in found["TA1"]) or (
            f"TA1 {expected}" in texts
        ), found
    elif expected in {"HL1", "HL2", "LX", "SEG1"}:
        assert f"[{expected}]" in texts, found
        assert "8" in found["AK304"] or "AK304 8" in texts, found
    else:  # AK905 4/5/6, AK502 3/4/23, AK304 1/8
        assert expected in found["AK905"] | found["AK502"] | found["AK304"] or (
            f"AK304 {expected}" in texts
        ), found
    assert all(r["status"] == "REFUSED" for r in results)
