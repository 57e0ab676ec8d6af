"""The raw-file store: every received byte, kept durably and addressed by its SHA-256.

A file is written to a temporary name, fsynced, renamed into place and its folder fsynced,
before the database row that points to it is committed. Identical content is stored once.
"""

from __future__ import annotations

import hashlib
import os
import uuid
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

    def put(self, stream: BinaryIO) -> StoredFile:
        """Copy the stream into the store (any size, constant memory) and make it durable."""
        tmp_dir = self.root / "tmp"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
            digest = hashlib.sha256()
            size = 0
            with open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot store the raw file: {exc}") from exc
        return StoredFile(path=final, sha256=sha, size=size)

    def put_bytes(self, data: bytes) -> StoredFile:
        import io

        return self.put(io.BytesIO(data))

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    @staticmethod
    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StorageUnavailable(f"cannot read the raw file {path}: {exc}") from exc


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write a whole file under a temporary name, fsync, then rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
