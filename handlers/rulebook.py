"""The rule book: every rule of P-10/BC/2006 the gateway applies, with its metadata.

A rule is a small pure function ``check(document, context) -> iterable of Finding | Flag``
registered with :func:`rule`, which records what ``docs/rules.md`` shows for it: a stable
identifier citing the article (``ART2-1-DEADLINE``), the article, its severity, what it checks
and an example, and the finding codes it emits. The finding codes stay short (``LATE-001``,
at most 8 characters, as EDIFACT's ERC carries them); every message a rule emits cites the
rule identifier, so a carrier reading a refusal can find the rule and its article.

Severities:

- ``refuse``: the document is refused (findings of severity ERROR);
- ``flag``: the document is accepted and numbered, and marked (``Flag``, e.g. LATE with the
  lateness), with a WARNING finding saying why;
- ``warn``: accepted, with a WARNING finding.

Rules run in registration order; ``DEFAULT_RULES`` (``handlers/__init__.py``) is the book in
that order. ``python -m handlers.rulebook`` prints ``docs/rules.md``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from gateway.codelists import package_types, unlocodes
from gateway.model import Document, Finding, Flag
from gateway.model.common import RECORD
from handlers.base import Rule, RuleContext

_RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


class RuleSeverity(enum.StrEnum):
    REFUSE = "refuse"
    FLAG = "flag"
    WARN = "warn"


@dataclass(**RECORD)
class RuleSpec:
    id: str  # stable, cites the article: ART2-1-DEADLINE
    article: str  # "Art. 2(1)"
    severity: RuleSeverity
    checks: str  # one English sentence: what the rule checks
    example: str  # one concrete case, e.g. "RKSP received 23 h 59 min before arrival: LATE"
    codes: tuple[str, ...]  # finding codes it may emit (gateway/messages.py)


@dataclass(**RECORD)
class RegisteredRule:
    spec: RuleSpec
    check: Rule


_BOOK: list[RegisteredRule] = []


def rule(
    *,
    id: str,  # the rule identifier, as docs/rules.md names the column
    article: str,
    severity: RuleSeverity,
    checks: str,
    example: str,
    codes: Iterable[str],
) -> Callable[[Rule], Rule]:
    """Register the decorated check in the rule book under ``id``."""
    if not _RULE_ID.match(id):
        raise ValueError(f"rule id {id!r} is not like ART2-1-DEADLINE")
    if any(r.spec.id == id for r in _BOOK):
        raise ValueError(f"rule id {id!r} registered twice")
    spec = RuleSpec(
        id=id,
        article=article,
        severity=severity,
        checks=checks,
        example=example,
        codes=tuple(codes),
    )

    def register(check: Rule) -> Rule:
        def cited(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
            for item in check(document, ctx):
                if isinstance(item, Finding):
                    item = dataclasses.replace(
                        item,
                        message_id=f"{item.message_id} [{id}]",
                        message_en=f"{item.message_en} [{id}]",
                    )
                yield item

        cited.__name__ = check.__name__
        cited.__doc__ = check.__doc__
        _BOOK.append(RegisteredRule(spec=spec, check=cited))
        return cited

    return register


def rulebook() -> tuple[RegisteredRule, ...]:
    """Every registered rule, in the order it runs (import ``handlers`` first)."""
    return tuple(_BOOK)


def markdown() -> str:
    """``docs/rules.md``: one row per rule (generated; a test keeps the file in step)."""
    lines = [
        "# The rule book",
        "",
        "Generated from the code by `python -m handlers.rulebook > docs/rules.md`; a test",
        "fails when this file and the rules differ. Each rule cites its article of",
        "P-10/BC/2006 (`../shared/reference/regulation-P-10-BC-2006.txt`). Severity:",
        "**refuse** the document is refused; **flag** it is numbered and marked (e.g. LATE, with",
        "the lateness); **warn** it is numbered with a warning. Every message a rule emits ends",
        "with the rule's identifier in brackets.",
        "",
        "Code lists: `GW-ID-LOCODE` checks places against UN/LOCODE (UNECE edition "
        f"{unlocodes().edition}),",
        "`GW-ID-PACKAGE` package types against UN/ECE Recommendation 21 (revision "
        f"{package_types().edition}); both lists",
        "are shipped in `schemas/codes/` (sources, licences and how to refresh them:",
        "`schemas/codes/README.md`). A customs office's own location codes (`config/offices.toml`,",
        "`unlocodes`) count as known even when the list lacks them.",
        "",
        "| rule | article | severity | what it checks | example | finding codes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for registered in rulebook():
        s = registered.spec
        lines.append(
            f"| `{s.id}` | {s.article} | {s.severity} | {_cell(s.checks)} | {_cell(s.example)} "
            f"| {', '.join(f'`{c}`' for c in s.codes)} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    # Run as ``-m`` this file is ``__main__``, a second copy of the module: the rules register
    # in ``handlers.rulebook``, so render from that one.
    import handlers  # noqa: F401 - registers every rule
    from handlers.rulebook import markdown as render

    print(render(), end="")
