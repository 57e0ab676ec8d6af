"""Property-based test of the HTTP API (schemathesis): generated requests for every
operation of the OpenAPI document, with a valid carrier token, never get a server error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from gateway.app import Gateway
from gateway.storage import users
from gateway.web import create_app


@pytest.fixture
def fuzz_gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(max_file_bytes="20000")


@pytest.fixture
def fuzz_token(fuzz_gateway: Gateway) -> str:
    with fuzz_gateway.db.transaction() as conn:
        return users.issue_api_token(
            conn, "DEMO", label="fuzz", now=fuzz_gateway.clock(), actor="test"
        )


def test_no_server_error(fuzz_gateway: Gateway, fuzz_token: str) -> None:
    """Every operation, 25 generated requests each; any 5xx fails with the reproducing case."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(fuzz_gateway))
    headers = {"Authorization": f"Bearer {fuzz_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
