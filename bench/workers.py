"""Throughput with 1, 2 and 4 worker processes on PostgreSQL (``--only workers``).

A throwaway PostgreSQL server is started the way the tests start theirs (``tests/pg.py``:
``initdb`` in a temporary folder, loopback, fsync off); each run gets a new database and a
new data dir. One ``run_gateway.py --role scheduler`` process (file drop) and N
``run_gateway.py --role worker`` processes (default ``workers`` threads each) share them.
``files`` distinct RKSP files are dropped into ``in/`` at once; the clock stops when every
submission is processed and every acknowledgment delivered.

Latency per file is read from the database: ``submissions.received_at`` to the RESPONSE
ack's ``delivered_at``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench.common import REPO_ROOT, gateway_env, percentile, settle_filesystem
from bench.generate import rksp_name, rksp_xml, write_file

PROCESS_COUNTS = (1, 2, 4)
TIMEOUT = 600.0
# Submissions processed with every acknowledgment delivered.
FINISHED = (
    "SELECT count(*) FROM submissions s WHERE status = 'PROCESSED' AND NOT EXISTS "
    "(SELECT 1 FROM acks a WHERE a.submission_id = s.id AND a.status <> 'DELIVERED')"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkersResult:
    processes: int
    files: int
    processed: int
    seconds: float
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def files_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.processed == self.files


def run_all(files: int, *, counts: tuple[int, ...] = PROCESS_COUNTS) -> list[WorkersResult]:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.pg import start_postgres  # the tests' throwaway server; bench only

    server = start_postgres()
    try:
        return [_run(server, files, n) for n in counts]
    finally:
        server.stop()


def _run(server: object, files: int, processes: int) -> WorkersResult:
    url = server.create_database()  # type: ignore[attr-defined]
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-workers-{processes}-"))
    env = gateway_env(data_dir)
    env["PDE_GATEWAY_DATABASE_URL"] = url
    children: list[subprocess.Popen[bytes]] = []
    engine = sa.create_engine(url)
    try:
        for role in ["scheduler"] + ["worker"] * processes:
            children.append(
                subprocess.Popen(
                    [sys.executable, "run_gateway.py", "--role", role],
                    cwd=REPO_ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        inbox = data_dir / "drop" / "DEMO" / "in"
        _wait(lambda: inbox.is_dir() and _count(engine, "SELECT 1") == 1, 60)
        staged = data_dir / "staged"
        staged.mkdir()
        paths = [write_file(staged / rksp_name(i), rksp_xml(i)) for i in range(files)]
        settle_filesystem()
        started = time.monotonic()
        for path in paths:
            path.rename(inbox / path.name)
        done = _wait(lambda: _count(engine, FINISHED) >= files, TIMEOUT)
        seconds = time.monotonic() - started
        with engine.connect() as conn:
            latencies = [
                (row.delivered_at - row.received_at).total_seconds() * 1000
                for row in conn.execute(
                    sa.text(
                        "SELECT s.received_at, a.delivered_at FROM submissions s "
                        "JOIN acks a ON a.submission_id = s.id AND a.kind = 'RESPONSE'"
                    )
                )
            ]
        processed = _count(engine, "SELECT count(*) FROM submissions WHERE status = 'PROCESSED'")
        return WorkersResult(
            processes=processes,
            files=files,
            processed=processed if done else 0,
            seconds=seconds,
            latency_ms={"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}
            if latencies
            else {},
        )
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        engine.dispose()
        server.drop_database(url)  # type: ignore[attr-defined]
        shutil.rmtree(data_dir, ignore_errors=True)


def _count(engine: sa.Engine, sql: str) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
    except sa.exc.SQLAlchemyError:  # tables not created yet by the first process
        return 0


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False
