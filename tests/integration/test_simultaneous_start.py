"""Processes of a new deployment starting at the same instant on an empty database (issue 14,
point 1): each loads the reference data; one of them does it, the others find it done, none
fails. (Migrations at once are run by real processes in tests/acceptance/test_database_faults.py:
Alembic keeps module-level state and is not for threads.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from gateway.reference import load_carriers, load_offices
from gateway.storage import reference_store
from gateway.storage.database import Database
from gateway.storage.tables import agencies, agreements, carriers, offices
from tests.integration.conftest import REPO, FakeClock

STARTS = 6


def _together(count: int, start: Callable[[Database], bool], url: str) -> list[bool]:
    """``start`` in ``count`` threads, each on a database engine of its own (as processes
    have), released at one instant."""
    barrier = threading.Barrier(count, timeout=60)
    databases = [Database(url, pool_size=1) for _ in range(count)]

    def one(db: Database) -> bool:
        barrier.wait()
        return start(db)

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, databases))
    finally:
        for db in databases:
            db.dispose()


def test_simultaneous_seeding_loads_reference_data_once(
    database_url: str, clock: FakeClock
) -> None:
    first = Database(database_url)
    first.migrate()
    first.dispose()
    office_list = load_offices(REPO / "config" / "offices.toml")
    carrier_list = load_carriers(REPO / "config" / "carriers.toml")

    def seed(db: Database) -> bool:
        with db.transaction() as conn:
            return reference_store.seed(conn, office_list, carrier_list, now=clock())

    loaded = _together(STARTS, seed, database_url)
    assert sorted(loaded) == [False] * (STARTS - 1) + [True]
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            counts = {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in (offices, carriers, agreements, agencies)
            }
            data = reference_store.load(conn)
    finally:
        db.dispose()
    assert counts == {
        "offices": len(office_list),
        "carriers": len(carrier_list),
        "agreements": sum(len(c.agreements) for c in carrier_list),
        "agencies": sum(len(c.agencies) for c in carrier_list),
    }
    assert set(data.carriers.values()) == set(carrier_list)
