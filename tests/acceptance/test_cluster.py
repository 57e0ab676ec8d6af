"""Several gateway processes on one PostgreSQL database and one data dir (issue 8).

Real subprocesses (``run_gateway.py --role ...``) on the throwaway PostgreSQL server of
``tests/conftest.py``; the files go in through the file drop and ``pde-gateway submit``.

- 3 worker processes and 2 scheduler processes take 2,000 files of mixed formats (XML, X12,
  EDIFACT): every file is decided exactly once, registration numbers run without a gap or a
  duplicate, and each scheduled job ran once per period, by one scheduler.
- A worker SIGKILLed while it holds jobs: another worker finishes them once the lease runs out,
  nothing is registered twice.
- SIGTERM during load: the process hands its work back and exits; nothing is lost; a restart
  completes the rest.
"""

from __future__ import annotations

import functools
import itertools
import socket
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.acceptance.conftest import EXAMPLES, GatewayProcess, drop_file, wait_for

pytestmark = pytest.mark.slow

# Short periods, so a run of a minute shows many of them.
SCHEDULE = {
    "schedule_sweep_seconds": 2,
    "schedule_deliveries_seconds": 2,
    "schedule_deadline_watch_seconds": 3,
    "schedule_retention_seconds": 4,
    "schedule_daily_report_seconds": 4,
}
JOBS = {name.removeprefix("schedule_").removesuffix("_seconds"): v for name, v in SCHEDULE.items()}


# Of every 20 files: 8 RKSP and 5 inward manifests in XML, 5 RKSP in EDIFACT, 2 RKSP in X12.
# X12 takes a tenth of the share: pyx12 parses an X12 file in ~0.1 s (0.3 s for a process's
# first files), 20 times what an XML RKSP costs (measured, docs/performance.md).
MIX = "XXXXXXXXMMMMMEEEEETT"


def variant(n: int) -> tuple[str, bytes]:
    """The n-th file of a mixed load: XML, X12 and EDIFACT, each with a voyage of its own."""
    voyage = f"V{n:04d}"
    kind = "XMTE".index(MIX[n % len(MIX)])
    if kind == 0:
        data = (EXAMPLES / "rksp.xml").read_bytes().replace(b"025N", voyage.encode())
        return f"rksp-{n:05d}.xml", data
    if kind == 1:
        data = (EXAMPLES / "manifest-inward.xml").read_bytes().replace(b"025N", voyage.encode())
        return f"manifest-{n:05d}.xml", data
    if kind == 2:
        text = (EXAMPLES / "rksp.x12").read_text()
        # Interchange and group control numbers of their own, or X12 refuses a duplicate.
        text = text.replace("025N", voyage).replace("000000101", f"{n:09d}")
        text = text.replace("*101*X*", f"*{n}*X*").replace("GE*1*101~", f"GE*1*{n}~")
        return f"rksp-{n:05d}.x12", text.encode()
    text = (EXAMPLES / "rksp.edi").read_text().replace("025N", voyage)
    text = text.replace("RKSP0001", f"R{n:07d}")
    return f"rksp-{n:05d}.edi", text.encode()


