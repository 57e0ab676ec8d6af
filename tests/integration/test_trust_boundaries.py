"""Trust boundaries (issue 12, points 1, 2 and 9) through the real HTTP stack and pipeline.

Each test is an attack that worked before: a carrier filing in another carrier's name, an
officer filing for another office on the carriers' channel, an officer reading another
office's document out of a shared file, a carrier reading the queue of everybody.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.reference import Agency
from gateway.storage import reference_store, users
from gateway.storage.raw_files import RawFileStore
from gateway.storage.tables import acks, audit_log, submissions
from tests.integration.documents import codes, example, run
from tests.integration.web import PASSWORD, log_in, token

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SAMU_NPWP = "021876545041000"
DEMO_NPWP = "013467386041000"


def upload(
    client: TestClient,
    gateway: Gateway,
    data: bytes,
    *,
    headers: dict[str, str] | None = None,
    carrier: str | None = None,
    name: str = "doc.xml",
) -> int:
    query = f"name={name}" + (f"&carrier={carrier}" if carrier else "")
    answer = client.post(f"/api/v1/submissions?{query}", content=data, headers=headers or {})
    assert answer.status_code == 202, answer.text
    submission_id = int(answer.json()["submission_id"])
    gateway.pipeline.process(submission_id)
    gateway.pipeline.deliver(submission_id)
    return submission_id


def report(client: TestClient, submission_id: int, headers: dict[str, str]) -> list[Any]:
    answer = client.get(f"/api/v1/submissions/{submission_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["documents"] if isinstance(body, dict) else body


def error_codes(item: dict[str, Any]) -> list[str]:
    return [e["code"] for e in item["errors"]]


# -- 1. Only the carrier files for itself --------------------------------------------------------


def test_a_carrier_cannot_file_another_carriers_rksp_in_any_format(gateway: Gateway) -> None:
    """SAMU sends DEMO's documents (XML, X12, EDIFACT): refused naming both, bytes kept."""
    for name in ("rksp.xml", "rksp.x12", "rksp.edi"):
        data = (EXAMPLES / name).read_bytes()
        if not name.endswith(".xml"):  # SAMU's own envelope, DEMO's carrier inside
            data = data.replace(b"DEMOLINE", b"SAMUDERA".ljust(len(b"DEMOLINE"))[:8])
        [result] = run(gateway, data, partner="SAMU", name=name)
        assert result["status"] == "REFUSED", (name, result)
        assert "SND-004" in codes(result), (name, codes(result))
        [refusal] = [e for e in result["errors"] if e["code"] == "SND-004"]
        for party in ("SAMU", "PT Demo Pelayaran Nusantara", DEMO_NPWP, SAMU_NPWP):
            assert party in refusal["message_en"], (party, refusal["message_en"])
        assert "agen" in refusal["message_id"]
        assert result["registration"] is None
        with gateway.db.engine.connect() as conn:
            sha = conn.execute(
                sa.select(submissions.c.sha256).where(submissions.c.id == result["submission_id"])
            ).scalar_one()
        kept = RawFileStore(gateway.settings.raw_dir).path_for(sha).read_bytes()
        assert kept == data


def test_an_agent_files_for_its_principal_only_while_the_agency_is_in_force(
    gateway: Gateway,
) -> None:
    """The agency relation with validity dates decides; outside them, refused."""
    with gateway.db.transaction() as conn:
        reference_store.add_agency(
            conn,
            "SAMU",
            Agency(
                principal_npwp=DEMO_NPWP,
                principal_name="PT Demo Pelayaran Nusantara",
                valid_from=date(2026, 3, 1),
                valid_until=date(2026, 3, 10),
            ),
            now=gateway.clock(),
            actor="t",
        )
    gateway.pipeline._reference = None  # the next look reads the new relation at once
    [inside] = run(gateway, example("rksp.xml").encode(), partner="SAMU")
    assert inside["status"] == "REGISTERED", codes(inside)
    gateway.clock.advance(days=1)  # type: ignore[attr-defined]
    later = example("rksp.xml").replace("025N", "026N").encode()
    [outside] = run(gateway, later, partner="SAMU")
    assert outside["status"] == "REFUSED" and "SND-004" in codes(outside)


