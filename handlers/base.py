"""The rule contract: ``rule(document, context) -> iterable of Finding | Flag``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.model import Document, Finding, Flag, RegistrationRef
from gateway.model.common import RECORD
from gateway.reference import ReferenceData


class Bc11Lookup(Protocol):
    """Read access to registered BC 1.1 documents, for amendments and pos closings."""

    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        """The pos numbers of that BC 1.1, or None when no such BC 1.1 is registered."""
        ...


@dataclass(**RECORD)
class RuleContext:
    reference: ReferenceData
    now: datetime  # the instant the document was received: deadlines are measured to it
    sender: str  # carrier code as established by the channel
    channel_family: str  # "pde", "media" or "manual" (Art. 3, 5, 9)
    bc11: Bc11Lookup


Rule = Callable[[Document, RuleContext], Iterable[Finding | Flag]]


@dataclass(**RECORD)
class Evaluation:
    findings: tuple[Finding, ...]
    flags: tuple[Flag, ...]

    @property
    def refused(self) -> bool:
        return any(f.is_error for f in self.findings)


def evaluate(document: Document, context: RuleContext, rules: Iterable[Rule]) -> Evaluation:
    findings: list[Finding] = []
    flags: list[Flag] = []
    for rule in rules:
        for item in rule(document, context):
            if isinstance(item, Flag):
                flags.append(item)
            else:
                findings.append(item)
    return Evaluation(findings=tuple(findings), flags=tuple(flags))
