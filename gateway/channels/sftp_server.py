"""The gateway's own SFTP server: one account per carrier, ``/inbox`` up, ``/outbox`` down.

Built on paramiko's server mode. Per connection::

    accept ──▶ _Connection (ServerInterface): who is it (key or password), login slow-down,
               │                              sessions per carrier
               ▼ "sftp" subsystem
             _SftpSession (SFTPServer): CLOSE, status texts, aborts
               │
               ▼
             _CarrierFiles (SFTPServerInterface): one carrier's virtual tree
               ├── _Upload   (a file being written into /inbox)
               └── _Download (a file being read from /outbox)

**The tree.** A carrier sees ``/``, ``/inbox`` and ``/outbox`` and nothing else; on disk they
are ``<data_dir>/sftp/<CARRIER>/{inbox,outbox}``. Every client path goes through
:func:`resolve_path`, which normalises it against ``/`` (so ``..`` stops at the carrier's root
and an absolute path is a path inside the tree), refuses control characters and backslashes,
and accepts at most ``/<area>/<name>``: there are no sub-folders to make, so there is nothing to
escape through. Files are opened with ``O_NOFOLLOW`` and checked to be regular files whose
real path is inside the area, so a symlink put there by anyone else is never followed;
clients cannot make symlinks at all.

**When a file is taken.** An upload enters the pipeline when the client closes its handle
(SSH_FXP_CLOSE), and the OK for that CLOSE is only sent once ``intake`` has returned, i.e.
once the bytes are durable in the raw store and recorded: an acknowledged close is a received
file. A file uploaded under a temporary name (``filedrop.TEMPORARY``: ``*.part``, ``*.tmp``, a
leading dot...) stays in ``/inbox`` after its close and is taken when it is renamed to a final
name. A taken file is removed from ``/inbox``; its receipt and response appear in ``/outbox``
(``deliver``).

**Aborted uploads.** paramiko's ``SFTPServer.finish_subsystem`` calls ``close()`` on every
handle still open when the connection drops, which would look like a finished upload. Here
``close()`` never ingests: only a CLOSE request from the client does (``_Upload.finish``), and
``_SftpSession.finish_subsystem`` marks the handles still open as aborted before paramiko
closes them, so their partial files are deleted and audited as aborted. A file with a final
name found in an inbox at start-up was never acknowledged (its CLOSE was not answered), so it
is deleted too; temporary names are kept for the carrier to rename or delete.

**Too large.** A write that would take a file past ``max_file_bytes`` is refused with
SFTP_FAILURE and a bilingual message; every later write on that handle and its CLOSE are
refused the same way and the partial file is deleted (cut with an error, nothing is
processed, the refusal is audited). Keeping the bytes to produce a FILE-002 response, as the
file drop does, would let one session fill the disk.

**A full disk.** While the data dir is below ``min_free_bytes`` (or full), an upload's OPEN
is refused with SFTP_FAILURE and a bilingual "try later" (``disk-full``); a write that fails
for lack of space (ENOSPC) cuts the upload: its partial file is deleted at once and every
later write and the CLOSE are refused the same way, so half a file is never taken. A CLOSE
whose intake meets a full disk is refused the same way too, and the file is deleted.

**Logins.** Public keys (``partner_credentials``) and, if set, a password (argon2id hash),
under the log-in limits of :mod:`gateway.login_guard` (counted in the database, reserved
before a password is checked): past ``login_failure_limit`` attempts from one address, or
``login_failure_limit_per_user`` from all, a password is refused unchecked; a key is refused
only by its (user, address) counter. Each connection may open one SFTP session; a carrier may
hold ``sftp_max_sessions_per_carrier`` at once and each session ``sftp_max_open_handles``
open files.

**Before the log-in** a connection costs threads and memory and proves nothing, so
:class:`_Admission` bounds what not-yet-logged-in connections may hold: at most
``sftp_max_unauthenticated_per_address`` from one address (IPv6: one /64; past it a new one
is closed at once) and ``sftp_max_unauthenticated`` in all; when that is full, a newcomer
displaces the oldest connection of the address holding the most of them, so the newest
arrival, a carrier's included, always gets its chance. The client's banner must come within
``sftp_banner_timeout_seconds``, the key exchange end within
``sftp_handshake_timeout_seconds`` and the log-in within ``sftp_auth_timeout_seconds`` of the
connect, or the connection is closed. A logged-in connection no longer counts against these
(only against ``sftp_max_connections``, all connections at once). Refusals are logged at most
once per ``REFUSAL_LOG_SECONDS``, with the number left unlogged.

**After the close.** Clients check an upload by asking for its size once it is closed
(paramiko's ``put(confirm=True)``, WinSCP setting the time): a taken file is no longer in
``/inbox``, so for ``sftp_received_stat_seconds`` its name still answers ``stat``, ``lstat``
and ``setstat`` (ignored) with the size received (:class:`_Received`, per carrier, in this
process's memory). It is not listed: the listing shows what is still waiting to be taken.

**Audit.** Logins (success and failure), refused sessions, uploads (with the submission),
aborted and refused uploads, downloads and deletions go to ``audit_log`` with actor
``sftp:<user>``.

paramiko internals used (checked by the SFTP acceptance tests): ``SFTPServer._process`` and
``_send_status`` (to answer CLOSE ourselves and put our own text into status replies) and
``file_table``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import re
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import paramiko
import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from paramiko.sftp import (
    CMD_CLOSE,
    SFTP_BAD_MESSAGE,
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
)

from gateway.channels.base import Channel, Inbound, Intake, sweep_folders
from gateway.channels.filedrop import PARTNER_FOLDER, TEMPORARY
from gateway.exceptions import ConfigurationError, DiskFull, Overloaded, TransientError
from gateway.login_guard import LoginGuard, LoginPolicy, address_key
from gateway.storage import credentials
from gateway.storage.database import Database
from gateway.storage.disk import is_disk_full
from gateway.storage.raw_files import write_file
from gateway.storage.submissions import PendingAck, audit_row, insert_rows
from gateway.storage.tables import audit_log

log = structlog.get_logger("gateway.channels.sftp")

AREAS = ("inbox", "outbox")
INBOX, OUTBOX = AREAS
MAX_NAME_BYTES = 255
# C0, DEL and C1 controls: a name that could rewrite a terminal or a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# How long shutdown waits for uploads being handed to the pipeline.
DRAIN_SECONDS = 10.0
MAX_READ_BYTES = 256 * 1024
# At most one log line per this long about connections refused or displaced before log-in.
REFUSAL_LOG_SECONDS = 10.0
# Names remembered per carrier after their upload was taken (see "After the close").
MAX_RECEIVED_NAMES = 10_000

BANNER = (
    "Gateway PDE DJBC: hanya untuk pengangkut yang terdaftar; semua akses dicatat.\r\n"
    "DJBC PDE Gateway: registered carriers only; all access is logged.\r\n"
)

# What the carrier reads in SFTP status replies: Indonesian / English.
MESSAGES: dict[str, tuple[str, str]] = {
    "received": (
        "Diterima sebagai pengajuan {submission}; tanda terima dan tanggapan menyusul di /outbox.",
        "Received as submission {submission}; the receipt and response follow in /outbox.",
    ),
    "too-large": (
        "Berkas melebihi batas {limit} byte; unggahan dihentikan dan tidak diproses.",
        "The file is over the limit of {limit} bytes; the upload is cut and not processed.",
    ),
    "bad-name": (
        "Nama berkas tidak sah (karakter kendali, garis miring terbalik atau terlalu panjang).",
        "Invalid file name (control characters, backslash or too long).",
    ),
    "no-such-path": (
        "Tidak ada; yang tersedia hanya /inbox dan /outbox.",
        "No such path; there are only /inbox and /outbox.",
    ),
    "no-such-file": ("Berkas tidak ada.", "No such file."),
    "upload-only": (
        "Folder /inbox hanya untuk mengunggah; berkas yang diunggah tidak dapat dibaca kembali.",
        "The /inbox folder is for uploading only; uploaded files cannot be read back.",
    ),
    "read-only": (
        "Folder /outbox hanya untuk mengunduh dan menghapus.",
        "The /outbox folder is for downloading and deleting only.",
    ),
    "files-only": (
        "Berkas hanya dapat diunggah ke /inbox atau diunduh dari /outbox.",
        "Files can only be uploaded into /inbox or downloaded from /outbox.",
    ),
    "no-folders": (
        "Folder tidak dapat dibuat, dihapus atau diubah.",
        "Folders cannot be created, removed or changed.",
    ),
    "no-links": ("Tautan (link) tidak diizinkan.", "Links are not allowed."),
    "no-append": (
        "Melanjutkan unggahan tidak didukung; unggah ulang seluruh berkas.",
        "Resuming an upload is not supported; upload the whole file again.",
    ),
    "busy": (
        "Berkas {name} sedang diunggah atau diproses oleh sesi lain.",
        "The file {name} is being uploaded or taken by another session.",
    ),
    "exists": ("Berkas {name} sudah ada.", "The file {name} already exists."),
    "rename-rules": (
        "Ganti nama hanya di /inbox, dari nama sementara (.part, .tmp, diawali titik).",
        "Rename only in /inbox, from a temporary name (.part, .tmp, leading dot).",
    ),
    "too-many-handles": (
        "Terlalu banyak berkas terbuka dalam sesi ini (batas {limit}).",
        "Too many open files in this session (limit {limit}).",
    ),
    "unavailable": (
        "Gateway sementara tidak dapat menerima berkas; berkas ini TIDAK diterima, kirim ulang.",
        "The gateway cannot take files right now; this file was NOT received, send it again.",
    ),
    "overloaded": (
        "Gateway sedang penuh; berkas ini TIDAK diterima, coba lagi beberapa saat lagi.",
        "The gateway is busy; this file was NOT received, try again later.",
    ),
    "disk-full": (
        "Ruang penyimpanan gateway sedang penuh; berkas ini TIDAK diterima, coba lagi beberapa "
        "saat lagi.",
        "The gateway's storage is full; this file was NOT received, try again later.",
    ),
    "failed": (
        "Kesalahan pada gateway; berkas ini TIDAK diterima, kirim ulang.",
        "Gateway error; this file was NOT received, send it again.",
    ),
}


def message(key: str, **fields: object) -> str:
    indonesian, english = MESSAGES[key]
    return f"{indonesian.format(**fields)} / {english.format(**fields)}"


# -- paths -------------------------------------------------------------------------------


class PathRefused(Exception):
    """A client path the tree does not have or does not allow; ``code`` is the SFTP status."""

    def __init__(self, code: int, key: str, **fields: object) -> None:
        self.code = code
        self.text = message(key, **fields)
        super().__init__(self.text)


@dataclass(frozen=True, kw_only=True, slots=True)
class VirtualPath:
    """A place in a carrier's tree: the root, an area, or a file in an area."""

    area: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        return "/" + "/".join(p for p in (self.area, self.name) if p)


