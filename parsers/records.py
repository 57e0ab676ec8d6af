"""Canonical records every EDI format assembles the same way once its segments are read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from gateway.model import (
    Conveyance,
    DocumentHeader,
    Jksp,
    Party,
    RegistrationRef,
    Rksp,
    ScheduledCall,
)


def conveyance_notice(
    *,
    header: DocumentHeader,
    conveyance: Conveyance,
    carrier: Party,
    port_of_arrival: str,
    calls: Sequence[ScheduledCall],
    amends: RegistrationRef | None,
    voyage_date: Callable[[], date | None],
    period: Callable[[], tuple[date, date]],
) -> Rksp | Jksp:
    """One call at the office is an RKSP, several a JKSP (Art. 2(1), 2(2)). ``voyage_date`` and
    ``period`` are read only for the record that has them: each may refuse its segment."""
    if len(calls) == 1:
        only = calls[0]
        return Rksp(
            header=header,
            conveyance=conveyance,
            carrier=carrier,
            voyage_number=only.voyage_number,
            port_of_origin=only.port_of_origin,
            last_port_of_call=only.last_port_of_call,
            port_of_arrival=port_of_arrival,
            next_port=only.next_port,
            eta=only.eta,
            etd=only.etd,
            actual_arrival=only.actual_arrival,
            actual_departure=only.actual_departure,
            voyage_date=voyage_date(),
            amends=amends,
        )
    start, end = period()
    return Jksp(
        header=header,
        conveyance=conveyance,
        carrier=carrier,
        port_of_arrival=port_of_arrival,
        period_start=start,
        period_end=end,
        calls=tuple(calls),
        amends=amends,
    )
