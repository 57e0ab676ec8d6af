"""The raw-file store: every received byte, kept durably and addressed by its SHA-256.

A file is written to a temporary name, renamed into place and made durable before the
database row that points to it is committed. Identical content is stored once.

Durability comes in two sizes: ``durable=True`` fsyncs the file and its folder (2-3 ms here);
a batch writes its files with ``durable=False`` and then calls :func:`flush_filesystem` once,
one journal commit for the whole batch.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gateway.exceptions import StorageUnavailable
from gateway.model.common import RECORD

CHUNK = 1024 * 1024


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
        try:
            ensure_dir(tmp_dir)
            tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
            digest = hashlib.sha256()
            size = 0
            with open(tmp, "wb") as out:
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
            if durable:
                fsync_dir(final.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot store the raw file: {exc}") from exc
        return StoredFile(path=final, sha256=sha, size=size)

    def sweep_temporary(self, *, older_than: float) -> int:
        """Remove partial copies left by a process that died mid-write (kill -9, power loss).

        Only files older than ``older_than`` seconds: another gateway process sharing the
        store may be writing the newer ones right now.
        """
        removed = 0
        cutoff = time.time() - older_than
        for part in (self.root / "tmp").glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
        return removed

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
    """Write a whole file under a temporary name, then rename: readers see all or nothing."""
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        out = open(tmp, "wb")
    except FileNotFoundError:  # the folder was removed while we ran: make it again
        _made.discard(path.parent)
        ensure_dir(path.parent)
        out = open(tmp, "wb")
    with out:
        out.write(data)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def copy_file(source: Path, target: Path) -> None:
    """Copy under a unique temporary name, then rename: concurrent copies cannot collide."""
    ensure_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


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
