"""The X12 envelope: interchanges (ISA/IEA), groups (GS/GE), transaction sets (ST/SE).

pyx12's ``X12Reader`` does the tokenising (delimiters from the ISA) and the control checks;
this module sorts its findings into the level they belong to, because each level has its own
acknowledgment: interchange → TA1 note code, group → 997 AK905, transaction set → AK502,
segment → AK304. Transaction sets are yielded one at a time, with only their own segments,
so a large file is never held as records all at once.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyx12.errors
import pyx12.x12file

from gateway.exceptions import DocumentError, EncodingError
from gateway.messages import finding
from gateway.model.findings import Location
from parsers.x12.segments import Group, Interchange, Segment, TransactionSet

logging.getLogger("pyx12").setLevel(logging.CRITICAL)

# The ISA is fixed-width: 106 characters, 16 elements; separators at 3, 104 and 105.
ISA_LENGTH = 106
ISA_ELEMENTS = 16
# Not in X12's basic or extended character set, unless the ISA makes one a separator.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvelopeError:
    level: str  # "isa", "gs", "st", "seg"
    code: str  # TA1 note code, AK905, AK502, AK304 or pyx12's own (HL1, HL2, LX, SEG1)
    message: str
    line: int | None = None  # segment number in the file
    segment_id: str | None = None
    position: int | None = None  # position in the transaction set (ST = 1)


@dataclass(kw_only=True, slots=True)
class SetReport:
    set_id: str
    control_number: str
    line: int
    errors: list[EnvelopeError] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class GroupReport:
    group: Group
    sets: list[SetReport] = field(default_factory=list)
    errors: list[EnvelopeError] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class InterchangeReport:
    interchange: Interchange
    groups: list[GroupReport] = field(default_factory=list)
    errors: list[EnvelopeError] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class Envelope:
    """Everything the acknowledgments need to know, filled in while the file is read."""

    interchanges: list[InterchangeReport] = field(default_factory=list)
    element_separator: str = "*"
    component_separator: str = ":"
    segment_terminator: str = "~"


def decode(data: bytes) -> str:
    """X12 text is ASCII (basic and extended character sets); anything else is refused."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EncodingError(
            [
                finding(
                    "FILE-003",
                    encoding="ASCII (X12)",
                    detail=f"byte 0x{data[exc.start]:02X} at offset {exc.start}",
                    location=Location(line=line),
                )
            ]
        ) from exc


def check_syntax(text: str) -> None:
    """Refuse (X12-001, with the segment) what pyx12 would crash on rather than report.

    pyx12 reads the separators from fixed places in the ISA and trusts them, and keeps its
    open envelopes on a list it pops without looking: two separators that are the same
    character, an ISA whose element count is off, or a trailer (SE, GE, IEA) with nothing
    open to close raise ``X12Error`` or ``IndexError`` from inside it. A GE01 that is no
    number stops its validator. Each is a file we cannot read, said with its place.
    """
    if not text.startswith("ISA") or len(text) < ISA_LENGTH:
        return  # pyx12 refuses these itself (X12Error, wrapped by read())
    element, component, terminator = text[3], text[104], text[105]
    separators = {"element separator": element, "component separator (ISA16)": component}
    separators["segment terminator"] = terminator
    if text[84:89] >= "00501":
        separators["repetition separator (ISA11)"] = text[82]
    seen: dict[str, str] = {}
    for role, char in separators.items():
        if char in seen:
            raise _unreadable(f"the ISA gives {char!r} as both {seen[char]} and {role}", 1, "ISA")
        if char.isalnum() or char == " ":
            raise _unreadable(f"the ISA gives {char!r} as {role}", 1, "ISA")
        seen[char] = role
    # pyx12's own bookkeeping of open envelopes, to find the trailer it would fail on.
    opened: list[str] = []
    closes = {"SE": "ST", "GE": "GS", "IEA": "ISA"}
    # The text after the last terminator is not read by pyx12 (a DOS end-of-file mark...).
    for number, raw in enumerate(text.split(terminator)[:-1], start=1):
        segment = raw.lstrip("\r\n")
        if segment.startswith(" "):  # as pyx12 does, after noting it (AK304 1)
            if not segment.strip():
                raise _unreadable("the segment is only white space", number, "")
            segment = segment.lstrip()
        fields = segment.split(element)
        seg_id = fields[0]
        control = _CONTROL.search(segment)
        if control is not None and control.group() not in separators.values():
            where = f"at character {control.start() + 1} of the segment"
            raise _unreadable(
                f"control character 0x{ord(control.group()):02X} {where}", number, seg_id[:3]
            )
        if seg_id == "ISA" and len(fields) != ISA_ELEMENTS + 1:
            raise _unreadable(
                f"the ISA has {len(fields) - 1} elements, not {ISA_ELEMENTS}", number, "ISA"
            )
        if seg_id in ("ISA", "GS", "ST"):
            opened.append(seg_id)
        elif seg_id in closes:
            if seg_id != "SE" and opened and opened[-1] != closes[seg_id]:
                opened.pop()  # pyx12 closes one envelope left open, then its own
            if not opened:
                raise _unreadable(
                    f"{seg_id} closes no {closes[seg_id]} (nothing is open)", number, seg_id
                )
            opened.pop()
            if seg_id == "GE" and not (len(fields) > 1 and fields[1].strip().isdigit()):
                count = fields[1] if len(fields) > 1 else ""
                raise _unreadable(
                    f"GE01 {count!r} is not a number of transaction sets", number, "GE"
                )


