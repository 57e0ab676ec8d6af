"""The HTTP API against a real gateway (database, pipeline), in process through ASGI.

Scoping: a carrier's token or user sees only that carrier's submissions; another carrier's
ids are 404 as if they did not exist. CSRF on cookie sessions, size limits, OpenAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.login_guard import LoginGuard, LoginPolicy
from gateway.storage import users
from tests.integration.web import PASSWORD, add_user, token

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(max_file_bytes="4000")


def submit(client: TestClient, gateway: Gateway, headers: dict[str, str], name: str) -> int:
    answer = client.post(
        f"/api/v1/submissions?name={name}",
        content=(EXAMPLES / name).read_bytes(),
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    submission_id = int(answer.json()["submission_id"])
    gateway.pipeline.process(submission_id)
    gateway.pipeline.deliver(submission_id)
    return submission_id


def test_a_carrier_sees_its_own_submission_and_nothing_of_another(
    client: TestClient, gateway: Gateway
) -> None:
    demo, samu = token(gateway, "DEMO"), token(gateway, "SAMU")
    mine = submit(client, gateway, demo, "rksp.xml")
    [report] = client.get(f"/api/v1/submissions/{mine}", headers=demo).json()["documents"]
    assert report["status"] == "REGISTERED" and report["registration"]["kind"] == "BC 1.0"
    kinds = {a["kind"] for a in report["ack_downloads"]}
    assert kinds == {"RECEIPT", "RESPONSE"}
    ack_url = report["ack_downloads"][0]["url"]
    assert client.get(ack_url, headers=demo).content.startswith(b"<?xml")
    raw = client.get(f"/api/v1/submissions/{mine}/raw", headers=demo)
    assert raw.content == (EXAMPLES / "rksp.xml").read_bytes()
    for path in (f"/api/v1/submissions/{mine}", f"/api/v1/submissions/{mine}/raw", ack_url):
        assert client.get(path, headers=samu).status_code == 404, path
    assert client.get("/api/v1/search?q=KM%20DEMO", headers=samu).json() == []
    found = client.get("/api/v1/search?q=KM%20DEMO", headers=demo).json()
    assert [r["submission_id"] for r in found] == [mine]


def test_a_carrier_token_cannot_submit_for_another_carrier(
    client: TestClient, gateway: Gateway
) -> None:
    answer = client.post(
        "/api/v1/submissions?name=a.xml&carrier=SAMU",
        content=b"<x/>",
        headers=token(gateway, "DEMO"),
    )
    assert answer.status_code == 403


def test_without_credentials_or_with_a_bad_token(client: TestClient) -> None:
    assert client.get("/api/v1/submissions/1").status_code == 401
    bad = {"Authorization": "Bearer pde_not-a-token"}
    assert client.get("/api/v1/submissions/1", headers=bad).status_code == 401


def test_oversized_bodies(client: TestClient, gateway: Gateway) -> None:
    demo = token(gateway, "DEMO")
    # Over max_file_bytes (4000) but under the hard cut: kept and refused with FILE-002.
    big = client.post("/api/v1/submissions?name=big.xml", content=b"x" * 5000, headers=demo)
    assert big.status_code == 202
    submission_id = big.json()["submission_id"]
    gateway.pipeline.process(submission_id)
    answer = client.get(f"/api/v1/submissions/{submission_id}", headers=demo).json()
    [report] = answer["documents"]
    assert [e["code"] for e in report["errors"]] == ["FILE-002"]
    # Past twice the limit the connection's body is cut off at once.
    huge = client.post("/api/v1/submissions?name=h.xml", content=b"x" * 9000, headers=demo)
    assert huge.status_code == 413


def test_console_session_needs_the_csrf_token_to_change_anything(
    client: TestClient, gateway: Gateway
) -> None:
    add_user(gateway, "demo-op", users.Role.CARRIER_OPERATOR, carrier_code="DEMO")
    login = client.post(
        "/login", data={"username": "demo-op", "password": PASSWORD}, follow_redirects=False
    )
    assert login.status_code == 303
    cookie = login.cookies.get("pde_session") or client.cookies.get("pde_session")
    assert cookie
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    body = (EXAMPLES / "rksp.xml").read_bytes()
    refused = client.post("/api/v1/submissions?name=rksp.xml", content=body)
    assert refused.status_code == 403
    page = client.get("/upload").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    accepted = client.post(
        "/api/v1/submissions?name=rksp.xml", content=body, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 202


def test_failed_logins_are_audited_and_slow_down(client: TestClient, gateway: Gateway) -> None:
    add_user(gateway, "officer1", users.Role.OFFICER, office_code="040300")
    # The delays themselves are the guard's own tests (tests/integration/test_login_limits.py).
    policy = LoginPolicy(delay=0.0, max_delay=0.0, limit=4, user_limit=30, lockout=900.0)
    client.app.state.login_guard = LoginGuard(  # type: ignore[attr-defined]
        gateway.db, door="web", policy=policy, clock=gateway.clock
    )
    for _ in range(4):
        wrong = client.post("/login", data={"username": "officer1", "password": "Salah#123"})
        assert wrong.status_code == 401
    locked = client.post("/login", data={"username": "officer1", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, until the lockout ends


def test_weak_passwords_are_refused(gateway: Gateway) -> None:
    for weak in ("Ab#1", "abcdef#1", "ABCDEFG1", "Abcdefg#"):
        with pytest.raises(users.UserError), gateway.db.transaction() as conn:
            users.add_user(
                conn,
                username="weak",
                display_name="w",
                role=users.Role.ADMIN,
                password=weak,
                now=gateway.clock(),
                actor="t",
            )


def test_the_openapi_document_is_valid(client: TestClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    assert "/api/v1/submissions" in document["paths"]


def test_multipart_upload_is_audited_with_the_token_behind_it(
    client: TestClient, gateway: Gateway
) -> None:
    import sqlalchemy as sa

    from gateway.storage.tables import audit_log

    demo = token(gateway, "DEMO")
    answer = client.post(
        "/api/v1/submissions",
        files={"file": ("jksp.xml", (EXAMPLES / "jksp.xml").read_bytes(), "application/xml")},
        headers=demo,
    )
    assert answer.status_code == 202, answer.text
    submission_id = answer.json()["submission_id"]
    gateway.pipeline.process(submission_id)
    answer = client.get(f"/api/v1/submissions/{submission_id}", headers=demo).json()
    [report] = answer["documents"]
    assert (report["source_name"], report["status"]) == ("jksp.xml", "REGISTERED")
    with gateway.db.engine.connect() as conn:
        actors = conn.scalars(
            sa.select(audit_log.c.actor).where(
                audit_log.c.submission_id == submission_id, audit_log.c.action == "uploaded"
            )
        ).all()
    assert actors == ["token:DEMO"]
