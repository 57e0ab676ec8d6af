"""What actually happened at a call: its actual arrival and departure (issue 13, point 6).

A *call* is a registered BC 1.0 at an office: an RKSP, or one call of a JKSP (by its voyage).
Its facts (Art. 1 item 18: the arrival, anchored / landed / at the border post; item 19: the
departure) are recorded two ways:

- an officer or head of office **of that office** keys them in (console: the BC 1.0's
  submission page; CLI: ``pde-gateway calls arrived|departed``), in the office's local time;
- the **carrier** reports them in a change of the BC 1.0 sent after the fact, the arrival
  report (XML ``Ata``/``Atd``, X12 ``DTM*372``/``DTM*370``, EDIFACT ``DTM+178``/``DTM+186``);
  the pipeline records them when that change is accepted, with the document they came in.

Rows are never changed: a correction is a new row, and every record is in the audit trail
(on the BC 1.0's submission). What counts for a call and event is the latest officer's
record, else the latest carrier's: the office's own observation outranks the carrier's word,
and a later report cannot overwrite it. The deadline rules (handlers/timing.py, through
:class:`handlers.base.Bc10Call`) and the deadline watch read :func:`current`.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.exceptions import GatewayError
from gateway.messages import finding
from gateway.model.common import RECORD, RegistrationKind, RegistrationRef
from gateway.model.findings import Finding
from gateway.storage import audit
from gateway.storage.tables import call_facts, documents, registrations


class CallEvent(enum.StrEnum):
    ARRIVAL = "ARRIVAL"
    DEPARTURE = "DEPARTURE"


class FactSource(enum.StrEnum):
    OFFICER = "OFFICER"  # keyed in by an officer or head of office of the office
    CARRIER = "CARRIER"  # reported by the carrier (the arrival report)


_WHAT = {
    CallEvent.ARRIVAL: ("kedatangan", "arrival"),
    CallEvent.DEPARTURE: ("keberangkatan", "departure"),
}


class CallFactError(GatewayError):
    """A fact cannot be recorded; ``finding`` says why in Indonesian and English."""

    def __init__(self, reason: Finding) -> None:
        self.finding = reason
        super().__init__(reason.message_en)


@dataclass(**RECORD)
class Fact:
    voyage: str
    event: CallEvent
    occurred_at: datetime  # UTC, as stored
    source: FactSource
    recorded_by: str
    recorded_at: datetime
    document_id: int | None = None  # the carrier's report


@dataclass(**RECORD)
class Recorded:
    """The facts of one call that count: per event, the latest officer's, else carrier's."""

    voyage: str
    arrival: Fact | None = None
    departure: Fact | None = None


@dataclass(**RECORD)
class Bc10Registration:
    """A registered BC 1.0 as facts are recorded against it."""

    registration_id: int
    document_id: int
    submission_id: int
    ref: RegistrationRef
    document_type: str
    nomor_aju: str
    sender: str  # the carrier that filed it
    summary: dict[str, Any]

    @property
    def voyages(self) -> tuple[str, ...]:
        return voyages_of(self.summary)


def voyages_of(summary: dict[str, Any]) -> tuple[str, ...]:
    """The voyages of a BC 1.0's calls, as its summary keeps them."""
    voyages = summary.get("voyages") or [summary.get("voyage_number")]
    return tuple(str(v) for v in voyages if v)


def voyage_key(voyage: str) -> str:
    """Voyage numbers compared as the rules compare them: trimmed, upper-cased."""
    return voyage.strip().upper()


def _registration_query() -> sa.Select[Any]:
    return (
        sa.select(
            registrations.c.id,
            registrations.c.document_id,
            registrations.c.office_code,
            registrations.c.number,
            registrations.c.registration_date,
            documents.c.submission_id,
            documents.c.document_type,
            documents.c.nomor_aju,
            documents.c.sender,
            documents.c.summary,
        )
        .join(documents, documents.c.id == registrations.c.document_id)
        .where(registrations.c.kind == str(RegistrationKind.BC10))
    )


