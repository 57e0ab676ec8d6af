"""Syntax verdicts: what the 997/999 says about each group and transaction set.

Verdicts come from two places: the envelope reader (control numbers, counts, segment
syntax) and pyx12's validation of supported transaction sets against our maps (AK3/AK4).
Both are merged here into one record per set, so the 997 and the refusal findings agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.messages import finding
from gateway.model import Finding, Location
from parsers.x12.envelope import EnvelopeError

# Codes pyx12 reports that are not standard AK304 codes: all mean the segment is wrong.
_PYX12_SEGMENT_CODES = {"HL1", "HL2", "LX", "SEG1"}


@dataclass(frozen=True, kw_only=True, slots=True)
class ElementError:
    position: int  # AK401
    code: str  # AK403
    value: str = ""  # AK404


@dataclass(frozen=True, kw_only=True, slots=True)
class SegmentError:
    segment_id: str  # AK301
    position: int  # AK302
    code: str  # AK304 (or pyx12's own: HL1, HL2, LX, SEG1)
    line: int | None = None
    message: str = ""
    elements: tuple[ElementError, ...] = ()

    @property
    def ak304(self) -> str:
        return "8" if self.code in _PYX12_SEGMENT_CODES else self.code


@dataclass(kw_only=True, slots=True)
class SetVerdict:
    set_id: str
    control_number: str
    line: int
    codes: list[str] = field(default_factory=list)  # AK502 codes
    segments: list[SegmentError] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """AK501: A accepted, R rejected (any error rejects the set)."""
        return "R" if self.codes or self.segments else "A"

    def findings(self) -> tuple[Finding, ...]:
        found = []
        for n, code in enumerate(self.codes):
            message = self.messages[n] if n < len(self.messages) else ""
            found.append(
                finding(
                    "X12-004",
                    set_id=self.set_id,
                    control=self.control_number,
                    ack=code,
                    detail=message or _AK502.get(code, "see the 997"),
                    location=Location(line=self.line, path=f"ST {self.control_number}"),
                )
            )
        for segment in self.segments:
            where = Location(
                line=segment.line, path=f"{segment.segment_id} at position {segment.position}"
            )
            detail = segment.message or _AK304.get(segment.ak304, "")
            if segment.code in _PYX12_SEGMENT_CODES:
                detail = f"[{segment.code}] {detail}"
            found.append(
                finding(
                    "X12-005",
                    segment=segment.segment_id,
                    position=segment.position,
                    ack=segment.ak304,
                    detail=detail,
                    location=where,
                )
            )
            for element in segment.elements:
                found.append(
                    finding(
                        "X12-006",
                        segment=segment.segment_id,
                        element=element.position,
                        ack=element.code,
                        detail=_AK403.get(element.code, element.value),
                        location=where,
                    )
                )
        return tuple(found)


@dataclass(kw_only=True, slots=True)
class GroupVerdict:
    functional_id: str
    control_number: str
    version: str
    codes: list[str] = field(default_factory=list)  # AK905
    sets: list[SetVerdict] = field(default_factory=list)

    @property
    def status(self) -> str:
        """AK901: A all accepted, P partially, R rejected."""
        if self.codes:
            return "R"
        statuses = {s.status for s in self.sets}
        if not statuses or statuses == {"A"}:
            return "A"
        return "R" if statuses == {"R"} else "P"


def from_envelope(errors: list[EnvelopeError], verdict: SetVerdict) -> None:
    """Fold the reader's set- and segment-level findings into the set's verdict."""
    for error in errors:
        if error.level == "st":
            if error.code in _PYX12_SEGMENT_CODES:
                verdict.segments.append(
                    SegmentError(
                        segment_id=error.segment_id or "HL"
                        if error.code.startswith("HL")
                        else "LX",
                        position=error.position or 0,
                        code=error.code,
                        line=error.line,
                        message=error.message,
                    )
                )
            else:
                verdict.codes.append(error.code)
                verdict.messages.append(error.message)
        elif error.level == "seg":
            verdict.segments.append(
                SegmentError(
                    segment_id=error.segment_id or "",
                    position=error.position or 0,
                    code=error.code,
                    line=error.line,
                    message=error.message,
                )
            )


_AK502 = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "23": "transaction set control number not unique within the functional group",
}
_AK304 = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "mandatory segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
}
_AK403 = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
}


def interchange_findings(errors: list[EnvelopeError], *, refusing_only: bool) -> list[Finding]:
    """TA1-level faults as findings (only those that refuse the interchange, if asked)."""
    return [
        finding("X12-002", ack=e.code, detail=e.message, location=Location(line=e.line))
        for e in errors
        if e.level == "isa" and (not refusing_only or e.code in REFUSING_TA1)
    ]


def group_findings(control_number: str, errors: list[EnvelopeError]) -> list[Finding]:
    """AK905-level faults as findings."""
    return [
        finding(
            "X12-003",
            group=control_number,
            ack=e.code,
            detail=e.message,
            location=Location(line=e.line),
        )
        for e in errors
        if e.level == "gs"
    ]


# TA1 note codes that refuse everything inside the interchange.
REFUSING_TA1 = {"001", "021", "023", "024", "025"}