def test_a_carrier_cannot_amend_or_change_another_carriers_registrations(
    gateway: Gateway,
) -> None:
    [bc11] = run(gateway, example("manifest-inward.xml").encode(), partner="DEMO")
    [bc10] = run(gateway, example("rksp.xml").encode(), partner="DEMO")
    assert bc11["status"] == bc10["status"] == "REGISTERED"
    reg11, reg10 = bc11["registration"], bc10["registration"]
    amendment = (
        example("amendment.xml")
        .replace("<Number>000001</Number>", f"<Number>{reg11['number']}</Number>")
        .replace("<Date>2025-01-15</Date>", f"<Date>{reg11['date']}</Date>")
        .replace(DEMO_NPWP, SAMU_NPWP)
        .replace("PT Demo Pelayaran Nusantara", "PT Samudera Indonesia Tbk")
    )
    [theirs] = run(gateway, amendment.encode(), partner="SAMU")
    assert "SND-006" in codes(theirs), codes(theirs)
    change = (
        example("rksp.xml")
        .replace(DEMO_NPWP, SAMU_NPWP)
        .replace("PT Demo Pelayaran Nusantara", "PT Samudera Indonesia Tbk")
        .replace(
            "<Conveyance>",
            f"<Amends><OfficeCode>{reg10['office']}</OfficeCode><Number>{reg10['number']}"
            f"</Number><Date>{reg10['date']}</Date></Amends>\n  <Conveyance>",
            1,
        )
    )
    [changed] = run(gateway, change.encode(), partner="SAMU")
    assert "SND-006" in codes(changed), codes(changed)
    # The holder itself may change its own BC 1.1.
    own = amendment.replace(SAMU_NPWP, DEMO_NPWP).replace(
        "PT Samudera Indonesia Tbk", "PT Demo Pelayaran Nusantara"
    )
    [mine] = run(gateway, own.encode(), partner="DEMO")
    assert "SND-006" not in codes(mine)


def test_officers_take_storage_media_for_their_own_office_only(
    client: TestClient, gateway: Gateway
) -> None:
    rksp = (EXAMPLES / "rksp.xml").read_bytes()  # for 040300
    csrf = officer(client, gateway, "bandara", "050100")
    elsewhere = upload(client, gateway, rksp, headers=csrf, carrier="DEMO")
    with gateway.db.engine.connect() as conn:
        row = conn.execute(
            sa.select(submissions.c.channel, submissions.c.counter_office).where(
                submissions.c.id == elsewhere
            )
        ).one()
    assert tuple(row) == ("media", "050100")
    [decided] = _report_as_operator(gateway, elsewhere)
    assert decided["status"] == "REFUSED" and "OFF-003" in error_codes(decided)
    assert decided["registration"] is None

    csrf = officer(client, gateway, "priok", "040300")
    here = upload(client, gateway, rksp, headers=csrf, carrier="DEMO")
    [accepted] = report(client, here, csrf)
    assert accepted["status"] == "REGISTERED", accepted["errors"]
    with gateway.db.engine.connect() as conn:
        audited = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.detail).where(
                audit_log.c.submission_id == here, audit_log.c.action == "uploaded"
            )
        ).one()
    assert audited.actor == "user:priok" and audited.detail["channel"] == "media"

    # An operator administers the gateway: it does not file in anybody's name.
    csrf = {"X-CSRF-Token": log_in(client, gateway, "operator", users.Role.ADMIN)}
    answer = client.post("/api/v1/submissions?carrier=DEMO", content=rksp, headers=csrf)
    assert answer.status_code == 403


def officer(client: TestClient, gateway: Gateway, name: str, office: str) -> dict[str, str]:
    return {"X-CSRF-Token": log_in(client, gateway, name, users.Role.OFFICER, office_code=office)}


def _report_as_operator(gateway: Gateway, submission_id: int) -> list[dict[str, Any]]:
    from gateway.storage import submissions as store

    with gateway.db.engine.connect() as conn:
        return store.report(conn, submission_id)


# -- 2. Officers see only their office ----------------------------------------------------------


def two_office_cusrep() -> bytes:
    """One EDIFACT interchange: a CUSREP for 040300 (Priok) and one for 070100 (Perak)."""
    text = (EXAMPLES / "rksp.edi").read_text(encoding="utf-8")
    head, rest = text.split("UNH+", 1)
    message, tail = ("UNH+" + rest).split("UNZ+", 1)
    perak = (
        message.replace("UNH+RKSP025N", "UNH+RKSP026S")
        .replace("UNT+19+RKSP025N", "UNT+19+RKSP026S")
        .replace("LOC+22+040300", "LOC+22+070100")
        .replace("RFF+VON:025N", "RFF+VON:026S")
        .replace("TDT+20+025N", "TDT+20+026S")
        .replace("LOC+60+IDTPP", "LOC+60+IDSUB")
        .replace("LOC+61+IDSUB", "LOC+61+IDTPP")
        .replace("RKSP-025N-IDTPP", "RKSP-026S-IDSUB")
    )
    return (head + message + perak + "UNZ+2+" + tail.split("+", 1)[1]).encode()


