"""What the X12 parser leaves for the acknowledgments (``ParseResult.envelope``): the envelope
read, the verdicts on its groups and sets, and the segments a 355 repeats back."""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.x12.envelope import Envelope
from parsers.x12.verdicts import GroupVerdict


@dataclass(frozen=True, kw_only=True, slots=True)
class Echo:
    """The few segments of an inbound transaction set a 355 repeats back."""

    m10: tuple[str, ...]  # M10-01.. (for a 323: built from V1)
    p4: tuple[str, ...]  # P4-01.. (for a 323: the R4*D port and its ETA)
    bills: dict[str, tuple[str, ...]] = field(default_factory=dict)  # LX-01 -> M11 elements


@dataclass(kw_only=True, slots=True)
class X12Report:
    """What the X12 parser leaves for the acknowledgments (``ParseResult.envelope``)."""

    envelope: Envelope
    groups: dict[tuple[int, int], GroupVerdict] = field(default_factory=dict)  # (isa, gs)
    # Index of the first document of each transaction set, by (isa, gs, set) position.
    documents: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    duplicate_interchanges: set[int] = field(default_factory=set)
    echoes: dict[tuple[int, int, int], Echo] = field(default_factory=dict)