def _unreadable(detail: str, number: int, seg_id: str) -> DocumentError:
    return DocumentError(
        [finding("X12-001", detail=detail, location=Location(line=number, path=seg_id))]
    )


def read(text: str, envelope: Envelope) -> Iterator[TransactionSet]:
    """Yield every transaction set; fill ``envelope`` with reports and errors meanwhile.

    Raises DocumentError when the file does not even start like an interchange.
    """
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
    except pyx12.errors.X12Error as exc:
        raise DocumentError(
            [finding("X12-001", detail=str(exc), location=Location(line=1))]
        ) from exc
    stream = Stream(envelope, reader.ele_term, reader.subele_term, reader.seg_term)
    for raw in reader:
        if raw.get_seg_id() == "ST":
            # pyx12 checks LX numbering only in 837s (its own driver switches it per map).
            reader.check_837_lx = _value(raw, "ST01") == "837"
        done = stream.segment(raw)
        stream.errors(reader.pop_errors())
        if done is not None:
            yield done
    reader.cleanup()
    stream.errors(reader.pop_errors())
    leftover = stream.close()
    if leftover is not None:
        yield leftover


class Stream:
    """The envelope pass, fed one pyx12 segment at a time (by our reader or by pyx12's
    validation run), with the reader's findings for that segment after it."""

    def __init__(self, envelope: Envelope, element: str, component: str, terminator: str) -> None:
        envelope.element_separator = element
        envelope.component_separator = component
        envelope.segment_terminator = terminator
        self._state = _State(envelope)

    def segment(self, raw: Any) -> TransactionSet | None:
        """Take a segment; returns the transaction set it completes, if any."""
        self._state.line += 1
        return self._state.take(raw.get_seg_id(), raw)

    def errors(self, errors: list[Any]) -> None:
        self._state.attach(errors)

    def close(self) -> TransactionSet | None:
        return self._state.close()


