"""Log-in limits shared by the web console and the SFTP server, counted in the database.

**Reserve, then check.** Every attempt at a password is first counted (one atomic statement,
:func:`gateway.storage.login_failures.count_attempt`), and only an attempt whose number is
within the limit has its password checked; the rest are refused unchecked. Checking first
and counting after would let every attempt that arrives before the first failure is counted
through: 40 parallel guesses would all be checked. A success resets the counters.

**Two counters per attempt.** One per (user, address), limit ``limit``: one address guessing
is stopped early and the user can still log in from elsewhere. One per user over every
address, limit ``user_limit`` (higher): guesses spread over many addresses are limited too.
IPv6 addresses are counted by their /64, which one subscriber usually holds whole. The price
of the per-user counter: anybody can lock a user out by guessing wrong ``user_limit`` times;
the lock ends ``lockout`` seconds after the last attempt, or at once with
``pde-gateway logins unlock USER``. SSH keys cannot be guessed, so an SFTP key log-in only
counts against (and is only refused by) its (user, address) counter: a password-guessing
attack on a carrier's name never stops that carrier's key-based uploads.

**In the database**, not in memory: every gateway process sharing the database agrees, and a
restart forgets nothing. A counter left alone for ``lockout`` seconds starts again.

**Slower answers.** The first ``FREE_FAILURES`` failures are answered at once (typos happen),
then each waits twice as long as the one before, up to ``max_delay``. The caller waits after
the transaction has ended: nothing is held in the database while it waits.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from gateway.model.common import RECORD
from gateway.storage import login_failures
from gateway.storage.login_failures import EVERY_ADDRESS

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.storage.database import Database

log = structlog.get_logger("gateway.login_guard")

FREE_FAILURES = 3
# How often one process drops counters that have gone stale (a flood of made-up names).
PURGE_SECONDS = 60.0
DOORS = ("web", "sftp")


def address_key(address: str) -> str:
    """The address a counter is kept for: IPv4 as it is, IPv6 as its /64."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(**RECORD)
class LoginPolicy:
    delay: float
    max_delay: float
    limit: int
    user_limit: int
    lockout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            delay=settings.login_delay_seconds,
            max_delay=settings.login_delay_max_seconds,
            limit=settings.login_failure_limit,
            user_limit=settings.login_failure_limit_per_user,
            lockout=settings.login_lockout_seconds,
        )


@dataclass(**RECORD)
class Attempt:
    """A counted attempt: ``allowed`` to check the secret or not; ``delay`` before answering
    a failure."""

    allowed: bool
    attempts: int
    delay: float


class LoginGuard:
    """The log-in limits of one door (``web`` or ``sftp``)."""

    def __init__(
        self, db: Database, *, door: str, policy: LoginPolicy, clock: Callable[[], datetime]
    ) -> None:
        if door not in DOORS:
            raise ValueError(f"unknown door {door!r}")
        self.db = db
        self.door = door
        self.policy = policy
        self.clock = clock
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    @property
    def limit(self) -> int:
        return self.policy.limit

    def attempt(self, user: str, address: str, *, every_address: bool = True) -> Attempt:
        """Count an attempt by ``user`` from ``address`` before its secret is checked."""
        now = self.clock()
        forget_before = now - timedelta(seconds=self.policy.lockout)
        where = address_key(address)
        with self.db.transaction() as conn:
            here = login_failures.count_attempt(
                conn,
                door=self.door,
                username=user,
                address=where,
                now=now,
                forget_before=forget_before,
            )
            everywhere = 0
            if every_address and here <= self.policy.limit:
                everywhere = login_failures.count_attempt(
                    conn,
                    door=self.door,
                    username=user,
                    address=EVERY_ADDRESS,
                    now=now,
                    forget_before=forget_before,
                )
        self._purge_now_and_then(forget_before)
        allowed = here <= self.policy.limit and everywhere <= self.policy.user_limit
        return Attempt(allowed=allowed, attempts=here, delay=self._delay(here))

    def locked(self, user: str, address: str) -> bool:
        """Whether ``user`` is refused from ``address`` (read only; for key log-ins)."""
        now = self.clock()
        with self.db.engine.connect() as conn:
            seen = login_failures.attempts(
                conn,
                door=self.door,
                username=user,
                address=address_key(address),
                since=now - timedelta(seconds=self.policy.lockout),
            )
        return seen >= self.policy.limit

    def succeeded(self, user: str, address: str, *, every_address: bool = True) -> None:
        addresses = [address_key(address)] + ([EVERY_ADDRESS] if every_address else [])
        with self.db.transaction() as conn:
            login_failures.forget(conn, door=self.door, username=user, addresses=addresses)

    def _delay(self, attempts: int) -> float:
        over = attempts - FREE_FAILURES
        if over <= 0:
            return 0.0
        return float(min(self.policy.delay * 2 ** min(over - 1, 32), self.policy.max_delay))

    def _purge_now_and_then(self, before: datetime) -> None:
        at = time.monotonic()
        if at < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = at + PURGE_SECONDS
            with self.db.transaction() as conn:
                dropped = login_failures.purge(conn, before=before)
            if dropped:
                log.info("stale login counters dropped", door=self.door, count=dropped)
        finally:
            self._purge_lock.release()
