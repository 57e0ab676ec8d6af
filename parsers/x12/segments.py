"""X12 building blocks handed between the envelope reader and the transaction-set mappers.

A transaction set (ST..SE) arrives as a :class:`TransactionSet` with its own segments and the
envelope it came in; mappers turn it into canonical records without seeing the rest of the
file, so a file of many transaction sets is mapped one set at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model.common import RECORD
from parsers.fields import Element, component


@dataclass(**RECORD)
class Segment:
    id: str
    elements: tuple[Element, ...]  # elements[0] is the segment's 01 element
    position: int  # 1-based position in the transaction set (ST = 1), as AK3/IK3 report it
    line: int  # 1-based segment number in the file

    def get(self, index: int) -> str:
        """Element ``index`` (1-based, as in M10-05) as text; '' when absent; a composite's
        first component."""
        if index > len(self.elements):
            return ""
        value = self.elements[index - 1]
        return value[0] if isinstance(value, tuple) else value

    def component(self, index: int, part: int) -> str:
        return component(self.elements, index, part)

    @property
    def name(self) -> str:
        """What findings call the segment (its id)."""
        return self.id


@dataclass(**RECORD)
class Interchange:
    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06, trimmed
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08, trimmed
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    version: str  # ISA12, e.g. 00401
    control_number: str  # ISA13
    ack_requested: bool  # ISA14 == "1"
    usage: str  # ISA15 P/T


@dataclass(**RECORD)
class Group:
    functional_id: str  # GS01
    sender: str  # GS02
    receiver: str  # GS03: the customs office code (see docs/formats/x12.md)
    date: str  # GS04 CCYYMMDD
    time: str  # GS05
    control_number: str  # GS06
    version: str  # GS08, e.g. 004010


@dataclass(**RECORD)
class TransactionSet:
    set_id: str  # ST01: 309, 323, ...
    control_number: str  # ST02
    interchange: Interchange
    group: Group
    segments: tuple[Segment, ...]  # ST .. SE inclusive
    line: int  # the ST segment's number in the file
