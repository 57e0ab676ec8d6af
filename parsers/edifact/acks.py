"""UN/EDIFACT acknowledgments: CONTRL (syntax) and CUSRES (business decision).

Each goes out in its own interchange from ``DJBCPDE`` to the sender of the received UNB, in
the received syntax identifier and with default service characters (UNA written out), and
with an interchange reference unique and increasing per carrier (stored by the pipeline).

CONTRL (ISO 9735, D:3): UCI for the interchange (0083 action 7 acknowledged, 4 rejected,
with the 0085 error code), then per message UCM with its UCS (segment position) and UCD
(element position) detail. Sent when the UNB asks for it (0031 = 1) or something is wrong.

CUSRES (docs/formats/edifact.md): per document, BGM 962 with the nomor aju and 1225 = 29
accepted or 27 not accepted, FTX AAI with the status, RFF ABT with the BC 1.0/1.1 number and
date, RFF ACW with the message it answers, and per finding ERP/ERC with FTX AAO in Indonesian
(FTX05 ID) and English (FTX05 EN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.model.outcome import DocumentStatus, Outcome
from parsers.base import AckFile, ControlNumbers, ParseResult
from parsers.edifact.envelope import Envelope, EnvelopeError
from parsers.xml.acks import XmlAckRenderer

GATEWAY_ID = "DJBCPDE"
FTX_TEXT = 512  # an..512 per free-text component


@dataclass(kw_only=True, slots=True)
class EdifactReport:
    """What the EDIFACT parser leaves for the acknowledgments (``ParseResult.envelope``)."""

    envelope: Envelope
    # Message index in the interchange -> its structure findings (UCS/UCD level).
    structure: dict[int, list[EnvelopeError]] = field(default_factory=dict)
    documents: dict[int, list[int]] = field(default_factory=dict)  # message -> documents


class _Writer:
    def __init__(self) -> None:
        self.segments: list[str] = []

    def seg(self, tag: str, *elements: str | Sequence[str]) -> None:
        values = [_element(e) for e in elements]
        while values and values[-1] == "":
            values.pop()
        self.segments.append("+".join([tag, *values]) + "'")

    def interchange(
        self,
        *,
        syntax: str,
        to: str,
        to_qualifier: str,
        reference: int,
        at: datetime,
        body: list[str],
    ) -> bytes:
        head = [
            "UNA:+.? '",
            "+".join(
                [
                    "UNB",
                    f"{syntax}",
                    f"{GATEWAY_ID}:ZZ",
                    f"{_escape(to)}:{to_qualifier}" if to_qualifier else _escape(to),
                    f"{at:%y%m%d}:{at:%H%M}",
                    str(reference),
                ]
            )
            + "'",
        ]
        tail = [f"UNZ+1+{reference}'"]
        return "\n".join(head + body + tail).encode(_codec(syntax)) + b"\n"


def _element(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return _escape(value)
    parts = [_escape(v) for v in value]
    while parts and parts[-1] == "":
        parts.pop()
    return ":".join(parts)


def _escape(text: str) -> str:
    for char in "?:+'":
        text = text.replace(char, "?" + char)
    return text


def _codec(syntax: str) -> str:
    return {"UNOA": "ascii", "UNOB": "ascii", "UNOW": "utf-8", "UNOY": "utf-8"}.get(
        syntax.split(":")[0], "latin-1"
    )


def _syntax(envelope: Envelope) -> str:
    header = envelope.header
    if header is None or header.syntax_id not in {"UNOA", "UNOB", "UNOC", "UNOW", "UNOY"}:
        return "UNOC:3"
    return f"{header.syntax_id}:{header.syntax_version or '3'}"


def needs_contrl(report: EdifactReport) -> bool:
    """When the UNB asks for a CONTRL (0031 = 1) or anything in the syntax is wrong."""
    envelope = report.envelope
    return bool(
        (envelope.header is not None and envelope.header.ack_requested)
        or envelope.errors
        or any(m.errors for m in envelope.messages)
        or any(report.structure.values())
    )


def render_contrl(
    report: EdifactReport, *, reference: int, at: datetime, duplicate: bool = False
) -> bytes:
    envelope = report.envelope
    header = envelope.header
    w = _Writer()
    w.seg("UNH", "1", ["CONTRL", "D", "3", "UN"])
    uci = [e for e in envelope.errors if e.level in {"UCI", "UCF"}]
    if duplicate:  # 26: duplicate detected (the UNB reference was used before)
        uci.insert(0, EnvelopeError(level="UCI", code="26", message="duplicate interchange"))
    rejected = bool(uci)
    w.seg(
        "UCI",
        header.reference if header else "",
        [header.sender, header.sender_qualifier] if header else "",
        [header.recipient, header.recipient_qualifier] if header else "",
        "4" if rejected else "7",
        uci[0].code if uci else "",
    )
    for index, message in enumerate(envelope.messages):
        found = message.errors + report.structure.get(index, [])
        w.seg(
            "UCM",
            message.reference,
            message.type.split(":"),
            "4" if found or rejected else "7",
            found[0].code if found else "",
        )
        for error in found:
            if error.position is not None and error.level == "UCS":
                w.seg("UCS", str(error.position), error.code)
    w.seg("UNT", str(len(w.segments) + 1), "1")
    return w.interchange(
        syntax=_syntax(envelope),
        to=header.sender if header else "UNKNOWN",
        to_qualifier=header.sender_qualifier if header else "",
        reference=reference,
        at=at,
        body=w.segments,
    )


def render_cusres(
    report: EdifactReport, outcome: Outcome, *, message_reference: str | None, reference: int
) -> bytes:
    at = outcome.decided_at
    w = _Writer()
    w.seg("UNH", "1", ["CUSRES", "D", "99B", "UN"])
    accepted = outcome.status is not DocumentStatus.REFUSED
    w.seg("BGM", "962", outcome.nomor_aju, "29" if accepted else "27")
    w.seg("DTM", ["137", f"{at:%Y%m%d%H%M}", "203"])
    w.seg("FTX", "AAI", "", "", str(outcome.status))
    if message_reference:
        w.seg("RFF", ["ACW", message_reference])
    w.seg("RFF", ["ABE", outcome.nomor_aju])
    if outcome.registration is not None:
        registration = outcome.registration
        kind = "BC10" if registration.kind.value == "BC 1.0" else "BC11"
        w.seg("RFF", ["ABT", f"{kind} {registration.number}"])
        w.seg("DTM", ["182", f"{registration.date:%Y%m%d}", "102"])
    for flag in outcome.flags:
        w.seg("FTX", "AAI", "", "", [f"FLAG {flag.detail or flag.code}"])
    for item in outcome.findings:
        w.seg("ERP", "1")
        w.seg("ERC", [item.code, item.severity.value])
        where = str(item.location) if item.location else ""
        w.seg("FTX", "AAO", "", "", _chunks(item.message_id), "ID")
        w.seg("FTX", "AAO", "", "", _chunks(item.message_en), "EN")
        if where:
            w.seg("FTX", "AAO", "", "", _chunks(where))
    w.seg("UNT", str(len(w.segments) + 1), "1")
    header = report.envelope.header
    return w.interchange(
        syntax=_syntax(report.envelope),
        to=header.sender if header else "UNKNOWN",
        to_qualifier=header.sender_qualifier if header else "",
        reference=reference,
        at=at,
        body=w.segments,
    )


def _chunks(text: str) -> list[str]:
    """Free text in up to five components of 512 characters (FTX C108)."""
    parts = [text[i : i + FTX_TEXT] for i in range(0, len(text), FTX_TEXT)] or [""]
    return parts[:5]


class EdifactAckRenderer:
    """CONTRL for the interchange, a CUSRES for every document."""

    def render(
        self, result: ParseResult | None, outcomes: Sequence[Outcome], numbers: ControlNumbers
    ) -> list[AckFile]:
        report = result.envelope if result is not None else None
        if not isinstance(report, EdifactReport) or report.envelope.header is None:
            return XmlAckRenderer().render(result, outcomes, numbers)
        partner = outcomes[0].sender
        files = []
        duplicate = bool(outcomes) and all(
            any(f.code == "DUP-003" for f in o.findings) for o in outcomes
        )
        if needs_contrl(report) or duplicate:
            reference = numbers(f"edifact:unb:{partner}")
            contrl = render_contrl(
                report, reference=reference, at=outcomes[0].decided_at, duplicate=duplicate
            )
            files.append(
                AckFile(kind="CONTRL", suffix="contrl.edi", body=contrl, document_index=None)
            )
        message_of = {d: m for m, docs in report.documents.items() for d in docs}
        for outcome in outcomes:
            index = message_of.get(outcome.document_index)
            messages = report.envelope.messages
            ref = messages[index].reference if index is not None and index < len(messages) else None
            body = render_cusres(
                report, outcome, message_reference=ref, reference=numbers(f"edifact:unb:{partner}")
            )
            files.append(
                AckFile(
                    kind="CUSRES",
                    suffix="cusres.edi",
                    body=body,
                    document_index=outcome.document_index,
                )
            )
        return files
