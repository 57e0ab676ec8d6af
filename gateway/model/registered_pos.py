"""A pos of a registered BC 1.1 as it stands now: current version, what is closed, what remains.

Rules about amendments (Art. 6) and pos closings (Art. 10) judge a document against this
state, which the pipeline reads from the database and hands over through the rule context.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from gateway.model.common import RECORD
from gateway.model.manifest import Pos


class PosStatus(enum.StrEnum):
    OPEN = "OPEN"
    PARTIALLY_CLOSED = "PARTIALLY_CLOSED"  # some packages/weight settled by a declaration
    CLOSED = "CLOSED"  # settled (Art. 10); no amendment any more
    MERGED = "MERGED"  # merged into another pos of the same BC 1.1 (Art. 6(1) d)

    @property
    def is_open(self) -> bool:
        return self in (PosStatus.OPEN, PosStatus.PARTIALLY_CLOSED)


@dataclass(**RECORD)
class RegisteredPos:
    number: str  # the 12-digit pos number, as PosNumber prints it
    group: int
    status: PosStatus
    version: int  # 1 = as registered; each applied amendment adds one
    # The current version's content. None only for pos registered before the pos history
    # existed (schema 0003): their content was never kept.
    pos: Pos | None
    packages_closed: int = 0
    gross_weight_kg_closed: Decimal = Decimal(0)

    @property
    def packages_remaining(self) -> int | None:
        return None if self.pos is None else self.pos.packages.count - self.packages_closed

    @property
    def gross_weight_kg_remaining(self) -> Decimal | None:
        if self.pos is None:
            return None
        return self.pos.gross_weight_kg - self.gross_weight_kg_closed