def test_an_officer_reads_only_their_offices_documents_of_a_shared_file(
    client: TestClient, gateway: Gateway
) -> None:
    demo = token(gateway, "DEMO")
    data = two_office_cusrep()
    submission_id = upload(client, gateway, data, headers=demo, name="two.edi")
    everything = report(client, submission_id, demo)
    assert sorted(d["office"] for d in everything) == ["040300", "070100"]
    raw_url = f"/api/v1/submissions/{submission_id}/raw"
    assert client.get(raw_url, headers=demo).content == data  # the sender sees it all

    for office, other in (("040300", "070100"), ("070100", "040300")):
        csrf = officer(client, gateway, f"o{office}", office)
        seen = report(client, submission_id, csrf)
        assert [d["office"] for d in seen] == [office]
        other_aju = next(d["nomor_aju"] for d in everything if d["office"] == other)
        listing = client.get(f"/api/v1/submissions/{submission_id}", headers=csrf).text
        assert other_aju not in listing
        # The raw bytes carry the other office's message: withheld, with the reason.
        withheld = client.get(raw_url, headers=csrf)
        assert withheld.status_code == 403 and "other offices" in withheld.text
        # Acks: the own document's only; file-level acks and the other's are not found.
        with gateway.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(acks.c.id, acks.c.document_id, acks.c.body).where(
                    acks.c.submission_id == submission_id
                )
            ).all()
        own_aju = seen[0]["nomor_aju"]
        readable = 0
        for ack in rows:
            got = client.get(f"/api/v1/submissions/{submission_id}/acks/{ack.id}", headers=csrf)
            if ack.document_id is None or other_aju.encode() in bytes(ack.body):
                assert got.status_code == 404, (office, ack.id)
            else:
                assert got.status_code == 200 and own_aju.encode() in got.content
                readable += 1
        assert readable >= 1  # its own document's response
        page = client.get(f"/submissions/{submission_id}").text
        assert other_aju not in page and own_aju in page
        assert 'id="raw-withheld"' in page and "LOC+22" not in page


# -- 9. Smaller ---------------------------------------------------------------------------------


def test_the_queue_shows_a_carrier_only_its_own_jobs(client: TestClient, gateway: Gateway) -> None:
    demo, samu = token(gateway, "DEMO"), token(gateway, "SAMU")
    for n in range(3):
        answer = client.post(f"/api/v1/submissions?name=d{n}.xml", content=b"<x/>", headers=demo)
        assert answer.status_code == 202

    def total(headers: dict[str, str]) -> int:
        jobs = client.get("/api/v1/queue", headers=headers).json()["jobs"]
        return sum(sum(by_status.values()) for by_status in jobs.values())

    assert total(demo) == 3
    assert total(samu) == 0


def test_a_control_character_in_a_paper_form_is_a_form_error(
    client: TestClient, gateway: Gateway
) -> None:
    csrf = log_in(client, gateway, "petugas", users.Role.OFFICER, office_code="040300")
    form = {
        "csrf": csrf,
        "carrier": "DEMO",
        "mode": "SEA",
        "conveyance": "KM \x01DEMO",
        "voyage": "025N",
        "origin": "CNSHA",
        "last_port": "SGSIN",
        "arrival_port": "IDTPP",
        "eta": "2099-03-14T06:00",
    }
    answer = client.post("/manual/rksp", data=form)
    assert answer.status_code == 400
    assert "control character" in answer.text or "karakter kendali" in answer.text
    manifest = {**form, "direction": "INWARD", "moment": "2099-03-14T06:00"}
    answer = client.post("/manual/manifest", data=manifest)
    assert answer.status_code == 400


def test_a_failed_user_add_shows_the_admin_induk_only_its_group(
    client: TestClient, gateway: Gateway
) -> None:
    with gateway.db.transaction() as conn:
        users.add_user(
            conn,
            username="samu-op",
            display_name="Samudera operator",
            role=users.Role.CARRIER_OPERATOR,
            password=PASSWORD,
            carrier_code="SAMU",
            now=gateway.clock(),
            actor="t",
        )
    csrf = log_in(client, gateway, "induk", users.Role.CARRIER_ADMIN, carrier_code="DEMO")
    answer = client.post(
        "/users",
        data={
            "csrf": csrf,
            "username": "demo-op",
            "display_name": "Op",
            "role": "carrier_operator",
            "carrier": "DEMO",
            "password": "weak",
        },
    )
    assert answer.status_code == 400
    assert "samu-op" not in answer.text and "Samudera operator" not in answer.text


def test_an_officer_uploads_with_the_console_form_without_script(
    client: TestClient, gateway: Gateway
) -> None:
    """The upload form posts multipart with ``carrier`` as a field (no query string)."""
    csrf = log_in(client, gateway, "loket", users.Role.OFFICER, office_code="040300")
    answer = client.post(
        "/api/v1/submissions",
        data={"csrf": csrf, "carrier": "DEMO"},
        files={"file": ("rksp.xml", (EXAMPLES / "rksp.xml").read_bytes(), "text/xml")},
    )
    assert answer.status_code == 202, answer.text
    submission_id = int(answer.json()["submission_id"])
    gateway.pipeline.process(submission_id)
    [decided] = _report_as_operator(gateway, submission_id)
    assert decided["status"] == "REGISTERED", decided["errors"]
    without = client.post(
        "/api/v1/submissions",
        data={"csrf": csrf},
        files={"file": ("rksp.xml", b"<x/>", "text/xml")},
    )
    assert without.status_code == 422
