"""The web side in process (ASGI): users, tokens and log-ins the console and API tests share."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.storage import users

PASSWORD = "Rahasia#1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def token(gateway: Gateway, carrier: str) -> dict[str, str]:
    """The Authorization header of a new API token of ``carrier``."""
    with gateway.db.transaction() as conn:
        issued = users.issue_api_token(conn, carrier, label="t", now=gateway.clock(), actor="t")
    return {"Authorization": f"Bearer {issued}"}


def add_user(gateway: Gateway, name: str, role: users.Role, **where: str) -> None:
    with gateway.db.transaction() as conn:
        users.add_user(
            conn,
            username=name,
            display_name=name,
            role=role,
            password=PASSWORD,
            now=gateway.clock(),
            actor="t",
            **where,
        )


def log_in(client: TestClient, gateway: Gateway, name: str, role: users.Role, **where: str) -> str:
    """A new user of that role, logged in on ``client`` (any earlier session dropped); its
    session's CSRF token (every page carries it in the log-out form)."""
    add_user(gateway, name, role, **where)
    client.cookies.clear()
    answer = client.post("/login", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    found = _CSRF.search(client.get("/").text)
    assert found is not None
    return found.group(1)
