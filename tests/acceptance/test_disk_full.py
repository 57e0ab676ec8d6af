"""A full data dir changes nothing that was promised (issue 14, points 3-5).

Real processes on the throwaway PostgreSQL server: a front process (scheduler with the file
drop, web, SFTP server) and a worker process, sharing a data dir that is a small tmpfs of its
own (``tests/tmpfs.py``: mounted when the tests run as root, as in CI). A burst of files goes
in through the file drop; while it is being decided, a filler file takes every byte left on
the data dir, and more files wait in ``in/``, HTTP uploads and an SFTP upload arrive. The
disk stays full for a while; then the filler is deleted.

- While full: senders are told "try later" (HTTP 503 with Retry-After and a bilingual JSON
  body; the SFTP server's bilingual refusal), files stay in ``in/``, /readyz says why and
  /metrics shows the free space; decided files wait for their acknowledgments without
  spending attempts; each process logs each state change once, with no traceback.
- Once space is back: everything is answered within 60 s, each file decided once, numbers
  without a gap or a twin, no dead letter, and no temporary file left anywhere.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.conftest import (
    GatewayProcess,
    count_acks,
    drop_file,
    rksp_variant,
    wait_for,
)
from tests.integration.test_sftp_server import make_key
from tests.tmpfs import Tmpfs, mounted

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
BEFORE = 300  # dropped before the disk fills: decided around the moment it does
WAITING = 100  # dropped just before: still in in/ when it fills
UPLOADS = 20  # over HTTP while it is full
FULL_SECONDS = 12.0  # how long it stays full (the worker retries every 5 s meanwhile)
ANSWERED_WITHIN = 60.0  # seconds after space is back


@pytest.fixture
def data_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    with mounted(tmp_path / "data", size="24m") as fs:
        yield fs


class Front:
    """What a sender and an operator see of the front process."""

    def __init__(self, process: GatewayProcess, started: dict[str, Any], token: str) -> None:
        self.process = process
        self.web = f"http://127.0.0.1:{started['web_port']}"
        self.sftp_port = int(started["sftp_port"])
        self.token = token

    def upload(self, name: str, data: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.web}/api/v1/submissions?name={name}",
            data=data,
            method="POST",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, dict(refused.headers), json.loads(refused.read())

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"{self.web}{path}", timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read()

    def metrics(self) -> dict[str, float]:
        _, text = self.get("/metrics")
        return {
            s.name: s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples
            if s.name.startswith("pde_data_dir_")
        }


def _sftp_put(port: int, key: paramiko.PKey, name: str, data: bytes) -> None:
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.connect(username="DEMO", pkey=key)
        client = paramiko.SFTPClient.from_transport(transport)
        assert client is not None
        with client.open(f"/inbox/{name}", "wb") as upload:
            upload.write(data)
    finally:
        transport.close()


def _events(process: GatewayProcess, name: str) -> int:
    return sum(1 for e in process.log_events() if e.get("event") == name)


def test_a_full_data_dir_loses_nothing_doubles_nothing_and_tells_senders_to_try_later(
    tmp_path: Path, postgres_url: str, data_disk: Tmpfs
) -> None:
    settings: dict[str, object] = {
        "database_url": postgres_url,
        "min_free_bytes": 2 * MiB,
        "workers": 2,
        "schedule_sweep_seconds": 2,
    }
    front_process = GatewayProcess(
        data_disk.path, tmp_path / "logs-front", args=("--role", "scheduler,web,sftp"), **settings
    )
    worker = GatewayProcess(
        data_disk.path, tmp_path / "logs-worker", args=("--role", "worker"), **settings
    )
    engine = sa.create_engine(postgres_url)
    try:
        started = front_process.start_and_wait(60)
        worker.start_and_wait(60)
        issued = front_process.cli("tokens", "issue", "DEMO")
        assert issued.returncode == 0, issued.stderr
        key = make_key(tmp_path / "demo.key")
        (tmp_path / "demo.key.pub").write_text(f"{key.get_name()} {key.get_base64()} demo\n")
        added = front_process.cli(
            "partners", "keys", "add", "DEMO", "--key", f"{tmp_path}/demo.key.pub"
        )
        assert added.returncode == 0, added.stderr
        front = Front(front_process, started, issued.stdout.strip())
        inbox, out = front_process.folder("DEMO", "in"), front_process.folder("DEMO", "out")

        def scalar(sql: str) -> Any:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()

        # -- the burst, and the disk filling up in the middle of it ---------------------------
        for n in range(BEFORE):
            drop_file(inbox, f"before-{n:04d}.xml", rksp_variant(n))
        wait_for(
            lambda: scalar("SELECT count(*) FROM documents") >= 10,
            30,
            interval=0.01,
            message="the first files decided",
        )
        for n in range(BEFORE, BEFORE + WAITING):
            drop_file(inbox, f"waiting-{n:04d}.xml", rksp_variant(n))
        data_disk.fill()
        full_at = time.monotonic()

        # -- while it is full: "try later" --------------------------------------------------
        uploads = {f"http-{n:04d}.xml": rksp_variant(n) for n in range(10_000, 10_000 + UPLOADS)}
        for name, data in uploads.items():
            status, headers, body = front.upload(name, data)
            assert status == 503, (name, status, body)
            assert int(headers["retry-after"]) > 0
            assert body["reason"] == "disk_full"
            assert "coba" in body["detail"] or "kirim ulang" in body["detail"]
            assert "storage is full" in body["detail"]
        sftp_data = rksp_variant(20_000)
        with pytest.raises(OSError, match="storage is full; this file was NOT received") as no:
            _sftp_put(front.sftp_port, key, "sftp.xml", sftp_data)
        assert "penuh" in str(no.value)
        status, ready = front.get("/readyz")
        assert status == 503
        assert json.loads(ready)["reason"].startswith("data dir not writable")
        metrics = front.metrics()
        assert metrics["pde_data_dir_free_bytes"] < metrics["pde_data_dir_min_free_bytes"]
        assert metrics["pde_data_dir_writable"] == 0
        time.sleep(max(0.0, FULL_SECONDS - (time.monotonic() - full_at)))
        # Files wait in in/; decided files wait for room for their answers; nothing failed.
        waiting = {p.name for p in inbox.iterdir()}
        assert {f"waiting-{n:04d}.xml" for n in range(BEFORE, BEFORE + WAITING)} <= waiting
        pending = scalar("SELECT count(*) FROM acks WHERE status = 'PENDING'")
        assert pending > 0
        assert scalar("SELECT count(*) FROM jobs WHERE status = 'failed'") == 0
        assert (scalar("SELECT max(attempts) FROM jobs WHERE status = 'todo'") or 0) <= 1

        # -- space is back --------------------------------------------------------------------
        data_disk.free()
        freed_at = time.monotonic()
        for name, data in uploads.items():  # senders send again; the first may meet a 503
            wait_for(
                lambda name=name, data=data: front.upload(name, data)[0] == 202,
                10,
                interval=0.2,
                message=f"{name} accepted",
            )
        wait_for(
            lambda: _try_sftp(front.sftp_port, key, "sftp.xml", sftp_data),
            10,
            interval=0.2,
            message="the SFTP upload accepted",
        )
        expected = BEFORE + WAITING + UPLOADS + 1

        def answered() -> bool:
            return (
                count_acks(out) == BEFORE + WAITING
                and scalar("SELECT count(*) FROM submissions WHERE status = 'PROCESSED'")
                == expected
                and scalar("SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')") == 0
                and scalar("SELECT count(*) FROM acks WHERE status <> 'DELIVERED'") == 0
            )

        wait_for(
            answered,
            ANSWERED_WITHIN - (time.monotonic() - freed_at),
            interval=0.2,
            message=lambda: (
                f"everything answered ({count_acks(out)} responses in out/, "
                f"{scalar('SELECT count(*) FROM submissions')} submissions)"
            ),
        )
        answered_after = time.monotonic() - freed_at
        assert front.get("/readyz")[0] == 200

        # -- nothing lost, nothing doubled, no dead letter -----------------------------------
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, source_name, sha256, channel FROM submissions")
            ).all()
            per_submission = conn.execute(
                sa.text("SELECT submission_id, count(*) FROM documents GROUP BY submission_id")
            ).all()
            numbers = conn.execute(
                sa.text("SELECT office_code, kind, year, number FROM registrations")
            ).all()
            jobs = Counter(
                conn.execute(sa.text("SELECT kind || ':' || status FROM jobs")).scalars()
            )
        assert len(rows) == expected
        assert len({r.sha256 for r in rows}) == expected  # each file once
        names = Counter(r.source_name for r in rows)
        assert set(names.values()) == {1}
        assert Counter(r.channel for r in rows) == {
            "filedrop": BEFORE + WAITING,
            "http": UPLOADS,
            "sftp": 1,
        }
        assert len(per_submission) == expected and {c for _, c in per_submission} == {1}
        by_series: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        for office, kind, year, number in numbers:
            by_series[(office, kind, year)].append(int(number))
        for series, found in by_series.items():
            assert sorted(found) == list(range(1, len(found) + 1)), f"gaps or twins in {series}"
        assert set(jobs) <= {"process:done", "deliver:done"}, jobs
        assert list(inbox.iterdir()) == []
        # One response per dropped file, in out/.
        assert count_acks(out) == BEFORE + WAITING

        # -- nothing left behind ---------------------------------------------------------------
        leftovers = [
            p
            for p in data_disk.path.rglob("*")
            if p.is_file() and (p.name.endswith(".tmp") or p.name.endswith(".part"))
        ]
        assert leftovers == []

        # -- said once per state change, no traceback -----------------------------------------
        for process in (front_process, worker):
            events = process.log_events()
            assert [e for e in events if "exception" in e or e.get("level") == "error"] == []
        assert (
            _events(
                worker,
                "data dir full: decided files' acknowledgments wait for room (no attempt spent)",
            )
            == 1
        )
        assert _events(worker, "data dir has room again: waiting work goes through") == 1
        assert (
            _events(front_process, "file drop paused: the data dir is full; files stay in in/") == 1
        )
        assert _events(front_process, "file drop resumed: the data dir has room") == 1
        began = "intake refuses files: the data dir is below its free-space floor"
        assert _events(front_process, began) == 1
        assert _events(front_process, "intake takes files again: the data dir has room") == 1
        print(
            f"full for {FULL_SECONDS:.0f} s with {pending} acknowledgments of decided files "
            f"waiting; {expected} files answered {answered_after:.1f} s after space came back"
        )
    finally:
        front_process.close()
        worker.close()
        engine.dispose()


def _try_sftp(port: int, key: paramiko.PKey, name: str, data: bytes) -> bool:
    try:
        _sftp_put(port, key, name, data)
    except OSError:
        return False
    return True