class Cluster:
    """Gateway processes sharing one data dir and one database."""

    def __init__(self, tmp_path: Path, database_url: str, **settings: object) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.database_url = database_url
        self.settings = settings
        self.processes: list[GatewayProcess] = []
        self.engine = sa.create_engine(database_url)

    def start(self, role: str, **settings: object) -> GatewayProcess:
        n = len(self.processes) + 1
        process = GatewayProcess(
            self.data_dir,
            self.tmp_path / f"logs-{n}-{role}",
            args=("--role", role),
            database_url=self.database_url,
            **{**SCHEDULE, **self.settings, **settings},
        )
        self.processes.append(process)
        process.start()
        return process

    def close(self) -> None:
        for process in self.processes:
            process.close()
        self.engine.dispose()

    @property
    def inbox(self) -> Path:
        return self.data_dir / "drop" / "DEMO" / "in"

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def done(self, expected: int) -> bool:
        """``expected`` submissions decided and delivered, no job left."""
        return (
            self.scalar("SELECT count(*) FROM submissions WHERE status = 'PROCESSED'") == expected
            and self.scalar("SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')") == 0
            and self.scalar("SELECT count(*) FROM acks WHERE status <> 'DELIVERED'") == 0
        )

    def progress(self) -> str:
        left = sum(1 for p in self.inbox.iterdir() if not p.name.startswith("."))
        processed = self.scalar("SELECT count(*) FROM submissions WHERE status = 'PROCESSED'")
        return (
            f"{self.scalar('SELECT count(*) FROM submissions')} received, {processed} "
            f"processed, {left} in in/, jobs "
            f"{self.rows('SELECT kind, status, count(*) FROM jobs GROUP BY kind, status')}"
        )

    def leader(self, timeout: float = 30) -> GatewayProcess:
        def find() -> GatewayProcess | None:
            for process in self.processes:
                if any(e.get("event") == "scheduler leads" for e in process.log_events()):
                    return process
            return None

        return wait_for(find, timeout, message="a scheduler leading")

    def assert_decided_once(self, expected: int) -> None:
        """Every file one submission, every submission decided, numbers without gaps."""
        assert self.scalar("SELECT count(*) FROM submissions") == expected
        assert self.scalar("SELECT count(DISTINCT sha256) FROM submissions") == expected
        per_submission = self.rows(
            "SELECT submission_id, count(*) FROM documents GROUP BY submission_id"
        )
        assert len(per_submission) == expected
        assert {count for _, count in per_submission} == {1}
        statuses = Counter(s for (s,) in self.rows("SELECT status FROM documents"))
        assert set(statuses) <= {"REGISTERED", "REFUSED"}, statuses
        registered = statuses["REGISTERED"]
        assert registered == self.scalar("SELECT count(*) FROM registrations")
        assert registered == self.scalar("SELECT count(DISTINCT document_id) FROM registrations")
        numbers: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        for office, kind, year, number in self.rows(
            "SELECT office_code, kind, year, number FROM registrations"
        ):
            numbers[(office, kind, year)].append(int(number))
        for key, found in numbers.items():
            assert sorted(found) == list(range(1, len(found) + 1)), f"gaps or twins in {key}"
        # Every acknowledgment delivered, once, to a file that is there.
        acks = self.rows("SELECT submission_id, status, path FROM acks")
        assert {s for _, s, _ in acks} == {"DELIVERED"}
        assert len({sid for sid, _, _ in acks}) == expected
        assert all(Path(path).is_file() for _, _, path in acks)
        assert len({path for _, _, path in acks}) == len(acks)

    def assert_no_errors(self) -> None:
        for process in self.processes:
            assert process.error_events() == [], process.log_paths


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    made = Cluster(tmp_path, postgres_url)
    try:
        yield made
    finally:
        made.close()


def _wait_all(cluster: Cluster, expected: int, timeout: float) -> None:
    wait_for(
        lambda: cluster.done(expected),
        timeout,
        interval=0.5,
        message=lambda: f"{expected} files decided ({cluster.progress()})",
    )


def test_three_workers_two_schedulers_decide_2000_mixed_files_once(cluster: Cluster) -> None:
    files = 2000
    schedulers = [cluster.start("scheduler") for _ in range(2)]
    workers = [cluster.start("worker") for _ in range(3)]
    for process in [*schedulers, *workers]:
        process.wait_ready(60)
    leader = cluster.leader()
    started = time.monotonic()
    # 1,950 straight into in/, 50 through `pde-gateway submit` (copy under a temporary name).
    via_cli = cluster.tmp_path / "cli"
    via_cli.mkdir()
    for n in range(files):
        name, data = variant(n)
        if n < 50:
            (via_cli / name).write_bytes(data)
        else:
            drop_file(cluster.inbox, name, data)
    submitted = workers[0].cli("submit", "--partner", "DEMO", *map(str, via_cli.iterdir()))
    assert submitted.returncode == 0, submitted.stderr
    _wait_all(cluster, files, timeout=150)
    elapsed = time.monotonic() - started
    print(f"{files} files decided in {elapsed:.1f} s ({files / elapsed:.0f} files/s)")
    # The metrics endpoint of a web process sharing the database tells the same counts.
    web = cluster.start("web")
    port = web.wait_ready(60)["web_port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        scraped = answer.read().decode()
    for status, metric in (("REGISTERED", "registered"), ("REFUSED", "refused")):
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in scraped.splitlines()
            if line.startswith(f"pde_documents_{metric}_total{{")
        )
        in_database = cluster.scalar(f"SELECT count(*) FROM documents WHERE status = '{status}'")
        assert total == in_database, (metric, total, in_database)
    assert web.stop() == 0
    # A few more periods of every job with the queue empty.
    time.sleep(2 * max(JOBS.values()))
    # The standby first: stopping the leader first would hand it the lead (as it should).
    standby = next(p for p in schedulers if p is not leader)
    for process in [standby, *workers, leader]:
        assert process.stop() == 0
    cluster.assert_decided_once(files)
    # The work was shared: every worker process decided some files.
    decided = [sum(e.get("event") == "decided" for e in w.log_events()) for w in workers]
    assert all(decided) and sum(decided) == files, decided
    assert not any(p.alive for p in cluster.processes)
    # Each job ran once per period, by the one leading scheduler, without a gap.
    runs = cluster.rows("SELECT job, fire_time, status, runner FROM scheduled_runs")
    assert {runner for *_, runner in runs} == {f"{socket.gethostname()}:{leader.pid}"}
    by_job: dict[str, list[Any]] = defaultdict(list)
    for job, fire_time, status, _ in runs:
        assert status == "ok", (job, fire_time, status)
        by_job[job].append(fire_time)
    assert set(by_job) == set(JOBS)
    for job, times in by_job.items():
        times.sort()
        assert len(times) == len(set(times))
        assert len(times) >= 3, (job, times)
        steps = {b - a for a, b in itertools.pairwise(times)}
        assert steps == {timedelta(seconds=JOBS[job])}, (job, times)
    # The standby never led; nobody logged an error.
    assert not any(e.get("event") == "scheduler leads" for e in standby.log_events())
    cluster.assert_no_errors()


