"""A full disk, for real: the data dir on a small tmpfs, filled by a filler file (tests/tmpfs.py).

- every writer (raw store, write_file, write_at) says ``DiskFull`` and leaves no temporary
  file; SQLite on a full disk says ``DiskFull`` too;
- workers wait a full disk out: decided files stay decided, their acknowledgments are
  delivered once there is room, no attempt is spent, no dead letter, one log line each way;
- intake keeps a floor (``min_free_bytes``): "try later" on every channel (HTTP 503 +
  Retry-After, the SFTP server's refusal, files left in the drop's in/), /readyz and /metrics
  say so; a write that fails mid-upload never leaves half a file taken;
- the scheduler's sweep removes temporary files of dead writers, and nothing else.
"""

from __future__ import annotations

import fcntl
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paramiko
import pytest
import sqlalchemy as sa
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway import housekeeping, worker
from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.channels.folders import write_at
from gateway.channels.sftp_pull import _State
from gateway.config import load_settings
from gateway.exceptions import DiskFull
from gateway.storage import credentials, disk, users
from gateway.storage.database import Database
from gateway.storage.raw_files import RawFileStore, write_file
from gateway.storage.tables import acks, audit_log, jobs, submissions
from gateway.web import create_app
from gateway.worker import Worker
from tests.integration.conftest import EXAMPLES, FakeClock
from tests.integration.test_sftp_pull import endpoint as pull_endpoint
from tests.integration.test_sftp_server import Server, make_key
from tests.sshd import Sshd
from tests.tmpfs import Tmpfs, mounted

MiB = 1024 * 1024
RKSP = (EXAMPLES / "rksp.xml").read_bytes()


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[Tmpfs]:
    with mounted(tmp_path / "disk", size="4m") as mounted_fs:
        yield mounted_fs


@pytest.fixture(autouse=True)
def measure_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Intake measures free space once a second; here every look measures.
    monkeypatch.setattr(disk, "MEASURE_TTL", 0.0)
    worker.DISK_FULL.end()  # one state per process: no test inherits another's


def rksp(n: int) -> bytes:
    return RKSP.replace(b"025N", f"F{n:03d}".encode())


def temporary_files(root: Path) -> list[Path]:
    """Every temporary file a writer of the gateway makes, anywhere under ``root``."""
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and (p.name.endswith(".part") or p.name.endswith(".tmp"))
    ]


def table(gateway: Gateway, name: sa.Table) -> list[Any]:
    with gateway.db.engine.connect() as conn:
        return list(conn.execute(sa.select(name)).all())


# -- writers ----------------------------------------------------------------------------------


def _raw(folder: Path, data: bytes) -> None:
    RawFileStore(folder).put(io.BytesIO(data))


def _write_file(folder: Path, data: bytes) -> None:
    write_file(folder / "out" / "ack.xml", data, durable=False)


def _write_at(folder: Path, data: bytes) -> None:
    (folder / "out").mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "out", os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_at(fd, "ack.xml", io.BytesIO(data))
    finally:
        os.close(fd)


@pytest.mark.parametrize("writer", [_raw, _write_file, _write_at], ids=lambda w: w.__name__)
def test_a_write_that_meets_a_full_disk_says_disk_full_and_leaves_nothing(
    fs: Tmpfs, writer: Callable[[Path, bytes], None]
) -> None:
    folder = fs.path / "store"
    writer(folder, b"fits")  # folders made while there is room
    fs.fill(leave=128 * 1024)  # room for a part of the next file, not for all of it
    with pytest.raises(DiskFull) as full:
        writer(folder, os.urandom(MiB))
    assert disk.is_disk_full(full.value)
    assert full.value.retry_after > 0
    assert temporary_files(folder) == []  # the part written before ENOSPC is gone too
    fs.free()
    writer(folder, os.urandom(MiB))
    assert temporary_files(folder) == []


