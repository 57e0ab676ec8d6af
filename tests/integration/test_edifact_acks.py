"""The CONTRL and CUSRES we write obey our own message definitions (schemas/edifact).

Every acknowledgment is read back with the same reader carriers' interchanges go through
(pydifact tokenising, our envelope checks) and each message is walked by ``structure.check``
against ``CONTRL.D3.json`` / ``CUSRES.D99B.json``: segment order, groups, mandatory
elements, lengths and code lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import Gateway
from parsers.edifact.envelope import Envelope, decode, read
from parsers.edifact.segments import Message
from parsers.edifact.structure import check
from tests.integration.documents import run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edifact"
HEAD = "UNA:+.? 'UNB+UNOC:3+DEMOLINE:ZZZ+DJBCPDE:ZZZ+990314:0700+IC0001++++1'"


def conforming(path: Path, expected_type: str) -> list[Message]:
    """The messages of ``path``; fails on any envelope or structure error."""
    envelope = Envelope()
    messages = read(decode(path.read_bytes()), envelope)
    assert not envelope.errors, (path.name, envelope.errors)
    assert envelope.messages and not any(m.errors for m in envelope.messages), path.name
    for message in messages:
        assert message.type == expected_type
        problems = check(message)
        assert problems == [], (path.name, problems)
    return messages


def acks(results: list[dict[str, object]], kind: str) -> list[Path]:
    return [
        Path(a["path"])  # type: ignore[index]
        for r in results
        for a in r["acks"]  # type: ignore[attr-defined]
        if a["kind"] == kind  # type: ignore[index]
    ]


def contrls(gateway: Gateway) -> list[Path]:
    """CONTRLs answer the interchange, not a document: they are found in the carrier's out/."""
    return sorted((gateway.settings.cli_dir / "DEMO" / "out").glob("*.contrl.edi"))


def segments(message: Message, tag: str) -> list[tuple[object, ...]]:
    return [s.elements for s in message.segments if s.tag == tag]


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.edi")))
def test_acknowledgments_of_every_example_conform(gateway: Gateway, name: str) -> None:
    results = run(gateway, (EXAMPLES / name).read_bytes(), name=name)
    cusres = acks(results, "CUSRES")
    assert len(cusres) == len(results)
    for path, result in zip(cusres, results, strict=True):
        [message] = conforming(path, "CUSRES")
        accepted = result["status"] == "REGISTERED"
        assert segments(message, "BGM")[0][2] == ("29" if accepted else "27")
    for path in contrls(gateway):
        [message] = conforming(path, "CONTRL")
        assert segments(message, "UCI")[0][3] == "7"


def test_a_refusal_cusres_conforms_and_locates_each_reason(gateway: Gateway) -> None:
    # DTM+137 without its format code: a structure error at a known element of a segment
    text = (EXAMPLES / "manifest-inward.edi").read_text(encoding="latin-1")
    broken = text.replace("DTM+137:202503010900:203'", "DTM+137:202503010900'", 1)
    assert broken != text
    [result] = run(gateway, broken.encode("latin-1"), name="broken.edi")
    assert result["status"] == "REFUSED"
    [path] = acks([result], "CUSRES")
    [message] = conforming(path, "CUSRES")
    assert segments(message, "BGM")[0][2] == "27"
    erp = segments(message, "ERP")
    assert erp and erp[0][1] == ("DTM", "3")  # the third segment of the CUSCAR
    ftx = [e for e in segments(message, "FTX") if e[0] == "AAO"]
    assert {e[4] for e in ftx if len(e) > 4} == {"ID", "EN"}
    [contrl] = contrls(gateway)
    [control] = conforming(contrl, "CONTRL")
    assert segments(control, "UCS") == [("3",)]  # the segment, then the element in UCD
    assert segments(control, "UCD") == [("13", ("1", "3"))]


def test_a_long_reason_is_carried_whole_in_70_character_pieces(gateway: Gateway) -> None:
    long_name = "N" * 300
    text = (EXAMPLES / "rksp.edi").read_text(encoding="latin-1")
    data = text.replace("+DEMOLINE:ZZZ+", f"+{long_name[:35]}:ZZZ+", 1)
    [result] = run(gateway, data.encode("latin-1"), name="long.edi")
    assert result["status"] == "REFUSED"
    [path] = acks([result], "CUSRES")
    [message] = conforming(path, "CUSRES")
    english = [e for e in segments(message, "FTX") if e[0] == "AAO" and e[-1] == "EN"]
    pieces = [part for e in english for part in (e[3] if isinstance(e[3], tuple) else (e[3],))]
    assert all(len(part) <= 70 for part in pieces)
    assert long_name[:35] in "".join(pieces)


def test_contrl_for_groups_reports_each_message_in_its_ucf(gateway: Gateway) -> None:
    body = (
        "UNG+CUSREP+DEMOLINE:ZZZ+DJBCPDE:ZZZ+990314:0700+G1+UN+D:99B'"
        "UNH+M1+CUSREP:D:99B:UN'BGM+124+V025N+9'UNT+9+M1'"
        "UNE+1+G1'"
    )
    data = f"{HEAD}{body}UNZ+1+IC0001'".encode("latin-1")
    results = run(gateway, data, name="grouped.edi")
    assert all(r["status"] == "REFUSED" for r in results)
    [path] = contrls(gateway)
    [message] = conforming(path, "CONTRL")
    tags = [s.tag for s in message.segments]
    assert tags.index("UCF") < tags.index("UCM")
    assert segments(message, "UCM")[0][2:4] == ("4", "29")


def test_contrl_for_the_third_party_d95b_cuscar_conforms(gateway: Gateway) -> None:
    data = (FIXTURES / "chrishumphreys_cuscar_d95b_simple.edi").read_bytes()
    results = run(gateway, data, name="cuscar.edi")
    [path] = contrls(gateway)
    conforming(path, "CONTRL")
    for cusres in acks(results, "CUSRES"):
        conforming(cusres, "CUSRES")
