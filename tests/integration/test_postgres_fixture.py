"""The session PostgreSQL server is a real server, and test databases are isolated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.pg import PostgresServer


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(postgres_url)
    try:
        yield eng
    finally:
        eng.dispose()


def test_url_shape(postgres_server: PostgresServer) -> None:
    assert postgres_server.host == "127.0.0.1"
    assert postgres_server.user == "postgres"
    assert postgres_server.url("x") == (
        f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/x"
    )


def test_real_server_version(engine: sa.Engine) -> None:
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        version = conn.execute(sa.text("select version()")).scalar_one()
    assert version.startswith("PostgreSQL ")


def test_for_update_skip_locked(engine: sa.Engine) -> None:
    """Two concurrent claimers never get the same row (the job-queue pattern)."""
    claim = sa.text("SELECT id FROM jobs WHERE NOT done ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
    with engine.begin() as setup:
        setup.execute(sa.text("CREATE TABLE jobs (id int PRIMARY KEY, done bool NOT NULL)"))
        setup.execute(sa.text("INSERT INTO jobs VALUES (1, false), (2, false)"))

    with engine.connect() as first, engine.connect() as second, engine.connect() as third:
        with first.begin(), second.begin(), third.begin():
            assert first.execute(claim).scalar_one() == 1
            # Row 1 is locked by `first`: `second` skips it instead of blocking.
            assert second.execute(claim).scalar_one() == 2
            # Both rows are locked by others: a third claimer gets nothing.
            assert third.execute(claim).scalar_one_or_none() is None


def test_temp_table_skip_locked(engine: sa.Engine) -> None:
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("CREATE TEMP TABLE t (id int)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1), (2), (3)"))
        rows = conn.execute(sa.text("SELECT id FROM t ORDER BY id FOR UPDATE SKIP LOCKED"))
        assert [r.id for r in rows] == [1, 2, 3]


def test_databases_are_isolated(postgres_server: PostgresServer) -> None:
    url_a = postgres_server.create_database()
    url_b = postgres_server.create_database()
    assert url_a != url_b
    eng_a, eng_b = sa.create_engine(url_a), sa.create_engine(url_b)
    try:
        with eng_a.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_in_a (v text)"))
            conn.execute(sa.text("INSERT INTO only_in_a VALUES ('a')"))
        assert sa.inspect(eng_a).has_table("only_in_a")
        assert not sa.inspect(eng_b).has_table("only_in_a")
        with eng_b.connect() as conn:
            db_a = sa.make_url(url_a).database
            current = conn.execute(sa.text("select current_database()")).scalar_one()
            assert current == sa.make_url(url_b).database != db_a
    finally:
        eng_a.dispose()
        eng_b.dispose()
        postgres_server.drop_database(url_a)
        postgres_server.drop_database(url_b)


def test_database_url_backends(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (v int)"))
            conn.execute(sa.text("INSERT INTO t VALUES (42)"))
            assert conn.execute(sa.text("SELECT v FROM t")).scalar_one() == 42
    finally:
        engine.dispose()
