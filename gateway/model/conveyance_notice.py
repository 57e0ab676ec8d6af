"""RKSP and JKSP: the arrival plan and the arrival schedule of a conveyance (BC 1.0).

A call may also carry what actually happened: its actual arrival and departure (Art. 1 items
18, 19: anchored / landed / at the border post, and leaving). A carrier reports them in a
change of the registered BC 1.0 sent after the fact (the arrival report); the gateway records
them as facts of the call (gateway/storage/call_facts.py) and the deadlines rest on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gateway.model.common import (
    RECORD,
    Conveyance,
    DocumentHeader,
    DocumentType,
    Party,
    RegistrationRef,
    require_aware,
)


@dataclass(**RECORD)
class Rksp:
    """Rencana Kedatangan Sarana Pengangkut: one planned call at one office (Art. 2(1))."""

    header: DocumentHeader
    conveyance: Conveyance
    carrier: Party
    voyage_number: str
    port_of_origin: str  # UN/LOCODE
    last_port_of_call: str
    port_of_arrival: str
    next_port: str | None
    eta: datetime
    etd: datetime | None = None
    voyage_date: date | None = None
    amends: RegistrationRef | None = None  # an RKSP change amends an existing BC 1.0
    # What happened, when the carrier reports it (Art. 1 items 18, 19): optional.
    actual_arrival: datetime | None = None
    actual_departure: datetime | None = None

    document_type = DocumentType.RKSP

    def __post_init__(self) -> None:
        require_aware("eta", self.eta)
        require_aware("etd", self.etd)
        require_aware("actual_arrival", self.actual_arrival)
        require_aware("actual_departure", self.actual_departure)


@dataclass(**RECORD)
class ScheduledCall:
    voyage_number: str
    port_of_origin: str
    last_port_of_call: str
    next_port: str | None
    eta: datetime
    etd: datetime | None = None
    actual_arrival: datetime | None = None
    actual_departure: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("eta", self.eta)
        require_aware("etd", self.etd)
        require_aware("actual_arrival", self.actual_arrival)
        require_aware("actual_departure", self.actual_departure)


@dataclass(**RECORD)
class Jksp:
    """Jadwal Kedatangan Sarana Pengangkut: a regular schedule of calls (Art. 2(2))."""

    header: DocumentHeader
    conveyance: Conveyance
    carrier: Party
    port_of_arrival: str
    period_start: date
    period_end: date
    calls: tuple[ScheduledCall, ...]
    amends: RegistrationRef | None = None

    document_type = DocumentType.JKSP

    @property
    def first_arrival(self) -> datetime:
        return min(call.eta for call in self.calls)
