"""A carrier's virtual tree (``/``, ``/inbox``, ``/outbox``) and its confinement on disk."""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_PERMISSION_DENIED

from gateway.channels.sftp_server.messages import CONTROL, message

AREAS = ("inbox", "outbox")
INBOX, OUTBOX = AREAS
MAX_NAME_BYTES = 255


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
    if CONTROL.search(path) or "\\" in path:
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
