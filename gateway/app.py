"""The gateway as a running service: database, channels, pipeline, workers, scheduler.

**Roles.** One process runs everything by default. ``--role`` (repeatable or comma-separated)
picks parts, for deployments of several processes on several machines that share one
PostgreSQL database and one folder for raw files (``data_dir``):

=============  ================================================================================
``worker``     worker threads: claim PROCESS/DELIVER jobs (``FOR UPDATE SKIP LOCKED``, a lease
               renewed by a heartbeat), plus a sweeper that hands back the jobs of workers
               whose lease ran out (a SIGKILLed process, a lost machine)
``scheduler``  the periodic jobs (:mod:`gateway.scheduler`, :mod:`gateway.housekeeping`) and
               the polling intake channels, **file drop and SFTP pull**: these poll shared
               places (``in/`` folders, carriers' servers), so they run in the one scheduler
               that holds the leader lock; a second scheduler process is a hot standby
``web``        the console and HTTP API (HTTP intake); any number of them behind a balancer
``sftp``       the embedded SFTP server (SFTP intake); any number of them
=============  ================================================================================

Intake that *listens* (HTTP, SFTP) scales with its role; intake that *polls* is a duty of the
leading scheduler, so it needs no role of its own. Acknowledgments are delivered by workers,
into the shared ``data_dir`` (outboxes, drop ``out/``, pull spools).

**Stopping.** SIGTERM (or SIGINT) stops intake first (listeners and pollers see the stop
event, the web server is shut), lets each worker finish the batch in hand, hands back
whatever is still claimed (``JobQueue.release_worker``: another process takes it at once
instead of after the lease) and exits. **Starting** resumes everything pending: jobs are in
the database, jobs held by dead processes of this host go back at once, the others when their
lease runs out; files still in ``in/`` are taken by the next scan.
"""

from __future__ import annotations

import enum
import functools
import os
import signal
import socket
import threading
from collections.abc import Iterable
from datetime import timedelta
from types import FrameType

import structlog

from gateway.channels.base import Channel
from gateway.channels.cli import CliChannel
from gateway.channels.filedrop import FileDropChannel
from gateway.channels.http import HttpChannel
from gateway.channels.manual import ManualChannel
from gateway.channels.media import CounterMediaChannel
from gateway.channels.sftp_pull import SftpPullChannel
from gateway.channels.sftp_server import SftpServerChannel
from gateway.config import Settings
from gateway.exceptions import ConfigurationError, DatabaseUnavailable, GatewayError
from gateway.housekeeping import build_jobs, sweep_temporary_files
from gateway.login_guard import LoginPolicy
from gateway.pipeline import Clock, Pipeline
from gateway.reference import load_carriers, load_offices
from gateway.scheduler import Scheduler, leader_lock_for
from gateway.storage import pull_endpoints, reference_store
from gateway.storage.database import Database
from gateway.worker import Worker, utc_now

log = structlog.get_logger("gateway.app")

SWEEP_INTERVAL = 2.0


class Role(enum.StrEnum):
    WORKER = "worker"
    SCHEDULER = "scheduler"
    WEB = "web"
    SFTP = "sftp"


ALL_ROLES = frozenset(Role)


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """``("worker", "web,sftp")`` -> those roles; nothing (or ``all``) -> every role."""
    names = [n.strip().lower() for v in values for n in v.split(",") if n.strip()]
    if not names or "all" in names:
        return ALL_ROLES
    unknown = sorted(set(names) - {str(r) for r in Role})
    if unknown:
        choices = ", ".join(str(r) for r in Role)
        raise ConfigurationError(
            f"peran tidak dikenal / unknown role: {', '.join(unknown)} (pilih / choose: {choices})"
        )
    return frozenset(Role(n) for n in names)


