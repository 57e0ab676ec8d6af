"""The gateway as a running service: database, channels, pipeline, workers, sweeper."""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
from datetime import timedelta
from types import FrameType

import structlog

from gateway.channels.base import Channel
from gateway.channels.cli import CliChannel
from gateway.channels.filedrop import FileDropChannel
from gateway.channels.http import HttpChannel
from gateway.channels.manual import ManualChannel
from gateway.channels.sftp_pull import SftpPullChannel
from gateway.channels.sftp_server import SftpServerChannel
from gateway.config import Settings
from gateway.pipeline import Clock, Pipeline
from gateway.reference import load_carriers, load_offices
from gateway.storage import pull_endpoints, reference_store
from gateway.storage.database import Database
from gateway.worker import Worker, utc_now

log = structlog.get_logger("gateway.app")

SWEEP_INTERVAL = 2.0
# Partial raw copies older than this were left by a dead process, not one still writing.
STALE_PART_SECONDS = 3600.0


class Gateway:
    """Everything one process needs; ``run()`` serves until SIGINT/SIGTERM."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.db = Database(settings.database_url, pool_size=settings.workers + 4)
        self.db.migrate()
        self._seed()
        self.filedrop = FileDropChannel(
            settings.drop_dir,
            poll_interval=settings.poll_interval_seconds,
            settle_seconds=settings.settle_seconds,
        )
        # Built even when disabled: acks of earlier SFTP uploads still go to the outboxes.
        self.sftp = SftpServerChannel(
            root=settings.sftp_dir,
            db=self.db,
            clock=clock,
            carriers=self.partners,
            host=settings.sftp_host,
            port=settings.sftp_port,
            max_file_bytes=settings.max_file_bytes,
            max_sessions_per_carrier=settings.sftp_max_sessions_per_carrier,
            max_open_handles=settings.sftp_max_open_handles,
            max_connections=settings.sftp_max_connections,
            login_delay_seconds=settings.sftp_login_delay_seconds,
            login_delay_max_seconds=settings.sftp_login_delay_max_seconds,
            failed_login_limit=settings.sftp_failed_login_limit,
            lockout_seconds=settings.sftp_lockout_seconds,
        )
        self.sftp_pull = SftpPullChannel(settings.pull_dir, endpoints=self._pull_endpoints)
        self.channels: dict[str, Channel] = {
            "filedrop": self.filedrop,
            "sftp_pull": self.sftp_pull,
            "http": HttpChannel(settings.http_dir),
            "manual": ManualChannel(settings.manual_dir),
            "cli": CliChannel(settings.cli_dir),
            "sftp": self.sftp,
        }
        self.pipeline = Pipeline(db=self.db, settings=settings, channels=self.channels, clock=clock)
        self.stop = threading.Event()

    def _seed(self) -> None:
        with self.db.transaction() as conn:
            if reference_store.is_seeded(conn):
                return
            offices = load_offices(self.settings.offices_file)
            carriers = load_carriers(self.settings.carriers_file)
            reference_store.seed(conn, offices, carriers, now=self.clock())
        log.info("reference data loaded", offices=len(offices), carriers=len(carriers))

    def _pull_endpoints(self) -> list[pull_endpoints.PullEndpoint]:
        with self.db.engine.connect() as conn:
            return pull_endpoints.load(conn, enabled_only=True)

    def partners(self) -> list[str]:
        return sorted(self.pipeline.reference().carriers)

    def run(self) -> None:
        self.filedrop.prepare(self.partners())
        # Bound before anything starts: a port in use stops the start-up with a clear message.
        sftp_port = self.sftp.listen() if self.settings.sftp_enabled else None
        web = None
        if self.settings.web_enabled:
            from gateway.web.server import WebServer  # FastAPI only when the console runs

            web = WebServer(self, host=self.settings.web_host, port=self.settings.web_port)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        swept = self.pipeline.raw.sweep_temporary(older_than=STALE_PART_SECONDS)
        requeued = self._release_dead_local_workers()
        requeued += self.pipeline.queue.requeue_expired(now=self.clock())
        # Closures rather than Thread(args=...), so the calls are type-checked.
        threads = [
            threading.Thread(
                target=lambda: self.filedrop.run(self.pipeline.receive_many, self.stop),
                name="filedrop",
                daemon=True,
            ),
            threading.Thread(target=self._sweep, name="sweeper", daemon=True),
            threading.Thread(
                target=lambda: self.sftp_pull.run(self.pipeline.receive_many, self.stop),
                name="sftp-pull",
                daemon=True,
            ),
        ]
        if sftp_port is not None:
            threads.append(
                threading.Thread(
                    target=lambda: self.sftp.run(self.pipeline.receive_many, self.stop),
                    name="sftp",
                    daemon=True,
                )
            )
        base_id = f"{socket.gethostname()}:{os.getpid()}"
        lease = timedelta(seconds=self.settings.lease_seconds)
        for n in range(self.settings.workers):
            worker = Worker(
                pipeline=self.pipeline, worker_id=f"{base_id}:{n}", clock=self.clock, lease=lease
            )
            threads.append(
                threading.Thread(
                    target=functools.partial(worker.run, self.stop),
                    name=f"worker-{n}",
                    daemon=True,
                )
            )
        for thread in threads:
            thread.start()
        if web is not None:
            web.start()
        log.info(
            "gateway started",
            pid=os.getpid(),
            database=self.db.dialect,
            data_dir=str(self.settings.data_dir),
            drop=str(self.settings.drop_dir),
            sftp_port=sftp_port,
            web=f"http://{web.host}:{web.port}/" if web is not None else None,
            web_port=web.port if web is not None else None,
            sftp_host_key=self.sftp.host_key_fingerprint if sftp_port is not None else None,
            workers=self.settings.workers,
            requeued=requeued,
            partial_files_removed=swept,
            message_id="Gateway PDE berjalan; letakkan berkas di folder in/ pengangkut.",
            message_en="PDE Gateway running; drop files into a carrier's in/ folder.",
        )
        while not self.stop.is_set():
            self.stop.wait(0.5)
        log.info("stopping: finishing the work in hand")
        if web is not None:
            web.stop()
        for thread in threads:
            thread.join(timeout=30)
        self.db.dispose()
        log.info("gateway stopped")

    def _release_dead_local_workers(self) -> int:
        """Jobs held by a gateway process on this host that no longer runs (killed, crashed)
        go back to the queue now instead of after their lease."""
        released = 0
        for holder in self.pipeline.queue.holders(f"{socket.gethostname()}:"):
            try:
                pid = int(holder.split(":")[1])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not _process_exists(pid):
                released += self.pipeline.queue.release_worker(holder)
        return released

    def _sweep(self) -> None:
        while not self.stop.wait(SWEEP_INTERVAL):
            try:
                requeued = self.pipeline.queue.requeue_expired(now=self.clock())
                if requeued:
                    log.warning("requeued jobs of vanished workers", count=requeued)
            except Exception:  # keep sweeping whatever happens; the next round retries
                log.exception("sweep failed")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", signal=signal.Signals(signum).name)
        self.stop.set()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
