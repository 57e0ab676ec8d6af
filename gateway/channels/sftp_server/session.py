"""An SFTP session: paramiko's SFTPServer with our CLOSE and status texts, and the operations on
one carrier's tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import paramiko
import structlog
from paramiko.sftp import (
    CMD_CLOSE,
    SFTP_BAD_MESSAGE,
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
)

from gateway.channels.filedrop import TEMPORARY
from gateway.channels.sftp_server.auth import Connection
from gateway.channels.sftp_server.handles import Download, Upload
from gateway.channels.sftp_server.messages import message
from gateway.channels.sftp_server.paths import (
    AREAS,
    INBOX,
    OUTBOX,
    PathRefused,
    VirtualPath,
    resolve_path,
)
from gateway.exceptions import DiskFull, Overloaded, TransientError
from gateway.storage.disk import is_disk_full

log = structlog.get_logger("gateway.channels.sftp")

T = TypeVar("T")


class SftpSession(paramiko.SFTPServer):
    """paramiko's SFTP server with our CLOSE, our status texts and abort detection."""

    def _files(self) -> CarrierFiles:
        return cast(CarrierFiles, self.server)

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
        code, text = handle.finish() if isinstance(handle, Upload) else (_close(handle), None)
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
            if isinstance(handle, Upload):
                handle.aborted = True
        super().finish_subsystem()


def _close(handle: paramiko.SFTPHandle) -> int:
    handle.close()
    return SFTP_OK


class CarrierFiles(paramiko.SFTPServerInterface):
    """The SFTP operations on one carrier's tree (one instance per SFTP session)."""

    def __init__(self, server: paramiko.ServerInterface, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        connection = cast(Connection, server)
        assert connection.carrier is not None  # the subsystem is only granted after login
        self.connection = connection
        self.service = connection.service
        self.carrier = connection.carrier
        self.tree = self.service.tree(self.carrier)
        self.open_handles = 0
        # The text for the status reply being prepared (see SftpSession._send_status).
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

    def _open_upload(self, where: VirtualPath, flags: int) -> Upload:
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
        return Upload(self, where.name, path, fd)

    def _open_download(self, where: VirtualPath) -> Download:
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
        return Download(self, where.name, fd, st.st_size)

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