def resolve_path(path: str) -> VirtualPath:
    """Canonicalise a client path into the carrier's tree, or raise :class:`PathRefused`.

    ``..`` cannot climb above ``/`` (POSIX normalisation against the root), a relative path is
    relative to ``/`` (the login directory), and only ``/``, ``/inbox``, ``/outbox`` and one
    file name below an area exist.
    """
    if _CONTROL.search(path) or "\\" in path:
        raise PathRefused(SFTP_PERMISSION_DENIED, "bad-name")
    parts = [p for p in posixpath.normpath(posixpath.join("/", path)).split("/") if p]
    if not parts:
        return VirtualPath()
    if parts[0] not in AREAS or len(parts) > 2:
        raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-path")
    if len(parts) == 1:
        return VirtualPath(area=parts[0])
    name = parts[1]
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise PathRefused(SFTP_PERMISSION_DENIED, "bad-name")
    return VirtualPath(area=parts[0], name=name)


class CarrierTree:
    """Where one carrier's virtual tree is on disk; every real path is checked to stay inside."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        for area in AREAS:
            (self.root / area).mkdir(parents=True, exist_ok=True)

    def area_dir(self, area: str) -> Path:
        return self.root / area

    def real(self, where: VirtualPath) -> Path:
        """The real path of ``where`` (which may not exist yet), inside the tree."""
        if where.area is None:
            return self.root
        folder = self.area_dir(where.area)
        if where.name is None:
            return folder
        target = folder / where.name
        # The name is one component, so only a link could lead out: resolve and compare.
        inside = os.path.realpath(folder)
        if os.path.dirname(os.path.realpath(target)) != inside:
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file")
        return target

    def regular_file(self, where: VirtualPath) -> tuple[Path, os.stat_result]:
        """An existing regular file (never a link, folder, device...) at ``where``."""
        path = self.real(where)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file") from None
        if not stat.S_ISREG(st.st_mode):
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file")
        return path, st


# -- the channel -------------------------------------------------------------------------


Clock = Callable[[], datetime]
T = TypeVar("T")


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
        self.admission = _Admission(
            connections=max_connections,
            unauthenticated=max_unauthenticated,
            per_address=max_unauthenticated_per_address,
        )
        self.received = _Received(received_stat_seconds)
        self._sessions = _Slots(max_sessions_per_carrier)
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
        _route_paramiko_logs()
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

    def _serve(self, sock: socket.socket, peer: str, pending: _Pending) -> None:
        """One TCP connection, start to end (paramiko runs the protocol in its own threads)."""
        transport: paramiko.Transport | None = None
        connection = _Connection(self, peer, pending)
        try:
            sock.settimeout(None)
            transport = paramiko.Transport(sock)
            transport.banner_timeout = self.banner_timeout
            transport.handshake_timeout = self.handshake_timeout
            assert self._host_key is not None
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler("sftp", _SftpSession, _CarrierFiles)
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
        self, transport: paramiko.Transport, connection: _Connection, pending: _Pending
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


# -- before the log-in -------------------------------------------------------------------


@dataclass(eq=False, kw_only=True, slots=True)
class _Pending:
    """A connection that has not logged in yet."""

    address: str  # as counted: IPv6 by its /64
    since: float  # time.monotonic() of the connect
    sock: socket.socket
    displaced: bool = False
    logged_in: bool = False


class _Admission:
    """What connections that have not logged in may hold (see "Before the log-in")."""

    def __init__(self, *, connections: int, unauthenticated: int, per_address: int) -> None:
        self.connections = connections
        self.unauthenticated = unauthenticated
        self.per_address = per_address
        self._lock = threading.Lock()
        self._pending: dict[_Pending, None] = {}  # in order of arrival
        self._per_address: dict[str, int] = {}
        self._logged_in = 0
        self._unlogged = 0
        self._last_note = float("-inf")

    def admit(self, sock: socket.socket, peer: str) -> _Pending | None:
        """A place for a new connection (None: close it at once)."""
        address = address_key(peer)
        with self._lock:
            full = len(self._pending) + self._logged_in >= self.connections
            if self._per_address.get(address, 0) >= self.per_address:
                refused = "too many connections not logged in from this address"
            elif full and not self._pending:
                refused = "too many connections"
            else:
                refused = ""
            victim = None
            if not refused and (full or len(self._pending) >= self.unauthenticated):
                victim = self._most_crowded_oldest()
                self._drop(victim)
                victim.displaced = True
            entry = None
            if not refused:
                entry = _Pending(address=address, since=time.monotonic(), sock=sock)
                self._pending[entry] = None
                self._per_address[address] = self._per_address.get(address, 0) + 1
        if refused:
            self.note(f"sftp connection refused: {refused}", peer=peer)
        if victim is not None:
            self.note("sftp connection displaced before log-in", peer=victim.address)
            # The connection's own thread notices (its reads fail) and cleans up.
            with contextlib.suppress(OSError):
                victim.sock.shutdown(socket.SHUT_RDWR)
        return entry

    def logged_in(self, pending: _Pending) -> bool:
        """The connection logged in: it leaves the pre-log-in count (False if displaced)."""
        with self._lock:
            if pending.displaced:
                return False
            if not pending.logged_in:
                self._drop(pending)
                pending.logged_in = True
                self._logged_in += 1
            return True

    def ended(self, pending: _Pending) -> None:
        with self._lock:
            if pending.logged_in:
                pending.logged_in = False
                self._logged_in -= 1
            elif pending in self._pending:
                self._drop(pending)

    def note(self, event: str, **fields: Any) -> None:
        """A refusal or time-out, logged at most once per REFUSAL_LOG_SECONDS (a flood would
        otherwise write a line per connection)."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_note < REFUSAL_LOG_SECONDS:
                self._unlogged += 1
                return
            self._last_note = now
            unlogged, self._unlogged = self._unlogged, 0
        log.warning(event, **fields, not_logged_since_last=unlogged)

    def _most_crowded_oldest(self) -> _Pending:
        most = max(self._per_address.values())
        return next(p for p in self._pending if self._per_address[p.address] == most)

    def _drop(self, pending: _Pending) -> None:
        del self._pending[pending]
        left = self._per_address[pending.address] - 1
        if left:
            self._per_address[pending.address] = left
        else:
            del self._per_address[pending.address]


