"""The head of office's decision reaches the carrier as a response of its own (Art. 6(2)).

An amendment of kind A-D is answered PENDING_APPROVAL when it arrives; the approval or the
refusal is a second response for the same document, in its format (XML Response, X12 355,
EDIFACT CUSRES), on its channel, delivered once by the worker, with the reason of a refusal.
Each is read back with an independent reader: lxml against ``schemas/xml/response.xsd``,
pyx12 against ``schemas/x12/355.4010.xml``, our EDIFACT reader and message definitions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import etree

from gateway import pos_ledger
from gateway.app import Gateway
from gateway.channels.base import Channel, Inbound
from gateway.decision_responses import DecisionResponder
from gateway.storage import submissions as store
from gateway.storage import users
from gateway.storage.submissions import PendingAck
from gateway.storage.tables import acks, audit_log, jobs
from gateway.worker import Worker
from parsers.edifact.envelope import Envelope, decode, read
from tests.bc11_documents import amendment
from tests.integration.conftest import FakeClock
from tests.integration.documents import run
from tests.integration.test_edifact_acks import conforming
from tests.integration.test_edifact_acks import segments as edifact_segments
from tests.integration.test_x12_pipeline import map_355, pyx12_valid, segments

__all__ = ["map_355"]  # the pyx12 map folder fixture, used by the X12 tests below

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
NS = {"r": "urn:pde-gateway:xml:1"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HEAD = "Kepala KPU Bea dan Cukai Tipe A Tanjung Priok"  # audit actor: 64 with "user:"
# As long as a refusal's reason may be (pos_ledger.REASON_MAX_CHARS): it must arrive whole.
LONG_REASON = (
    "Dokumen pendukung tidak lengkap: B/L revisi DPNSIN2501002R belum dilampirkan dan "
    "surat pernyataan pengirim tidak ditandatangani; ajukan perbaikan baru dengan "
    "lampiran yang lengkap sesuai Pasal 6 ayat (2) setelah pemeriksaan dokumen oleh "
    "petugas selesai dan dokumen asli telah diserahkan ke kantor pabean."
)[: pos_ledger.REASON_MAX_CHARS]
SUFFIX_OF_FORMAT = {"XML": "xml", "X12": "x12", "EDIFACT": "edi"}
SUFFIX = {"XML": ".decision.xml", "X12": ".decision.355.x12", "EDIFACT": ".decision.cusres.edi"}
MANIFEST = {
    "XML": "manifest-inward.xml",
    "X12": "manifest-inward.x12",
    "EDIFACT": "manifest-inward.edi",
}


def amendment_in(fmt: str, number: str, day: str) -> tuple[str, bytes]:
    """docs/examples/amendment.* (kind C of pos 2) pointed at the BC 1.1 just registered."""
    compact = day.replace("-", "")
    if fmt == "XML":
        return "amendment.xml", amendment(number, day)
    if fmt == "X12":
        text = (EXAMPLES / "amendment.x12").read_text(encoding="ascii")
        text = text.replace("N9*ZZ*BC11*000001*20250115", f"N9*ZZ*BC11*{number}*{compact}")
        return "amendment.x12", text.encode("ascii")
    text = (EXAMPLES / "amendment.edi").read_text(encoding="latin-1")
    text = text.replace(
        "RFF+ACW:000001'\nDTM+171:20250115:102'", f"RFF+ACW:{number}'\nDTM+171:{compact}:102'"
    )
    return "amendment.edi", text.encode("latin-1")


def pending_amendment(gateway: Gateway, fmt: str) -> dict[str, Any]:
    [manifest] = run(gateway, (EXAMPLES / MANIFEST[fmt]).read_bytes(), name=MANIFEST[fmt])
    assert manifest["status"] == "REGISTERED", manifest
    registration = manifest["registration"]
    name, data = amendment_in(fmt, registration["number"], registration["date"])
    [amend] = run(gateway, data, name=name)
    assert amend["status"] == "PENDING_APPROVAL" and amend["format"] == fmt, amend
    return amend


def decide(
    gateway: Gateway, key: str, action: str, *, reason: str = LONG_REASON
) -> pos_ledger.Decision:
    respond = DecisionResponder(gateway.pipeline)
    if action == "approve":
        return pos_ledger.approve(gateway.db, key, by=HEAD, now=gateway.clock(), respond=respond)
    return pos_ledger.refuse(
        gateway.db, key, by=HEAD, reason=reason, now=gateway.clock(), respond=respond
    )


def worker(gateway: Gateway) -> Worker:
    return Worker(
        pipeline=gateway.pipeline, worker_id="t", clock=gateway.clock, lease=timedelta(minutes=1)
    )


def ack_rows(gateway: Gateway, submission_id: int) -> list[Any]:
    with gateway.db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(acks).where(acks.c.submission_id == submission_id).order_by(acks.c.id)
            )
        )


def deliver_job(gateway: Gateway, submission_id: int) -> str:
    with gateway.db.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(jobs.c.status).where(
                    jobs.c.kind == "deliver", jobs.c.ref == submission_id
                )
            ).scalar_one()
        )


def audit(gateway: Gateway, submission_id: int) -> list[Any]:
    with gateway.db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.submission_id == submission_id)
                .order_by(audit_log.c.id)
            )
        )


# -- what the carrier reads ---------------------------------------------------------------------


def read_xml(path: Path, approved: bool, amend: dict[str, Any]) -> None:
    schema = etree.XMLSchema(etree.parse(str(REPO / "schemas" / "xml" / "response.xsd")))
    root = etree.parse(str(path)).getroot()
    assert schema.validate(root), schema.error_log
    assert root.findtext("r:NomorAju", namespaces=NS) == amend["nomor_aju"]
    assert root.findtext("r:Status", namespaces=NS) == ("APPROVED" if approved else "REFUSED")
    assert root.findtext("r:Decision/r:DecidedBy", namespaces=NS) == HEAD
    assert root.findtext("r:Decision/r:Pos", namespaces=NS) == "000200000000"
    said = {m.get(XML_LANG): m.text or "" for m in root.iterfind("r:Decision/r:Message", NS)}
    if approved:
        assert root.findtext("r:Decision/r:PosVersion", namespaces=NS) == "2"
        assert "disetujui" in said["id"] and "approved" in said["en"]
        assert root.find("r:Errors", NS) is None
    else:
        assert root.findtext("r:Decision/r:Reason", namespaces=NS) == LONG_REASON
        [error] = root.iterfind("r:Errors/r:Error", NS)
        assert error.findtext("r:Code", namespaces=NS) == "AMD-102"
        messages = {m.get(XML_LANG): m.text or "" for m in error.iterfind("r:Message", NS)}
        assert LONG_REASON in messages["id"] and LONG_REASON in messages["en"]
        assert "ditolak" in messages["id"] and "refused" in messages["en"]


def read_x12(path: Path, approved: bool, amend: dict[str, Any], first: Path, maps: Path) -> None:
    assert pyx12_valid(path, maps), path.read_text()
    found = segments(path)
    isa = next(s for s in found if s[0] == "ISA")
    first_isa = next(s for s in segments(first) if s[0] == "ISA")
    assert isa[13] != first_isa[13]  # an interchange of its own
    m10 = next(s for s in found if s[0] == "M10")
    assert m10[7] == amend["nomor_aju"]
    k1s = [s for s in found if s[0] == "K1"]
    assert k1s[0][1] == ("APPROVED" if approved else "REFUSED")
    assert k1s[1][1] == ("AMD-101" if approved else "AMD-102")
    indonesian = "".join(s[1] for s in k1s[2:]).replace(" ", "")
    english = "".join(s[2] for s in k1s[2:] if len(s) > 2).replace(" ", "")
    if approved:
        assert k1s[1][2] == "POS 000200000000 V2"
        assert "disetujui" in indonesian and "approved" in english
    else:  # the reason whole, in both languages' messages
        assert LONG_REASON.replace(" ", "") in indonesian
        assert LONG_REASON.replace(" ", "") in english


def read_edifact(path: Path, approved: bool, amend: dict[str, Any], first: Path) -> None:
    [message] = conforming(path, "CUSRES")
    conforming(first, "CUSRES")
    assert unb_reference(path) != unb_reference(first)  # an interchange of its own
    [bgm] = edifact_segments(message, "BGM")
    assert bgm[1:3] == (amend["nomor_aju"], "29" if approved else "27")
    texts = edifact_segments(message, "FTX")
    assert texts[0][0] == "AAI" and texts[0][3] == ("APPROVED" if approved else "REFUSED")

    def joined(subject: str, language: str) -> str:
        parts = [t[3] for t in texts if t[0] == subject and len(t) > 4 and t[4] == language]
        return "".join(p if isinstance(p, str) else "".join(p) for p in parts)  # type: ignore[arg-type]

    if approved:
        assert "disetujui" in joined("AAI", "ID") and "approved" in joined("AAI", "EN")
        assert edifact_segments(message, "ERC") == []
    else:
        assert edifact_segments(message, "ERC") == [("AMD-102",)]
        assert LONG_REASON in joined("AAO", "ID") and LONG_REASON in joined("AAO", "EN")


def unb_reference(path: Path) -> str:
    envelope = Envelope()
    read(decode(path.read_bytes()), envelope)
    assert envelope.header is not None
    return envelope.header.reference


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "refuse"])
@pytest.mark.parametrize("fmt", ["XML", "X12", "EDIFACT"])
def test_the_decision_goes_back_in_the_amendments_format_once(
    gateway: Gateway, clock: FakeClock, fmt: str, action: str, request: pytest.FixtureRequest
) -> None:
    amend = pending_amendment(gateway, fmt)
    submission_id = amend["submission_id"]
    before = ack_rows(gateway, submission_id)
    assert deliver_job(gateway, submission_id) == "done"

    clock.advance(hours=2)
    decision = decide(gateway, amend["nomor_aju"], action)
    approved = action == "approve"
    assert str(decision.status) == ("APPROVED" if approved else "REFUSED")

    rows = ack_rows(gateway, submission_id)
    [new] = rows[len(before) :]
    assert (new.kind, new.status, new.document_id) == ("DECISION", "PENDING", amend["document_id"])
    assert new.file_name == f"amendment-{amend['nomor_aju']}{SUFFIX[fmt]}"
    assert new.file_name not in {r.file_name for r in before}
    assert deliver_job(gateway, submission_id) == "todo"

    assert worker(gateway).run_once()  # the worker delivers it, as it does every ack
    assert not worker(gateway).run_once()  # and nothing is left to do
    [delivered] = [r for r in ack_rows(gateway, submission_id) if r.kind == "DECISION"]
    assert delivered.status == "DELIVERED" and delivered.delivered_at == clock()
    assert deliver_job(gateway, submission_id) == "done"
    out = gateway.settings.cli_dir / "DEMO" / "out"
    assert Path(delivered.path) == (out / new.file_name).resolve()
    assert sorted(p.name for p in out.glob(f"*{SUFFIX[fmt]}")) == [new.file_name]
    path = Path(delivered.path)
    assert path.read_bytes() == new.body

    # The first response is still there, unchanged: PENDING_APPROVAL.
    [first] = [r for r in before if r.kind in {"RESPONSE", "355", "CUSRES"}]
    assert Path(first.path).read_bytes() == first.body
    assert b"PENDING_APPROVAL" in first.body
    if fmt == "XML":
        read_xml(path, approved, amend)
    elif fmt == "X12":
        read_x12(path, approved, amend, Path(first.path), request.getfixturevalue("map_355"))
    else:
        read_edifact(path, approved, amend, Path(first.path))

    trail = [(e.action, e.actor, e.to_status) for e in audit(gateway, submission_id)]
    status = "APPROVED" if approved else "REFUSED"
    assert (f"amendment {status.lower()}", f"user:{HEAD}", status) in trail
    assert ("decision response written", f"user:{HEAD}", status) in trail
    [written] = [e for e in audit(gateway, submission_id) if e.action.startswith("decision")]
    assert written.detail["file_name"] == new.file_name and written.detail["format"] == fmt


class DecidingChannel(Channel):
    """The CLI outbox, with the head of office deciding while its first acks are delivered."""

    def __init__(self, inner: Channel, decide: Callable[[], None]) -> None:
        self.inner = inner
        self.name, self.family = inner.name, inner.family
        self.decide: Callable[[], None] | None = decide

    def deliver(self, ack: PendingAck) -> Path:
        path = self.inner.deliver(ack)
        if self.decide is not None:
            decide, self.decide = self.decide, None
            decide()
        return path


def test_a_decision_taken_while_the_first_response_is_delivered_is_not_lost(
    gateway: Gateway,
) -> None:
    [manifest] = run(gateway, (EXAMPLES / "manifest-inward.xml").read_bytes())
    registration = manifest["registration"]
    name, data = amendment_in("XML", registration["number"], registration["date"])
    pipeline = gateway.pipeline
    inbound = Inbound(channel="cli", sender="DEMO", source_name=name, intake_key=name)
    received = pipeline.receive(inbound, io.BytesIO(data))
    pipeline.process(received.submission_id)
    [aju] = [r["nomor_aju"] for r in report(gateway, received.submission_id)]

    def approve() -> None:
        decide(gateway, aju, "approve")

    cli = pipeline.channels["cli"]
    pipeline.channels = {**pipeline.channels, "cli": DecidingChannel(cli, approve)}
    try:
        pipeline.deliver(received.submission_id)  # the decision commits in the middle of it
    finally:
        pipeline.channels = {**pipeline.channels, "cli": cli}
    kinds = {r.kind: r.status for r in ack_rows(gateway, received.submission_id)}
    assert kinds == {"RECEIPT": "DELIVERED", "RESPONSE": "DELIVERED", "DECISION": "PENDING"}
    assert deliver_job(gateway, received.submission_id) == "todo"  # not done: one ack waits
    assert worker(gateway).run_once()
    kinds = {r.kind: r.status for r in ack_rows(gateway, received.submission_id)}
    assert kinds["DECISION"] == "DELIVERED"
    assert deliver_job(gateway, received.submission_id) == "done"


def test_two_decisions_on_one_amendment_cannot_both_be_taken(gateway: Gateway) -> None:
    amend = pending_amendment(gateway, "XML")
    decide(gateway, amend["nomor_aju"], "refuse", reason="Tidak lengkap")
    for action in ("approve", "refuse"):
        with pytest.raises(pos_ledger.DecisionError) as again:
            decide(gateway, amend["nomor_aju"], action, reason="Lagi")
        assert again.value.finding.code == "AMD-103"
    decisions = [r for r in ack_rows(gateway, amend["submission_id"]) if r.kind == "DECISION"]
    assert len(decisions) == 1 and b"Tidak lengkap" in decisions[0].body


@pytest.mark.parametrize("reason", ["", "   ", "x" * (pos_ledger.REASON_MAX_CHARS + 1)])
def test_a_refusal_needs_a_reason_that_fits_every_format(gateway: Gateway, reason: str) -> None:
    amend = pending_amendment(gateway, "XML")
    with pytest.raises(pos_ledger.DecisionError) as refused:
        decide(gateway, amend["nomor_aju"], "refuse", reason=reason)
    assert refused.value.finding.code == "AMD-106"
    assert str(pos_ledger.REASON_MAX_CHARS) in refused.value.finding.message_en
    assert [r.kind for r in ack_rows(gateway, amend["submission_id"])] == ["RECEIPT", "RESPONSE"]
    [status] = report(gateway, amend["submission_id"])
    assert status["amendment"]["status"] == "PENDING_APPROVAL"


# -- the console and the API --------------------------------------------------------------------


def test_the_console_decision_is_listed_by_the_api_and_on_the_submission_page(
    gateway: Gateway, client: TestClient
) -> None:
    amend = pending_amendment(gateway, "X12")
    password = "Rahasia#1"
    with gateway.db.transaction() as conn:
        users.add_user(
            conn,
            username="kepala",
            display_name="Kepala",
            role=users.Role.HEAD_OF_OFFICE,
            password=password,
            now=gateway.clock(),
            actor="t",
            office_code="040300",
        )
        token = users.issue_api_token(conn, "DEMO", label="t", now=gateway.clock(), actor="t")
    assert client.post("/login", data={"username": "kepala", "password": password}).is_success
    page = client.get("/amendments").text
    assert f'maxlength="{pos_ledger.REASON_MAX_CHARS}"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    decided = client.post(
        f"/amendments/{amend['nomor_aju']}/refuse",
        data={"csrf": csrf.group(1), "reason": "Dokumen pendukung tidak lengkap"},
        follow_redirects=False,
    )
    assert decided.status_code == 303, decided.text

    carrier = {"Authorization": f"Bearer {token}"}
    answer = client.get(f"/api/v1/submissions/{amend['submission_id']}", headers=carrier).json()
    [document] = answer["documents"]
    assert document["status"] == "REFUSED"
    [link] = [a for a in document["ack_downloads"] if a["kind"] == "DECISION"]
    assert link["file_name"].endswith(".decision.355.x12")
    body = client.get(link["url"], headers=carrier).content
    assert b"K1*REFUSED" in body and b"Dokumen pendukung" in body

    html = client.get(f"/submissions/{amend['submission_id']}").text
    assert link["file_name"] in html and "decision response written" in html


def report(gateway: Gateway, submission_id: int) -> list[dict[str, Any]]:
    with gateway.db.engine.connect() as conn:
        return store.report(conn, submission_id)
