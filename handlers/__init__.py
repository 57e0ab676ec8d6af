"""Business rules on canonical records: validation, registration kinds, statuses.

Rules are pure: they get the document and a :class:`~handlers.base.RuleContext` (reference
data snapshot, the clock's reading, the sender, the channel) and return findings and flags.
"""

from __future__ import annotations

from handlers.base import Evaluation, Rule, RuleContext, evaluate
from handlers.identifiers import check_identifiers
from handlers.references import check_references
from handlers.sender import check_office_and_sender
from handlers.timing import check_timing

DEFAULT_RULES: tuple[Rule, ...] = (
    check_office_and_sender,
    check_identifiers,
    check_references,
    check_timing,
)

__all__ = ["DEFAULT_RULES", "Evaluation", "Rule", "RuleContext", "evaluate"]
