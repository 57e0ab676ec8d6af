"""Offices and carriers in the database, read back as a :class:`ReferenceData` snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.reference import Agency, Agreement, Carrier, Office, ReferenceData, compact_npwp
from gateway.storage import audit
from gateway.storage.database import insert_for, serialise
from gateway.storage.tables import agencies, agreements, carriers, offices

# Held while reference data is loaded: every process of a new deployment starts by loading it.
SEED_LOCK_ID = 0x5044_4552  # "PDER"


def is_seeded(conn: Connection) -> bool:
    return conn.execute(sa.select(sa.func.count()).select_from(offices)).scalar_one() > 0


def seed(
    conn: Connection,
    office_list: Iterable[Office],
    carrier_list: Iterable[Carrier],
    *,
    now: datetime,
) -> bool:
    """Load reference data into an empty database; a no-op once offices exist.

    Safe when any number of processes start together on a new database: the first to take
    the seed lock loads everything in its transaction, the others wait for it, then find the
    offices and do nothing. Each row is also inserted only if absent, so a database seeded in
    part (by an older gateway, by hand) is completed rather than refused.
    """
    serialise(conn, SEED_LOCK_ID)
    if is_seeded(conn):
        return False
    for office in office_list:
        conn.execute(
            insert_for(conn, offices)
            .values(
                code=office.code,
                name=office.name,
                timezone=office.timezone,
                unlocodes=list(office.unlocodes),
                channels=list(office.channels),
            )
            .on_conflict_do_nothing()
        )
    for carrier in carrier_list:
        add_carrier(conn, carrier, now=now, if_absent=True)
    return True


def add_carrier(
    conn: Connection, carrier: Carrier, *, now: datetime, if_absent: bool = False
) -> bool:
    """Insert the carrier with its agreements and agencies; with ``if_absent``, a carrier
    already there is left as it is (nothing added to it) and False returned."""
    stmt = insert_for(conn, carriers).values(
        code=carrier.code,
        name=carrier.name,
        npwp=carrier.npwp,
        aju_code=carrier.aju_code,
        senders=dict(carrier.senders),
        active=carrier.active,
        created_at=now,
    )
    if if_absent:
        stmt = stmt.on_conflict_do_nothing(index_elements=[carriers.c.code])
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT.
    if conn.execute(stmt.returning(carriers.c.code)).first() is None:
        return False
    for agreement in carrier.agreements:
        conn.execute(
            sa.insert(agreements).values(
                carrier_code=carrier.code,
                office_code=agreement.office_code,
                valid_from=agreement.valid_from,
                valid_until=agreement.valid_until,
                reference=agreement.reference,
            )
        )
    for agency in carrier.agencies:
        conn.execute(
            sa.insert(agencies).values(carrier_code=carrier.code, **_agency_values(agency))
        )
    return True


def add_agreement(
    conn: Connection, carrier_code: str, agreement: Agreement, *, now: datetime, actor: str
) -> None:
    """A PDE agreement of a carrier with an office (Art. 13), from the console."""
    if not carrier_exists(conn, carrier_code):
        raise ValueError(f"unknown carrier {carrier_code!r}")
    known = conn.execute(sa.select(offices.c.code).where(offices.c.code == agreement.office_code))
    if known.first() is None:
        raise ValueError(f"unknown office {agreement.office_code!r}")
    if agreement.valid_until is not None and agreement.valid_until < agreement.valid_from:
        raise ValueError("the agreement ends before it starts")
    conn.execute(
        sa.insert(agreements).values(
            carrier_code=carrier_code,
            office_code=agreement.office_code,
            valid_from=agreement.valid_from,
            valid_until=agreement.valid_until,
            reference=agreement.reference,
        )
    )
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="agreement added",
        detail={
            "carrier": carrier_code,
            "office": agreement.office_code,
            "valid_from": agreement.valid_from.isoformat(),
        },
    )


def add_agency(
    conn: Connection, carrier_code: str, agency: Agency, *, now: datetime, actor: str
) -> None:
    """Record that the carrier may file in the principal's name (from the CLI or console)."""
    if not carrier_exists(conn, carrier_code):
        raise ValueError(f"unknown carrier {carrier_code!r}")
    if agency.valid_until is not None and agency.valid_until < agency.valid_from:
        raise ValueError("the agency ends before it starts")
    conn.execute(sa.insert(agencies).values(carrier_code=carrier_code, **_agency_values(agency)))
    _audit_agency(conn, "agency added", carrier_code, agency, now=now, actor=actor)


