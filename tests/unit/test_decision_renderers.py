"""The head of office's decision rendered in each format, at the edges of what fits (pure).

The X12 355 has the least room (K1 of 2 x 30 characters, 10 per place): a refusal's reason
of the longest allowed (``pos_ledger.REASON_MAX_CHARS``) must still arrive whole, also as one
unbreakable word, and anything longer is cut visibly without making the 355 invalid. Read
back with pyx12 (``validate_355``), our EDIFACT reader and message definition, and lxml.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from gateway.messages import finding
from gateway.model import DocumentType
from gateway.model.outcome import DocumentStatus, HeadDecision, Outcome
from gateway.pos_ledger import REASON_MAX_CHARS
from parsers.base import ParseResult
from parsers.edifact import EdifactParser
from parsers.edifact.acks import EdifactAckRenderer
from parsers.edifact.envelope import Envelope, decode, read
from parsers.edifact.structure import check
from parsers.x12 import X12Parser
from parsers.x12.acks import X12AckRenderer
from parsers.x12.validation import validate_355
from parsers.xml.acks import XmlAckRenderer

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
AT = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)
BY = "Kepala KPU Bea dan Cukai Tipe A Tanjung Priok Jakarta Utara"  # "user:" + 59 = 64
WORDS = ("Dokumen pendukung tidak lengkap dan B/L revisi belum dilampirkan. " * 5)[
    :REASON_MAX_CHARS
].strip()
UNBROKEN = "X" * REASON_MAX_CHARS


def parsed(name: str) -> ParseResult:
    data = (EXAMPLES / name).read_bytes()
    zone = ZoneInfo("Asia/Jakarta")
    if name.endswith(".x12"):
        return X12Parser(zone_for_office=lambda _: zone).parse(data, max_bytes=10**6)
    return EdifactParser(zone_for_office=lambda _: zone).parse(data, max_bytes=10**6)


def refused(fmt: str, reason: str) -> Outcome:
    message = finding(
        "AMD-102", nomor_aju="040314DEMO0120260310000001", by=BY, at=AT.isoformat(), reason=reason
    )
    return Outcome(
        submission_id=7,
        document_index=0,
        nomor_aju="040314DEMO0120260310000001",
        sender="DEMO",
        office_code="040300",
        format=fmt,
        document_type=DocumentType.AMENDMENT,
        status=DocumentStatus.REFUSED,
        source_name="amendment",
        sha256="0" * 64,
        received_at=AT,
        decided_at=AT,
        findings=(message,),
        decision=HeadDecision(
            decided_by=BY,
            pos_number="000200000000",
            pos_version=None,
            reason=reason,
            message=message,
        ),
    )


def numbers() -> itertools.count[int]:
    return itertools.count(1)


def k1_texts(body: bytes) -> tuple[str, str]:
    """The Indonesian and English halves of the decision's K1 pairs, spaces dropped."""
    segments = [s.strip().split("*") for s in body.decode("ascii").split("~") if s.strip()]
    pairs = [s for s in segments if s[0] == "K1"][2:]
    return (
        "".join(s[1] for s in pairs).replace(" ", ""),
        "".join(s[2] for s in pairs if len(s) > 2).replace(" ", ""),
    )


@pytest.mark.parametrize("reason", [WORDS, UNBROKEN], ids=["words", "one-word"])
def test_the_longest_reason_arrives_whole_in_a_valid_355(reason: str) -> None:
    counter = numbers()
    ack = X12AckRenderer().render_decision(
        parsed("amendment.x12"), refused("X12", reason), lambda _: next(counter)
    )
    assert (ack.kind, ack.suffix) == ("DECISION", "decision.355.x12")
    text = ack.body.decode("ascii")
    assert validate_355(text) == [], text
    indonesian, english = k1_texts(ack.body)
    assert reason.replace(" ", "") in indonesian and reason.replace(" ", "") in english
    assert "K1*REFUSED~" in text and "K1*AMD-102*POS 000200000000~" in text


def test_a_message_longer_than_the_355_holds_is_cut_visibly_and_stays_valid() -> None:
    counter = numbers()
    ack = X12AckRenderer().render_decision(
        parsed("amendment.x12"), refused("X12", WORDS * 4), lambda _: next(counter)
    )
    text = ack.body.decode("ascii")
    assert validate_355(text) == [], text
    k1s = [line for line in text.splitlines() if line.startswith("K1*")]
    assert len(k1s) == 20  # 10 in the heading, 10 under the P4
    assert k1s[-1].endswith("...~") and k1s[-1].count("...") == 2


def test_the_longest_reason_arrives_whole_in_a_cusres_that_conforms() -> None:
    counter = numbers()
    ack = EdifactAckRenderer().render_decision(
        parsed("amendment.edi"), refused("EDIFACT", UNBROKEN), lambda _: next(counter)
    )
    assert (ack.kind, ack.suffix) == ("DECISION", "decision.cusres.edi")
    envelope = Envelope()
    [message] = read(decode(ack.body), envelope)
    assert not envelope.errors and check(message) == []
    ftx = [s for s in message.segments if s.tag == "FTX" and s.get(1) == "AAO"]
    for language in ("ID", "EN"):
        text = "".join(
            "".join(s.get(4, n) for n in range(1, 6)) for s in ftx if s.get(5) == language
        )
        assert UNBROKEN in text, language


def test_without_the_senders_envelope_the_decision_goes_back_in_xml() -> None:
    schema = etree.XMLSchema(etree.parse(str(REPO / "schemas" / "xml" / "response.xsd")))
    for renderer in (X12AckRenderer(), EdifactAckRenderer(), XmlAckRenderer()):
        ack = renderer.render_decision(None, refused("XML", WORDS), lambda _: 1)
        assert (ack.kind, ack.suffix) == ("DECISION", "decision.xml")
        root = etree.fromstring(ack.body)
        assert schema.validate(root), schema.error_log
