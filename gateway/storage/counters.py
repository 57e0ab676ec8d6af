"""Gap-free sequences: registration numbers and nomor aju sequences.

One row per sequence, bumped by a single ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``
inside the caller's transaction. The row stays locked until that transaction ends, so numbers
are handed out in commit order; a rollback gives the number back. No gap, no duplicate.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from gateway.storage.database import insert_for
from gateway.storage.tables import counters


def allocate(conn: Connection, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive values of the sequence; returns the first one."""
    table = insert_for(conn, counters)
    stmt = table.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + table.excluded.value}
    ).returning(counters.c.value)
    last = int(conn.execute(stmt, {"name": name, "value": count}).scalar_one())
    return last - count + 1


def registration_sequence(office_code: str, kind: str, year: int) -> str:
    return f"reg:{office_code}:{kind}:{year}"