# -- after the close ---------------------------------------------------------------------


class _Received:
    """Names recently taken from each carrier's /inbox, and what ``stat`` answers for them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._names: dict[str, dict[str, tuple[float, paramiko.SFTPAttributes]]] = {}

    def remember(self, carrier: str, name: str, st: os.stat_result) -> None:
        until = time.monotonic() + self.seconds
        with self._lock:
            names = self._names.setdefault(carrier, {})
            names.pop(name, None)  # to the end: the dict is oldest first
            names[name] = (until, paramiko.SFTPAttributes.from_stat(st, name))
            while len(names) > MAX_RECEIVED_NAMES:
                del names[next(iter(names))]

    def get(self, carrier: str, name: str) -> paramiko.SFTPAttributes | None:
        with self._lock:
            names = self._names.get(carrier, {})
            # Oldest first: drop what has expired from the front.
            now = time.monotonic()
            while names and next(iter(names.values()))[0] <= now:
                del names[next(iter(names))]
            found = names.get(name)
        return None if found is None else found[1]

    def forget(self, carrier: str, name: str) -> None:
        with self._lock:
            self._names.get(carrier, {}).pop(name, None)


# -- logins ------------------------------------------------------------------------------


class _Slots:
    """Concurrent sessions per carrier."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def acquire(self, carrier: str) -> bool:
        with self._lock:
            if self._held.get(carrier, 0) >= self.limit:
                return False
            self._held[carrier] = self._held.get(carrier, 0) + 1
            return True

    def release(self, carrier: str) -> None:
        with self._lock:
            left = self._held.get(carrier, 0) - 1
            if left > 0:
                self._held[carrier] = left
            else:
                self._held.pop(carrier, None)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Login:
    """A credential that passed; the login counts once the transport says it is authenticated
    (paramiko asks about a public key before it checks the signature)."""

    carrier: str
    method: str
    fingerprint: str | None


