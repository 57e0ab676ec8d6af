"""Log-in limits of the web console, over real HTTP to the real app (uvicorn on a free port).

Every test runs on SQLite and on PostgreSQL: the counter is one atomic statement in the
database, reserved before the password is checked (gateway/login_guard.py). How many
passwords were really checked is counted at argon2 itself (the library's ``verify``, wrapped
to count, not replaced). The SFTP side is in test_sftp_server.py; two processes sharing one
PostgreSQL database in tests/acceptance/test_login_limits.py.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import argon2
import pytest
import sqlalchemy as sa

from gateway.app import Gateway
from gateway.storage import users
from gateway.storage.tables import audit_log
from gateway.web.server import WebServer
from tests.integration.conftest import FakeClock

PASSWORD = "Rahasia#1-panjang"
LIMIT = 10


class Verifications:
    """How many times argon2 verified a password in this process."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def wrap(self, verify: Callable[..., Any]) -> Callable[..., Any]:
        def counted(hasher: Any, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
            return verify(hasher, *args, **kwargs)

        return counted


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Verifications:
    seen = Verifications()
    monkeypatch.setattr(argon2.PasswordHasher, "verify", seen.wrap(argon2.PasswordHasher.verify))
    return seen


class Web:
    def __init__(self, gateway: Gateway, server: WebServer) -> None:
        self.gateway = gateway
        self.server = server

    def login(self, user: str, password: str, headers: dict[str, str] | None = None) -> int:
        """POST /login on a connection of its own; the status (303 is a login)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            conn.request(
                "POST",
                "/login",
                urllib.parse.urlencode({"username": user, "password": password}),
                {"content-type": "application/x-www-form-urlencoded", **(headers or {})},
            )
            answer = conn.getresponse()
            answer.read()
            return answer.status
        finally:
            conn.close()

    def failures(self) -> list[Any]:
        with self.gateway.db.engine.connect() as conn:
            return conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.action == "login failed")
                .order_by(audit_log.c.id)
            ).all()


@pytest.fixture
def start_web(
    make_gateway: Callable[..., Gateway], clock: FakeClock
) -> Iterator[Callable[..., Web]]:
    servers: list[WebServer] = []

    def start(**overrides: str) -> Web:
        gateway = make_gateway(
            clock,
            login_delay_seconds="0.01",
            login_delay_max_seconds="0.02",
            login_failure_limit=str(LIMIT),
            **overrides,
        )
        with gateway.db.transaction() as conn:
            if not any(u.username == "ops" for u in users.list_users(conn)):
                users.add_user(
                    conn,
                    username="ops",
                    display_name="Ops",
                    role=users.Role.ADMIN,
                    password=PASSWORD,
                    now=clock(),
                    actor="test",
                )
        server = WebServer(gateway, host="127.0.0.1", port=0)
        server.start()
        servers.append(server)
        return Web(gateway, server)

    yield start
    for server in servers:
        server.stop()


def test_forty_parallel_wrong_passwords_are_checked_at_most_limit_times(
    start_web: Callable[..., Web], verifications: Verifications
) -> None:
    web = start_web()
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(lambda n: web.login("ops", f"salah-{n}"), range(40)))
    # Exactly LIMIT attempts were let through to the password check; the rest were refused
    # unchecked, however close together they came.
    assert Counter(statuses) == {401: LIMIT, 429: 40 - LIMIT}
    assert verifications.count == LIMIT
    # Locked: even the right password is refused, and not even checked.
    assert web.login("ops", PASSWORD) == 429
    assert verifications.count == LIMIT
    failures = web.failures()
    assert len(failures) == 41
    assert sum(1 for r in failures if not r.detail["locked_out"]) == LIMIT
    assert {r.actor for r in failures} == {"web:127.0.0.1"}


def test_a_forwarded_for_header_neither_escapes_the_lockout_nor_forges_the_address(
    start_web: Callable[..., Web], verifications: Verifications
) -> None:
    web = start_web()
    statuses = [
        web.login("ops", "salah", {"x-forwarded-for": f"203.0.113.{n}"}) for n in range(LIMIT + 2)
    ]
    assert statuses == [401] * LIMIT + [429] * 2
    assert web.login("ops", PASSWORD, {"x-forwarded-for": "198.51.100.77"}) == 429
    assert verifications.count == LIMIT
    # The audited address is the socket's peer, whatever the header says.
    assert {r.actor for r in web.failures()} == {"web:127.0.0.1"}


def test_a_trusted_proxy_is_believed_and_one_user_is_limited_from_every_address(
    start_web: Callable[..., Web], verifications: Verifications
) -> None:
    web = start_web(web_trusted_proxies="127.0.0.1", login_failure_limit_per_user="15")
    # Behind the proxy: the right-most address the proxy appended is the client; what the
    # client itself put in front is not believed.
    assert web.login("ops", "salah", {"x-forwarded-for": "10.9.9.9, 203.0.113.7"}) == 401
    assert web.failures()[-1].actor == "web:203.0.113.7"
    # Many addresses, one account: the per-user counter stops them at 15 checks in all.
    statuses = [
        web.login("ops", "salah", {"x-forwarded-for": f"198.51.100.{n}"}) for n in range(30)
    ]
    assert Counter(statuses) == {401: 14, 429: 16}
    assert verifications.count == 15
    assert web.login("ops", PASSWORD, {"x-forwarded-for": "192.0.2.1"}) == 429


def test_the_migration_makes_the_table_the_code_declares(
    make_gateway: Callable[..., Gateway], clock: FakeClock
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.storage.tables import metadata

    gateway = make_gateway(clock)
    with gateway.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, metadata) if "login_failures" in repr(d)]
    assert diff == []