def test_sqlite_on_a_full_disk_says_disk_full(fs: Tmpfs) -> None:
    db = Database(f"sqlite:///{fs.path / 'gateway.db'}")
    try:
        with db.transaction() as conn:
            conn.execute(sa.text("CREATE TABLE blobs (b BLOB)"))
        fs.fill()
        with pytest.raises(DiskFull) as full, db.transaction() as conn:
            conn.execute(sa.text("INSERT INTO blobs VALUES (:b)"), {"b": os.urandom(MiB)})
        assert "database or disk is full" in str(full.value.__cause__)
        fs.free()
        with db.transaction() as conn:
            conn.execute(sa.text("INSERT INTO blobs VALUES (:b)"), {"b": os.urandom(MiB)})
    finally:
        db.dispose()


# -- workers ----------------------------------------------------------------------------------


@pytest.fixture
def on_disk(
    make_gateway: Callable[..., Gateway], fs: Tmpfs, clock: FakeClock
) -> Callable[..., Gateway]:
    """A gateway whose data dir is on the tmpfs (its database is not)."""

    def make(**overrides: str) -> Gateway:
        return make_gateway(clock, data_dir=str(fs.path / "data"), **overrides)

    return make


def test_workers_wait_a_full_disk_out_without_spending_attempts(
    on_disk: Callable[..., Gateway], fs: Tmpfs, clock: FakeClock
) -> None:
    gateway = on_disk(min_free_bytes="0")
    for n in range(5):
        inbound = Inbound(channel="cli", sender="DEMO", source_name=f"r{n}.xml", intake_key=str(n))
        gateway.pipeline.receive(inbound, io.BytesIO(rksp(n)))
    fs.fill()
    work = Worker(pipeline=gateway.pipeline, worker_id="t:1:0", clock=clock, lease=timedelta(30))
    with structlog.testing.capture_logs() as logs:
        # Twenty rounds of the worker over a minute and more of a full disk.
        for _ in range(20):
            while work.run_once():
                pass
            clock.advance(seconds=worker.DISK_FULL_WAIT)
        # Decided once, each: the decision does not wait for the disk.
        assert {row.status for row in table(gateway, submissions)} == {"PROCESSED"}
        rows = table(gateway, jobs)
        assert {(r.kind, r.status) for r in rows} == {("process", "done"), ("deliver", "todo")}
        assert all(r.attempts == 0 for r in rows if r.kind == "deliver"), rows
        assert "disk full" in next(r.last_error for r in rows if r.kind == "deliver")
        assert {row.status for row in table(gateway, acks)} == {"PENDING"}

        fs.free()
        clock.advance(seconds=worker.DISK_FULL_WAIT)
        while work.run_once():
            pass
    assert {row.status for row in table(gateway, acks)} == {"DELIVERED"}
    assert {r.status for r in table(gateway, jobs)} == {"done"}
    events = [e["event"] for e in logs]
    assert events.count(worker.DISK_FULL.began) == 1, events
    assert events.count(worker.DISK_FULL.ended) == 1, events
    assert not [e for e in logs if e["log_level"] == "error" or "exc_info" in e], logs
    out = gateway.settings.cli_dir / "DEMO" / "out"
    assert len(list(out.iterdir())) == 10  # receipt and response of each, nothing else
    assert temporary_files(fs.path) == []


# -- intake -----------------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("pde_data_dir_")
    }


