"""Pos closing (penutupan pos, Art. 10 of P-10/BC/2006).

A pos of a BC 1.1 is closed by stating the number and date of the customs declaration (or
other document) that settles the customs obligations of its goods. A declaration may settle
only part of a pos (some of its packages, some of its weight); a pos is never closed beyond
what it holds. Once nothing remains the pos is CLOSED and stays as it was settled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from gateway.messages import finding
from gateway.model import Document, Finding, Flag, Location, PosClosing
from gateway.model.common import RECORD
from gateway.model.registered_pos import PosStatus, RegisteredPos
from handlers.base import RuleContext
from handlers.rulebook import RuleSeverity, rule


def _target(document: Document, ctx: RuleContext) -> tuple[PosClosing, RegisteredPos] | None:
    """The closing and its pos; None when REF-001/REF-002 already refuse it."""
    if not isinstance(document, PosClosing):
        return None
    records = ctx.bc11.pos_records(document.bc11)
    record = None if records is None else records.get(str(document.pos_number))
    return None if record is None else (document, record)


@rule(
    id="ART10-CLOSED-POS",
    article="Art. 10",
    severity=RuleSeverity.REFUSE,
    checks="A pos closing names a pos that is still open (or partially closed); a closed "
    "pos, or one merged into another, is not closed again.",
    example="A second PIB for house bill 0001/0001 once it is closed: refused (CLS-003).",
    codes=["CLS-003"],
)
def check_closed(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    found = _target(document, ctx)
    if found is not None and not found[1].status.is_open:
        record = found[1]
        yield finding(
            "CLS-003", pos=record.number, status=str(record.status), location=_at("PosNumber")
        )


@rule(
    id="ART10-CLOSE-QTY",
    article="Art. 10(2)",
    severity=RuleSeverity.REFUSE,
    checks="A closing settles at most what remains of the pos: packages closed and gross "
    "weight closed never exceed the pos's (current version's) quantities less what earlier "
    "closings settled. Without quantities the closing settles all that remains.",
    example="Closing 130 packages of a pos of 120: refused, 120 remain (CLS-001).",
    codes=["CLS-001", "CLS-002"],
)
def check_quantity(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    found = _target(document, ctx)
    if found is None or not found[1].status.is_open:
        return
    closing, record = found
    packages_left = record.packages_remaining
    weight_left = record.gross_weight_kg_remaining
    asked = closing.packages_closed
    if asked is not None and packages_left is not None and asked > packages_left:
        yield finding(
            "CLS-001",
            pos=record.number,
            asked=asked,
            remaining=packages_left,
            location=_at("PackagesClosed"),
        )
    weight = closing.gross_weight_kg_closed
    if weight is not None and weight_left is not None and weight > weight_left:
        yield finding(
            "CLS-002",
            pos=record.number,
            asked=weight,
            remaining=weight_left,
            location=_at("GrossWeightKgClosed"),
        )


@dataclass(**RECORD)
class ClosingEffect:
    """What a closing leaves of its pos."""

    packages_closed: int
    gross_weight_kg_closed: Decimal
    status: PosStatus


def closing_effect(record: RegisteredPos, closing: PosClosing) -> ClosingEffect:
    """The pos's closed quantities and status after an accepted closing.

    A closing without quantities settles everything that remains. With quantities, the pos
    is CLOSED once one of them is used up: the declarations settled all of its goods, and a
    few kilograms between the manifest and the declaration do not keep a pos open.
    """
    pos = record.pos
    if pos is None:  # totals unknown (registered before the pos history): settle it whole
        return ClosingEffect(
            packages_closed=record.packages_closed,
            gross_weight_kg_closed=record.gross_weight_kg_closed,
            status=PosStatus.CLOSED,
        )
    whole = closing.packages_closed is None and closing.gross_weight_kg_closed is None
    packages = (
        pos.packages.count if whole else record.packages_closed + (closing.packages_closed or 0)
    )
    weight = (
        pos.gross_weight_kg
        if whole
        else record.gross_weight_kg_closed + (closing.gross_weight_kg_closed or Decimal(0))
    )
    count, gross = pos.packages.count, pos.gross_weight_kg
    # A quantity the pos does not have (bulk without packages) cannot be used up.
    done = (count > 0 and packages >= count) or (gross > 0 and weight >= gross)
    done = done or (count == 0 and gross == 0)
    return ClosingEffect(
        packages_closed=packages,
        gross_weight_kg_closed=weight,
        status=PosStatus.CLOSED if done else PosStatus.PARTIALLY_CLOSED,
    )


def _at(path: str) -> Location:
    return Location(path=path)
