"""Offices and carriers in the database, read back as a :class:`ReferenceData` snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.reference import Agreement, Carrier, Office, ReferenceData
from gateway.storage.database import insert_for
from gateway.storage.submissions import audit_row, insert_rows
from gateway.storage.tables import agreements, audit_log, carriers, offices


def is_seeded(conn: Connection) -> bool:
    return conn.execute(sa.select(sa.func.count()).select_from(offices)).scalar_one() > 0


def seed(
    conn: Connection,
    office_list: Iterable[Office],
    carrier_list: Iterable[Carrier],
    *,
    now: datetime,
) -> bool:
    """Load reference data into an empty database; a no-op once offices exist."""
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
        add_carrier(conn, carrier, now=now)
    return True


def add_carrier(conn: Connection, carrier: Carrier, *, now: datetime) -> None:
    conn.execute(
        sa.insert(carriers).values(
            code=carrier.code,
            name=carrier.name,
            npwp=carrier.npwp,
            aju_code=carrier.aju_code,
            senders=dict(carrier.senders),
            active=carrier.active,
            created_at=now,
        )
    )
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
    insert_rows(
        conn,
        audit_log,
        [
            audit_row(
                at=now,
                actor=actor,
                action="agreement added",
                detail={
                    "carrier": carrier_code,
                    "office": agreement.office_code,
                    "valid_from": agreement.valid_from.isoformat(),
                },
            )
        ],
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
    carrier_map = {
        row.code: Carrier(
            code=row.code,
            name=row.name,
            npwp=row.npwp,
            aju_code=row.aju_code,
            senders=tuple(sorted(row.senders.items())),
            agreements=tuple(by_carrier.get(row.code, ())),
            active=row.active,
        )
        for row in conn.execute(sa.select(carriers).order_by(carriers.c.code))
    }
    return ReferenceData(offices=office_map, carriers=carrier_map)