class _Connection(paramiko.ServerInterface):
    """One SSH connection: authentication, and the one SFTP session it may open."""

    def __init__(self, service: SftpServerChannel, peer: str, pending: _Pending) -> None:
        self.service = service
        self.peer = peer
        self.pending = pending
        self.transport: paramiko.Transport | None = None
        self._candidate: _Login | None = None
        self.carrier: str | None = None  # set once the login is confirmed
        self._slot = False
        self._session_opened = False
        # Set after each authentication request, for the thread waiting for the log-in.
        self.progress = threading.Event()
        self._login_lock = threading.Lock()

    # authentication

    def get_banner(self) -> tuple[str | None, str | None]:
        return BANNER, "en"

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_none(self, username: str) -> int:
        # Every client starts with "none" to learn the methods: not a failed login.
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        try:
            return self._check_key(username, key)
        finally:
            self.progress.set()

    def check_auth_password(self, username: str, password: str) -> int:
        try:
            return self._check_password(username, password)
        finally:
            self.progress.set()

    def _check_key(self, username: str, key: paramiko.PKey) -> int:
        # A key cannot be guessed: only this address's counter may refuse it, and a wrong key
        # counts only there (clients offer every key they hold, one after the other).
        key_fingerprint = credentials.fingerprint(key.asbytes())
        guard = self.service.guard
        carrier = _carrier_code(username)
        if carrier is None:
            return self._failed(username, "publickey", key_fingerprint, delay=guard.policy.delay)
        try:
            if guard.locked(carrier, self.peer):
                delay = guard.policy.max_delay
                return self._failed(
                    carrier, "publickey", key_fingerprint, locked_out=True, delay=delay
                )
            found = self.service.find_key(carrier, key)
            attempt = None if found else guard.attempt(carrier, self.peer, every_address=False)
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login check failed", user=carrier, error=str(exc))
            return AUTH_FAILED
        if attempt is not None:
            return self._failed(carrier, "publickey", key_fingerprint, delay=attempt.delay)
        self._candidate = _Login(carrier=carrier, method="publickey", fingerprint=key_fingerprint)
        return AUTH_SUCCESSFUL

    def _check_password(self, username: str, password: str) -> int:
        guard = self.service.guard
        carrier = _carrier_code(username)
        if carrier is None:  # no carrier has such a name: nothing to check, nothing to count
            return self._failed(username, "password", None, delay=guard.policy.delay)
        try:
            # Counted before the password is checked: see gateway/login_guard.py.
            attempt = guard.attempt(carrier, self.peer)
            if not attempt.allowed:
                return self._failed(carrier, "password", None, locked_out=True, delay=attempt.delay)
            found = self.service.check_password(carrier, password)
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login check failed", user=carrier, error=str(exc))
            return AUTH_FAILED
        if found is None:
            return self._failed(carrier, "password", None, delay=attempt.delay)
        self._candidate = _Login(carrier=carrier, method="password", fingerprint=None)
        return AUTH_SUCCESSFUL

    def _failed(
        self,
        username: str,
        method: str,
        key: str | None,
        locked_out: bool = False,
        *,
        delay: float,
    ) -> int:
        """A refused log-in: audited, logged, answered after ``delay``. ``locked_out``: refused
        by the limits without the secret being checked."""
        user = _carrier_code(username) or printable(username)[:40]
        self.service.audit(
            "sftp_login_failed",
            user,
            peer=self.peer,
            method=method,
            fingerprint=key,
            locked_out=locked_out,
        )
        log.warning(
            "sftp login failed",
            user=user,
            peer=self.peer,
            method=method,
            delay=delay,
            locked_out=locked_out,
        )
        if delay:
            # Only this connection waits; the answer is slow, the server is not.
            self.service.stopping.wait(delay)
        return AUTH_FAILED

    def logged_in(self) -> str | None:
        """The carrier once the transport has accepted the log-in, else None."""
        return self._confirm_login()

    def _confirm_login(self) -> str | None:
        with self._login_lock:  # the serving thread and paramiko's may both ask
            return self._confirm_login_once()

    def _confirm_login_once(self) -> str | None:
        if self.carrier is not None:
            return self.carrier
        login = self._candidate
        handler = None if self.transport is None else self.transport.auth_handler
        # Not Transport.is_authenticated(): that is False again once the transport has closed.
        if login is None or handler is None or not handler.is_authenticated():
            return None
        self.carrier = login.carrier
        # Out of the pre-log-in count now (the serving thread would notice within moments;
        # a client opening its session channel must not be displaced meanwhile).
        self.service.admission.logged_in(self.pending)
        try:
            # A key log-in leaves the user's count over every address alone (see above).
            self.service.guard.succeeded(
                login.carrier, self.peer, every_address=login.method == "password"
            )
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login counters not reset", user=login.carrier, error=str(exc))
        self.service.audit(
            "sftp_login",
            login.carrier,
            peer=self.peer,
            method=login.method,
            fingerprint=login.fingerprint,
        )
        log.info("sftp login", carrier=login.carrier, peer=self.peer, method=login.method)
        return login.carrier

    # channels

    def check_channel_request(self, kind: str, chanid: int) -> int:
        carrier = self._confirm_login()
        if kind != "session" or carrier is None:
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        if self._session_opened:
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        if not self.service.session_slot(carrier):
            self.service.audit(
                "sftp_session_refused",
                carrier,
                peer=self.peer,
                reason="too many sessions",
                limit=self.service.max_sessions_per_carrier,
            )
            log.warning("sftp session refused: too many sessions", carrier=carrier, peer=self.peer)
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self._slot = True
        self._session_opened = True
        return OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or self.carrier is None:
            return False
        self.service.tree(self.carrier).prepare()
        return bool(super().check_channel_subsystem_request(channel, name))

    def ended(self) -> None:
        if self._slot and self.carrier is not None:
            self.service.release_session_slot(self.carrier)
            self._slot = False
        if self.carrier is None:
            self._confirm_login()  # logged in but never opened a channel: still a login


