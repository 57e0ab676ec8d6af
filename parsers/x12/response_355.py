"""The 355 Acceptance/Rejection: our business response to a 309 or 323 (docs/formats/x12.md).

One 355 per document, in its own interchange from ``DJBCPDE``: the M10 and P4 of the set it
answers, a K1 with the status and the BC 1.0/1.1 number, flags, and every finding as a K1
headline (code, severity, place) followed by the message in K1 pairs (Indonesian in K1-01,
English in K1-02, 30 characters each). Findings about a bill go under its LX with the M11
echo. Every 355 is validated by pyx12 against ``schemas/x12/355.4010.xml`` before it is
stored; one that fails is our fault: it is logged and a minimal 355 with the status goes out.

The head of office's decision on an amendment (Art. 6(2)) is a second 355 for the same
document (:func:`render_decision_355`): K1 #1 ``APPROVED`` or ``REFUSED``, then the decision
(code, pos and version) and its message in K1 pairs, Indonesian and English, in the heading
and, when it is long, on under the P4 (the refusal's reason included).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from datetime import datetime

import structlog

from gateway.model import Finding
from gateway.model.outcome import HeadDecision, Outcome
from parsers.base import AckFile, ControlNumbers
from parsers.times import iso_duration
from parsers.x12.report import Echo, X12Report
from parsers.x12.segments import Interchange
from parsers.x12.validation import validate_355
from parsers.x12.writer import GATEWAY_ID, Writer, write_isa

log = structlog.get_logger("parsers.x12.response_355")

K1_WIDTH = 30
K1_PER_PLACE = 10
_POS_PATH = re.compile(r"pos (\d{4})(\d{4})(\d{4})")


def render_355s(
    report: X12Report, outcomes: Sequence[Outcome], numbers: ControlNumbers
) -> list[AckFile]:
    position_of = {
        index: position for position, indexes in report.documents.items() for index in indexes
    }
    files = []
    for outcome in outcomes:
        body = _answer(report, position_of, outcome, numbers)
        files.append(
            AckFile(kind="355", suffix="355.x12", body=body, document_index=outcome.document_index)
        )
    return files


def render_decision_355(report: X12Report, outcome: Outcome, numbers: ControlNumbers) -> AckFile:
    """The 355 that tells the head of office's decision on a document answered before."""
    position_of = {
        index: position for position, indexes in report.documents.items() for index in indexes
    }
    return AckFile(
        kind="DECISION",
        suffix="decision.355.x12",
        body=_answer(report, position_of, outcome, numbers),
        document_index=outcome.document_index,
    )


def _answer(
    report: X12Report,
    position_of: dict[int, tuple[int, int, int]],
    outcome: Outcome,
    numbers: ControlNumbers,
) -> bytes:
    # A refusal that belongs to no transaction set (an empty or broken envelope) is answered
    # on the file's first interchange.
    position = position_of.get(outcome.document_index, (0, -1, -1))
    isa_index, gs_index, _ = position
    interchange = report.envelope.interchanges[isa_index]
    groups = interchange.groups
    their_gs_id = groups[gs_index].group.sender if 0 <= gs_index < len(groups) else ""
    echo = report.echoes.get(position, Echo(m10=(), p4=()))
    return _render(report, interchange.interchange, their_gs_id, echo, outcome, numbers)


def _render(
    report: X12Report,
    theirs: object,
    their_gs_id: str,
    echo: Echo,
    outcome: Outcome,
    numbers: ControlNumbers,
) -> bytes:
    assert isinstance(theirs, Interchange)
    partner = outcome.sender
    control = numbers(f"x12:isa:{partner}")
    gs_control = numbers(f"x12:gs:{partner}")
    attempts = (
        (echo, True),  # the sender's own M10/P4/M11 repeated back
        (_safe_echo(echo), True),  # a refused set's echo may itself be invalid: keep the
        (Echo(m10=(), p4=()), False),  # reasons, drop what it sent; last: status only
    )
    problems: list[str] = []
    for shown, full in attempts:
        body = _write(report, theirs, their_gs_id, shown, outcome, control, gs_control, full=full)
        problems = validate_355(body.decode("ascii"))
        if not problems:
            return body
    log.error(
        "no 355 variant validated; sending the minimal one",
        problems=problems,
        submission_id=outcome.submission_id,
        nomor_aju=outcome.nomor_aju,
    )
    return body


