"""Business rules on canonical records: validation, registration kinds, statuses.

Rules are pure: they get the document and a :class:`~handlers.base.RuleContext` (reference
data snapshot, the clock's reading, the sender, the channel) and return findings and flags.
"""

from __future__ import annotations

# The rules run in this order: who sends and where, identifiers, deadlines, content,
# amendments (Art. 6), pos closings (Art. 10), one number per call (Art. 2(5), 4(12), 8(8)).
# isort: off
from handlers import sender, identifiers, timing, content, amendments, closing  # noqa: F401 - registers the rules
from handlers import register  # noqa: F401 - registers the rules

# isort: on
from handlers.base import Evaluation, Rule, RuleContext, evaluate
from handlers.references import check_references
from handlers.rulebook import rulebook

# The rule book in registration order (the import order above, then each module's order),
# so a rule registered with @rule runs without being listed twice. REF-001/002 (amendments and
# closings point at a registered BC 1.1) are not in the book yet.
DEFAULT_RULES: tuple[Rule, ...] = (
    *(registered.check for registered in rulebook()),
    check_references,
)

__all__ = ["DEFAULT_RULES", "Evaluation", "Rule", "RuleContext", "evaluate"]