def _carrier_code(username: str) -> str | None:
    code = username.strip().upper()
    return code if PARTNER_FOLDER.match(code) else None


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (it goes into logs and the audit)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# -- the SFTP session --------------------------------------------------------------------


class _SftpSession(paramiko.SFTPServer):
    """paramiko's SFTP server with our CLOSE, our status texts and abort detection."""

    def _files(self) -> _CarrierFiles:
        return cast(_CarrierFiles, self.server)

    def _process(self, t: int, request_number: int, msg: paramiko.Message) -> None:
        self._files().refusal = None
        if t != CMD_CLOSE:
            cast(Any, super())._process(t, request_number, msg)
            return
        handle_id = msg.get_binary()
        if handle_id in self.folder_table:
            del self.folder_table[handle_id]
            self._send_status(request_number, SFTP_OK)
            return
        handle = self.file_table.pop(handle_id, None)
        if handle is None:
            self._send_status(request_number, SFTP_BAD_MESSAGE, "Invalid handle")
            return
        code, text = handle.finish() if isinstance(handle, _Upload) else (_close(handle), None)
        self._send_status(request_number, code, text)

    def _send_status(self, request_number: int, code: int, desc: str | None = None) -> None:
        # paramiko sends a generic text for a bare status code; ours says why, in both
        # languages (reset for every request in _process).
        text = self._files().refusal
        if desc is None and text:
            desc = text
        cast(Any, super())._send_status(request_number, code, desc)

    def finish_subsystem(self) -> None:
        # Handles still open when the session ends were not closed by the client: the
        # connection dropped. paramiko is about to close() them; mark uploads as aborted first.
        for handle in self.file_table.values():
            if isinstance(handle, _Upload):
                handle.aborted = True
        super().finish_subsystem()


def _close(handle: paramiko.SFTPHandle) -> int:
    handle.close()
    return SFTP_OK