def test_below_the_floor_intake_says_try_later_and_readyz_and_metrics_say_why(
    on_disk: Callable[..., Gateway], fs: Tmpfs
) -> None:
    gateway = on_disk(min_free_bytes=str(MiB))
    with gateway.db.transaction() as conn:
        issued = users.issue_api_token(conn, "DEMO", label="t", now=gateway.clock(), actor="t")
    bearer = {"Authorization": f"Bearer {issued}"}
    with TestClient(create_app(gateway), base_url="http://127.0.0.1") as client:
        assert client.get("/readyz").status_code == 200
        metrics = scrape(client)
        assert metrics["pde_data_dir_min_free_bytes"] == MiB
        assert metrics["pde_data_dir_writable"] == 1
        assert metrics["pde_data_dir_size_bytes"] == 4 * MiB

        fs.fill(leave=MiB // 2)  # room left, but less than the floor
        answer = client.post("/api/v1/submissions?name=r.xml", content=rksp(1), headers=bearer)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "30"
        body = answer.json()
        assert body["reason"] == "disk_full"
        assert "penuh" in body["detail"] and "storage is full" in body["detail"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "below min_free_bytes" in ready.json()["reason"]
        assert "di bawah min_free_bytes" in ready.json()["reason_id"]
        metrics = scrape(client)
        assert metrics["pde_data_dir_free_bytes"] == pytest.approx(fs.free_bytes(), abs=8192)
        assert metrics["pde_data_dir_free_bytes"] < metrics["pde_data_dir_min_free_bytes"]

        fs.fill()  # nothing left at all: not even a byte goes in
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"].startswith("data dir not writable: No space left")
        assert scrape(client)["pde_data_dir_writable"] == 0

        fs.free()
        assert client.get("/readyz").status_code == 200
        answer = client.post("/api/v1/submissions?name=r.xml", content=rksp(1), headers=bearer)
        assert answer.status_code == 202, answer.text
    (received,) = table(gateway, submissions)  # the refused uploads left no trace
    assert received.source_name == "r.xml"
    assert temporary_files(fs.path) == []


def test_the_file_drop_leaves_files_in_in_while_the_disk_is_full_and_says_so_once(
    on_disk: Callable[..., Gateway], fs: Tmpfs
) -> None:
    gateway = on_disk(min_free_bytes=str(MiB), settle_seconds="0.1", poll_interval_seconds="0.05")
    gateway.filedrop.prepare(["DEMO"])
    inbox = gateway.filedrop.inbox("DEMO")
    for n in range(3):
        (inbox / f"r{n}.xml").write_bytes(rksp(n))
    fs.fill(leave=MiB // 2)
    stop = threading.Event()
    with structlog.testing.capture_logs() as logs:
        thread = threading.Thread(
            target=gateway.filedrop.run, args=(gateway.pipeline.receive_many, stop), daemon=True
        )
        thread.start()
        try:
            time.sleep(2.0)  # ten looks and more
            assert sorted(p.name for p in inbox.iterdir()) == ["r0.xml", "r1.xml", "r2.xml"]
            assert table(gateway, submissions) == []
            fs.free()
            deadline = time.monotonic() + 10
            while len(table(gateway, submissions)) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(timeout=10)
    assert len(table(gateway, submissions)) == 3
    assert list(inbox.iterdir()) == []
    drop_events = [e["event"] for e in logs if e["event"].startswith("file drop")]
    assert drop_events == [
        "file drop paused: the data dir is full; files stay in in/",
        "file drop resumed: the data dir has room",
    ]
    intake = [e["event"] for e in logs if e["event"].startswith("intake")]
    assert intake == [
        "intake refuses files: the data dir is below its free-space floor",
        "intake takes files again: the data dir has room",
    ]


# -- the SFTP server --------------------------------------------------------------------------


@pytest.fixture
def sftp_on_disk(
    sqlite_url: str, fs: Tmpfs, tmp_path: Path
) -> Iterator[Callable[..., tuple[Server, paramiko.SFTPClient]]]:
    started: list[Server] = []
    key = make_key(tmp_path / "demo.key")

    def start(**overrides: str) -> tuple[Server, paramiko.SFTPClient]:
        env = {
            "PDE_GATEWAY_DATA_DIR": str(fs.path / "data"),
            "PDE_GATEWAY_DATABASE_URL": sqlite_url,
            "PDE_GATEWAY_SFTP_PORT": "0",
            **{f"PDE_GATEWAY_{k.upper()}": v for k, v in overrides.items()},
        }
        gateway = Gateway(load_settings(environ=env))
        with gateway.db.transaction() as conn:
            line = f"{key.get_name()} {key.get_base64()}"
            credentials.add_key(
                conn,
                "DEMO",
                credentials.parse_public_key(line),
                comment=None,
                now=gateway.clock(),
                actor="test",
            )
        gateway.sftp.listen()
        stop = threading.Event()
        thread = threading.Thread(
            target=gateway.sftp.run, args=(gateway.pipeline.receive_many, stop), daemon=True
        )
        thread.start()
        server = Server(gateway, stop, thread)
        started.append(server)
        return server, server.client("DEMO", key=key)

    yield start
    for server in started:
        server.stop.set()
        server.thread.join(timeout=15)
        server.gateway.db.dispose()


def test_sftp_refuses_uploads_below_the_floor_with_try_later(
    sftp_on_disk: Callable[..., tuple[Server, paramiko.SFTPClient]], fs: Tmpfs
) -> None:
    server, client = sftp_on_disk(min_free_bytes=str(MiB))
    fs.fill(leave=MiB // 2)
    with pytest.raises(OSError, match="storage is full; this file was NOT received") as refused:
        client.open("/inbox/r.xml", "wb")
    assert "penuh" in str(refused.value)
    fs.free()
    with client.open("/inbox/r.xml", "wb") as upload:
        upload.write(rksp(1))
    assert len(server.submissions()) == 1


def test_an_sftp_upload_cut_by_a_full_disk_is_never_taken_and_leaves_nothing(
    sftp_on_disk: Callable[..., tuple[Server, paramiko.SFTPClient]], fs: Tmpfs
) -> None:
    server, client = sftp_on_disk(min_free_bytes="0")
    inbox = server.gateway.settings.sftp_dir / "DEMO" / "inbox"
    fs.fill(leave=96 * 1024)
    upload = client.open("/inbox/big.xml", "wb")
    with pytest.raises(OSError, match="storage is full") as refused:
        upload.write(rksp(1) + b"<!--" + b"x" * (512 * 1024) + b"-->")
    assert "TIDAK diterima" in str(refused.value)
    assert list(inbox.iterdir()) == []  # the partial file went at the failed write
    upload.close()  # refused too (paramiko's client does not raise on a CLOSE's status)
    assert server.submissions() == []  # what was written before the failure is not taken
    (row,) = server.audit("sftp_upload_failed")
    assert "storage is full" in row.detail["reason"]
    fs.free()
    with client.open("/inbox/big.xml", "wb") as again:
        again.write(rksp(1))
    (taken,) = server.submissions()
    assert taken.size == len(rksp(1))
    assert temporary_files(fs.path) == []


# -- the sweep --------------------------------------------------------------------------------


def test_the_sweep_removes_dead_writers_temporary_files_and_nothing_else(
    make_gateway: Callable[..., Gateway], clock: FakeClock
) -> None:
    gateway = make_gateway(clock)
    settings = gateway.settings
    gateway.filedrop.prepare(["DEMO"])
    old = time.time() - 3600

    def temporary(path: Path, *, stale: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # zero bytes: what ENOSPC leaves
        if stale:
            os.utime(path, (old, old))
        return path

    dead = [
        temporary(settings.raw_dir / "tmp" / "0123456789abcdef0123456789abcdef.part"),
        temporary(settings.drop_dir / "DEMO" / "out" / ".r-A.response.xml.0badc0de.tmp"),
        temporary(settings.drop_dir / "DEMO" / "error" / ".r-A.xml.12345678.tmp"),
        temporary(settings.http_dir / "DEMO" / "out" / ".r-A.receipt.xml.abcdef01.tmp"),
        temporary(settings.cli_dir / "DEMO" / "out" / ".r-A.receipt.xml.abcdef02.tmp"),
        temporary(settings.sftp_dir / "DEMO" / "outbox" / ".r-A.receipt.xml.abcdef03.tmp"),
        temporary(settings.pull_dir / "DEMO" / "outbox" / ".r-A.receipt.xml.abcdef04.tmp"),
    ]
    kept = [
        # Written right now, or held by a live writer however old, or not the gateway's.
        temporary(settings.drop_dir / "DEMO" / "out" / ".fresh.xml.0badc0de.tmp", stale=False),
        temporary(settings.http_dir / "DEMO" / "out" / ".held.xml.0badc0de.tmp"),
        temporary(settings.drop_dir / "DEMO" / "in" / ".carrier.xml.0badc0de.tmp"),
        temporary(settings.drop_dir / "DEMO" / "out" / "carrier-notes.tmp"),
    ]
    outside = temporary(settings.data_dir.parent / "outside.xml.0badc0de.tmp")
    os.symlink(outside, settings.drop_dir / "DEMO" / "out" / ".link.xml.0badc0de.tmp")
    with open(kept[1], "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        detail = housekeeping.sweep(gateway.pipeline, settings, clock())
    assert detail["partial_files_removed"] == len(dead)
    assert [p for p in dead if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert outside.exists()


def test_a_failed_ack_leaves_no_temporary_file_in_the_drop(
    on_disk: Callable[..., Gateway], fs: Tmpfs, clock: FakeClock
) -> None:
    """Through the channel itself: the drop's out/ and error/ stay clean after ENOSPC."""
    gateway = on_disk(min_free_bytes="0")
    gateway.filedrop.prepare(["DEMO"])
    inbound = Inbound(channel="filedrop", sender="DEMO", source_name="bad.xml", intake_key="b")
    received = gateway.pipeline.receive(inbound, io.BytesIO(b"<not a document"))
    gateway.pipeline.process(received.submission_id)
    fs.fill()
    for _ in range(3):
        with pytest.raises(DiskFull):
            gateway.pipeline.deliver(received.submission_id)
    assert temporary_files(gateway.settings.drop_dir) == []
    fs.free()
    delivered = gateway.pipeline.deliver(received.submission_id)
    assert {p.parent.name for p in delivered} == {"out"}
    assert len(list((gateway.settings.drop_dir / "DEMO" / "error").iterdir())) == 1
    assert temporary_files(gateway.settings.drop_dir) == []
    with gateway.db.engine.connect() as conn:
        actions = set(conn.execute(sa.select(audit_log.c.action)).scalars())
    assert "received" in actions


# -- SFTP pull --------------------------------------------------------------------------------


def test_sftp_pull_leaves_files_on_the_carriers_server_and_polls_on_without_backoff(
    on_disk: Callable[..., Gateway], fs: Tmpfs, sshd: Sshd, tmp_path: Path
) -> None:
    gateway = on_disk(min_free_bytes=str(MiB))
    remote = tmp_path / "carrier"
    for folder in ("inbox", "outbox"):
        (remote / folder).mkdir(parents=True)
    (remote / "inbox" / "r.xml").write_bytes(rksp(1))
    ep = pull_endpoint(sshd, remote, poll_seconds=1.0)
    intake = gateway.pipeline.receive_many
    assert gateway.sftp_pull.poll(ep, intake).fetched == 0  # the first look only notes it
    fs.fill(leave=MiB // 2)
    state = _State(
        seen={"r.xml": (len(rksp(1)), int((remote / "inbox" / "r.xml").stat().st_mtime))}
    )
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            before = time.monotonic()
            gateway.sftp_pull._poll_with_backoff(ep, state, intake)
            # Not the carrier's fault: no failure counted, the usual pace, no backoff.
            assert (state.failures, round(state.due - before)) == (0, 1)
        assert [p.name for p in (remote / "inbox").iterdir()] == ["r.xml"]
        assert table(gateway, submissions) == []
        fs.free()
        gateway.sftp_pull._poll_with_backoff(ep, state, intake)
    assert len(table(gateway, submissions)) == 1
    assert list((remote / "inbox").iterdir()) == []
    pull = [e["event"] for e in logs if e["event"].startswith("sftp pull")]
    assert pull == [
        "sftp pull paused: intake says try later; files stay on the carrier's server",
        "sftp pull resumed: intake takes files again",
        "sftp pull",
    ]
