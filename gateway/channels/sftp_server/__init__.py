"""The gateway's own SFTP server: one account per carrier, ``/inbox`` up, ``/outbox`` down.

Built on paramiko's server mode. Per connection (module in brackets)::

    accept (channel) ──▶ Admission: a place before the log-in        [admission]
               │
               ▼
             Connection (ServerInterface): who is it (key or password), login slow-down,
               │                           sessions per carrier      [auth]
               ▼ "sftp" subsystem
             SftpSession (SFTPServer): CLOSE, status texts, aborts   [session]
               │
               ▼
             CarrierFiles (SFTPServerInterface): one carrier's virtual tree [session, paths]
               ├── Upload   (a file being written into /inbox)       [handles]
               └── Download (a file being read from /outbox)         [handles]

Besides: ``messages`` (the banner and the bilingual status texts), ``received`` (names that
still answer ``stat`` after the close), ``host_key`` and ``logs`` (paramiko's log lines).
Modules import downward only: ``channel`` → ``session`` → ``handles``/``auth`` →
``admission``/``paths`` → ``messages``; the upward references are annotations only.

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
``close()`` never ingests: only a CLOSE request from the client does (``Upload.finish``), and
``SftpSession.finish_subsystem`` marks the handles still open as aborted before paramiko
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
:class:`Admission` bounds what not-yet-logged-in connections may hold: at most
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
and ``setstat`` (ignored) with the size received (:class:`Received`, per carrier, in this
process's memory). It is not listed: the listing shows what is still waiting to be taken.

**Audit.** Logins (success and failure), refused sessions, uploads (with the submission),
aborted and refused uploads, downloads and deletions go to ``audit_log`` with actor
``sftp:<user>``.

paramiko internals used (checked by the SFTP acceptance tests): ``SFTPServer._process`` and
``_send_status`` (to answer CLOSE ourselves and put our own text into status replies) and
``file_table``.
"""

from __future__ import annotations

from gateway.channels.sftp_server.channel import SftpServerChannel
from gateway.channels.sftp_server.host_key import load_or_create_host_key
from gateway.channels.sftp_server.messages import BANNER, MESSAGES, message, printable
from gateway.channels.sftp_server.paths import (
    AREAS,
    INBOX,
    OUTBOX,
    CarrierTree,
    PathRefused,
    VirtualPath,
    resolve_path,
)

__all__ = [
    "AREAS",
    "BANNER",
    "INBOX",
    "MESSAGES",
    "OUTBOX",
    "CarrierTree",
    "PathRefused",
    "SftpServerChannel",
    "VirtualPath",
    "load_or_create_host_key",
    "message",
    "printable",
    "resolve_path",
]
