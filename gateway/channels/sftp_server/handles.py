"""Open files in an SFTP session: an upload into /inbox, a download from /outbox."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
import structlog
from paramiko.sftp import SFTP_BAD_MESSAGE, SFTP_FAILURE, SFTP_OK, SFTP_PERMISSION_DENIED

from gateway.channels.filedrop import TEMPORARY
from gateway.channels.sftp_server.messages import message
from gateway.channels.sftp_server.paths import INBOX, OUTBOX
from gateway.storage.disk import is_disk_full

if TYPE_CHECKING:
    from gateway.channels.sftp_server.session import CarrierFiles

log = structlog.get_logger("gateway.channels.sftp")

MAX_READ_BYTES = 256 * 1024


class Upload(paramiko.SFTPHandle):
    """A file being written into /inbox. Only :meth:`finish` (the client's CLOSE) takes it."""

    def __init__(self, files: CarrierFiles, name: str, path: Path, fd: int) -> None:
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
        return SFTP_OK  # see CarrierFiles.chattr

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


class Download(paramiko.SFTPHandle):
    """A file being read from /outbox; audited when closed."""

    def __init__(self, files: CarrierFiles, name: str, fd: int, size: int) -> None:
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
