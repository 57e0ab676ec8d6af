"""What connections may hold: places before the log-in, sessions per carrier after it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.login_guard import address_key

log = structlog.get_logger("gateway.channels.sftp")

# At most one log line per this long about connections refused or displaced before log-in.
REFUSAL_LOG_SECONDS = 10.0


@dataclass(eq=False, kw_only=True, slots=True)
class Pending:
    """A connection that has not logged in yet."""

    address: str  # as counted: IPv6 by its /64
    since: float  # time.monotonic() of the connect
    sock: socket.socket
    displaced: bool = False
    logged_in: bool = False


class Admission:
    """What connections that have not logged in may hold (see "Before the log-in")."""

    def __init__(self, *, connections: int, unauthenticated: int, per_address: int) -> None:
        self.connections = connections
        self.unauthenticated = unauthenticated
        self.per_address = per_address
        self._lock = threading.Lock()
        self._pending: dict[Pending, None] = {}  # in order of arrival
        self._per_address: dict[str, int] = {}
        self._logged_in = 0
        self._unlogged = 0
        self._last_note = float("-inf")

    def admit(self, sock: socket.socket, peer: str) -> Pending | None:
        """A place for a new connection (None: close it at once)."""
        address = address_key(peer)
        with self._lock:
            full = len(self._pending) + self._logged_in >= self.connections
            if self._per_address.get(address, 0) >= self.per_address:
                refused = "too many connections not logged in from this address"
            elif full and not self._pending:
                refused = "too many connections"
            else:
                refused = ""
            victim = None
            if not refused and (full or len(self._pending) >= self.unauthenticated):
                victim = self._most_crowded_oldest()
                self._drop(victim)
                victim.displaced = True
            entry = None
            if not refused:
                entry = Pending(address=address, since=time.monotonic(), sock=sock)
                self._pending[entry] = None
                self._per_address[address] = self._per_address.get(address, 0) + 1
        if refused:
            self.note(f"sftp connection refused: {refused}", peer=peer)
        if victim is not None:
            self.note("sftp connection displaced before log-in", peer=victim.address)
            # The connection's own thread notices (its reads fail) and cleans up.
            with contextlib.suppress(OSError):
                victim.sock.shutdown(socket.SHUT_RDWR)
        return entry

    def logged_in(self, pending: Pending) -> bool:
        """The connection logged in: it leaves the pre-log-in count (False if displaced)."""
        with self._lock:
            if pending.displaced:
                return False
            if not pending.logged_in:
                self._drop(pending)
                pending.logged_in = True
                self._logged_in += 1
            return True

    def ended(self, pending: Pending) -> None:
        with self._lock:
            if pending.logged_in:
                pending.logged_in = False
                self._logged_in -= 1
            elif pending in self._pending:
                self._drop(pending)

    def note(self, event: str, **fields: Any) -> None:
        """A refusal or time-out, logged at most once per REFUSAL_LOG_SECONDS (a flood would
        otherwise write a line per connection)."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_note < REFUSAL_LOG_SECONDS:
                self._unlogged += 1
                return
            self._last_note = now
            unlogged, self._unlogged = self._unlogged, 0
        log.warning(event, **fields, not_logged_since_last=unlogged)

    def _most_crowded_oldest(self) -> Pending:
        most = max(self._per_address.values())
        return next(p for p in self._pending if self._per_address[p.address] == most)

    def _drop(self, pending: Pending) -> None:
        del self._pending[pending]
        left = self._per_address[pending.address] - 1
        if left:
            self._per_address[pending.address] = left
        else:
            del self._per_address[pending.address]


class Slots:
    """Concurrent sessions per carrier."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def acquire(self, carrier: str) -> bool:
        with self._lock:
            if self._held.get(carrier, 0) >= self.limit:
                return False
            self._held[carrier] = self._held.get(carrier, 0) + 1
            return True

    def release(self, carrier: str) -> None:
        with self._lock:
            left = self._held.get(carrier, 0) - 1
            if left > 0:
                self._held[carrier] = left
            else:
                self._held.pop(carrier, None)
