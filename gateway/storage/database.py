"""The database boundary: engine set-up, transactions, migrations, dialect differences.

Nothing outside ``gateway.storage`` branches on the database dialect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.exceptions import (
    ConfigurationError,
    DatabaseUnavailable,
    DiskFull,
    SchemaOutdated,
    StorageUnavailable,
)
from gateway.storage import disk

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration; a test keeps it equal to Alembic's head.
SCHEMA_REVISION = "0010"
# Held while migrating so that two processes starting together do not both migrate.
_MIGRATION_LOCK_ID = 0x5044_4547  # "PDEG"
# SQLSTATEs of a server that is away: class 08 (connection exception) and 57P01-57P03 (an
# administrator's shutdown, a crash, "the database system is starting up / shutting down").
_AWAY_SQLSTATES = ("08", "57P01", "57P02", "57P03")
# Seconds to wait for a connection to a PostgreSQL server that does not answer (a cut network
# drops packets instead of refusing): without it a worker could hang for minutes.
CONNECT_TIMEOUT = 10


class Database:
    """One engine per process; every unit of work is ``with db.transaction() as conn``."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        try:
            self.engine = _create_engine(url, pool_size=pool_size)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise ConfigurationError(f"database URL {url!r} is not usable: {exc}") from exc
        # SQLite has one writer at a time. Threads of this process queue on a lock instead of
        # in SQLite's busy handler, which sleeps and polls (up to 100 ms a round) while another
        # thread commits. Other processes still meet the busy timeout.
        self._writer: AbstractContextManager[object] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at BEGIN (no upgrade deadlock)."""
        try:
            with self._writer, self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            if disk.is_disk_full(exc):  # SQLite's file on a full disk; PostgreSQL's 53100
                raise DiskFull("database") from exc
            raise StorageUnavailable(f"database unavailable: {exc.orig}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StorageUnavailable(f"database connection lost: {exc.orig}") from exc
            raise

    def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several processes start at once."""
        if self.revision() == SCHEMA_REVISION:
            return
        # Imported here: Alembic costs a third of a second at start-up of every CLI call.
        from alembic import command
        from alembic.config import Config

        with self.engine.connect() as conn:
            if self.is_postgresql:
                conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                conn.commit()
            try:
                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                if self.is_postgresql:
                    conn.execute(
                        sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                    conn.commit()

    def require_schema(self) -> None:
        """The schema must be current; only a new, empty database is set up here.

        For commands that are not ``run``/``migrate``: the first command of a fresh install
        needs no separate step, but a database behind the code is changed only on purpose
        (``pde-gateway migrate``), never by a command that happens to touch it.
        """
        revision = self.revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is None:
            self.migrate()
            return
        raise SchemaOutdated(
            f"skema basis data pada revisi {revision}, versi gateway ini memerlukan "
            f"{SCHEMA_REVISION}: jalankan `pde-gateway migrate` / the database schema is at "
            f"revision {revision}, this version of the gateway needs {SCHEMA_REVISION}: "
            "run `pde-gateway migrate`"
        )

    def revision(self) -> str | None:
        """The schema revision of the database, or None for a new database."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return None if value is None else str(value)

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, *, pool_size: int) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A kept pool matters: closing SQLite's last connection checkpoints the WAL (~3 ms).
        engine = sa.create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"timeout": 60, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # pool_pre_ping: connections pooled before an outage are found dead and replaced at
    # checkout, so the pool recovers by itself once the server is back.
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT}
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )
    event.listen(engine, "handle_error", _database_away)
    return engine


def _database_away(context: ExceptionContext) -> DatabaseUnavailable | None:
    """Every way of meeting a database that is away becomes :class:`DatabaseUnavailable`.

    Refused at connect, lost in mid-statement or at COMMIT, "shutting down", "starting up":
    whichever way the driver says it, on whichever path (a transaction, a read, the
    back-pressure count), callers see one exception, a :class:`TransientError`, so that the
    web answers 503 and workers hand their jobs back instead of spending attempts. The
    connection is invalidated, and with it the pool's others (all dead after an outage).
    """
    if context.is_pre_ping:
        return None  # a failed ping: the pool reconnects, and that attempt comes here if it fails
    original = context.original_exception
    if disk.is_disk_full(original):
        return None  # a full disk is not an outage (Database.transaction: DiskFull)
    sqlstate = str(getattr(original, "sqlstate", None) or "")
    connecting = context.connection is None
    dbapi_error = context.dialect.loaded_dbapi.Error
    if not (
        context.is_disconnect
        or sqlstate.startswith(_AWAY_SQLSTATES)
        or (connecting and isinstance(original, dbapi_error))
    ):
        return None
    context.is_disconnect = True
    text = str(original).strip()
    return DatabaseUnavailable(text.splitlines()[0] if text else type(original).__name__)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, or anything in its chain, says the database could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before we tell the sender it was received.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def serialise(conn: Connection, lock_id: int) -> None:
    """Until ``conn``'s transaction ends, no other process passes this point with ``lock_id``.

    For work that every process does at start-up and only one may do (loading reference data
    into a new database): a PostgreSQL transaction-level advisory lock, freed by COMMIT or
    ROLLBACK (or the connection's loss). SQLite needs none: a write transaction holds the
    database's one write lock from its BEGIN IMMEDIATE.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/update`` on the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