class _CarrierFiles(paramiko.SFTPServerInterface):
    """The SFTP operations on one carrier's tree (one instance per SFTP session)."""

    def __init__(self, server: paramiko.ServerInterface, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        connection = cast(_Connection, server)
        assert connection.carrier is not None  # the subsystem is only granted after login
        self.connection = connection
        self.service = connection.service
        self.carrier = connection.carrier
        self.tree = self.service.tree(self.carrier)
        self.open_handles = 0
        # The text for the status reply being prepared (see _SftpSession._send_status).
        self.refusal: str | None = None

    def _guarded(self, action: Callable[[], T]) -> T | int:
        try:
            return action()
        except PathRefused as refused:
            self.refusal = refused.text
            return refused.code
        except OSError as exc:
            log.warning("sftp file operation failed", carrier=self.carrier, error=str(exc))
            if is_disk_full(exc):  # e.g. no room for a new file's entry: "try later"
                self.refusal = message("disk-full")
                return SFTP_FAILURE
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)

    def audit(self, action: str, **detail: Any) -> None:
        self.service.audit(action, self.carrier, peer=self.connection.peer, **detail)

    # paths and listings

    def canonicalize(self, path: str) -> str:
        try:
            return resolve_path(path).text
        except PathRefused as refused:
            # paramiko answers an exception here with SFTP_FAILURE, carrying this text.
            self.refusal = refused.text
            raise

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        return self._guarded(lambda: self._list(resolve_path(path)))

    def _list(self, where: VirtualPath) -> list[paramiko.SFTPAttributes]:
        if where.name is not None:
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-path")
        if where.area is None:
            return [
                paramiko.SFTPAttributes.from_stat(os.stat(self.tree.area_dir(a)), a) for a in AREAS
            ]
        listing = []
        with os.scandir(self.tree.area_dir(where.area)) as entries:
            for entry in entries:
                # The gateway's own files being written into /outbox start with a dot.
                if where.area == OUTBOX and entry.name.startswith("."):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat(follow_symlinks=False)
                    listing.append(paramiko.SFTPAttributes.from_stat(st, entry.name))
        return sorted(listing, key=lambda a: a.filename or "")

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        return self._guarded(lambda: self._stat(resolve_path(path)))

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        return self.stat(path)

    def _stat(self, where: VirtualPath) -> paramiko.SFTPAttributes:
        if where.name is None:
            return paramiko.SFTPAttributes.from_stat(os.stat(self.tree.real(where)))
        try:
            _, st = self.tree.regular_file(where)
        except PathRefused:
            taken = self._received(where)
            if taken is None:
                raise
            return taken
        return paramiko.SFTPAttributes.from_stat(st, where.name)

    def _received(self, where: VirtualPath) -> paramiko.SFTPAttributes | None:
        """What a name taken from /inbox a moment ago answers (see "After the close")."""
        if where.area != INBOX or where.name is None:
            return None
        return self.service.received.get(self.carrier, where.name)

    # files

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        return self._guarded(lambda: self._open(resolve_path(path), flags))

    def _open(self, where: VirtualPath, flags: int) -> paramiko.SFTPHandle:
        if where.area is None or where.name is None:
            raise PathRefused(SFTP_PERMISSION_DENIED, "files-only")
        writing = flags & (os.O_WRONLY | os.O_RDWR) != 0
        if where.area == OUTBOX and writing:
            raise PathRefused(SFTP_PERMISSION_DENIED, "read-only")
        if where.area == INBOX and not writing:
            raise PathRefused(SFTP_PERMISSION_DENIED, "upload-only")
        if self.open_handles >= self.service.max_open_handles:
            raise PathRefused(SFTP_FAILURE, "too-many-handles", limit=self.service.max_open_handles)
        handle = self._open_upload(where, flags) if writing else self._open_download(where)
        self.open_handles += 1
        return handle

    def _open_upload(self, where: VirtualPath, flags: int) -> _Upload:
        assert where.name is not None
        if flags & os.O_APPEND:
            raise PathRefused(SFTP_OP_UNSUPPORTED, "no-append")
        path = self.tree.real(where)
        try:
            self.service.admit()
        except Overloaded:
            raise PathRefused(SFTP_FAILURE, "overloaded") from None
        except DiskFull:
            raise PathRefused(SFTP_FAILURE, "disk-full") from None
        if not self.service.claim(self.carrier, where.name):
            raise PathRefused(SFTP_FAILURE, "busy", name=where.name)
        # A new upload under this name: stat answers for it, not for the one taken before.
        self.service.received.forget(self.carrier, where.name)
        try:
            # Always a new file from byte 0 (no resume); never through a link; readable again
            # by us so the pipeline can take it from the same descriptor.
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640
            )
        except OSError as exc:
            self.service.release(self.carrier, where.name)
            if exc.errno in (errno.ELOOP, errno.EISDIR):
                raise PathRefused(SFTP_PERMISSION_DENIED, "files-only") from exc
            raise
        return _Upload(self, where.name, path, fd)

    def _open_download(self, where: VirtualPath) -> _Download:
        assert where.name is not None
        path, _ = self.tree.regular_file(where)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file") from exc
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise PathRefused(SFTP_NO_SUCH_FILE, "no-such-file")
        return _Download(self, where.name, fd, st.st_size)

    def handle_closed(self) -> None:
        self.open_handles = max(0, self.open_handles - 1)

    def remove(self, path: str) -> int:
        return self._guarded(lambda: self._remove(resolve_path(path)))

    def _remove(self, where: VirtualPath) -> int:
        if where.area is None or where.name is None:
            raise PathRefused(SFTP_PERMISSION_DENIED, "no-folders")
        # An inbox name being uploaded or taken is not removed from under that session.
        if where.area == INBOX and not self.service.claim(self.carrier, where.name):
            raise PathRefused(SFTP_FAILURE, "busy", name=where.name)
        try:
            real, st = self.tree.regular_file(where)
            os.unlink(real)
        finally:
            if where.area == INBOX:
                self.service.release(self.carrier, where.name)
        self.audit("sftp_delete", file=where.text, size=st.st_size)
        return SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        return self._guarded(lambda: self._rename(resolve_path(oldpath), resolve_path(newpath)))

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        return self.rename(oldpath, newpath)

    def _rename(self, source: VirtualPath, target: VirtualPath) -> int:
        if (
            source.area != INBOX
            or target.area != INBOX
            or source.name is None
            or target.name is None
            or not TEMPORARY.search(source.name)
        ):
            raise PathRefused(SFTP_PERMISSION_DENIED, "rename-rules")
        if not self.service.claim(self.carrier, source.name):
            raise PathRefused(SFTP_FAILURE, "busy", name=source.name)
        try:
            real, _ = self.tree.regular_file(source)
            if TEMPORARY.search(target.name):
                return self._rename_temporary(real, target)
            return self._take_renamed(real, source, target)
        finally:
            self.service.release(self.carrier, source.name)

    def _rename_temporary(self, real: Path, target: VirtualPath) -> int:
        """One temporary name to another: a plain rename, never over an existing file."""
        assert target.name is not None
        if not self.service.claim(self.carrier, target.name):
            raise PathRefused(SFTP_FAILURE, "busy", name=target.name)
        try:
            destination = self.tree.real(target)
            if os.path.lexists(destination):
                raise PathRefused(SFTP_FAILURE, "exists", name=target.name)
            os.rename(real, destination)
        finally:
            self.service.release(self.carrier, target.name)
        return SFTP_OK

    def _take_renamed(self, real: Path, source: VirtualPath, target: VirtualPath) -> int:
        """A temporary upload renamed to a final name: it enters the pipeline under that name."""
        assert target.name is not None
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            size = st.st_size
            if size > self.service.max_file_bytes:
                raise PathRefused(SFTP_FAILURE, "too-large", limit=self.service.max_file_bytes)
            submission_id = self._take(target.name, fd)
        finally:
            os.close(fd)
        if submission_id is None:
            return SFTP_FAILURE
        self.service.received.remember(self.carrier, target.name, st)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(real)
        self.audit(
            "sftp_upload",
            submission_id=submission_id,
            file=target.text,
            renamed_from=source.text,
            size=size,
        )
        self.refusal = message("received", submission=submission_id)
        return SFTP_OK

    def _take(self, name: str, fd: int) -> int | None:
        """The pipeline's submission id, or None with the refusal text set."""
        try:
            return self.service.take(carrier=self.carrier, source_name=name, fd=fd)
        except Overloaded:
            log.warning("sftp upload refused: queue full", carrier=self.carrier, file=name)
            self.refusal = message("overloaded")
        except DiskFull as exc:
            log.warning(
                "sftp upload refused: the data dir is full",
                carrier=self.carrier,
                file=name,
                where=exc.where,
            )
            self.refusal = message("disk-full")
        except TransientError as exc:
            log.warning("sftp upload not taken", carrier=self.carrier, file=name, error=str(exc))
            self.refusal = message("unavailable")
        except Exception:
            log.exception("sftp upload not taken", carrier=self.carrier, file=name)
            self.refusal = message("failed")
        return None

    # no folders, no links, no attributes

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        self.refusal = message("no-folders")
        return SFTP_PERMISSION_DENIED

    def rmdir(self, path: str) -> int:
        self.refusal = message("no-folders")
        return SFTP_PERMISSION_DENIED

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        # Times and modes mean nothing here; `put -p` must still work.
        def check() -> int:
            where = resolve_path(path)
            if where.name is None:
                raise PathRefused(SFTP_PERMISSION_DENIED, "no-folders")
            try:
                self.tree.regular_file(where)
            except PathRefused:
                if self._received(where) is None:
                    raise
            return SFTP_OK

        return self._guarded(check)

    def symlink(self, target_path: str, path: str) -> int:
        self.refusal = message("no-links")
        return SFTP_OP_UNSUPPORTED

    def readlink(self, path: str) -> str | int:
        self.refusal = message("no-links")
        return SFTP_OP_UNSUPPORTED


