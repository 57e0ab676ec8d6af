"""The README tour, end to end on the real gateway process.

Start the gateway, drop the example RKSP into DEMO's in/ folder and get a BC 1.0 number back,
drop the same RKSP again with CRLF line ends and be told its call has that BC 1.0, drop the
example inward manifest and get a BC 1.1 number, then stop it with SIGTERM.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from tests.acceptance.conftest import (
    GatewayProcess,
    acks_for,
    drop_file,
    example,
    read_response,
    scalar,
    sha256,
    wait_for,
    wait_for_response,
)

TANJUNG_PRIOK = "040300"


def test_tour_rksp_and_manifest_then_sigterm(
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    gateway = gateway_factory()
    ready = gateway.start_and_wait()
    assert ready["pid"] == gateway.pid
    assert ready["database"] == "sqlite"
    inbox = gateway.folder("DEMO", "in")
    outbox = gateway.folder("DEMO", "out")
    archive = gateway.folder("DEMO", "archive")
    for sub in ("in", "out", "archive", "error"):
        assert gateway.folder("DEMO", sub).is_dir(), f"the gateway did not create DEMO/{sub}/"

    # 1. The RKSP gets a BC 1.0 registration at Tanjung Priok.
    rksp = example("rksp.xml")
    drop_file(inbox, "rksp.xml", rksp)
    response = read_response(wait_for_response(outbox, "rksp", gateway=gateway))
    assert response["status"] == "REGISTERED", response
    assert response["errors"] == []
    assert response["sender"] == "DEMO"
    assert response["document_type"] == "RKSP"
    assert response["source_name"] == "rksp.xml"
    assert response["sha256"] == sha256(rksp)
    registration = response["registration"]
    assert registration is not None
    assert registration["kind"] == "BC 1.0"
    assert registration["office"] == TANJUNG_PRIOK
    assert re.fullmatch(r"\d{6}", registration["number"] or ""), registration
    assert len(acks_for(outbox, "rksp", "receipt")) == 1, "no receipt next to the response"

    # The file left in/ and was archived as it was received; the bytes are in the raw store.
    wait_for(lambda: not (inbox / "rksp.xml").exists(), 10, message="rksp.xml to leave in/")
    archived = [p for p in archive.iterdir() if p.name.endswith("-rksp.xml")]
    assert len(archived) == 1, list(archive.iterdir())
    assert archived[0].read_bytes() == rksp
    assert gateway.raw_path(sha256(rksp)).read_bytes() == rksp
    assert list(gateway.folder("DEMO", "error").iterdir()) == []

    # `pde-gateway status <nomor aju> --json` tells the same story.
    status = gateway.cli("status", response["nomor_aju"], "--json")
    assert status.returncode == 0, status.stderr
    reported = json.loads(status.stdout.splitlines()[0])
    assert reported["status"] == "REGISTERED"
    assert reported["registration"]["number"] == registration["number"]
    assert reported["registration"]["kind"] == "BC 1.0"

    # The README's resend: the same RKSP with CRLF line ends is the same call and the same
    # document: refused, naming BC 1.0 and the first submission, no second number.
    first_aju, bc10 = response["nomor_aju"], registration
    again = rksp.replace(b"\n", b"\r\n")
    drop_file(inbox, "rksp-again.xml", again)
    refused = read_response(wait_for_response(outbox, "rksp-again", gateway=gateway))
    assert refused["status"] == "REFUSED" and refused["registration"] is None, refused
    assert [e["code"] for e in refused["errors"]] == ["CALL-001", "DUP-001"]
    call, duplicate = refused["errors"]
    assert f"BC 1.0 number {bc10['number']} of {bc10['date']}" in call["message_en"]
    assert "send a change of that BC 1.0 (Art. 2(3))" in call["message_en"]
    assert f"BC 1.0 nomor {bc10['number']}" in call["message_id"]
    assert first_aju in duplicate["message_en"]

    # 2. The inward manifest gets a BC 1.1 registration.
    manifest = example("manifest-inward.xml")
    drop_file(inbox, "manifest-inward.xml", manifest)
    response = read_response(wait_for_response(outbox, "manifest-inward", gateway=gateway))
    assert response["status"] == "REGISTERED", response
    assert response["document_type"] == "INWARD_MANIFEST"
    registration = response["registration"]
    assert registration is not None
    assert registration["kind"] == "BC 1.1"
    assert registration["office"] == TANJUNG_PRIOK
    assert re.fullmatch(r"\d{6}", registration["number"] or ""), registration
    wait_for(
        lambda: not (inbox / "manifest-inward.xml").exists(),
        10,
        message="manifest-inward.xml to leave in/",
    )
    assert [p.read_bytes() for p in archive.glob("*-manifest-inward.xml")] == [manifest]
    assert scalar(gateway.db_path, "SELECT count(*) FROM documents") == 3
    assert scalar(gateway.db_path, "SELECT count(*) FROM registrations") == 2

    # 3. SIGTERM: a clean stop, exit code 0, well within 30 s.
    started = time.monotonic()
    assert gateway.stop(timeout=30) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"stopping took {elapsed:.1f} s"
    events = [e.get("event") for e in gateway.log_events()]
    assert "signal received" in events
    assert events[-1] == "gateway stopped", events[-5:]
    assert gateway.error_events() == []