def _safe_echo(echo: Echo) -> Echo:
    """Only the M10/P4 elements the 355 requires, taken over where they look plain."""
    m10 = tuple(
        v if i in (0, 2, 4, 5) and re.fullmatch(r"[A-Z0-9 .-]{1,28}", v) else ""
        for i, v in enumerate(echo.m10[:6])
    )
    p4 = tuple(
        v if i == 0 and re.fullmatch(r"[A-Z0-9]{1,10}", v) else ""
        for i, v in enumerate(echo.p4[:1])
    )
    return Echo(m10=m10, p4=p4)


def _write(
    report: X12Report,
    theirs: object,
    their_gs_id: str,
    echo: Echo,
    outcome: Outcome,
    control: int,
    gs_control: int,
    *,
    full: bool,
) -> bytes:
    assert isinstance(theirs, Interchange)
    at = outcome.decided_at
    w = Writer(report.envelope)
    clean = _cleaner(w)
    write_isa(w, theirs, control, at)
    w.seg(
        "GS",
        "SO",
        outcome.office_code or GATEWAY_ID,
        their_gs_id or theirs.sender_id or "UNKNOWN",
        f"{at:%Y%m%d}",
        f"{at:%H%M}",
        str(gs_control),
        "X",
        "004010",
    )
    start = len(w.lines)
    w.seg("ST", "355", "0001")
    w.seg("M10", *_m10(echo, outcome, clean))
    registration = outcome.registration
    number = ""
    if registration is not None:
        kind = "BC10" if registration.kind.value == "BC 1.0" else "BC11"
        number = f"{kind} {registration.number} {registration.date:%Y%m%d}"
    w.seg("K1", str(outcome.status), number)
    heading: list[tuple[str, str]] = []
    carried: list[tuple[str, str]] = []
    if outcome.decision is not None:
        # Our own cleaned text: kept in every variant (the reason of a refusal above all),
        # running on under the P4 when the heading is full.
        decided = _decision_k1s(outcome.decision, clean)
        heading, carried = decided[: K1_PER_PLACE - 1], decided[K1_PER_PLACE - 1 :]
    elif full:
        for flag in outcome.flags:
            lateness = iso_duration(flag.lateness) if flag.lateness else ""
            heading.append((clean(f"FLAG {flag.detail or flag.code}")[:K1_WIDTH], lateness))
    for k1 in heading[: K1_PER_PLACE - 1]:
        w.seg("K1", *k1)
    w.seg("P4", *_p4(echo, at, clean))
    for k1 in carried:
        w.seg("K1", *k1)
    by_bill: dict[str, list[Finding]] = {}
    general: list[Finding] = []
    for item in outcome.findings if full else ():
        if outcome.decision is not None and item == outcome.decision.message:
            continue  # in the heading already
        bill = _bill_of(item, echo)
        (by_bill.setdefault(bill, []) if bill else general).append(item)
    _k1s(w, general, clean, budget=K1_PER_PLACE - len(carried))
    for lx, found in by_bill.items():
        w.seg("LX", lx)
        w.seg("M11", *[clean(v) for v in echo.bills[lx]])
        _k1s(w, found, clean)
    w.seg("SE", str(len(w.lines) - start + 1), "0001")
    w.seg("GE", "1", str(gs_control))
    w.seg("IEA", "1", f"{control:09d}")
    return w.text()


def _m10(echo: Echo, outcome: Outcome, clean: _Clean) -> list[str]:
    m10 = list(echo.m10) + [""] * (12 - len(echo.m10))
    defaults = {0: outcome.sender[:4] or "NONE", 1: "S", 2: "ID", 4: "UNKNOWN", 5: "0"}
    for index, value in defaults.items():
        if not m10[index]:
            m10[index] = value
    m10[6] = outcome.nomor_aju  # M10-07 carries the nomor aju
    return [clean(v) for v in m10]


