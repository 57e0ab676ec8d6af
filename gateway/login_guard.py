"""Failed logins per (user, peer address): a growing delay, then a lockout.

Shared by the SFTP server and the web console. The first few failures are answered at once
(typos happen); after that each waits twice as long, up to a ceiling; after ``limit`` failures
within ``lockout`` seconds the pair is refused for ``lockout`` seconds even with the right
secret. In memory, per process: a restart forgets it (see docs/operations).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

FREE_FAILURES = 3
# Bounded memory under a flood of distinct names: old entries are dropped past this size.
_GUARD_MAX_ENTRIES = 10_000


@dataclass(kw_only=True, slots=True)
class _Failures:
    count: int
    first: float
    locked_until: float = 0.0


class LoginGuard:
    """Failed logins per (user, peer address): growing delay, then a lockout."""

    def __init__(self, *, delay: float, max_delay: float, limit: int, lockout: float) -> None:
        self.delay = delay
        self.max_delay = max_delay
        self.limit = limit
        self.lockout = lockout
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], _Failures] = {}

    def locked(self, user: str, peer: str, *, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        with self._lock:
            entry = self._seen.get((user, peer))
            return entry is not None and entry.locked_until > at

    def failed(self, user: str, peer: str, *, now: float | None = None) -> float:
        """Count a failure; the delay to wait before answering it."""
        at = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > _GUARD_MAX_ENTRIES:
                self._forget_older_than(at - self.lockout)
            entry = self._seen.get((user, peer))
            if entry is None or (entry.locked_until <= at and at - entry.first > self.lockout):
                entry = _Failures(count=0, first=at)
                self._seen[(user, peer)] = entry
            entry.count += 1
            if entry.count >= self.limit:
                entry.locked_until = at + self.lockout
            over = entry.count - FREE_FAILURES
            if over <= 0:
                return 0.0
            return float(min(self.delay * 2 ** (over - 1), self.max_delay))

    def succeeded(self, user: str, peer: str) -> None:
        with self._lock:
            self._seen.pop((user, peer), None)

    def _forget_older_than(self, cutoff: float) -> None:
        for key in [
            k for k, v in self._seen.items() if v.first < cutoff and v.locked_until < cutoff
        ]:
            del self._seen[key]
