"""The scheduler role: periodic jobs (APScheduler 3.x) run by one active scheduler at a time.

**One leader.** Any number of processes may run the scheduler role (on several machines); only
the one holding the *leader lock* schedules. On PostgreSQL the lock is a session-level
advisory lock held on a connection of its own (:class:`PostgresLeaderLock`): when that
process dies or its connection drops, PostgreSQL releases the lock and a standby takes over
within ``LEADER_RETRY_SECONDS``. On SQLite (one machine) it is an ``fcntl`` lock on a file
next to the database (:class:`FileLeaderLock`), released by the kernel when the process
dies. The leader checks every ``LEADER_CHECK_SECONDS`` that it still holds the lock and stops
scheduling at once when it does not.

**Every run recorded.** A run first inserts its row in ``scheduled_runs`` with the unique
key (job, fire time) and runs only when that insert took: a second scheduler that believes
it leads (a hand-over while the old leader's connection is not yet seen dead) computes the
same key and skips, so no job runs twice for one period. Fire times are APScheduler's
``scheduled_run_time`` truncated to the second, on a grid of whole intervals counted from
:data:`SCHEDULE_ANCHOR` (midnight WIB): every scheduler computes the same fire times. A run
whose process dies keeps the status ``running``; the next period runs as usual. Periods that
fall while no scheduler leads (between a leader's death and the standby taking over) are not
replayed: every job looks at the present state, not at its own period only (the daily report
covers the period since its fire time less its interval and says so).

**Intake duties.** The file drop and the SFTP pull poll loops run in the scheduler role and
only in the leader: two processes scanning the same ``in/`` folder or the same carrier server
would race for the same files. (The SFTP pull keeps its own per-endpoint poll interval and
backoff; its polls are intake, not runs of a job, and are not recorded in ``scheduled_runs``.)
The jobs themselves are in :mod:`gateway.housekeeping`.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.pool import NullPool

from gateway.exceptions import GatewayError
from gateway.model.common import RECORD
from gateway.storage.database import Database, insert_for
from gateway.storage.disk import Episode
from gateway.storage.tables import scheduled_runs

log = structlog.get_logger("gateway.scheduler")

# Fire times are SCHEDULE_ANCHOR + k × interval: a daily job fires at midnight WIB.
SCHEDULE_ANCHOR = datetime(2000, 1, 1, tzinfo=ZoneInfo("Asia/Jakarta"))
LEADER_LOCK_ID = 0x5044_4553  # "PDES"; below 2**31, so pg_locks shows it as objid
LEADER_CHECK_SECONDS = 1.0
LEADER_RETRY_SECONDS = 2.0
MAX_INSTANCES = 3

Clock = Callable[[], datetime]
# A job gets its fire time and returns what goes into scheduled_runs.detail.
JobFunc = Callable[[datetime], dict[str, Any]]
# An intake loop (file drop, SFTP pull) runs until its event is set.
IntakeLoop = Callable[[threading.Event], None]


@dataclass(**RECORD)
class ScheduledJob:
    name: str
    interval: timedelta
    func: JobFunc


# -- the leader lock ------------------------------------------------------------------------


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock if free; False when another scheduler holds it."""

    def held(self) -> bool:
        """Whether this process still holds the lock (False once it is lost)."""

    def release(self) -> None: ...


class PostgresLeaderLock:
    """``pg_try_advisory_lock`` on a dedicated connection (no pool: closing it frees the lock)."""

    def __init__(self, url: str, *, lock_id: int = LEADER_LOCK_ID) -> None:
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.lock_id = lock_id
        self._conn: sa.Connection | None = None
        # Asked every LEADER_RETRY_SECONDS: an outage is said when it begins and ends.
        self._unreachable = Episode(
            log,
            began="leader lock: database unreachable; waiting for it",
            ended="leader lock: database answers again",
        )

    def acquire(self) -> bool:
        try:
            conn = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            self._unreachable.begin(error=str(getattr(exc, "orig", exc)).strip().split("\n")[0])
            return False
        self._unreachable.end()
        try:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id}
            ).scalar()
            conn.commit()  # a session-level lock outlives the transaction
        except sa.exc.SQLAlchemyError as exc:
            log.warning("leader lock: cannot ask for it", error=str(exc))
            conn.close()
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            count = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :id"
                ),
                {"id": self.lock_id},
            ).scalar()
            conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            # The connection is gone, and with it the lock (PostgreSQL frees it on disconnect).
            log.warning("leader lock: connection lost", error=str(exc))
            self._close()
            return False
        return bool(count)

    def release(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id})
            conn.commit()
        except sa.exc.SQLAlchemyError:
            pass  # closing the connection below frees it anyway
        self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sa.exc.SQLAlchemyError:
                pass
        self.engine.dispose()