def _p4(echo: Echo, at: datetime, clean: _Clean) -> list[str]:
    p4 = list(echo.p4) + [""] * (5 - len(echo.p4))
    p4[0] = p4[0] or "UNKNOWN"
    p4[1] = p4[1] if re.fullmatch(r"\d{8}", p4[1]) else f"{at:%Y%m%d}"
    return [clean(v) for v in p4]


def _bill_of(item: Finding, echo: Echo) -> str | None:
    """The LX of the bill a finding is about, when we know its M11."""
    match = _POS_PATH.search(item.location.path or "") if item.location else None
    if match is None:
        return None
    pos, sub = int(match[1]), int(match[2])
    lx = str(sub or pos)
    return lx if lx in echo.bills else None


def _decision_k1s(decision: HeadDecision, clean: _Clean) -> list[tuple[str, str]]:
    """The decision's K1s: its code with the pos (and version), then its message in pairs.

    They fill the heading after K1 #1 and run on under the P4: room for 18 pairs, 540
    characters in each language (a refusal's reason is at most 300, see pos_ledger). Words are
    kept whole when that fits; otherwise the text is cut every 30 characters.
    """
    message = decision.message
    pos = f"POS {decision.pos_number}"
    if decision.pos_version is not None:
        pos += f" V{decision.pos_version}"
    room = 2 * K1_PER_PLACE - 2  # K1 #1 and this headline take two places
    pieces_id, pieces_en = _wrap(clean(message.message_id)), _wrap(clean(message.message_en))
    if max(len(pieces_id), len(pieces_en)) > room:
        pieces_id, pieces_en = _cut(clean(message.message_id)), _cut(clean(message.message_en))
    rows = max(len(pieces_id), len(pieces_en))
    pairs = [
        (
            pieces_id[n] if n < len(pieces_id) else "-",
            pieces_en[n] if n < len(pieces_en) else "-",
        )
        for n in range(rows)
    ]
    if rows > room:
        pairs = pairs[:room]
        last_id, last_en = pairs[-1]
        pairs[-1] = (last_id[: K1_WIDTH - 3] + "...", last_en[: K1_WIDTH - 3] + "...")
    return [(clean(message.code), pos), *pairs]


def _cut(text: str) -> list[str]:
    pieces = [text[i : i + K1_WIDTH].strip() for i in range(0, len(text), K1_WIDTH)]
    return [p for p in pieces if p] or ["-"]


def _k1s(w: Writer, found: list[Finding], clean: _Clean, *, budget: int = K1_PER_PLACE) -> None:
    for index, item in enumerate(found):
        where = clean(str(item.location)) if item.location else ""
        pieces_id = _wrap(clean(item.message_id))
        pieces_en = _wrap(clean(item.message_en))
        rows = max(len(pieces_id), len(pieces_en))
        needed = 1 + rows
        remaining = len(found) - index
        if needed > budget - (1 if remaining > 1 else 0):
            w.seg("K1", "MORE", f"{remaining} more findings")
            return
        w.seg("K1", clean(f"{item.code} {item.severity}")[:K1_WIDTH], where[:K1_WIDTH])
        for n in range(rows):
            left = pieces_id[n] if n < len(pieces_id) else "-"
            right = pieces_en[n] if n < len(pieces_en) else "-"
            w.seg("K1", left, right)
        budget -= needed


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, K1_WIDTH, break_long_words=True) or ["-"]


class _Clean:
    def __init__(self, delimiters: str) -> None:
        self.table = {ord(c): " " for c in delimiters}

    def __call__(self, text: str) -> str:
        ascii_text = text.encode("ascii", "replace").decode("ascii")
        return " ".join(ascii_text.translate(self.table).split())


def _cleaner(w: Writer) -> _Clean:
    """Text never carries the interchange's delimiters (nor non-ASCII)."""
    return _Clean(w.e + w.c + w.t + "^")