def end_agency(
    conn: Connection,
    carrier_code: str,
    principal_npwp: str,
    *,
    on: date,
    now: datetime,
    actor: str,
) -> int:
    """End the carrier's agencies for the principal on ``on`` (kept for the record); how many."""
    npwp = compact_npwp(principal_npwp)
    open_ones = sa.and_(
        agencies.c.carrier_code == carrier_code,
        agencies.c.principal_npwp == npwp,
        sa.or_(agencies.c.valid_until.is_(None), agencies.c.valid_until > on),
    )
    # One that has not started by then never was: it goes; the others end that day.
    not_started = conn.execute(
        sa.delete(agencies).where(open_ones, agencies.c.valid_from > on)
    ).rowcount
    ended = conn.execute(sa.update(agencies).where(open_ones).values(valid_until=on)).rowcount
    if ended or not_started:
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="agency ended",
            detail={"carrier": carrier_code, "principal_npwp": npwp, "on": on.isoformat()},
        )
    return int(ended) + int(not_started)


def _agency_values(agency: Agency) -> dict[str, object]:
    return {
        "principal_npwp": agency.principal_npwp,
        "principal_name": agency.principal_name,
        "valid_from": agency.valid_from,
        "valid_until": agency.valid_until,
        "reference": agency.reference,
    }


def _audit_agency(
    conn: Connection, action: str, carrier_code: str, agency: Agency, *, now: datetime, actor: str
) -> None:
    audit.record(
        conn,
        at=now,
        actor=actor,
        action=action,
        detail={
            "carrier": carrier_code,
            "principal_npwp": agency.principal_npwp,
            "principal_name": agency.principal_name,
            "valid_from": agency.valid_from.isoformat(),
            "valid_until": agency.valid_until.isoformat() if agency.valid_until else None,
        },
    )


def carrier_exists(conn: Connection, code: str) -> bool:
    query = sa.select(sa.func.count()).select_from(carriers).where(carriers.c.code == code)
    return bool(conn.execute(query).scalar_one())


def load(conn: Connection) -> ReferenceData:
    office_map = {
        row.code: Office(
            code=row.code,
            name=row.name,
            timezone=row.timezone,
            unlocodes=tuple(row.unlocodes),
            channels=tuple(row.channels),
        )
        for row in conn.execute(sa.select(offices).order_by(offices.c.code))
    }
    by_carrier: dict[str, list[Agreement]] = {}
    for row in conn.execute(sa.select(agreements).order_by(agreements.c.id)):
        by_carrier.setdefault(row.carrier_code, []).append(
            Agreement(
                office_code=row.office_code,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                reference=row.reference,
            )
        )
    by_agent: dict[str, list[Agency]] = {}
    for row in conn.execute(sa.select(agencies).order_by(agencies.c.id)):
        by_agent.setdefault(row.carrier_code, []).append(
            Agency(
                principal_npwp=row.principal_npwp,
                principal_name=row.principal_name,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                reference=row.reference,
            )
        )
    carrier_map = {
        row.code: Carrier(
            code=row.code,
            name=row.name,
            npwp=row.npwp,
            aju_code=row.aju_code,
            senders=tuple(sorted(row.senders.items())),
            agreements=tuple(by_carrier.get(row.code, ())),
            active=row.active,
            agencies=tuple(by_agent.get(row.code, ())),
        )
        for row in conn.execute(sa.select(carriers).order_by(carriers.c.code))
    }
    return ReferenceData(offices=office_map, carriers=carrier_map)
