"""A full disk: how the gateway recognises it, measures it and says so.

A full data dir is a state of the machine, not a fault of any file, and it passes: an
operator frees space (or it frees itself as deliveries and retention run). So:

- **Recognised where it enters.** A write that fails with ``ENOSPC``/``EDQUOT`` (the raw
  store, acknowledgments, the SFTP server's uploads), SQLite's "database or disk is full"
  and PostgreSQL's ``53100 disk_full`` become :class:`~gateway.exceptions.DiskFull`
  (:func:`guard`, ``Database.transaction``); :func:`is_disk_full` also finds one deep in an
  exception's chain, for whatever was not wrapped.
- **Intake keeps a floor.** :class:`DataDirSpace` measures the free space of the data dir's
  filesystems (the least of them) at most once a second; below ``min_free_bytes`` intake
  answers "try later" (HTTP 503 + Retry-After, SFTP's refusal, files left in ``in/``), so that
  the database and the acknowledgments of work already accepted still have room.
- **Work in hand waits.** Workers put a job that met a full disk back without spending an
  attempt (``gateway.worker``): it resumes by itself once there is room, and never becomes a
  dead letter for it.
- **Said once.** :class:`Episode` logs a condition when it begins and when it ends, never once
  per file or per look.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.exceptions import DiskFull

if TYPE_CHECKING:
    from gateway.config import Settings

log = structlog.get_logger("gateway.disk")

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
POSTGRES_DISK_FULL = "53100"
# Seconds a sender is asked to wait: space comes back when an operator acts.
RETRY_AFTER = 30
# Free space is measured at most this often per process (statvfs is cheap, but intake may
# see hundreds of files a second).
MEASURE_TTL = 1.0


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or anything in its chain (cause, context, a driver's original error),
    says the disk is full."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        if isinstance(current, sqlite3.OperationalError) and (
            getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return True
        if getattr(current, "sqlstate", None) == POSTGRES_DISK_FULL:  # psycopg 3
            return True
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return False


@contextlib.contextmanager
def guard(where: str) -> Iterator[None]:
    """Inside, a write that fails for lack of space raises :class:`DiskFull` (``where``:
    what was being written, for the logs); other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise DiskFull(where) from exc
        raise


class Episode:
    """A condition logged when it begins and when it ends: one line each, whoever (which
    thread, which file) meets it how often in between."""

    def __init__(self, logger: Any, *, began: str, ended: str) -> None:
        self._log = logger
        self.began = began
        self.ended = ended
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def active(self) -> bool:
        return self._since is not None

    def begin(self, **fields: Any) -> bool:
        """The condition holds; logged (warning) only if it did not already."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = time.monotonic()
        self._log.warning(self.began, **fields)
        return True

    def end(self, **fields: Any) -> bool:
        """The condition is over; logged (info, with how long it lasted) only if it held."""
        with self._lock:
            since, self._since = self._since, None
        if since is None:
            return False
        self._log.info(self.ended, lasted_seconds=round(time.monotonic() - since, 1), **fields)
        return True


def free_bytes(paths: Sequence[Path]) -> int | None:
    """The least space free to an unprivileged writer on the filesystems of ``paths`` (those
    that exist); None when none does."""
    found = []
    for path in paths:
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        found.append(st.f_bavail * st.f_frsize)
    return min(found) if found else None


def total_bytes(paths: Sequence[Path]) -> int | None:
    """The size of the smallest of the filesystems of ``paths``."""
    found = []
    for path in paths:
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        found.append(st.f_blocks * st.f_frsize)
    return min(found) if found else None


def unwritable(path: Path) -> str | None:
    """Why a byte cannot be written into ``path`` now (None: it can).

    The probe is an unnamed file (``O_TMPFILE`` where the kernel has it), so nothing is left
    behind even when the process dies mid-probe.
    """
    try:
        with tempfile.TemporaryFile(dir=path) as probe:
            probe.write(b"\0")
            probe.flush()
    except OSError as exc:
        return f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, exc.errno)})"
    return None


class DataDirSpace:
    """The data dir's free space against intake's floor (``min_free_bytes``).

    ``folders`` are the data dir and the folders under it that may be filesystems of their
    own (an operator may mount the raw store elsewhere): the least free space counts.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        min_free: int,
        ttl: float | None = None,
        retry_after: int = RETRY_AFTER,
    ) -> None:
        self.folders = tuple(folders)
        self.min_free = min_free
        self.ttl = MEASURE_TTL if ttl is None else ttl
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._measured: tuple[float, int | None] | None = None
        self.episode = Episode(
            log,
            began="intake refuses files: the data dir is below its free-space floor",
            ended="intake takes files again: the data dir has room",
        )

    @classmethod
    def for_settings(cls, settings: Settings) -> DataDirSpace:
        """The data dir and every folder under it the gateway writes into."""
        folders = [
            settings.data_dir,
            settings.raw_dir,
            settings.drop_dir,
            settings.sftp_dir,
            settings.http_dir,
            settings.cli_dir,
            settings.media_dir,
            settings.manual_dir,
            settings.pull_dir,
        ]
        return cls(folders, min_free=settings.min_free_bytes)

    @property
    def data_dir(self) -> Path:
        return self.folders[0]

    def free(self) -> int | None:
        """Free bytes (the least of the folders), measured at most once per ``ttl``."""
        with self._lock:
            cached = self._measured
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            value = free_bytes(self.folders)
            self._measured = (time.monotonic(), value)
            return value

    def total(self) -> int | None:
        return total_bytes(self.folders)

    def below_floor(self) -> bool:
        free = self.free()
        # Nothing free at all refuses even without a floor: the first write would fail.
        return free is not None and (free < self.min_free or free == 0)

    def check(self) -> None:
        """Raise :class:`DiskFull` while intake must wait for space."""
        free = self.free()
        if free is not None and (free < self.min_free or free == 0):
            self.episode.begin(
                data_dir=str(self.data_dir),
                free_bytes=free,
                min_free_bytes=self.min_free,
                message_id="Ruang disk data_dir di bawah batas; pengiriman diminta diulang nanti.",
                message_en="The data dir's free space is below the floor; senders are told to "
                "try later.",
            )
            raise DiskFull(
                f"free space {free} bytes below min_free_bytes {self.min_free}",
                retry_after=self.retry_after,
            )
        self.episode.end(data_dir=str(self.data_dir), free_bytes=free)
