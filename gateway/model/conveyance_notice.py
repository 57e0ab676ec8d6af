"""RKSP and JKSP: the arrival plan and the arrival schedule of a conveyance (BC 1.0)."""

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

    document_type = DocumentType.RKSP

    def __post_init__(self) -> None:
        require_aware("eta", self.eta)
        require_aware("etd", self.etd)


@dataclass(**RECORD)
class ScheduledCall:
    voyage_number: str
    port_of_origin: str
    last_port_of_call: str
    next_port: str | None
    eta: datetime
    etd: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("eta", self.eta)
        require_aware("etd", self.etd)


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
