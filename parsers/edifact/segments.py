"""UN/EDIFACT building blocks handed between the envelope reader and the message mappers.

A message (UNH..UNT) arrives as a :class:`Message` with its own segments and the envelope it
came in; mappers turn it into canonical records without seeing the rest of the interchange.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model.common import RECORD
from parsers.fields import Element
from parsers.fields import component as component_of


@dataclass(**RECORD)
class Segment:
    tag: str
    elements: tuple[Element, ...]  # elements[0] is the segment's first data element
    position: int  # 1-based position in the message (UNH = 1), as CONTRL UCS reports it
    line: int  # 1-based segment number in the interchange

    def get(self, index: int, component: int = 1) -> str:
        """Data element ``index`` (1-based), component ``component`` (1-based); '' if absent."""
        return component_of(self.elements, index, component)

    @property
    def name(self) -> str:
        """What findings call the segment (its tag)."""
        return self.tag


@dataclass(**RECORD)
class InterchangeHeader:
    syntax_id: str  # UNB S001 0001: UNOA, UNOB, UNOC...
    syntax_version: str  # UNB S001 0002: 1..4
    sender: str  # UNB S002 0004
    sender_qualifier: str
    recipient: str  # UNB S003 0010
    recipient_qualifier: str
    date: str  # S004 0017
    time: str  # S004 0019
    reference: str  # 0020 interchange control reference
    ack_requested: bool  # 0031 == "1"
    test: bool  # 0035 == "1"


@dataclass(**RECORD)
class Message:
    reference: str  # UNH 0062
    type: str  # UNH S009 0065: CUSCAR, CUSREP
    version: str  # 0052: D
    release: str  # 0054: 95B, 99B
    agency: str  # 0051: UN
    interchange: InterchangeHeader
    group_reference: str | None  # UNG 0048 when the message is inside a group
    recipient: str  # the customs office the message is for (see docs/formats/edifact.md)
    segments: tuple[Segment, ...]  # UNH .. UNT inclusive
    line: int  # the UNH segment's number in the interchange
