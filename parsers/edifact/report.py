"""What the EDIFACT parser leaves for the acknowledgments (``ParseResult.envelope``): the
interchange read, the structure findings of each message and the documents it became."""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.edifact.envelope import Envelope, EnvelopeError


@dataclass(kw_only=True, slots=True)
class EdifactReport:
    """What the EDIFACT parser leaves for the acknowledgments (``ParseResult.envelope``)."""

    envelope: Envelope
    # Message index in the interchange -> its structure findings (UCS/UCD level).
    structure: dict[int, list[EnvelopeError]] = field(default_factory=dict)
    documents: dict[int, list[int]] = field(default_factory=dict)  # message -> documents
