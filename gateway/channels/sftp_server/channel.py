"""The SFTP server as a channel: listen, serve connections, hand uploads to the pipeline, fill
outboxes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import paramiko
import sqlalchemy as sa
import structlog

from gateway.channels.base import Channel, Inbound, Intake, sweep_folders
from gateway.channels.filedrop import TEMPORARY
from gateway.channels.sftp_server.admission import Admission, Pending, Slots
from gateway.channels.sftp_server.auth import Connection
from gateway.channels.sftp_server.host_key import load_or_create_host_key
from gateway.channels.sftp_server.logs import route_paramiko_logs
from gateway.channels.sftp_server.messages import printable
from gateway.channels.sftp_server.paths import INBOX, OUTBOX, CarrierTree
from gateway.channels.sftp_server.received import Received
from gateway.channels.sftp_server.session import CarrierFiles, SftpSession
from gateway.exceptions import ConfigurationError, TransientError
from gateway.login_guard import LoginGuard, LoginPolicy
from gateway.storage import credentials
from gateway.storage.database import Database
from gateway.storage.raw_files import write_file
from gateway.storage.submissions import PendingAck, audit_row, insert_rows
from gateway.storage.tables import audit_log

log = structlog.get_logger("gateway.channels.sftp")

# How long shutdown waits for uploads being handed to the pipeline.
DRAIN_SECONDS = 10.0

Clock = Callable[[], datetime]


class SftpServerChannel(Channel):
    """The SFTP server as a channel: ``run`` serves until ``stop``; ``deliver`` fills outboxes."""

    name = "sftp"
    family = "pde"

    def __init__(
        self,
        *,
        root: Path,
        db: Database,
        clock: Clock,
        carriers: Callable[[], Iterable[str]],
        host: str,
        port: int,
        max_file_bytes: int,
        max_sessions_per_carrier: int,
        max_open_handles: int,
        max_connections: int,
        max_unauthenticated: int,
        max_unauthenticated_per_address: int,
        banner_timeout: float,
        handshake_timeout: float,
        auth_timeout: float,
        received_stat_seconds: float,
        login_policy: LoginPolicy,
        admit: Callable[[], None] = lambda: None,
    ) -> None:
        self.root = root
        self.db = db
        # Back-pressure and the disk's floor (gateway/backpressure.py): raises Overloaded or
        # DiskFull while new uploads must wait.
        self.admit = admit
        self.clock = clock
        self.carriers = carriers
        self.host = host
        self.requested_port = port
        self.port: int | None = None  # the bound port once listening (port 0 picks one)
        self.max_file_bytes = max_file_bytes
        self.max_open_handles = max_open_handles
        self.banner_timeout = banner_timeout
        self.handshake_timeout = handshake_timeout
        self.auth_timeout = auth_timeout
        self.guard = LoginGuard(db, door="sftp", policy=login_policy, clock=clock)
        self.admission = Admission(
            connections=max_connections,
            unauthenticated=max_unauthenticated,
            per_address=max_unauthenticated_per_address,
        )
        self.received = Received(received_stat_seconds)
        self._sessions = Slots(max_sessions_per_carrier)
        self._lock = threading.Lock()
        self._claimed: set[tuple[str, str]] = set()
        self._connections: dict[threading.Thread, paramiko.Transport | None] = {}
        self._busy = threading.Condition()
        self._in_flight = 0
        self._listener: socket.socket | None = None
        self._host_key: paramiko.PKey | None = None
        self._intake: Intake | None = None
        self.stopping = threading.Event()

    # set-up

    @property
    def host_key_path(self) -> Path:
        return self.root / "host_key"

    def tree(self, carrier: str) -> CarrierTree:
        return CarrierTree(self.root / carrier)

    def prepare(self, partners: Iterable[str]) -> None:
        for partner in partners:
            self.tree(partner).prepare()

    def listen(self) -> int:
        """Load (or make) the host key, bind the port, tidy the inboxes; return the port."""
        route_paramiko_logs()
        self.root.mkdir(parents=True, exist_ok=True)
        self._host_key = load_or_create_host_key(self.host_key_path)
        partners = list(self.carriers())
        self.prepare(partners)
        removed = self._remove_unacknowledged(partners)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            listener = socket.create_server((self.host, self.requested_port), family=family)
        except OSError as exc:
            raise ConfigurationError(
                f"SFTP server cannot listen on {self.host}:{self.requested_port}: {exc}"
                " (set sftp_port, or sftp_enabled = false)"
            ) from exc
        listener.settimeout(0.5)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        log.info(
            "sftp server listening",
            host=self.host,
            port=self.port,
            host_key=self.host_key_fingerprint,
            unacknowledged_uploads_removed=removed,
        )
        return self.port

    @property
    def host_key_fingerprint(self) -> str | None:
        key = self._host_key
        return None if key is None else f"{key.get_name()} {credentials.fingerprint(key.asbytes())}"

    def _remove_unacknowledged(self, partners: list[str]) -> int:
        """Final-name files in inboxes: uploads whose CLOSE was never answered (see module doc)."""
        removed = 0
        for partner in partners:
            inbox = self.tree(partner).area_dir(INBOX)
            with os.scandir(inbox) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False) and not TEMPORARY.search(entry.name):
                        # Another process sharing this folder may be writing it: harmless, as
                        # an upload is taken from its open descriptor, not from its path.
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                        removed += 1
                        log.warning(
                            "unacknowledged sftp upload removed", carrier=partner, file=entry.name
                        )
        return removed

    # serving

    def run(self, intake: Intake, stop: threading.Event) -> None:
        if self._listener is None:
            self.listen()
        listener = self._listener
        assert listener is not None
        self._intake = intake
        try:
            while not stop.is_set():
                try:
                    sock, peer = listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    log.warning("sftp accept failed", error=str(exc))
                    stop.wait(0.5)
                    continue
                self._start_connection(sock, peer)
        finally:
            self._shut_down(listener)

    def _start_connection(self, sock: socket.socket, peer: Any) -> None:
        address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        pending = self.admission.admit(sock, address)
        if pending is None:
            sock.close()
            return
        thread = threading.Thread(
            target=lambda: self._serve(sock, address, pending),
            name=f"sftp-{address}",
            daemon=True,
        )
        with self._lock:
            self._connections[thread] = None
        thread.start()

    def _serve(self, sock: socket.socket, peer: str, pending: Pending) -> None:
        """One TCP connection, start to end (paramiko runs the protocol in its own threads)."""
        transport: paramiko.Transport | None = None
        connection = Connection(self, peer, pending)
        try:
            sock.settimeout(None)
            transport = paramiko.Transport(sock)
            transport.banner_timeout = self.banner_timeout
            transport.handshake_timeout = self.handshake_timeout
            assert self._host_key is not None
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler("sftp", SftpSession, CarrierFiles)
            connection.transport = transport
            with self._lock:
                self._connections[threading.current_thread()] = transport
            if self.stopping.is_set() or pending.displaced:
                return
            # With an event paramiko negotiates in its own thread; this one keeps the clock.
            transport.start_server(event=threading.Event(), server=connection)
            if self._await_login(transport, connection, pending):
                transport.join()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            # Scanners, health checks and clients that give up: not the gateway's problem.
            log.info("sftp connection ended during handshake", peer=peer, error=str(exc))
        except Exception:
            log.exception("sftp connection crashed", peer=peer)
        finally:
            if transport is not None:
                transport.close()
            else:
                sock.close()
            connection.ended()
            self.admission.ended(pending)
            with self._lock:
                self._connections.pop(threading.current_thread(), None)

    def _await_login(
        self, transport: paramiko.Transport, connection: Connection, pending: Pending
    ) -> bool:
        """Wait until the client has logged in (True) or gone, been displaced or run out of
        time (False). paramiko itself enforces the banner and key exchange timeouts."""
        deadline = pending.since + self.auth_timeout
        while True:
            if connection.logged_in() is not None:
                return self.admission.logged_in(pending)  # False: displaced meanwhile
            if not transport.is_active() or self.stopping.is_set() or pending.displaced:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                self.admission.note(
                    "sftp connection closed: no log-in in time", peer=connection.peer
                )
                return False
            connection.progress.wait(min(left, 0.25))
            connection.progress.clear()

    def _shut_down(self, listener: socket.socket) -> None:
        self.stopping.set()
        listener.close()
        with self._lock:
            connections = dict(self._connections)
        for transport in connections.values():
            if transport is not None:
                transport.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        for thread in connections:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._busy:
            self._busy.wait_for(
                lambda: self._in_flight == 0, timeout=max(0.0, deadline - time.monotonic())
            )
        log.info("sftp server stopped")

    # helpers for the sessions

    def claim(self, carrier: str, name: str) -> bool:
        """Hold an inbox name: one upload, rename or removal of a name at a time."""
        with self._lock:
            if (carrier, name) in self._claimed:
                return False
            self._claimed.add((carrier, name))
            return True

    def release(self, carrier: str, name: str) -> None:
        with self._lock:
            self._claimed.discard((carrier, name))

    @property
    def max_sessions_per_carrier(self) -> int:
        return self._sessions.limit

    def session_slot(self, carrier: str) -> bool:
        return self._sessions.acquire(carrier)

    def release_session_slot(self, carrier: str) -> None:
        self._sessions.release(carrier)

    def take(self, *, carrier: str, source_name: str, fd: int) -> int:
        """Hand an uploaded file (open descriptor, read from the start) to the pipeline."""
        intake = self._intake
        if intake is None:
            raise TransientError("the SFTP server is not running")
        with self._busy:
            self._in_flight += 1
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            inbound = Inbound(
                channel=self.name,
                sender=carrier,
                source_name=source_name,
                # Every upload is an arrival of its own; a retried upload is a new submission.
                intake_key=f"{carrier}/{source_name}:{uuid.uuid4().hex}",
            )
            with open(fd, "rb", closefd=False) as stream:
                received = intake([(inbound, stream)])
            return received[0].submission_id
        finally:
            with self._busy:
                self._in_flight -= 1
                self._busy.notify_all()

    def audit(
        self, action: str, user: str, *, submission_id: int | None = None, **detail: Any
    ) -> None:
        """One audit-trail row; a database outage is logged, not raised into the session."""
        try:
            with self.db.transaction() as conn:
                insert_rows(
                    conn,
                    audit_log,
                    [
                        audit_row(
                            at=self.clock(),
                            actor=f"sftp:{printable(user)}"[:64],
                            action=action,
                            submission_id=submission_id,
                            detail=detail,
                        )
                    ],
                )
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp audit row not written", action=action, user=user, error=str(exc))

    def find_key(self, carrier: str, key: paramiko.PKey) -> credentials.Credential | None:
        with self.db.engine.connect() as conn:
            return credentials.find_key(conn, carrier, key.get_name(), key.asbytes())

    def check_password(self, carrier: str, password: str) -> credentials.Credential | None:
        with self.db.transaction() as conn:  # a hash with old parameters is re-hashed
            return credentials.verify_password(conn, carrier, password)

    # delivery

    def deliver(self, ack: PendingAck) -> Path:
        target = self.tree(ack.partner).area_dir(OUTBOX) / ack.file_name
        write_file(target, ack.body, durable=False)
        return target

    def sweep_temporary(self, *, older_than: float) -> int:
        return sweep_folders(self.root.glob(f"*/{OUTBOX}"), older_than=older_than)
