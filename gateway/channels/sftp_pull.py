"""SFTP pull: the gateway fetches submissions from carriers that host their own SFTP server.

For every enabled endpoint (``gateway/storage/pull_endpoints.py``, set with ``pde-gateway
partners pull set``) one poll does, over one SSH connection (paramiko, the server's host key
pinned, key authentication only):

1. **push**: acknowledgments spooled locally for the carrier (``<data_dir>/pull/<CARRIER>/
   outbox``) are uploaded to the remote outbox under a temporary name, renamed to their final
   name, then moved to ``sent/`` here. ``deliver`` only spools, so the pipeline never waits
   on a carrier's network, and an unreachable server just keeps them spooled;
2. **fetch**: every regular file of the remote inbox with a final name (not ``*.part``,
   ``.hidden``…) whose size and modification time did not change since the previous poll is
   streamed into the pipeline's intake, which returns once the bytes are durable in the raw
   store and recorded. Only then is the remote file deleted (or moved to ``remote_done``).

A file is never ingested twice: its intake key is carrier + remote path + size + mtime, and a
second intake of the same key (the gateway died after recording the file but before the
remote delete) returns the existing submission, after which the remote file is removed. A
file is never lost: nothing remote is touched before the intake transaction commits.

When a server is down, or refuses the login or presents another host key, the endpoint is
retried with exponential backoff (poll interval × 2^failures, at most ``MAX_BACKOFF``); the
other endpoints are unaffected. paramiko's exceptions are wrapped where they enter:
network trouble is a :class:`TransientError`, a host key or login refusal a
:class:`ConfigurationError` (the operator must act), both logged with the endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import os
import posixpath
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import paramiko
import structlog

from gateway.channels.base import Channel, Inbound, Intake, sweep_folders
from gateway.channels.filedrop import TEMPORARY
from gateway.exceptions import (
    ConfigurationError,
    DiskFull,
    GatewayError,
    Overloaded,
    TransientError,
)
from gateway.storage.pull_endpoints import PullEndpoint
from gateway.storage.raw_files import TEMPORARY_NAME, fsync_dir, write_file
from gateway.storage.submissions import PendingAck

log = structlog.get_logger("gateway.channels.sftp_pull")

MAX_BACKOFF = 300.0
CONNECT_TIMEOUT = 15.0
BATCH = 16  # remote files handed to the pipeline per intake transaction
IDLE_WAIT = 0.5  # longest sleep of the poll loop, so a stop is seen soon
RELOAD_SECONDS = 2.0  # endpoints set with `partners pull set` are picked up this fast


@dataclass(slots=True)
class _State:
    due: float = 0.0
    failures: int = 0
    paused: bool = False  # intake said "try later" at the last poll (logged once)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (size, mtime)


@dataclass(frozen=True, kw_only=True, slots=True)
class PollReport:
    pushed: int
    fetched: int
    waiting: int  # seen for the first time or still changing: taken at a later poll


class SftpPullChannel(Channel):
    name = "sftp_pull"
    family = "pde"

    def __init__(self, root: Path, *, endpoints: Callable[[], list[PullEndpoint]]) -> None:
        self.root = root
        self._endpoints = endpoints
        self._state: dict[str, _State] = {}

    # -- the poll loop --------------------------------------------------------------------

    def run(self, intake: Intake, stop: threading.Event) -> None:
        endpoints: list[PullEndpoint] = []
        loaded_at = -RELOAD_SECONDS
        while not stop.is_set():
            if time.monotonic() - loaded_at >= RELOAD_SECONDS:
                try:
                    endpoints = self._endpoints()
                    loaded_at = time.monotonic()
                except Exception:  # the database may be restarting: look again shortly
                    log.exception("cannot read the pull endpoints, will retry")
                    stop.wait(5.0)
                    continue
            now = time.monotonic()
            for endpoint in endpoints:
                if stop.is_set():
                    break
                state = self._state.setdefault(endpoint.carrier, _State())
                if now >= state.due:
                    self._poll_with_backoff(endpoint, state, intake)
            waits = [s.due - time.monotonic() for s in self._state.values()]
            stop.wait(max(0.05, min([IDLE_WAIT, *waits])))

    def _poll_with_backoff(self, endpoint: PullEndpoint, state: _State, intake: Intake) -> None:
        try:
            report = self.poll(endpoint, intake)
        except (DiskFull, Overloaded) as exc:
            # Intake's own "try later" (a full data dir, a full queue), not the carrier's
            # server: polled again at the usual pace, without backoff, and said once.
            state.due = time.monotonic() + endpoint.poll_seconds
            if not state.paused:
                state.paused = True
                log.warning(
                    "sftp pull paused: intake says try later; files stay on the carrier's server",
                    carrier=endpoint.carrier,
                    error=str(exc),
                )
            return
        except GatewayError as exc:
            state.failures += 1
            delay = min(endpoint.poll_seconds * 2**state.failures, MAX_BACKOFF)
            state.due = time.monotonic() + delay
            log.warning(
                "sftp pull failed, will retry",
                carrier=endpoint.carrier,
                endpoint=endpoint.address,
                error=str(exc),
                retry_in_seconds=round(delay, 1),
                failures=state.failures,
                message_id="Penarikan SFTP gagal; dicoba lagi.",
                message_en="SFTP pull failed; retrying.",
            )
            return
        except Exception:  # never let one endpoint stop the loop
            state.failures += 1
            state.due = time.monotonic() + min(endpoint.poll_seconds * 2**state.failures, 300)
            log.exception("sftp pull crashed, will retry", carrier=endpoint.carrier)
            return
        if state.paused:
            state.paused = False
            log.info("sftp pull resumed: intake takes files again", carrier=endpoint.carrier)
        if state.failures:
            log.info("sftp pull recovered", carrier=endpoint.carrier, failures=state.failures)
        state.failures = 0
        state.due = time.monotonic() + endpoint.poll_seconds
        if report.pushed or report.fetched:
            log.info(
                "sftp pull",
                carrier=endpoint.carrier,
                pushed=report.pushed,
                fetched=report.fetched,
                waiting=report.waiting,
            )

    def poll(self, endpoint: PullEndpoint, intake: Intake) -> PollReport:
        """One connection: push spooled acknowledgments, then fetch settled files."""
        state = self._state.setdefault(endpoint.carrier, _State())
        with _connected(endpoint) as sftp:
            pushed = self._push(endpoint, sftp)
            fetched, waiting = self._fetch(endpoint, sftp, intake, state)
        return PollReport(pushed=pushed, fetched=fetched, waiting=waiting)

    # -- fetch ----------------------------------------------------------------------------

    def _fetch(
        self, endpoint: PullEndpoint, sftp: paramiko.SFTPClient, intake: Intake, state: _State
    ) -> tuple[int, int]:
        inbox = endpoint.remote_inbox
        listing = _remote(partial(sftp.listdir_attr, inbox), f"list {inbox}")
        ready: list[tuple[str, int, int]] = []
        current: dict[str, tuple[int, int]] = {}
        for entry in sorted(listing, key=lambda e: e.filename):
            name = entry.filename
            if TEMPORARY.search(name) or entry.st_mode is None or not stat.S_ISREG(entry.st_mode):
                continue
            signature = (entry.st_size or 0, entry.st_mtime or 0)
            current[name] = signature
            if state.seen.get(name) == signature:
                ready.append((name, *signature))
        state.seen = current
        for start in range(0, len(ready), BATCH):
            self._take(endpoint, sftp, intake, ready[start : start + BATCH])
        for name, *_ in ready:
            state.seen.pop(name, None)
        return len(ready), len(current) - len(ready)

    def _take(
        self,
        endpoint: PullEndpoint,
        sftp: paramiko.SFTPClient,
        intake: Intake,
        batch: list[tuple[str, int, int]],
    ) -> None:
        inbox = endpoint.remote_inbox
        with contextlib.ExitStack() as files:
            items = []
            for name, size, mtime in batch:
                path = posixpath.join(inbox, name)
                remote = _remote(partial(sftp.open, path, "rb"), f"open {path}")
                files.callback(remote.close)
                remote.prefetch(size)  # pipelined reads: one round trip per window, not per block
                key = f"pull:{endpoint.carrier}:{path}:{size}:{mtime}"
                inbound = Inbound(
                    channel=self.name, sender=endpoint.carrier, source_name=name, intake_key=key
                )
                items.append((inbound, remote))
            try:
                received = intake(items)  # type: ignore[arg-type]
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise TransientError(f"download from {endpoint.address} broke: {exc}") from exc
        # Durable and recorded here: only now may the carrier's copy go.
        for (name, _size, _mtime), result in zip(batch, received, strict=True):
            path = posixpath.join(inbox, name)
            if endpoint.remote_done:
                target = posixpath.join(endpoint.remote_done, f"{result.submission_id:08d}-{name}")
                _remote(partial(sftp.posix_rename, path, target), f"move {path}")
            else:
                _remote(partial(sftp.remove, path), f"delete {path}")
            log.info(
                "fetched",
                carrier=endpoint.carrier,
                remote=path,
                submission_id=result.submission_id,
                created=result.created,
            )

    # -- push -----------------------------------------------------------------------------

    def spool(self, carrier: str) -> Path:
        return self.root / carrier / "outbox"

    def _push(self, endpoint: PullEndpoint, sftp: paramiko.SFTPClient) -> int:
        spool = self.spool(endpoint.carrier)
        if not spool.is_dir():
            return 0
        sent = spool.parent / "sent"
        pushed = 0
        # Not a delivery still being written (write_file's temporary name): half a file.
        spooled = (p for p in spool.iterdir() if p.is_file() and not TEMPORARY_NAME.match(p.name))
        for path in sorted(spooled):
            final = posixpath.join(endpoint.remote_outbox, path.name)
            temporary = posixpath.join(endpoint.remote_outbox, f".{path.name}.part")
            with open(path, "rb") as local:
                _remote(partial(sftp.putfo, local, temporary), f"upload {temporary}")
            # posix-rename replaces an older copy atomically: the carrier never sees half a file
            _remote(partial(sftp.posix_rename, temporary, final), f"rename {temporary}")
            sent.mkdir(exist_ok=True)
            os.replace(path, sent / path.name)
            pushed += 1
        if pushed:
            fsync_dir(spool)
            fsync_dir(sent)
        return pushed

    def sweep_temporary(self, *, older_than: float) -> int:
        return sweep_folders(self.root.glob("*/outbox"), older_than=older_than)

    def deliver(self, ack: PendingAck) -> Path:
        """Spool the acknowledgment; the next poll of the carrier's server uploads it."""
        sent = self.root / ack.partner / "sent" / ack.file_name
        if sent.exists() and sent.read_bytes() == ack.body:
            return sent  # already uploaded: delivering again must not upload it twice
        target = self.spool(ack.partner) / ack.file_name
        write_file(target, ack.body, durable=False)
        return target


