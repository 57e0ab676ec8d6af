"""Shared fixtures: database URLs for SQLite and a real, throwaway PostgreSQL server.

PostgreSQL comes from the Debian ``postgresql`` package (``scripts/install-system-deps``).
When it is missing, postgres tests FAIL under ``CI=true`` and are skipped (with the
reason) elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.pg import PostgresServer, PostgresUnavailable, start_postgres
from tests.sshd import Sshd, SshdUnavailable

POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_url"})


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """A system component the tests need is missing: a failure in CI, a skip elsewhere."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Anything that uses the PostgreSQL server directly is a postgres test too,
    # so `-m "not postgres"` deselects it.
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole session (loopback, free port)."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:
        unavailable(f"PostgreSQL is missing: {missing}")
    try:
        yield server
    finally:
        server.stop()


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def _new_postgres_db(request: pytest.FixtureRequest) -> Iterator[str]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database, once per backend (ids: sqlite, postgres)."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
    else:
        yield from _new_postgres_db(request)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of an empty SQLite database file under tmp_path."""
    return _sqlite_url(tmp_path)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a brand-new database on the session PostgreSQL server."""
    yield from _new_postgres_db(request)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A real OpenSSH sshd on loopback playing a carrier's own SFTP server (tests/sshd.py)."""
    try:
        server = Sshd(tmp_path / "sshd").start()
    except SshdUnavailable as exc:
        unavailable(f"OpenSSH is missing: {exc}")
    try:
        yield server
    finally:
        server.stop()
