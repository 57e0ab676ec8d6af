"""Console pages in process (ASGI): roles, the admin induk's company group, the words."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.storage import users
from gateway.web.i18n import TEXT
from tests.integration.web import PASSWORD, log_in

TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "web" / "templates"


def test_admin_induk_adds_operators_of_its_own_group_only(
    client: TestClient, gateway: Gateway
) -> None:
    csrf = log_in(client, gateway, "induk", users.Role.CARRIER_ADMIN, carrier_code="DEMO")
    assert csrf
    base = {"display_name": "Op", "password": PASSWORD, "csrf": csrf}
    ok = client.post(
        "/users",
        data={**base, "username": "demo-op2", "role": "carrier_operator", "carrier": "DEMO"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    other_group = client.post(
        "/users", data={**base, "username": "x1", "role": "carrier_operator", "carrier": "SAMU"}
    )
    assert other_group.status_code == 403
    officer = client.post(
        "/users", data={**base, "username": "x2", "role": "officer", "office": "040300"}
    )
    assert officer.status_code == 403
    no_csrf = client.post(
        "/users",
        data={**base, "csrf": "", "username": "x3", "role": "carrier_operator", "carrier": "DEMO"},
    )
    assert no_csrf.status_code == 403
    with gateway.db.engine.connect() as conn:
        names = {u.username for u in users.list_users(conn)}
    assert names == {"induk", "demo-op2"}


def test_pages_need_a_login_and_the_right_role(client: TestClient, gateway: Gateway) -> None:
    for page in ("/", "/search", "/upload", "/manual/rksp", "/users"):
        answer = client.get(page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", page
    log_in(client, gateway, "operator1", users.Role.CARRIER_OPERATOR, carrier_code="DEMO")
    assert client.get("/manual/rksp").status_code == 403
    assert client.get("/users").status_code == 403


def test_every_word_the_templates_use_exists_in_both_languages() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r't\("([a-z_0-9]+)"\)', template.read_text(encoding="utf-8")))
        used |= set(re.findall(r"t\('([a-z_0-9]+)'\)", template.read_text(encoding="utf-8")))
    missing = sorted(used - set(TEXT))
    assert not missing, missing
    assert all(indonesian and english for indonesian, english in TEXT.values())


def test_operator_adds_an_agreement_and_a_key_and_revokes_it(
    client: TestClient, gateway: Gateway, tmp_path: Path
) -> None:
    import subprocess

    log_in(client, gateway, "ops", users.Role.ADMIN)
    page = client.get("/partners").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    added = client.post(
        "/partners/SAMU/agreement",
        data={"csrf": csrf, "office": "050100", "valid_from": "2026-01-01", "reference": "PKS-9"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    backwards = client.post(
        "/partners/SAMU/agreement",
        data={
            "csrf": csrf,
            "office": "050100",
            "valid_from": "2026-02-01",
            "valid_until": "2026-01-01",
        },
    )
    assert backwards.status_code == 400 and "ends before it starts" in backwards.text
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    line = key.with_suffix(".pub").read_text().strip()
    assert client.post("/partners/SAMU/key", data={"csrf": csrf, "key": line}).status_code == 200
    with gateway.db.engine.connect() as conn:
        from gateway.storage import credentials, reference_store

        [credential] = credentials.list_credentials(conn, "SAMU")
        agreements = reference_store.load(conn).carriers["SAMU"].agreements
    assert any(a.office_code == "050100" and a.reference == "PKS-9" for a in agreements)
    revoke = client.post(
        "/partners/SAMU/revoke", data={"csrf": csrf, "fingerprint": credential.fingerprint}
    )
    assert revoke.status_code == 200
    with gateway.db.engine.connect() as conn:
        assert credentials.list_credentials(conn, "SAMU") == []
    assert client.post("/partners/SAMU/key", data={"csrf": "", "key": line}).status_code == 403


def test_officer_keys_in_a_paper_manifest_with_two_pos(
    client: TestClient, gateway: Gateway
) -> None:
    log_in(client, gateway, "petugas", users.Role.OFFICER, office_code="040300")
    page = client.get("/manual/manifest").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    pos = {
        "group": "1",
        "doc_kind": "BL",
        "doc_date": "2099-03-01",
        "shipper": "Lion City Polymers Pte. Ltd.",
        "shipper_country": "SG",
        "consignee": "PT Cahya Abadi Logistik",
        "consignee_npwp": "031245780041000",
        "consignee_country": "ID",
        "loading": "SGSIN",
        "discharge": "IDTPP",
        "packages": "2",
        "package_kind": "CN",
        "weight": "41500.000",
        "hs": "3901",
        "description": "Polyethylene in primary forms",
    }
    form = {
        "csrf": csrf,
        "carrier": "DEMO",
        "direction": "INWARD",
        "mode": "SEA",
        "language": "id",
        "conveyance": "KM KERTAS",
        "imo": "9321483",
        "voyage": "088N",
        "origin": "SGSIN",
        "last_port": "SGSIN",
        "port_of_call": "IDTPP",
        "moment": "2099-03-14T06:30",
        **{f"pos1_{k}": v for k, v in pos.items()},
        "pos1_doc_number": "PAPER0001",
        **{f"pos2_{k}": v for k, v in pos.items()},
        "pos2_doc_number": "PAPER0002",
    }
    answer = client.post("/manual/manifest", data=form, follow_redirects=False)
    assert answer.status_code == 303
    submission_id = int(answer.headers["location"].rsplit("/", 1)[1])
    gateway.pipeline.process(submission_id)
    with gateway.db.engine.connect() as conn:
        from gateway.storage import submissions as store

        [report] = store.report(conn, submission_id)
    assert report["status"] == "REGISTERED", report["errors"]
    assert report["registration"]["kind"] == "BC 1.1"
    with gateway.db.engine.connect() as conn:
        import sqlalchemy as sa

        from gateway.storage.tables import documents, manifest_pos

        bills = conn.scalars(
            sa.select(manifest_pos.c.transport_document)
            .join(documents, documents.c.id == manifest_pos.c.document_id)
            .where(documents.c.submission_id == submission_id)
            .order_by(manifest_pos.c.pos_number)
        ).all()
    assert bills == ["PAPER0001", "PAPER0002"]


def test_the_submission_page_shows_the_document_as_read(
    client: TestClient, gateway: Gateway
) -> None:
    import io

    from gateway.channels.base import Inbound

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    received = gateway.pipeline.receive(
        Inbound(channel="cli", sender="DEMO", source_name="m.edi", intake_key="k1"),
        io.BytesIO((examples / "manifest-inward.edi").read_bytes()),
    )
    gateway.pipeline.process(received.submission_id)
    log_in(client, gateway, "ops", users.Role.ADMIN)
    page = client.get(f"/submissions/{received.submission_id}").text
    parsed = page.split('<table class="parsed">', 1)[1].split("</table>", 1)[0]
    # values the EDIFACT mapper read, shown field by field
    for value in ("KM DEMO NUSANTARA", "DPNSHA2501001", "MSKU1234565", "85171300", "INWARD"):
        assert value in parsed, value