class _State:
    """Where the reader is: the open interchange, group and transaction set."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.line = 0
        self.isa: InterchangeReport | None = None
        self.gs: GroupReport | None = None
        self.st: SetReport | None = None
        self.segments: list[Segment] = []
        self.unterminated: SetReport | None = None
        self.hl_top: str | None = None

    def take(self, seg_id: str, raw: Any) -> TransactionSet | None:
        if seg_id == "ISA":
            self.isa = InterchangeReport(interchange=_interchange(raw))
            self.envelope.interchanges.append(self.isa)
            self.gs = self.st = None
        elif seg_id == "GS" and self.isa is not None:
            self.gs = GroupReport(group=_group(raw))
            self.isa.groups.append(self.gs)
            self.st = None
        elif seg_id == "ST" and self.gs is not None:
            finished = self._finish()  # an ST without SE before it
            self.st = SetReport(
                set_id=_value(raw, "ST01"), control_number=_value(raw, "ST02"), line=self.line
            )
            self.gs.sets.append(self.st)
            self.segments = [self._segment(raw)]
            self.hl_top = None
            return finished
        elif seg_id == "SE" and self.st is not None:
            self.segments.append(self._segment(raw))
            return self._finish()
        elif seg_id in {"GE", "IEA"}:
            # A set still open here lost its SE: pyx12 reports that against the group.
            self.unterminated = self.st
            finished = self._finish()
            if seg_id == "IEA":
                self.gs = None
            return finished
        elif self.st is not None:
            self.segments.append(self._segment(raw))
            if seg_id == "HL":
                self._check_hl_parent(raw)
        return None

    def _check_hl_parent(self, raw: Any) -> None:
        """An HL with no parent must be at the top level: the first HL's level code.

        pyx12 checks that a named parent exists (HL2) but not a missing one.
        """
        level, parent = _value(raw, "HL03"), _value(raw, "HL02")
        if self.hl_top is None:
            self.hl_top = level
        elif not parent and level != self.hl_top and self.st is not None:
            self.st.errors.append(
                EnvelopeError(
                    level="seg",
                    code="HL2",
                    line=self.line,
                    segment_id="HL",
                    position=len(self.segments),
                    message=f"HL {_value(raw, 'HL01')} at level {level} names no parent",
                )
            )

    def _segment(self, raw: Any) -> Segment:
        return Segment(
            id=raw.get_seg_id(),
            elements=tuple(_elements(raw)),
            position=len(self.segments) + 1,
            line=self.line,
        )

    def _finish(self) -> TransactionSet | None:
        if self.st is None or self.isa is None or self.gs is None:
            return None
        done = TransactionSet(
            set_id=self.st.set_id,
            control_number=self.st.control_number,
            interchange=self.isa.interchange,
            group=self.gs.group,
            segments=tuple(self.segments),
            line=self.st.line,
        )
        self.st = None
        self.segments = []
        return done

    def close(self) -> TransactionSet | None:
        return self._finish()

    def attach(self, errors: list[Any]) -> None:
        unterminated, self.unterminated = self.unterminated, None
        for level, code, message, _value, src_line in errors:
            if level == "gs" and code == "3" and unterminated is not None:
                # AK502 3: transaction set trailer missing.
                unterminated.errors.append(
                    EnvelopeError(level="st", code="3", message=str(message), line=src_line)
                )
                continue
            error = EnvelopeError(
                level=level,
                code=str(code),
                message=str(message),
                line=src_line or self.line,
                segment_id=self.segments[-1].id if level == "seg" and self.segments else None,
                position=self.segments[-1].position if level == "seg" and self.segments else None,
            )
            self._target(level, error).append(error)

    def _target(self, level: str, error: EnvelopeError) -> list[EnvelopeError]:
        if level in {"st", "seg"}:
            current = self.st or (self.gs.sets[-1] if self.gs and self.gs.sets else None)
            if current is not None:
                return current.errors
        if level in {"gs", "st", "seg"}:
            group = self.gs or (self.isa.groups[-1] if self.isa and self.isa.groups else None)
            if group is not None:
                return group.errors
        if self.isa is None and self.envelope.interchanges:
            return self.envelope.interchanges[-1].errors
        if self.isa is not None:
            return self.isa.errors
        orphan = InterchangeReport(interchange=_blank_interchange())
        self.envelope.interchanges.append(orphan)
        return orphan.errors


def _value(raw: Any, reference: str) -> str:
    """An element's value; pyx12 gives None for one the segment does not have."""
    value = raw.get_value(reference)
    return "" if value is None else str(value)


def _elements(raw: Any) -> list[str | tuple[str, ...]]:
    """pyx12 keeps every element as a composite; one with a single part is a simple element."""
    out: list[str | tuple[str, ...]] = []
    for composite in raw.elements:
        if len(composite) > 1:
            out.append(tuple(part.get_value() or "" for part in composite.elements))
        else:
            out.append(composite.get_value() or "")
    return out


def _interchange(raw: Any) -> Interchange:
    return Interchange(
        sender_qualifier=_value(raw, "ISA05"),
        sender_id=_value(raw, "ISA06").strip(),
        receiver_qualifier=_value(raw, "ISA07"),
        receiver_id=_value(raw, "ISA08").strip(),
        date=_value(raw, "ISA09"),
        time=_value(raw, "ISA10"),
        version=_value(raw, "ISA12"),
        control_number=_value(raw, "ISA13"),
        ack_requested=_value(raw, "ISA14") == "1",
        usage=_value(raw, "ISA15"),
    )


def _blank_interchange() -> Interchange:
    return Interchange(
        sender_qualifier="",
        sender_id="",
        receiver_qualifier="",
        receiver_id="",
        date="",
        time="",
        version="",
        control_number="",
        ack_requested=True,
        usage="",
    )


def _group(raw: Any) -> Group:
    return Group(
        functional_id=_value(raw, "GS01"),
        sender=_value(raw, "GS02").strip(),
        receiver=_value(raw, "GS03").strip(),
        date=_value(raw, "GS04"),
        time=_value(raw, "GS05"),
        control_number=_value(raw, "GS06"),
        version=_value(raw, "GS08"),
    )