class _Upload(paramiko.SFTPHandle):
    """A file being written into /inbox. Only :meth:`finish` (the client's CLOSE) takes it."""

    def __init__(self, files: _CarrierFiles, name: str, path: Path, fd: int) -> None:
        super().__init__()
        self.files = files
        self.name = name
        self.path = path
        self.fd: int | None = fd
        self.size = 0
        self.too_large = False
        # Why a write failed (a full disk...): the upload is cut, its bytes are gone and
        # every later write and the CLOSE are refused with this text; nothing is taken.
        self.broken: str | None = None
        self.aborted = False
        self.done = False

    def write(self, offset: int, data: Any) -> int:
        limit = self.files.service.max_file_bytes
        if self.too_large or offset + len(data) > limit:
            self.too_large = True
            self.files.refusal = message("too-large", limit=limit)
            return SFTP_FAILURE
        if self.broken is not None:
            self.files.refusal = self.broken
            return SFTP_FAILURE
        assert self.fd is not None
        try:
            os.pwrite(self.fd, data, offset)
        except OSError as exc:
            full = is_disk_full(exc)
            report = log.warning if full else log.error
            report(
                "sftp upload write failed; the upload is cut",
                carrier=self.files.carrier,
                file=self.name,
                error=str(exc),
            )
            self.broken = message("disk-full" if full else "unavailable")
            self.files.refusal = self.broken
            # The partial file goes now, not at the CLOSE: on a full disk its bytes are
            # what others need, and half a file must never be taken.
            self._close_fd()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return SFTP_FAILURE
        self.size = max(self.size, offset + len(data))
        return SFTP_OK

    def stat(self) -> paramiko.SFTPAttributes | int:
        if self.fd is None:  # cut by a failed write
            self.files.refusal = self.broken
            return SFTP_FAILURE
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.fd), self.name)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_OK  # see _CarrierFiles.chattr

    def finish(self) -> tuple[int, str | None]:
        """The client closed the file: take it (or keep it for a rename), or refuse it."""
        if self.done:
            return SFTP_BAD_MESSAGE, "Invalid handle"
        self.done = True
        files = self.files
        try:
            if self.too_large:
                self._discard("sftp_upload_refused", reason="too large")
                return SFTP_FAILURE, message("too-large", limit=files.service.max_file_bytes)
            if self.broken is not None:
                self._discard("sftp_upload_failed", reason=self.broken)
                return SFTP_FAILURE, self.broken
            if TEMPORARY.search(self.name):
                self._close_fd()
                log.info("sftp upload kept for a rename", carrier=files.carrier, file=self.name)
                return SFTP_OK, None
            assert self.fd is not None
            submission_id = files._take(self.name, self.fd)
            if submission_id is None:
                self._discard("sftp_upload_failed", reason=files.refusal or "")
                return SFTP_FAILURE, files.refusal
            files.service.received.remember(files.carrier, self.name, os.fstat(self.fd))
            self._close_fd()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            files.audit(
                "sftp_upload",
                submission_id=submission_id,
                file=f"/{INBOX}/{self.name}",
                size=self.size,
            )
            return SFTP_OK, message("received", submission=submission_id)
        finally:
            self._close_fd()
            files.service.release(files.carrier, self.name)
            files.handle_closed()

    def close(self) -> None:
        """paramiko's clean-up of a handle the client never closed: the upload was cut."""
        if self.done:
            return
        self.done = True
        try:
            self._discard("sftp_upload_aborted", reason="connection ended before close")
        finally:
            self.files.service.release(self.files.carrier, self.name)
            self.files.handle_closed()

    def _discard(self, action: str, *, reason: str) -> None:
        self._close_fd()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.files.audit(action, file=f"/{INBOX}/{self.name}", size=self.size, reason=reason)
        log.warning(
            "sftp upload discarded",
            carrier=self.files.carrier,
            file=self.name,
            size=self.size,
            reason=reason,
        )

    def _close_fd(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Download(paramiko.SFTPHandle):
    """A file being read from /outbox; audited when closed."""

    def __init__(self, files: _CarrierFiles, name: str, fd: int, size: int) -> None:
        super().__init__()
        self.files = files
        self.name = name
        self.fd: int | None = fd
        self.size = size
        self.sent = 0

    def read(self, offset: int, length: int) -> bytes | int:
        assert self.fd is not None
        # A reply may be shorter than asked; a client asking for gigabytes gets a chunk.
        data = os.pread(self.fd, min(length, MAX_READ_BYTES), offset)
        self.sent += len(data)
        return data

    def stat(self) -> paramiko.SFTPAttributes | int:
        assert self.fd is not None
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.fd), self.name)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        self.files.refusal = message("read-only")
        return SFTP_PERMISSION_DENIED

    def close(self) -> None:
        if self.fd is None:
            return
        os.close(self.fd)
        self.fd = None
        self.files.handle_closed()
        self.files.audit(
            "sftp_download", file=f"/{OUTBOX}/{self.name}", size=self.size, bytes_sent=self.sent
        )


# -- host key and logs -------------------------------------------------------------------


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """The server's Ed25519 host key, made (mode 0600) on first start and kept."""
    if not path.exists():
        _create_host_key(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("sftp host key was readable by others; mode set to 0600", path=str(path))
        path.chmod(0o600)
    try:
        key = paramiko.Ed25519Key(filename=str(path))
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise ConfigurationError(f"SFTP host key {path} cannot be read: {exc}") from exc
    public = path.with_name(path.name + ".pub")
    if not public.exists():
        public.write_text(f"{key.get_name()} {key.get_base64()} pde-gateway\n", encoding="ascii")
    return key


def _create_host_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    log.info("sftp host key created", path=str(path))


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("paramiko", logger=record.name, message=record.getMessage())


def _route_paramiko_logs() -> None:
    # paramiko reports every client that hangs up mid-handshake at ERROR on stdlib logging,
    # which nobody configured here (Python would print it raw to stderr): keep it as debug
    # lines of our own log instead.
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, _ToStructlog) for h in logger.handlers):
        logger.addHandler(_ToStructlog())
        logger.setLevel(logging.WARNING)
        logger.propagate = False
