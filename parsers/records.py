"""Canonical records every EDI format assembles the same way once its segments are read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from gateway.model.common import RECORD


@dataclass(**RECORD)
class NoticeHead:
    """What an RKSP and a JKSP both say: whose notice, which conveyance and carrier, the port
    it arrives at, and the BC 1.0 it changes."""

    header: DocumentHeader
    conveyance: Conveyance
    carrier: Party
    port_of_arrival: str
    amends: RegistrationRef | None


def conveyance_notice(
    head: NoticeHead,
    calls: Sequence[ScheduledCall],
    *,
    voyage_date: Callable[[], date | None],
    period: Callable[[], tuple[date, date]],
) -> Rksp | Jksp:
    """One call at the office is an RKSP, several a JKSP (Art. 2(1), 2(2)). ``voyage_date`` and
    ``period`` are read only for the record that has them: each may refuse its segment."""
    if len(calls) == 1:
        only = calls[0]
        return Rksp(
            header=head.header,
            conveyance=head.conveyance,
            carrier=head.carrier,
            voyage_number=only.voyage_number,
            port_of_origin=only.port_of_origin,
            last_port_of_call=only.last_port_of_call,
            port_of_arrival=head.port_of_arrival,
            next_port=only.next_port,
            eta=only.eta,
            etd=only.etd,
            actual_arrival=only.actual_arrival,
            actual_departure=only.actual_departure,
            voyage_date=voyage_date(),
            amends=head.amends,
        )
    start, end = period()
    return Jksp(
        header=head.header,
        conveyance=head.conveyance,
        carrier=head.carrier,
        port_of_arrival=head.port_of_arrival,
        period_start=start,
        period_end=end,
        calls=tuple(calls),
        amends=head.amends,
    )
