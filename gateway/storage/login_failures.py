"""Log-in attempts counted in the database: one atomic statement per attempt.

Each counter is a row (door, username, address); ``address`` is :data:`EVERY_ADDRESS` for a
user's count over all addresses. :func:`count_attempt` is a single
``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``: two attempts at the same moment, in one
process or in two, can never read the same count (the row is locked by the first until its
transaction ends). A counter left alone for the lock-out period starts again at 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD
from gateway.storage.database import insert_for
from gateway.storage.tables import login_failures
from gateway.storage.types import UTCDateTime

EVERY_ADDRESS = "*"


@dataclass(**RECORD)
class Counter:
    door: str
    username: str
    address: str
    attempts: int
    first_at: datetime
    last_at: datetime


def count_attempt(
    conn: Connection,
    *,
    door: str,
    username: str,
    address: str,
    now: datetime,
    forget_before: datetime,
) -> int:
    """Count one attempt and return the count including it (a counter idle since
    ``forget_before`` starts again)."""
    c = login_failures.c
    stale = c.last_at < forget_before
    at = sa.literal(now, UTCDateTime())
    insert = insert_for(conn, login_failures)
    stmt = (
        insert.values(
            door=door, username=username, address=address, attempts=1, first_at=now, last_at=now
        )
        .on_conflict_do_update(
            index_elements=[c.door, c.username, c.address],
            set_={
                # SET expressions read the row as it was: both CASEs see the old last_at.
                "attempts": sa.case((stale, 1), else_=c.attempts + 1),
                "first_at": sa.case((stale, at), else_=c.first_at),
                "last_at": at,
            },
        )
        .returning(c.attempts)
    )
    return int(conn.execute(stmt).scalar_one())


def attempts(conn: Connection, *, door: str, username: str, address: str, since: datetime) -> int:
    """The current count of one counter (0 when there is none or it has gone stale)."""
    c = login_failures.c
    found = conn.execute(
        sa.select(c.attempts).where(
            c.door == door, c.username == username, c.address == address, c.last_at >= since
        )
    ).scalar()
    return int(found or 0)


def forget(conn: Connection, *, door: str, username: str, addresses: Sequence[str]) -> None:
    """A successful log-in: these counters start again."""
    c = login_failures.c
    conn.execute(
        sa.delete(login_failures).where(
            c.door == door, c.username == username, c.address.in_(addresses)
        )
    )


def purge(conn: Connection, *, before: datetime) -> int:
    """Drop counters idle since ``before`` (they would start again anyway)."""
    return conn.execute(sa.delete(login_failures).where(login_failures.c.last_at < before)).rowcount


def counters(conn: Connection, *, since: datetime, at_least: int = 1) -> list[Counter]:
    """Live counters with at least ``at_least`` attempts, most attempts first."""
    c = login_failures.c
    rows = conn.execute(
        sa.select(login_failures)
        .where(c.last_at >= since, c.attempts >= at_least)
        .order_by(c.attempts.desc(), c.door, c.username, c.address)
    ).all()
    return [Counter(**row._asdict()) for row in rows]


def unlock(
    conn: Connection, *, username: str, door: str | None = None, address: str | None = None
) -> int:
    """Remove a user's counters (all of them, or one door's, or one address's); how many."""
    c = login_failures.c
    where = [c.username == username]
    if door is not None:
        where.append(c.door == door)
    if address is not None:
        where.append(c.address == address)
    return conn.execute(sa.delete(login_failures).where(*where)).rowcount