class Gateway:
    """Everything one process needs; ``run()`` serves until SIGINT/SIGTERM."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        roles: frozenset[Role] = ALL_ROLES,
        migrate: bool = True,
    ) -> None:
        """``migrate=False`` (CLI commands): a schema behind the code is refused with
        :class:`SchemaOutdated` instead of upgraded; a new, empty database is still set up."""
        self.settings = settings
        self.clock = clock
        self.roles = roles
        # Made at once: /readyz and the free-space measure look at it from the start.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database_url, pool_size=settings.workers + 4)
        if migrate:
            self.db.migrate()
        else:
            self.db.require_schema()
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
            max_unauthenticated=settings.sftp_max_unauthenticated,
            max_unauthenticated_per_address=settings.sftp_max_unauthenticated_per_address,
            banner_timeout=settings.sftp_banner_timeout_seconds,
            handshake_timeout=settings.sftp_handshake_timeout_seconds,
            auth_timeout=settings.sftp_auth_timeout_seconds,
            received_stat_seconds=settings.sftp_received_stat_seconds,
            login_policy=LoginPolicy.from_settings(settings),
            admit=lambda: self.pipeline.admission.check(),
        )
        self.sftp_pull = SftpPullChannel(settings.pull_dir, endpoints=self._pull_endpoints)
        self.channels: dict[str, Channel] = {
            "filedrop": self.filedrop,
            "sftp_pull": self.sftp_pull,
            "http": HttpChannel(settings.http_dir),
            "manual": ManualChannel(settings.manual_dir),
            "media": CounterMediaChannel(settings.media_dir),
            "cli": CliChannel(settings.cli_dir),
            "sftp": self.sftp,
        }
        self.pipeline = Pipeline(db=self.db, settings=settings, channels=self.channels, clock=clock)
        self.stop = threading.Event()

    def _seed(self) -> None:
        # Every process of a new deployment comes here, maybe at the same instant: seed()
        # lets one of them load the files and the others find them loaded.
        with self.db.transaction() as conn:
            if reference_store.is_seeded(conn):
                return
            offices = load_offices(self.settings.offices_file)
            carriers = load_carriers(self.settings.carriers_file)
            loaded = reference_store.seed(conn, offices, carriers, now=self.clock())
        if loaded:
            log.info("reference data loaded", offices=len(offices), carriers=len(carriers))

    def _pull_endpoints(self) -> list[pull_endpoints.PullEndpoint]:
        with self.db.engine.connect() as conn:
            return pull_endpoints.load(conn, enabled_only=True)

    def partners(self) -> list[str]:
        return sorted(self.pipeline.reference().carriers)

    def run(self) -> None:
        roles = self.roles
        settings = self.settings
        if Role.SCHEDULER in roles:
            self.filedrop.prepare(self.partners())
        # Bound before anything starts: a port in use stops the start-up with a clear message.
        sftp_port = self.sftp.listen() if Role.SFTP in roles and settings.sftp_enabled else None
        web = None
        if Role.WEB in roles and settings.web_enabled:
            from gateway.web.server import WebServer  # FastAPI only when the console runs

            web = WebServer(self, host=settings.web_host, port=settings.web_port)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        swept = requeued = 0
        if roles & {Role.WORKER, Role.SCHEDULER}:
            # Resume: what dead processes held goes back to the queue now.
            swept = sweep_temporary_files(self.pipeline)
            requeued = self._release_dead_local_workers()
            requeued += self.pipeline.queue.requeue_expired(now=self.clock())
        base_id = f"{socket.gethostname()}:{os.getpid()}"
        # Closures rather than Thread(args=...), so the calls are type-checked.
        threads: list[threading.Thread] = []
        if Role.SCHEDULER in roles:
            scheduler = Scheduler(
                db=self.db,
                lock=leader_lock_for(self.db, settings.data_dir),
                jobs=build_jobs(self.pipeline, settings),
                intake=[
                    ("filedrop", lambda term: self.filedrop.run(self.pipeline.receive_many, term)),
                    (
                        "sftp-pull",
                        lambda term: self.sftp_pull.run(self.pipeline.receive_many, term),
                    ),
                ],
                runner=base_id,
                clock=self.clock,
            )
            threads.append(
                threading.Thread(
                    target=functools.partial(scheduler.run, self.stop),
                    name="scheduler",
                    daemon=True,
                )
            )
        if sftp_port is not None:
            threads.append(
                threading.Thread(
                    target=lambda: self.sftp.run(self.pipeline.receive_many, self.stop),
                    name="sftp",
                    daemon=True,
                )
            )
        lease = timedelta(seconds=settings.lease_seconds)
        workers: list[Worker] = []
        if Role.WORKER in roles:
            for n in range(settings.workers):
                worker = Worker(
                    pipeline=self.pipeline,
                    worker_id=f"{base_id}:{n}",
                    clock=self.clock,
                    lease=lease,
                )
                workers.append(worker)
                threads.append(
                    threading.Thread(
                        target=functools.partial(worker.run, self.stop),
                        name=f"worker-{n}",
                        daemon=True,
                    )
                )
            threads.append(threading.Thread(target=self._sweep, name="sweeper", daemon=True))
            threads.append(
                threading.Thread(
                    target=functools.partial(self._heartbeat, workers, lease),
                    name="heartbeat",
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
            roles=sorted(str(r) for r in roles),
            database=self.db.dialect,
            data_dir=str(settings.data_dir),
            drop=str(settings.drop_dir),
            sftp_port=sftp_port,
            web=f"http://{web.host}:{web.port}/" if web is not None else None,
            web_port=web.port if web is not None else None,
            sftp_host_key=self.sftp.host_key_fingerprint if sftp_port is not None else None,
            workers=len(workers),
            requeued=requeued,
            partial_files_removed=swept,
            message_id="Gateway PDE berjalan; letakkan berkas di folder in/ pengangkut.",
            message_en="PDE Gateway running; drop files into a carrier's in/ folder.",
        )
        while not self.stop.is_set():
            self.stop.wait(0.5)
        log.info("stopping: intake closed, finishing the work in hand")
        if web is not None:
            web.stop()
        for thread in threads:
            thread.join(timeout=30)
        # A worker still busy after the wait: its jobs go back now, not after its lease.
        handed_back = 0
        for worker in workers:
            try:
                handed_back += self.pipeline.queue.release_worker(worker.worker_id)
            except GatewayError as exc:
                log.warning("jobs not handed back; their lease will expire", error=str(exc))
        self.db.dispose()
        log.info("gateway stopped", handed_back=handed_back)

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
            except DatabaseUnavailable:
                continue  # the workers say so, once per outage; the next round retries
            except Exception:  # keep sweeping whatever happens; the next round retries
                log.exception("sweep failed")

    def _heartbeat(self, workers: list[Worker], lease: timedelta) -> None:
        """Renew the lease of every job this process's workers are running, three times per
        lease.

        A long batch (large files) keeps its jobs; a process that stops beating (SIGKILL,
        a frozen machine) loses them once the lease runs out and the sweeper hands them out.
        Only jobs in progress (``Worker.in_hand``): a batch that broke off (a database
        outage) is not kept by a process that lives on.
        """
        interval = max(lease.total_seconds() / 3, 0.1)
        while not self.stop.wait(interval):
            held = {worker.worker_id: worker.in_hand for worker in workers}
            try:
                self.pipeline.queue.extend_leases(held, now=self.clock(), lease=lease)
            except DatabaseUnavailable:
                continue  # the workers say so, once per outage; the next beat retries
            except Exception:  # keep beating; a missed beat only shortens one lease
                log.exception("heartbeat failed")

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
