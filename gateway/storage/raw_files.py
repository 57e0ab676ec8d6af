"""The raw-file store: every received byte, kept durably and addressed by its SHA-256.

A file is written to a temporary name, renamed into place and made durable before the
database row that points to it is committed. Identical content is stored once.

Durability comes in two sizes: ``durable=True`` fsyncs the file and its folder (2-3 ms here);
a batch writes its files with ``durable=False`` and then calls :func:`flush_filesystem` once,
one journal commit for the whole batch.

**Temporary files.** Every writer here (the raw store's ``tmp/*.part``, :func:`write_file`'s
``.<name>.<8 hex>.tmp``; :func:`gateway.channels.folders.write_at` too) holds an exclusive
``flock`` on its temporary file while it writes and removes it as soon as the write fails
(a full disk, any error), so a failed write leaves nothing behind. What a dead process left
(SIGKILL, power loss) is removed by :func:`remove_stale`: older than a few minutes and held
by no writer. A write that fails for lack of space raises
:class:`~gateway.exceptions.DiskFull` (``gateway.storage.disk``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import os
import re
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.exceptions import StorageUnavailable
from gateway.model.common import RECORD
from gateway.storage import disk

CHUNK = 1024 * 1024
# The temporary names of write_file and folders.write_at: ".<name>.<8 hex>.tmp".
TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
# The raw store's partial copies (tmp/ holds nothing else).
PART_NAME = re.compile(r"^[^.].*\.part$")


@dataclass(**RECORD)
class StoredFile:
    path: Path
    sha256: str
    size: int


class RawFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put_many(self, streams: list[BinaryIO]) -> list[StoredFile]:
        """Store every stream, then make them all durable with one filesystem flush."""
        stored = [self.put(stream, durable=False) for stream in streams]
        if stored:
            flush_filesystem(self.root)
        return stored

    def put(self, stream: BinaryIO, *, durable: bool = True) -> StoredFile:
        """Copy the stream into the store (any size, constant memory)."""
        tmp_dir = self.root / "tmp"
        tmp: Path | None = None
        try:
            with disk.guard("raw store"):
                ensure_dir(tmp_dir)
                tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
                digest = hashlib.sha256()
                size = 0
                with open(tmp, "wb") as out:
                    hold(out.fileno())
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
                sha = digest.hexdigest()
                final = self.path_for(sha)
                ensure_dir(final.parent)
                os.replace(tmp, final)
                tmp = None
                if durable:
                    fsync_dir(final.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot store the raw file: {exc}") from exc
        finally:
            # A copy that failed (a full disk, a broken stream) goes at once, not at the sweep.
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        return StoredFile(path=final, sha256=sha, size=size)

    def sweep_temporary(self, *, older_than: float) -> int:
        """Remove partial copies left by a process that died mid-write (kill -9, power loss).

        Only files older than ``older_than`` seconds that no writer holds: another gateway
        process sharing the store may be writing the newer ones right now.
        """
        try:
            fd = os.open(self.root / "tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            return remove_stale(fd, PART_NAME, older_than=older_than)
        finally:
            os.close(fd)

    def path_for(self, sha256: str) -> Path:
        # One level of 256 folders: two levels made a new folder for almost every file.
        return self.root / sha256[:2] / sha256

    def open_file(self, sha256: str) -> BinaryIO:
        """The kept file, opened for reading: whoever sends it streams from this descriptor
        (a download never holds a whole file in memory)."""
        try:
            return open(self.path_for(sha256), "rb")
        except OSError as exc:
            raise StorageUnavailable(f"cannot read the raw file {sha256}: {exc}") from exc

    @staticmethod
    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StorageUnavailable(f"cannot read the raw file {path}: {exc}") from exc


_made: set[Path] = set()


def ensure_dir(path: Path) -> None:
    """``mkdir -p``, remembered: folders are made once, not once per file."""
    if path not in _made:
        path.mkdir(parents=True, exist_ok=True)
        _made.add(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a whole file under a temporary name, then rename: readers see all or nothing.

    A write that fails removes its temporary file; lack of space raises ``DiskFull``.
    """
    with disk.guard(f"file {path.name}"):
        ensure_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            out = open(tmp, "wb")
        except FileNotFoundError:  # the folder was removed while we ran: make it again
            _made.discard(path.parent)
            ensure_dir(path.parent)
            out = open(tmp, "wb")
        try:
            with out:
                hold(out.fileno())
                out.write(data)
                if durable:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if durable:
            fsync_dir(path.parent)


def hold(fd: int) -> None:
    """Mark a temporary file as being written: :func:`remove_stale` leaves it alone while
    the writer's descriptor is open (any process on this machine). A filesystem without
    locks only loses that guard: the sweep also waits for the file to be minutes old."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale(dir_fd: int, names: re.Pattern[str], *, older_than: float) -> int:
    """Remove the regular files of folder ``dir_fd`` whose names match ``names``, that were
    last written more than ``older_than`` seconds ago and that no writer holds (see
    :func:`hold`); links and anything else are left alone. Returns how many went."""
    cutoff = time.time() - older_than
    removed = 0
    for name in os.listdir(dir_fd):
        if not names.match(name):
            continue
        try:
            fd = os.open(
                name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
            )
        except OSError:  # gone meanwhile, a link (ELOOP), a socket...
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime >= cutoff:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a writer still has it open
            # The name must still be the file that was checked (not swapped meanwhile).
            now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                os.unlink(name, dir_fd=dir_fd)
                removed += 1
        except FileNotFoundError:
            continue
        finally:
            os.close(fd)
    return removed


def flush_filesystem(path: Path) -> None:
    """Make everything written so far on ``path``'s filesystem durable: one journal commit.

    Linux ``syncfs(2)`` through libc; elsewhere ``sync(2)``. ``path`` is a folder, and must
    be one: a named pipe put in a folder's place (a carrier's ``out/``) would block the open.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _syncfs is None or _syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _load_syncfs()