class FileLeaderLock:
    """An exclusive ``flock`` on a file; the kernel frees it when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # Who leads, for an operator looking at the file.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def leader_lock_for(db: Database, data_dir: Path) -> LeaderLock:
    if db.is_postgresql:
        return PostgresLeaderLock(db.url)
    database = db.engine.url.database
    if database and database != ":memory:":
        return FileLeaderLock(Path(f"{database}.scheduler.lock"))
    return FileLeaderLock(data_dir / "scheduler.lock")


# -- one recorded run -------------------------------------------------------------------------


def fire_key(fire_time: datetime) -> datetime:
    """The fire time as stored: UTC, truncated to the second (every scheduler computes it)."""
    return fire_time.astimezone(UTC).replace(microsecond=0)


def run_once(
    db: Database, job: ScheduledJob, fire_time: datetime, *, runner: str, clock: Clock
) -> str:
    """Run ``job`` for ``fire_time`` unless already recorded: ``ok``, ``failed`` or ``skipped``."""
    key = fire_key(fire_time)
    with db.transaction() as conn:
        inserted = conn.execute(
            insert_for(conn, scheduled_runs)
            .values(
                job=job.name,
                fire_time=key,
                status="running",
                runner=runner[:80],
                started_at=clock(),
                detail={},
            )
            .on_conflict_do_nothing(
                index_elements=[scheduled_runs.c.job, scheduled_runs.c.fire_time]
            )
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT here.
            .returning(scheduled_runs.c.id)
        ).first()
    if inserted is None:
        log.info("scheduled run skipped: already recorded", job=job.name, fire_time=key.isoformat())
        return "skipped"
    status = "ok"
    try:
        detail = job.func(key)
    except Exception as exc:  # a job's failure is recorded; the scheduler keeps running
        log.exception("scheduled run failed", job=job.name, fire_time=key.isoformat())
        status = "failed"
        detail = {"error": repr(exc)[:2000]}
    with db.transaction() as conn:
        conn.execute(
            sa.update(scheduled_runs)
            .where(scheduled_runs.c.job == job.name, scheduled_runs.c.fire_time == key)
            .values(status=status, finished_at=clock(), detail=detail)
        )
    log.info(
        "scheduled run", job=job.name, fire_time=key.isoformat(), status=status, **_short(detail)
    )
    return status


def _short(detail: dict[str, Any]) -> dict[str, Any]:
    # Scalars only in the run's log line; the whole detail is in scheduled_runs.
    return {k: v for k, v in detail.items() if isinstance(v, str | int | float | bool)}


# -- APScheduler -------------------------------------------------------------------------------


def _dispatched_by_executor() -> None:
    raise AssertionError("scheduled jobs run through _FireTimeExecutor")


class _FireTimeExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs a due job with its ``scheduled_run_time`` (APScheduler's own executors drop it)."""

    def __init__(self, fire: Callable[[str, datetime], None], *, max_workers: int) -> None:
        super().__init__()
        self._fire = fire
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="scheduled"
        )

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        job_id = str(job.id)

        def run() -> None:
            for run_time in run_times:
                self._fire(job_id, run_time)

        def done(future: concurrent.futures.Future[None]) -> None:
            exc = future.exception()
            if exc is None:
                self._run_job_success(job_id, [])
            else:
                self._run_job_error(job_id, exc, exc.__traceback__)

        self._pool.submit(run).add_done_callback(done)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class Scheduler:
    """Wait for the leader lock, then schedule ``jobs`` and run ``intake`` until lost or stopped."""

    def __init__(
        self,
        *,
        db: Database,
        lock: LeaderLock,
        jobs: Sequence[ScheduledJob],
        intake: Sequence[tuple[str, IntakeLoop]] = (),
        runner: str,
        clock: Clock,
    ) -> None:
        self.db = db
        self.lock = lock
        self.jobs = {job.name: job for job in jobs}
        self.intake = intake
        self.runner = runner
        self.clock = clock
        self.leading = threading.Event()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.lock.acquire():
                stop.wait(LEADER_RETRY_SECONDS)
                continue
            try:
                self._lead(stop)
            finally:
                self.lock.release()

    def _lead(self, stop: threading.Event) -> None:
        log.info(
            "scheduler leads",
            runner=self.runner,
            jobs=sorted(self.jobs),
            message_id="Penjadwal aktif di proses ini.",
            message_en="The scheduler is active in this process.",
        )
        term = threading.Event()  # this term of leadership: set when it ends
        threads = [
            threading.Thread(target=loop, args=(term,), name=name, daemon=True)
            for name, loop in self.intake
        ]
        for thread in threads:
            thread.start()
        aps = self._apscheduler()
        aps.start()
        self.leading.set()
        try:
            while not stop.wait(LEADER_CHECK_SECONDS):
                if not self.lock.held():
                    log.error(
                        "scheduler lost its leader lock; stops scheduling",
                        runner=self.runner,
                        message_id="Kunci penjadwal hilang; penjadwalan dihentikan di proses ini.",
                        message_en="The scheduler lock was lost; scheduling stops in this process.",
                    )
                    break
        finally:
            self.leading.clear()
            term.set()
            aps.shutdown(wait=True)
            for thread in threads:
                thread.join(timeout=30)

    def _apscheduler(self) -> Any:
        aps = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": _FireTimeExecutor(
                    self._fire, max_workers=MAX_INSTANCES * max(len(self.jobs), 1)
                )
            },
            # A late run is still a run of its period (no misfire skipping). A run that is
            # slow (a lock wait, a busy machine) does not cost the next periods their runs:
            # up to MAX_INSTANCES periods of a job may run side by side (each job is safe to
            # overlap itself; the unique fire time keeps each period to one run).
            job_defaults={
                "coalesce": True,
                "max_instances": MAX_INSTANCES,
                "misfire_grace_time": None,
            },
        )
        for job in self.jobs.values():
            aps.add_job(
                _dispatched_by_executor,
                trigger=IntervalTrigger(
                    seconds=job.interval.total_seconds(), start_date=SCHEDULE_ANCHOR, timezone=UTC
                ),
                id=job.name,
                name=job.name,
            )
        return aps

    def _fire(self, name: str, fire_time: datetime) -> None:
        try:
            run_once(self.db, self.jobs[name], fire_time, runner=self.runner, clock=self.clock)
        except GatewayError as exc:  # e.g. the database is restarting: the next period runs
            log.warning("scheduled run not recorded", job=name, error=str(exc))
