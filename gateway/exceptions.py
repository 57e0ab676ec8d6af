"""The gateway's one exception tree.

Every error the gateway raises on purpose is a :class:`GatewayError`. The branch tells the
caller what to do with it::

    GatewayError                    anything the gateway raises on purpose
    ├── DocumentError               the submitted bytes are at fault: refuse, never retry
    │   ├── EncodingError           bytes not valid in the declared/assumed encoding
    │   ├── SizeLimitError          file larger than the configured limit
    │   ├── FormatError             unknown or undetectable format, empty file
    │   └── XmlDocumentError        malformed, hostile (DTD/entities) or schema-invalid XML
    ├── TransientError              the environment is at fault: retry later
    │   ├── StorageUnavailable      database or disk not reachable right now
    │   │   ├── DatabaseUnavailable the database cannot be reached (down, restarting, cut off)
    │   │   └── DiskFull            no room on the data dir (ENOSPC, a full database, the floor)
    │   ├── Overloaded              the work queue is over max_queue_depth: send again later
    │   └── UnsafeFolder            a carrier's folder is a link (or not a folder): not used
    └── ConfigurationError          the operator's configuration is wrong: fix it, then restart
        └── SchemaOutdated          the database schema is behind the code: pde-gateway migrate

Third-party errors are wrapped where they enter (lxml in ``parsers.xml``, SQLAlchemy in
``gateway.storage``) with ``raise ... from exc`` so the original stays in ``__cause__``.

A ``DocumentError`` carries refusal :class:`~gateway.model.findings.Finding` objects: a
stable code, an Indonesian and an English message and the place in the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.model.findings import Finding


class GatewayError(Exception):
    """The gateway failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or type(self).__name__)


class DocumentError(GatewayError):
    """The submitted document cannot be accepted."""

    def __init__(self, findings: list[Finding] | tuple[Finding, ...]) -> None:
        self.findings = tuple(findings)
        first = self.findings[0].message_en if self.findings else None
        super().__init__(first)


class EncodingError(DocumentError):
    """The bytes are not valid in the declared encoding."""


class SizeLimitError(DocumentError):
    """The file is larger than the configured limit."""


class FormatError(DocumentError):
    """The file format could not be recognised."""


class XmlDocumentError(DocumentError):
    """The XML document is malformed, hostile or invalid against its schema."""


class TransientError(GatewayError):
    """A temporary failure; the work will be retried."""


class StorageUnavailable(TransientError):
    """The database or the raw-file store is not reachable right now."""


class DatabaseUnavailable(StorageUnavailable):
    """The database cannot be reached: the connection was refused or lost, the server is
    shutting down or starting up (``gateway.storage.database`` turns every such driver error
    into this one). A state of the deployment, not of a file: requests are answered "try
    later" (HTTP 503 + Retry-After), workers hand their jobs back without spending an
    attempt and carry on once it answers again."""

    def __init__(self, detail: str, *, retry_after: int = 30) -> None:
        self.detail = detail  # the driver's first line, for the logs
        self.retry_after = retry_after  # seconds, for HTTP Retry-After
        super().__init__(f"database unavailable: {detail}")


class DiskFull(StorageUnavailable):
    """The data dir has no room: a write failed with ENOSPC/EDQUOT, the database said it is
    full, or free space is below ``min_free_bytes`` (intake keeps that much for the work
    already accepted). A state of the machine, not of a file: intake answers "try later",
    work in hand waits without spending its attempts (``gateway.storage.disk``)."""

    def __init__(self, where: str, *, retry_after: int = 30) -> None:
        self.where = where  # what could not be written (for the logs; no paths for carriers)
        self.retry_after = retry_after  # seconds, for HTTP Retry-After
        super().__init__(
            f"Ruang penyimpanan gateway penuh; berkas TIDAK diterima, kirim ulang dalam "
            f"{retry_after} detik. / The gateway's storage is full; the file was NOT received, "
            f"send it again in {retry_after} seconds."
        )


class Overloaded(TransientError):
    """The gateway has more work waiting than it accepts (``max_queue_depth``); try later."""

    def __init__(self, *, depth: int, limit: int, retry_after: int) -> None:
        self.depth = depth
        self.limit = limit
        self.retry_after = retry_after  # seconds, for HTTP Retry-After and the logs
        super().__init__(
            f"Gateway sedang penuh ({depth} berkas menunggu, batas {limit}); kirim ulang "
            f"dalam {retry_after} detik. / The gateway is busy ({depth} files waiting, "
            f"limit {limit}); send again in {retry_after} seconds."
        )


class UnsafeFolder(TransientError):
    """A carrier's folder is a symbolic link or not a folder: nothing is read or written
    through it until the carrier puts a plain folder back."""


class ConfigurationError(GatewayError):
    """The gateway's configuration is invalid."""


class SchemaOutdated(ConfigurationError):
    """The database's schema is not the one this code needs, and the caller may not change it
    (a CLI command other than ``run``/``migrate``): the operator runs ``pde-gateway migrate``."""
