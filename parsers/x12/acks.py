"""X12 acknowledgments: TA1 (interchange), 997 / 999 (functional groups), 355 (business).

Each goes out in its own interchange from ``DJBCPDE`` to the sender's ISA06, with ISA13 and
GS06 control numbers that are unique and increasing per carrier (handed out and stored by
the pipeline). Written with the sender's own delimiters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.model.outcome import Outcome
from parsers.base import AckFile, ControlNumbers, ParseResult
from parsers.x12.envelope import Envelope, InterchangeReport
from parsers.x12.report import X12Report
from parsers.x12.response_355 import render_355s, render_decision_355
from parsers.x12.verdicts import SetVerdict
from parsers.x12.writer import GATEWAY_ID, Writer, write_isa
from parsers.xml.acks import XmlAckRenderer

# TA1 note codes that still let the interchange through ("accepted with errors").
_TA1_ERRORS_ONLY = {"014", "015"}


def render_ta1(
    report: InterchangeReport, envelope: Envelope, *, duplicate: bool, control: int, at: datetime
) -> bytes | None:
    """A TA1 when the interchange asks for one (ISA14 = 1) or its envelope is wrong."""
    theirs = report.interchange
    codes = [e.code for e in report.errors if e.code.isdigit() and len(e.code) == 3]
    if duplicate:
        codes.insert(0, "025")
    if not codes and not theirs.ack_requested:
        return None
    if not codes:
        status, note = "A", "000"
    elif all(c in _TA1_ERRORS_ONLY for c in codes) or (not report.groups and codes == ["021"]):
        # Nothing inside is at risk (a wrong group count on an empty interchange, a date or
        # time we could still read): noted, not refused.
        status, note = "E", codes[0]
    else:
        status, note = "R", codes[0]
    w = Writer(envelope)
    write_isa(w, theirs, control, at)
    w.seg(
        "TA1",
        theirs.control_number or "000000000",
        theirs.date or f"{at:%y%m%d}",
        theirs.time or f"{at:%H%M}",
        status,
        note,
    )
    w.seg("IEA", "0", f"{control:09d}")
    return w.text()


def render_functional_acks(
    report: X12Report, numbers: ControlNumbers, partner: str, at: datetime
) -> list[tuple[str, bytes]]:
    """One interchange per received interchange: a 997 (004010) or 999 (005010) per group."""
    out = []
    for isa_index, interchange in enumerate(report.envelope.interchanges):
        groups = [
            (gs_index, report.groups[(isa_index, gs_index)])
            for gs_index in range(len(interchange.groups))
            if (isa_index, gs_index) in report.groups
        ]
        if not groups:
            continue
        control = numbers(f"x12:isa:{partner}")
        w = Writer(report.envelope)
        write_isa(w, interchange.interchange, control, at)
        kinds = set()
        for gs_index, verdict in groups:
            theirs = interchange.groups[gs_index].group
            is_999 = verdict.version.startswith("00501")
            kinds.add("999" if is_999 else "997")
            gs_control = numbers(f"x12:gs:{partner}")
            w.seg(
                "GS",
                "FA",
                GATEWAY_ID,
                theirs.sender or interchange.interchange.sender_id,
                f"{at:%Y%m%d}",
                f"{at:%H%M}",
                str(gs_control),
                "X",
                verdict.version,
            )
            start = len(w.lines)
            w.seg("ST", "999" if is_999 else "997", "0001", verdict.version if is_999 else "")
            if is_999:
                w.seg("AK1", verdict.functional_id, verdict.control_number, verdict.version)
            else:
                w.seg("AK1", verdict.functional_id, verdict.control_number)
            for st in verdict.sets:
                _set_response(w, st, is_999)
            accepted = sum(1 for s in verdict.sets if s.status == "A")
            w.seg(
                "AK9",
                verdict.status,
                str(len(verdict.sets)),
                str(len(verdict.sets)),
                str(accepted),
                *verdict.codes[:5],
            )
            w.seg("SE", str(len(w.lines) - start + 1), "0001")
            w.seg("GE", "1", str(gs_control))
        w.seg("IEA", str(len(groups)), f"{control:09d}")
        out.append(("999" if kinds == {"999"} else "997", w.text()))
    return out


def _set_response(w: Writer, st: SetVerdict, is_999: bool) -> None:
    w.seg("AK2", st.set_id, st.control_number)
    for segment in st.segments:
        w.seg(
            "IK3" if is_999 else "AK3", segment.segment_id, str(segment.position), "", segment.ak304
        )
        for element in segment.elements:
            w.seg(
                "IK4" if is_999 else "AK4",
                str(element.position),
                "",
                element.code,
                element.value[:99],
            )
    codes = st.codes[:5]
    if st.status == "R" and not codes:
        codes = ["5"]  # one or more segments in error
    w.seg("IK5" if is_999 else "AK5", st.status, *codes)


class X12AckRenderer:
    """TA1 and 997/999 for the file, a 355 for every transaction set's document."""

    def __init__(self, render_355: _Render355 | None = None) -> None:
        if render_355 is None:
            render_355 = render_355s
        self.render_355 = render_355

    def render(
        self, result: ParseResult | None, outcomes: Sequence[Outcome], numbers: ControlNumbers
    ) -> list[AckFile]:
        report = result.envelope if result is not None else None
        if not isinstance(report, X12Report) or not report.envelope.interchanges:
            # Not even an ISA to answer to: the sender still gets our XML response.
            return XmlAckRenderer().render(result, outcomes, numbers)
        partner = outcomes[0].sender
        at = outcomes[0].decided_at
        # An interchange whose documents were refused for a reused ISA13 gets TA1 025.
        reused = {
            o.document_index for o in outcomes if any(f.code == "DUP-003" for f in o.findings)
        }
        for (isa_index, _, _), indexes in report.documents.items():
            if indexes and set(indexes) <= reused:
                report.duplicate_interchanges.add(isa_index)
        files = []
        for isa_index, interchange in enumerate(report.envelope.interchanges):
            control = numbers(f"x12:isa:{partner}")
            ta1 = render_ta1(
                interchange,
                report.envelope,
                duplicate=isa_index in report.duplicate_interchanges,
                control=control,
                at=at,
            )
            if ta1 is not None:
                suffix = "ta1.x12" if isa_index == 0 else f"{isa_index + 1}.ta1.x12"
                files.append(AckFile(kind="TA1", suffix=suffix, body=ta1, document_index=None))
        for n, (kind, body) in enumerate(render_functional_acks(report, numbers, partner, at)):
            suffix = f"{kind}.x12" if n == 0 else f"{n + 1}.{kind}.x12"
            files.append(AckFile(kind=kind, suffix=suffix, body=body, document_index=None))
        if self.render_355 is not None:
            files += self.render_355(report, outcomes, numbers)
        else:
            files += XmlAckRenderer().render(result, outcomes, numbers)
        return files

    def render_decision(
        self, result: ParseResult | None, outcome: Outcome, numbers: ControlNumbers
    ) -> AckFile:
        """A 355 with the head of office's decision, in its own interchange like the first."""
        report = result.envelope if result is not None else None
        if not isinstance(report, X12Report) or not report.envelope.interchanges:
            return XmlAckRenderer().render_decision(result, outcome, numbers)
        return render_decision_355(report, outcome, numbers)


class _Render355(Protocol):
    def __call__(
        self, report: X12Report, outcomes: Sequence[Outcome], numbers: ControlNumbers
    ) -> list[AckFile]: ...
