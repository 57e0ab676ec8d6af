"""Fixtures for integration tests: a real gateway (database + folders) per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.web import create_app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


class FakeClock:
    """A clock the test moves by hand; every reading is timezone-aware."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 10, 2, 30, tzinfo=UTC))


@pytest.fixture
def make_gateway(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    made: list[Gateway] = []

    def factory(clock: Callable[[], datetime] | None = None, **overrides: str) -> Gateway:
        env = {
            "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "PDE_GATEWAY_DATABASE_URL": database_url,
            **{f"PDE_GATEWAY_{k.upper()}": v for k, v in overrides.items()},
        }
        settings = load_settings(environ=env)
        gateway = Gateway(settings, clock=clock) if clock else Gateway(settings)
        made.append(gateway)
        return gateway

    yield factory
    for gateway in made:
        gateway.db.dispose()


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway], clock: FakeClock) -> Gateway:
    return make_gateway(clock)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    """The web console and API of ``gateway`` in process (ASGI), over plain HTTP."""
    with TestClient(create_app(gateway), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``python -m gateway.cli ARGS`` against the test gateway's data dir and database."""
    env = {
        **os.environ,
        "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "PDE_GATEWAY_DATABASE_URL": database_url,
        "PDE_GATEWAY_LOG_FORMAT": "json",
    }

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return invoke
