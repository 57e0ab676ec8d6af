"""What one HTTP request may make the gateway hold stays bounded (docs/security.md, point 7).

In process through ASGI: a file of many documents is answered one page at a time, each
document with its own acknowledgments only; multipart fields and parts have limits; bodies
and downloads are exactly what was kept. The streaming itself (memory, disk, slow clients)
is held against the real gateway in ``tests/acceptance/test_bounded_memory.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.storage import users
from gateway.storage.tables import acks

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SETS = 45
PAGE = 20


def x12_sets(count: int) -> bytes:
    """``docs/examples/rksp.x12`` with its transaction set repeated ``count`` times."""
    lines = (EXAMPLES / "rksp.x12").read_text(encoding="ascii").split("\n")
    head, body, tail = lines[:2], lines[2:13], lines[13:15]
    out = list(head)
    for n in range(1, count + 1):
        for segment in body:
            out.append(
                segment.replace("ST*323*0001", f"ST*323*{n:04d}")
                .replace("SE*11*0001", f"SE*11*{n:04d}")
                .replace("*025N*", f"*{n:04d}N*")
            )
    out += [tail[0].replace("GE*1*", f"GE*{count}*"), tail[1]]
    return ("\n".join(out) + "\n").encode("ascii")


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(max_file_bytes="200000")


@pytest.fixture
def demo(gateway: Gateway) -> dict[str, str]:
    with gateway.db.transaction() as conn:
        issued = users.issue_api_token(conn, "DEMO", label="t", now=gateway.clock(), actor="t")
    return {"Authorization": f"Bearer {issued}"}


def test_a_file_of_many_documents_is_answered_a_page_at_a_time_each_with_its_own_acks(
    client: TestClient, gateway: Gateway, demo: dict[str, str]
) -> None:
    sent = client.post("/api/v1/submissions?name=many.x12", content=x12_sets(SETS), headers=demo)
    assert sent.status_code == 202, sent.text
    submission_id = sent.json()["submission_id"]
    gateway.pipeline.process(submission_id)
    url = f"/api/v1/submissions/{submission_id}?limit={PAGE}"
    answer = client.get(url, headers=demo)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert (page["documents_total"], page["limit"], page["offset"]) == (SETS, PAGE, 0)
    assert len(page["documents"]) == PAGE
    for document in page["documents"]:
        # Its own 355 only: not the 997/TA1 of the file, not the other documents' acks.
        [own] = document["ack_downloads"]
        assert own["kind"] == "355" and own["document_id"] == document["document_id"]
        assert "acks" not in document  # paths on the server are the server's business
    assert {a["kind"] for a in page["file_acks"]} == {"TA1", "997"}
    assert all(a["document_id"] is None for a in page["file_acks"])
    assert page["file_acks_total"] == 2 and page["file_acks_next"] is None
    # The answer grows with the page, not with the file squared: about 1.5 KB a document.
    assert len(answer.content) < PAGE * 3000
    seen = [d["nomor_aju"] for d in page["documents"]]
    while page["next"] is not None:
        page = client.get(page["next"], headers=demo).json()
        assert len(page["documents"]) <= PAGE
        seen += [d["nomor_aju"] for d in page["documents"]]
    assert len(seen) == len(set(seen)) == SETS
    with gateway.db.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(acks).where(acks.c.document_id.is_not(None))
            ).scalar_one()
            == SETS
        )


def test_pages_have_a_default_and_a_maximum_size(
    client: TestClient, gateway: Gateway, demo: dict[str, str]
) -> None:
    sent = client.post("/api/v1/submissions?name=r.xml", content=b"<x/>", headers=demo)
    submission_id = sent.json()["submission_id"]
    page = client.get(f"/api/v1/submissions/{submission_id}", headers=demo).json()
    assert page["limit"] == 50 and page["documents_total"] == 0 and page["next"] is None
    assert page["status"] == "RECEIVED"
    too_big = client.get(f"/api/v1/submissions/{submission_id}?limit=201", headers=demo)
    assert too_big.status_code == 422


def test_file_acks_are_listed_a_page_at_a_time_and_downloaded_whole(
    client: TestClient, gateway: Gateway, demo: dict[str, str]
) -> None:
    sent = client.post("/api/v1/submissions?name=r.x12", content=x12_sets(2), headers=demo)
    submission_id = sent.json()["submission_id"]
    gateway.pipeline.process(submission_id)
    listed = client.get(f"/api/v1/submissions/{submission_id}/file-acks?limit=1", headers=demo)
    first = listed.json()
    assert (first["total"], len(first["acks"])) == (2, 1) and first["next"]
    second = client.get(first["next"], headers=demo).json()
    assert second["next"] is None
    for link in first["acks"] + second["acks"]:
        body = client.get(link["url"], headers=demo)
        with gateway.db.engine.connect() as conn:
            kept = conn.execute(sa.select(acks.c.body).where(acks.c.id == link["id"])).scalar()
        assert body.content == bytes(kept)
        assert body.headers["content-length"] == str(len(kept))


def test_the_raw_download_is_the_file_as_received(
    client: TestClient, gateway: Gateway, demo: dict[str, str]
) -> None:
    data = bytes(range(256)) * 1500  # 384,000 bytes: two pieces of the download
    sent = client.post("/api/v1/submissions?name=b.bin", content=data, headers=demo)
    raw = client.get(f"/api/v1/submissions/{sent.json()['submission_id']}/raw", headers=demo)
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-length"] == str(len(data))


def test_multipart_fields_have_their_own_small_limit(
    client: TestClient, demo: dict[str, str]
) -> None:
    rksp = (EXAMPLES / "rksp.xml").read_bytes()
    big_field = client.post(
        "/api/v1/submissions",
        files={"file": ("rksp.xml", rksp, "application/xml")},
        data={"csrf": "x" * (65 * 1024)},
        headers=demo,
    )
    assert big_field.status_code == 413, big_field.text
    many = client.post(
        "/api/v1/submissions",
        files={"file": ("rksp.xml", rksp, "application/xml")},
        data={f"f{n}": "v" for n in range(20)},
        headers=demo,
    )
    assert many.status_code == 422, many.text
    two_files = client.post(
        "/api/v1/submissions",
        files=[("file", ("a.xml", rksp, "application/xml")), ("file", ("b.xml", rksp, "a/b"))],
        headers=demo,
    )
    assert two_files.status_code == 422, two_files.text
    fine = client.post(
        "/api/v1/submissions",
        files={"file": ("rksp.xml", rksp, "application/xml")},
        data={"csrf": "x"},
        headers=demo,
    )
    assert fine.status_code == 202, fine.text


def test_a_multipart_file_over_the_hard_limit_is_refused(
    client: TestClient, demo: dict[str, str]
) -> None:
    # max_file_bytes 200,000: up to twice that is kept (and refused), past it 413.
    over = client.post(
        "/api/v1/submissions",
        files={"file": ("big.xml", b"x" * 400_001, "application/xml")},
        headers=demo,
    )
    assert over.status_code == 413
    kept = client.post(
        "/api/v1/submissions",
        files={"file": ("big.xml", b"x" * 400_000, "application/xml")},
        headers=demo,
    )
    assert kept.status_code == 202


def test_console_forms_are_small(client: TestClient) -> None:
    huge = client.post("/login", content=b"username=a&password=" + b"p" * (1024 * 1024 + 1))
    assert huge.status_code == 413
    assert huge.headers["connection"] == "close"
    assert json.loads(huge.content)["detail"]


def test_the_console_shows_a_file_of_many_documents_a_page_at_a_time(
    client: TestClient, gateway: Gateway, demo: dict[str, str]
) -> None:
    sent = client.post("/api/v1/submissions?name=many.x12", content=x12_sets(25), headers=demo)
    submission_id = sent.json()["submission_id"]
    gateway.pipeline.process(submission_id)
    with gateway.db.transaction() as conn:
        users.add_user(
            conn,
            username="demo-op",
            display_name="Demo",
            role=users.Role.CARRIER_OPERATOR,
            password="Rahasia#1",
            carrier_code="DEMO",
            now=gateway.clock(),
            actor="t",
        )
    client.post("/login", data={"username": "demo-op", "password": "Rahasia#1"})
    first = client.get(f"/submissions/{submission_id}").text
    assert first.count('class="card document"') == 20
    assert "1–20 / 25" in first and f'href="/submissions/{submission_id}?offset=20"' in first
    # Each document's acknowledgment and the file's own 997 and TA1, not all 27 of them.
    assert first.count("<details><summary>") == 20 + 2
    second = client.get(f"/submissions/{submission_id}?offset=20").text
    assert second.count('class="card document"') == 5 and "21–25 / 25" in second


def test_control_characters_in_a_file_name_do_not_break_the_upload(
    client: TestClient, demo: dict[str, str]
) -> None:
    rksp = (EXAMPLES / "rksp.xml").read_bytes()
    by_query = client.post("/api/v1/submissions?name=%00a.xml", content=rksp, headers=demo)
    assert by_query.status_code == 202, by_query.text
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00\x07.xml"\r\n\r\n'
        + rksp
        + b"\r\n--b--\r\n"
    )
    by_part = client.post(
        "/api/v1/submissions",
        content=body,
        headers={**demo, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert by_part.status_code == 202, by_part.text