def _registration(row: Any) -> Bc10Registration:
    return Bc10Registration(
        registration_id=int(row.id),
        document_id=int(row.document_id),
        submission_id=int(row.submission_id),
        ref=RegistrationRef(
            kind=RegistrationKind.BC10,
            office_code=row.office_code,
            number=row.number,
            date=row.registration_date,
        ),
        document_type=row.document_type,
        nomor_aju=row.nomor_aju,
        sender=row.sender,
        summary=dict(row.summary),
    )


def find_bc10(
    conn: Connection, office_code: str, number: str, registration_date: date
) -> Bc10Registration | None:
    """The BC 1.0 registered at the office under that number and date, or None."""
    row = conn.execute(
        _registration_query().where(
            registrations.c.office_code == office_code,
            registrations.c.number == number,
            registrations.c.registration_date == registration_date,
        )
    ).first()
    return _registration(row) if row is not None else None


def bc10_of_documents(conn: Connection, document_ids: Iterable[int]) -> dict[int, Bc10Registration]:
    """The registered BC 1.0s among these documents, by document id."""
    wanted = sorted(set(document_ids))
    if not wanted:
        return {}
    rows = conn.execute(_registration_query().where(registrations.c.document_id.in_(wanted)))
    return {int(row.document_id): _registration(row) for row in rows}


def unreadable(event: CallEvent, text: str) -> CallFactError:
    what_id, what_en = _WHAT[event]
    return CallFactError(finding("ACT-006", what_id=what_id, what_en=what_en, at=text))


def not_registered(office_code: str, number: str, registration_date: date | str) -> CallFactError:
    return CallFactError(
        finding("ACT-005", number=number, date=str(registration_date), office=office_code)
    )


def record(
    conn: Connection,
    call: Bc10Registration,
    *,
    voyage: str,
    event: CallEvent,
    occurred_at: datetime,
    source: FactSource,
    recorded_by: str,
    now: datetime,
    document_id: int | None = None,
    shown_in: tzinfo = UTC,
) -> Fact:
    """Record that ``event`` happened at ``occurred_at`` at the call ``voyage`` of ``call``.

    Refused (:class:`CallFactError`) when the voyage is not a call of that BC 1.0, the instant
    is later than ``now`` (only what has happened is a fact), or a departure would come before
    the call's arrival (an arrival after its departure). ``shown_in`` is the zone instants
    are written in in those messages (the office's).
    """
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    key = voyage_key(voyage)
    spelled = next((v for v in call.voyages if voyage_key(v) == key), None)
    if spelled is None:
        raise CallFactError(
            finding(
                "ACT-003",
                voyage=voyage,
                number=call.ref.number,
                voyages=", ".join(call.voyages),
            )
        )

    def shown(instant: datetime) -> str:
        local = instant.astimezone(shown_in)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    what_id, what_en = _WHAT[event]
    if occurred_at > now:
        raise CallFactError(
            finding(
                "ACT-001",
                what_id=what_id,
                what_en=what_en,
                at=shown(occurred_at),
                now=shown(now),
                voyage=spelled,
            )
        )
    known = current(conn, [call.registration_id]).get(call.registration_id, {}).get(key)
    if known is not None:
        arrival = occurred_at if event is CallEvent.ARRIVAL else _at(known.arrival)
        departure = occurred_at if event is CallEvent.DEPARTURE else _at(known.departure)
        if arrival is not None and departure is not None and departure < arrival:
            raise CallFactError(
                finding(
                    "ACT-002",
                    departure=shown(departure),
                    arrival=shown(arrival),
                    voyage=spelled,
                )
            )
    conn.execute(
        sa.insert(call_facts).values(
            registration_id=call.registration_id,
            office_code=call.ref.office_code,
            voyage=spelled,
            event=str(event),
            occurred_at=occurred_at,
            source=str(source),
            recorded_by=recorded_by,
            recorded_at=now,
            document_id=document_id,
        )
    )
    audit.record(
        conn,
        at=now,
        actor=recorded_by[:64],
        action=f"actual {what_en} recorded",
        submission_id=call.submission_id,
        document_id=call.document_id,
        detail={
            "bc10": call.ref.number,
            "date": call.ref.date.isoformat(),
            "office": call.ref.office_code,
            "voyage": spelled,
            "event": str(event),
            "at": occurred_at.astimezone(UTC).isoformat(),
            "source": str(source),
            "document_id": document_id,
        },
    )
    return Fact(
        voyage=spelled,
        event=event,
        occurred_at=occurred_at.astimezone(UTC),
        source=source,
        recorded_by=recorded_by,
        recorded_at=now,
        document_id=document_id,
    )


