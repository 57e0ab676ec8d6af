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

The head of office's decision on an amendment (Art. 6(2)) is a second CUSRES for the same
document: BGM 1225 29 approved or 27 refused, FTX AAI with the status, then the decision's
message as FTX AAI in Indonesian and English (4441: its code); a refusal's message, with the
reason, is its ERP/ERC/FTX AAO like every other refusal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from gateway.model.outcome import DocumentStatus, Outcome
from parsers.base import AckFile, ControlNumbers, ParseResult
from parsers.edifact.envelope import GATEWAY_ID, Envelope, EnvelopeError, MessageReport
from parsers.edifact.report import EdifactReport
from parsers.xml.acks import XmlAckRenderer

# C108 in D.95B-D.99B: up to five 4440 components of an..70 each; longer text takes more FTX.
FTX_TEXT = 70
FTX_PARTS = 5
# "DTM at position 7": where an EDIFACT mapper located a finding (ERP C853 tag and position)
_SEGMENT_PLACE = re.compile(r"\b([A-Z]{3}) at position (\d+)\b")


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
                    f"{GATEWAY_ID}:ZZZ",
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
    # Their version only when it is one (a broken UNB must not break our answer to it).
    version = header.syntax_version if header.syntax_version in {"1", "2", "3", "4"} else "3"
    return f"{header.syntax_id}:{version}"


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
    """CONTRL: UCI for the interchange; UCM per message (inside UCF when UNG groups are used),
    with a UCS per segment in error and a UCD per data element in error."""
    envelope = report.envelope
    header = envelope.header
    w = _Writer()
    w.seg("UNH", "1", ["CONTRL", "D", "3", "UN"])
    uci = [e for e in envelope.errors if e.level == "UCI"]
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
    group_errors = [e for e in envelope.errors if e.level == "UCF"]
    groups: dict[str | None, list[int]] = {}
    for index, message in enumerate(envelope.messages):
        groups.setdefault(message.group, []).append(index)
    for group, indexes in groups.items():
        bad = rejected
        if group is not None:
            # 7 on UCI still lets a UCF say 4: this group (and its messages) rejected
            bad = rejected or bool(group_errors)
            code = group_errors[0].code if group_errors else (uci[0].code if uci else "")
            w.seg("UCF", group, "", "", "4" if bad else "7", code)
        for index in indexes:
            _ucm(w, envelope.messages[index], report.structure.get(index, []), bad)
    w.seg("UNT", str(len(w.segments) + 1), "1")
    return w.interchange(
        syntax=_syntax(envelope),
        to=header.sender if header else "UNKNOWN",
        to_qualifier=header.sender_qualifier if header else "",
        reference=reference,
        at=at,
        body=w.segments,
    )


def _ucm(
    w: _Writer, message: MessageReport, structure: list[EnvelopeError], rejected: bool
) -> None:
    found = message.errors + structure
    w.seg(
        "UCM",
        message.reference,
        message.type.split(":"),
        "4" if found or rejected else "7",
        found[0].code if found else "",
    )
    by_segment: dict[int, list[EnvelopeError]] = {}
    for error in found:
        if error.position is not None:
            by_segment.setdefault(error.position, []).append(error)
    for position, errors in sorted(by_segment.items()):
        segment_level = [e for e in errors if e.element is None]
        w.seg("UCS", str(position), segment_level[0].code if segment_level else "")
        for error in errors:
            if error.element is not None:
                where = [str(error.element), str(error.component or "")]
                w.seg("UCD", error.code, where)


def render_cusres(
    report: EdifactReport, outcome: Outcome, *, message_reference: str | None, reference: int
) -> bytes:
    at = outcome.decided_at
    w = _Writer()
    w.seg("UNH", "1", ["CUSRES", "D", "99B", "UN"])
    accepted = outcome.status is not DocumentStatus.REFUSED
    w.seg("BGM", "962", outcome.nomor_aju, "29" if accepted else "27")
    w.seg("DTM", ["137", f"{at:%Y%m%d%H%M}", "203"])
    _free_text(w, "AAI", str(outcome.status))
    decision = outcome.decision
    if decision is not None and decision.message not in outcome.findings:
        said = decision.message
        _free_text(w, "AAI", said.message_id, language="ID", code=said.code)
        _free_text(w, "AAI", said.message_en, language="EN", code=said.code)
    for flag in outcome.flags:
        _free_text(w, "AAI", f"FLAG {flag.detail or flag.code}", code=flag.code)
    # SG3 RFF-DTM: the message answered, our nomor aju, the registration and its date
    if message_reference:
        w.seg("RFF", ["ACW", message_reference])
    w.seg("RFF", ["ABE", outcome.nomor_aju])
    if outcome.registration is not None:
        registration = outcome.registration
        kind = "BC10" if registration.kind.value == "BC 1.0" else "BC11"
        w.seg("RFF", ["ABT", f"{kind} {registration.number}"])
        w.seg("DTM", ["182", f"{registration.date:%Y%m%d}", "102"])
    # SG4 ERP-ERC-FTX: one per finding, the place in the message when known
    for item in outcome.findings:
        where = str(item.location) if item.location else ""
        place = _SEGMENT_PLACE.search(item.location.path or "") if item.location else None
        w.seg("ERP", "1", [place.group(1), place.group(2)] if place else "")
        w.seg("ERC", item.code)
        _free_text(w, "AAO", item.message_id, language="ID", code=item.severity.value)
        _free_text(w, "AAO", item.message_en, language="EN", code=item.severity.value)
        if where:
            _free_text(w, "AAO", where)
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


def _free_text(w: _Writer, subject: str, text: str, *, language: str = "", code: str = "") -> None:
    """FTX segments carrying ``text`` whole: five components of 70 characters each."""
    parts = [text[i : i + FTX_TEXT] for i in range(0, len(text), FTX_TEXT)] or [""]
    for start in range(0, len(parts), FTX_PARTS):
        w.seg("FTX", subject, "", code, parts[start : start + FTX_PARTS], language)


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
        references = _message_references(report)
        for outcome in outcomes:
            body = render_cusres(
                report,
                outcome,
                message_reference=references.get(outcome.document_index),
                reference=numbers(f"edifact:unb:{partner}"),
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

    def render_decision(
        self, result: ParseResult | None, outcome: Outcome, numbers: ControlNumbers
    ) -> AckFile:
        """A CUSRES with the head of office's decision, in its own interchange like the first."""
        report = result.envelope if result is not None else None
        if not isinstance(report, EdifactReport) or report.envelope.header is None:
            return XmlAckRenderer().render_decision(result, outcome, numbers)
        body = render_cusres(
            report,
            outcome,
            message_reference=_message_references(report).get(outcome.document_index),
            reference=numbers(f"edifact:unb:{outcome.sender}"),
        )
        return AckFile(
            kind="DECISION",
            suffix="decision.cusres.edi",
            body=body,
            document_index=outcome.document_index,
        )


def _message_references(report: EdifactReport) -> dict[int, str]:
    """Document index -> the UNH reference of the message it came in (its CUSRES's RFF ACW)."""
    messages = report.envelope.messages
    return {
        document: messages[message].reference
        for message, documents in report.documents.items()
        if message < len(messages)
        for document in documents
    }