def test_a_sigkilled_worker_loses_its_jobs_to_another_after_the_lease(cluster: Cluster) -> None:
    lease = 4.0
    cluster.settings.update(lease_seconds=lease)
    scheduler = cluster.start("scheduler")
    victim = cluster.start("worker")
    survivor = cluster.start("worker")
    for process in (scheduler, victim, survivor):
        process.wait_ready(60)
    files = 0
    held: list[int] = []
    for _attempt in range(5):
        for n in range(files, files + 300):
            name, data = variant(n)
            drop_file(cluster.inbox, name, data)
        files += 300
        mine = f"%:{victim.pid}:%"
        wait_for(
            functools.partial(
                cluster.scalar,
                "SELECT count(*) FROM jobs WHERE status = 'doing' AND locked_by LIKE :w",
                w=mine,
            ),
            30,
            interval=0.005,
            message="the victim holding jobs",
        )
        victim.kill()
        killed_at = time.monotonic()
        held = [
            r[0]
            for r in cluster.rows(
                "SELECT id FROM jobs WHERE status = 'doing' AND locked_by LIKE :w", w=mine
            )
        ]
        if held:
            break
        # Killed between two batches: try again with a new victim.
        victim = cluster.start("worker")
        victim.wait_ready(60)
    assert held, "the victim never died holding jobs"

    taken_over_sql = sa.text(
        "SELECT count(*) FROM jobs WHERE id IN :ids AND locked_by LIKE :w"
    ).bindparams(sa.bindparam("ids", expanding=True))

    def still_held() -> int:
        with cluster.engine.connect() as conn:
            return int(
                conn.execute(taken_over_sql, {"ids": held, "w": f"%:{victim.pid}:%"}).scalar_one()
            )

    wait_for(lambda: still_held() == 0, lease * 4, interval=0.05, message="the lease to expire")
    waited = time.monotonic() - killed_at
    # Not before the lease (renewed every lease/3) could have run out.
    assert waited >= lease * 2 / 3 - 0.5, waited
    _wait_all(cluster, files, timeout=120)
    for process in (scheduler, survivor):
        assert process.stop() == 0
    cluster.assert_decided_once(files)
    with cluster.engine.connect() as conn:
        finished = conn.execute(
            sa.text("SELECT status FROM jobs WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": held},
        ).scalars()
        assert set(finished) == {"done"}
    requeued = [
        e
        for p in (scheduler, survivor)
        for e in p.log_events()
        if e.get("event") == "requeued jobs of vanished workers"
    ]
    assert requeued, "no process said it requeued the victim's jobs"


def test_sigterm_during_load_hands_work_back_and_a_restart_finishes(cluster: Cluster) -> None:
    files = 800
    gateway = cluster.start("scheduler,worker")
    gateway.wait_ready(60)
    for n in range(files):
        name, data = variant(n)
        drop_file(cluster.inbox, name, data)
    wait_for(
        lambda: (
            cluster.scalar("SELECT count(*) FROM submissions WHERE status = 'PROCESSED'") >= 100
        ),
        60,
        interval=0.02,
        message="100 files processed",
    )
    assert gateway.stop(timeout=45) == 0
    stopped = [e for e in gateway.log_events() if e.get("event") == "gateway stopped"]
    assert stopped, "no clean stop"
    # Nothing is held by the stopped process; every file is in in/ or recorded, none lost.
    assert cluster.scalar("SELECT count(*) FROM jobs WHERE status = 'doing'") == 0
    received = cluster.scalar("SELECT count(*) FROM submissions")
    left = sum(1 for p in cluster.inbox.iterdir() if not p.name.startswith("."))
    assert received + left == files
    assert not cluster.done(files), "the load was over before the SIGTERM"
    gateway.start_and_wait(60)
    _wait_all(cluster, files, timeout=120)
    assert gateway.stop() == 0
    cluster.assert_decided_once(files)
    cluster.assert_no_errors()