def _at(fact: Fact | None) -> datetime | None:
    return fact.occurred_at if fact is not None else None


def _fact(row: Any) -> Fact:
    return Fact(
        voyage=row.voyage,
        event=CallEvent(row.event),
        occurred_at=row.occurred_at,
        source=FactSource(row.source),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        document_id=row.document_id,
    )


def _counting(rows: Iterable[Any]) -> dict[int, dict[str, Recorded]]:
    """Per registration and voyage key, the fact that counts for each event."""
    best: dict[tuple[int, str, CallEvent], Fact] = {}
    for row in rows:  # oldest first: a later row of the same rank replaces an earlier one
        fact = _fact(row)
        slot = (int(row.registration_id), voyage_key(fact.voyage), fact.event)
        earlier = best.get(slot)
        if (
            earlier is None
            or fact.source is FactSource.OFFICER
            or earlier.source is FactSource.CARRIER
        ):
            best[slot] = fact
    found: dict[int, dict[str, Recorded]] = defaultdict(dict)
    for (registration_id, key, event), fact in best.items():
        calls = found[registration_id]
        have = calls.get(key) or Recorded(voyage=fact.voyage)
        calls[key] = Recorded(
            voyage=have.voyage,
            arrival=fact if event is CallEvent.ARRIVAL else have.arrival,
            departure=fact if event is CallEvent.DEPARTURE else have.departure,
        )
    return dict(found)


def current(conn: Connection, registration_ids: Iterable[int]) -> dict[int, dict[str, Recorded]]:
    """The facts that count of these BC 1.0s: registration id -> voyage key -> facts."""
    wanted = sorted(set(registration_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(call_facts)
        .where(call_facts.c.registration_id.in_(wanted))
        .order_by(call_facts.c.recorded_at, call_facts.c.id)
    )
    return _counting(rows)


def registered_since(conn: Connection, since: datetime) -> dict[int, dict[str, Recorded]]:
    """The facts that count of every BC 1.0 registered at or after ``since`` (the watch's)."""
    rows = conn.execute(
        sa.select(call_facts)
        .join(registrations, registrations.c.id == call_facts.c.registration_id)
        .where(registrations.c.registered_at >= since)
        .order_by(call_facts.c.recorded_at, call_facts.c.id)
    )
    return _counting(rows)


def history(conn: Connection, registration_id: int) -> list[Fact]:
    """Every fact recorded of that BC 1.0, oldest first (corrections included)."""
    rows = conn.execute(
        sa.select(call_facts)
        .where(call_facts.c.registration_id == registration_id)
        .order_by(call_facts.c.recorded_at, call_facts.c.id)
    )
    return [_fact(row) for row in rows]


def parse_local(text: str, zone: tzinfo, event: CallEvent) -> datetime:
    """``2026-03-12T05:30`` (or ``2026-03-12 05:30``) as an officer types it, in the office's
    local time; an explicit offset is kept. Unreadable: :class:`CallFactError` ACT-006."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise unreadable(event, text) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
