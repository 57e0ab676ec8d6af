"""The rule contract: ``rule(document, context) -> iterable of Finding | Flag``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.call_keys import CallKey, RegisteredCall
from gateway.model import Conveyance, Document, DocumentType, Finding, Flag, RegistrationRef
from gateway.model.common import RECORD
from gateway.model.registered_pos import RegisteredPos
from gateway.reference import ReferenceData


@dataclass(**RECORD)
class Holder:
    """Who a registered BC 1.0/1.1 belongs to: the carrier that filed it, and the carrier
    named in it (a principal, when an agent filed)."""

    sender: str
    carrier_npwp: str | None = None
    carrier_name: str | None = None


class Bc11Lookup(Protocol):
    """Read access to registered BC 1.1 documents, for amendments and pos closings."""

    def holder(self, ref: RegistrationRef) -> Holder | None:
        """Who that BC 1.1 belongs to, or None when no such BC 1.1 is registered."""
        ...

    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        """The pos numbers of that BC 1.1, or None when no such BC 1.1 is registered."""
        ...

    def pos_records(self, ref: RegistrationRef) -> Mapping[str, RegisteredPos] | None:
        """Its pos by number as they stand now (current version, closing state), or None."""
        ...


@dataclass(**RECORD)
class CallFacts:
    """What actually happened at one call (voyage) of a BC 1.0, as recorded: by an officer of
    the office, else as the carrier reported it (gateway/storage/call_facts.py)."""

    voyage: str
    arrival: datetime | None = None
    departure: datetime | None = None


@dataclass(**RECORD)
class Bc10Call:
    """A registered BC 1.0 (RKSP or JKSP) as the deadline and link rules need it."""

    registration: RegistrationRef
    document_type: DocumentType  # RKSP or JKSP
    conveyance_name: str
    imo_number: str | None
    arrival: datetime  # RKSP: its ETA; JKSP: its first arrival (what Art. 2(3) measures to)
    voyages: tuple[str, ...]  # the voyage number of the RKSP, of every call of the JKSP
    holder: Holder | None = None
    first_voyage: str | None = None  # JKSP: the voyage of its first call (None: voyages[0])
    facts: tuple[CallFacts, ...] = ()  # recorded actual times, per voyage

    def facts_of(self, voyage: str) -> CallFacts | None:
        """The facts recorded of that voyage's call (voyage numbers compared as typed, trimmed
        and upper-cased), or None when nothing is recorded."""
        wanted = voyage.strip().upper()
        return next((f for f in self.facts if f.voyage.strip().upper() == wanted), None)

    @property
    def actual_arrival(self) -> datetime | None:
        """The recorded arrival of the first call (Art. 2(3): the arrival, the first arrival)."""
        first = self.first_voyage or (self.voyages[0] if self.voyages else "")
        facts = self.facts_of(first)
        return facts.arrival if facts is not None else None


class Bc10Lookup(Protocol):
    """Read access to registered BC 1.0 documents, for RKSP/JKSP changes and manifest links."""

    def get(self, ref: RegistrationRef) -> Bc10Call | None:
        """That BC 1.0, or None when no such BC 1.0 is registered."""
        ...

    def for_conveyance(self, office_code: str, conveyance: Conveyance) -> tuple[Bc10Call, ...]:
        """BC 1.0s registered at the office for that conveyance (same IMO number or name)."""
        ...


class NoBc10:
    """No BC 1.0 is known: for contexts built without a database (tests, tools)."""

    def get(self, ref: RegistrationRef) -> Bc10Call | None:
        return None

    def for_conveyance(self, office_code: str, conveyance: Conveyance) -> tuple[Bc10Call, ...]:
        return ()


class CallRegister(Protocol):
    """Read access to the calls registered BC 1.0s and BC 1.1s hold (gateway/call_keys.py)."""

    def holder(self, keys: Sequence[CallKey]) -> RegisteredCall | None:
        """The registration holding one of these keys (the first found), or None."""
        ...


class NoCalls:
    """No call is registered: for contexts built without a database (tests, tools)."""

    def holder(self, keys: Sequence[CallKey]) -> RegisteredCall | None:
        return None


@dataclass(**RECORD)
class RuleContext:
    reference: ReferenceData
    now: datetime  # the instant the document was received: deadlines are measured to it
    sender: str  # carrier code as established by the channel
    channel_family: str  # "pde", "media" or "manual" (Art. 3, 5, 9)
    bc11: Bc11Lookup
    bc10: Bc10Lookup = NoBc10()  # noqa: RUF009 - stateless, sharing one instance is harmless
    # Set for a file an officer took at the counter (channel media): the office it is for.
    counter_office: str | None = None
    calls: CallRegister = NoCalls()  # noqa: RUF009 - stateless, sharing one instance is harmless


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