# -- connection -------------------------------------------------------------------------


@contextlib.contextmanager
def _connected(endpoint: PullEndpoint) -> Iterator[paramiko.SFTPClient]:
    client = paramiko.SSHClient()
    host_name = endpoint.host if endpoint.port == 22 else f"[{endpoint.host}]:{endpoint.port}"
    try:
        pinned = paramiko.PKey.from_type_string(
            endpoint.host_key_type, base64.b64decode(endpoint.host_key)
        )
        key = paramiko.PKey.from_path(endpoint.private_key_path)
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise ConfigurationError(f"pull endpoint of {endpoint.carrier}: {exc}") from exc
    client.get_host_keys().add(host_name, endpoint.host_key_type, pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            endpoint.host,
            port=endpoint.port,
            username=endpoint.username,
            pkey=key,
            look_for_keys=False,
            allow_agent=False,
            timeout=CONNECT_TIMEOUT,
            banner_timeout=CONNECT_TIMEOUT,
            auth_timeout=CONNECT_TIMEOUT,
        )
        sftp = client.open_sftp()
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(CONNECT_TIMEOUT * 4)
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise ConfigurationError(
            f"{endpoint.address} presented a host key other than the pinned one: {exc}"
        ) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        raise ConfigurationError(f"{endpoint.address} refused the gateway's key: {exc}") from exc
    except (TimeoutError, OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        raise TransientError(f"cannot reach {endpoint.address}: {exc}") from exc
    try:
        yield sftp
    finally:
        client.close()


T = TypeVar("T")


def _remote(call: Callable[[], T], what: str) -> T:
    """One SFTP request, its failure wrapped as a TransientError naming what was tried."""
    try:
        return call()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise TransientError(f"SFTP {what}: {exc}") from exc
