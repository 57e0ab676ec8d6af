"""One SSH connection's log-in (paramiko's ServerInterface): who it is, the login limits, and
the one SFTP session it may open.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paramiko
import sqlalchemy as sa
import structlog
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from gateway.channels.filedrop import PARTNER_FOLDER
from gateway.channels.sftp_server.admission import Pending
from gateway.channels.sftp_server.messages import BANNER, printable
from gateway.exceptions import TransientError
from gateway.storage import credentials

if TYPE_CHECKING:
    from gateway.channels.sftp_server.channel import SftpServerChannel

log = structlog.get_logger("gateway.channels.sftp")


@dataclass(frozen=True, kw_only=True, slots=True)
class Login:
    """A credential that passed; the login counts once the transport says it is authenticated
    (paramiko asks about a public key before it checks the signature)."""

    carrier: str
    method: str
    fingerprint: str | None


class Connection(paramiko.ServerInterface):
    """One SSH connection: authentication, and the one SFTP session it may open."""

    def __init__(self, service: SftpServerChannel, peer: str, pending: Pending) -> None:
        self.service = service
        self.peer = peer
        self.pending = pending
        self.transport: paramiko.Transport | None = None
        self._candidate: Login | None = None
        self.carrier: str | None = None  # set once the login is confirmed
        self._slot = False
        self._session_opened = False
        # Set after each authentication request, for the thread waiting for the log-in.
        self.progress = threading.Event()
        self._login_lock = threading.Lock()

    # authentication

    def get_banner(self) -> tuple[str | None, str | None]:
        return BANNER, "en"

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_none(self, username: str) -> int:
        # Every client starts with "none" to learn the methods: not a failed login.
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        try:
            return self._check_key(username, key)
        finally:
            self.progress.set()

    def check_auth_password(self, username: str, password: str) -> int:
        try:
            return self._check_password(username, password)
        finally:
            self.progress.set()

    def _check_key(self, username: str, key: paramiko.PKey) -> int:
        # A key cannot be guessed: only this address's counter may refuse it, and a wrong key
        # counts only there (clients offer every key they hold, one after the other).
        key_fingerprint = credentials.fingerprint(key.asbytes())
        guard = self.service.guard
        carrier = carrier_code(username)
        if carrier is None:
            return self._failed(username, "publickey", key_fingerprint, delay=guard.policy.delay)
        try:
            if guard.locked(carrier, self.peer):
                delay = guard.policy.max_delay
                return self._failed(
                    carrier, "publickey", key_fingerprint, locked_out=True, delay=delay
                )
            found = self.service.find_key(carrier, key)
            attempt = None if found else guard.attempt(carrier, self.peer, every_address=False)
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login check failed", user=carrier, error=str(exc))
            return AUTH_FAILED
        if attempt is not None:
            return self._failed(carrier, "publickey", key_fingerprint, delay=attempt.delay)
        self._candidate = Login(carrier=carrier, method="publickey", fingerprint=key_fingerprint)
        return AUTH_SUCCESSFUL

    def _check_password(self, username: str, password: str) -> int:
        guard = self.service.guard
        carrier = carrier_code(username)
        if carrier is None:  # no carrier has such a name: nothing to check, nothing to count
            return self._failed(username, "password", None, delay=guard.policy.delay)
        try:
            # Counted before the password is checked: see gateway/login_guard.py.
            attempt = guard.attempt(carrier, self.peer)
            if not attempt.allowed:
                return self._failed(carrier, "password", None, locked_out=True, delay=attempt.delay)
            found = self.service.check_password(carrier, password)
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login check failed", user=carrier, error=str(exc))
            return AUTH_FAILED
        if found is None:
            return self._failed(carrier, "password", None, delay=attempt.delay)
        self._candidate = Login(carrier=carrier, method="password", fingerprint=None)
        return AUTH_SUCCESSFUL

    def _failed(
        self,
        username: str,
        method: str,
        key: str | None,
        locked_out: bool = False,
        *,
        delay: float,
    ) -> int:
        """A refused log-in: audited, logged, answered after ``delay``. ``locked_out``: refused
        by the limits without the secret being checked."""
        user = carrier_code(username) or printable(username)[:40]
        self.service.audit(
            "sftp_login_failed",
            user,
            peer=self.peer,
            method=method,
            fingerprint=key,
            locked_out=locked_out,
        )
        log.warning(
            "sftp login failed",
            user=user,
            peer=self.peer,
            method=method,
            delay=delay,
            locked_out=locked_out,
        )
        if delay:
            # Only this connection waits; the answer is slow, the server is not.
            self.service.stopping.wait(delay)
        return AUTH_FAILED

    def logged_in(self) -> str | None:
        """The carrier once the transport has accepted the log-in, else None."""
        return self._confirm_login()

    def _confirm_login(self) -> str | None:
        with self._login_lock:  # the serving thread and paramiko's may both ask
            return self._confirm_login_once()

    def _confirm_login_once(self) -> str | None:
        if self.carrier is not None:
            return self.carrier
        login = self._candidate
        handler = None if self.transport is None else self.transport.auth_handler
        # Not Transport.is_authenticated(): that is False again once the transport has closed.
        if login is None or handler is None or not handler.is_authenticated():
            return None
        self.carrier = login.carrier
        # Out of the pre-log-in count now (the serving thread would notice within moments;
        # a client opening its session channel must not be displaced meanwhile).
        self.service.admission.logged_in(self.pending)
        try:
            # A key log-in leaves the user's count over every address alone (see above).
            self.service.guard.succeeded(
                login.carrier, self.peer, every_address=login.method == "password"
            )
        except (TransientError, sa.exc.SQLAlchemyError) as exc:
            log.error("sftp login counters not reset", user=login.carrier, error=str(exc))
        self.service.audit(
            "sftp_login",
            login.carrier,
            peer=self.peer,
            method=login.method,
            fingerprint=login.fingerprint,
        )
        log.info("sftp login", carrier=login.carrier, peer=self.peer, method=login.method)
        return login.carrier

    # channels

    def check_channel_request(self, kind: str, chanid: int) -> int:
        carrier = self._confirm_login()
        if kind != "session" or carrier is None:
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        if self._session_opened:
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        if not self.service.session_slot(carrier):
            self.service.audit(
                "sftp_session_refused",
                carrier,
                peer=self.peer,
                reason="too many sessions",
                limit=self.service.max_sessions_per_carrier,
            )
            log.warning("sftp session refused: too many sessions", carrier=carrier, peer=self.peer)
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self._slot = True
        self._session_opened = True
        return OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or self.carrier is None:
            return False
        self.service.tree(self.carrier).prepare()
        return bool(super().check_channel_subsystem_request(channel, name))

    def ended(self) -> None:
        if self._slot and self.carrier is not None:
            self.service.release_session_slot(self.carrier)
            self._slot = False
        if self.carrier is None:
            self._confirm_login()  # logged in but never opened a channel: still a login


def carrier_code(username: str) -> str | None:
    code = username.strip().upper()
    return code if PARTNER_FOLDER.match(code) else None
