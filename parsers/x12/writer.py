"""Writing an outbound X12 interchange: segments in the sender's own delimiters, and our ISA.

Every answer (TA1, 997/999, 355) goes out in its own interchange from ``DJBCPDE`` to the
sender's ISA06.
"""

from __future__ import annotations

from datetime import datetime

from parsers.x12.envelope import Envelope
from parsers.x12.segments import Interchange

GATEWAY_ID = "DJBCPDE"


class Writer:
    def __init__(self, envelope: Envelope) -> None:
        self.e = envelope.element_separator
        self.c = envelope.component_separator
        self.t = envelope.segment_terminator
        self.lines: list[str] = []

    def seg(self, *elements: str) -> None:
        values = list(elements)
        while len(values) > 1 and values[-1] == "":
            values.pop()
        self.lines.append(self.e.join(values) + self.t)

    def text(self) -> bytes:
        # One segment a line, unless the terminator is itself a line break (a blank line
        # would be an empty segment, where pyx12's reader stops).
        if self.t in "\r\n":
            return "".join(self.lines).encode("ascii")
        return "\n".join(self.lines).encode("ascii") + b"\n"


def write_isa(w: Writer, theirs: Interchange, control: int, at: datetime) -> None:
    version = theirs.version or "00401"
    repetition = "^" if version >= "00501" else "U"
    w.seg(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        GATEWAY_ID.ljust(15),
        theirs.sender_qualifier or "ZZ",
        (theirs.sender_id or "UNKNOWN").ljust(15)[:15],
        f"{at:%y%m%d}",
        f"{at:%H%M}",
        repetition,
        version,
        f"{control:09d}",
        "0",
        theirs.usage or "P",
        w.c,
    )
