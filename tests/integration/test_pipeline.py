"""The pipeline end to end on a real database: numbers, refusals, duplicates, flags, acks."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from lxml import etree

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.storage.queue import JobKind
from gateway.storage.submissions import report as store_report
from gateway.storage.tables import jobs, registrations
from gateway.worker import Worker
from tests.integration.conftest import FakeClock
from tests.integration.documents import codes, example, rksp, run, with_header

NS = {"p": "urn:pde-gateway:xml:1"}


def test_rksp_gets_bc10_number_nomor_aju_and_both_acks(gateway: Gateway) -> None:
    [result] = run(gateway, rksp())
    assert result["status"] == "REGISTERED"
    assert result["document_type"] == "RKSP"
    # 02:30 UTC is 09:30 WIB on 10 March 2026 at Tanjung Priok.
    assert result["registration"] == {
        "kind": "BC 1.0",
        "office": "040300",
        "number": "000001",
        "date": "2026-03-10",
    }
    assert result["nomor_aju"] == "040301DEMO0120260310000001"
    assert result["errors"] == [] and result["flags"] == []
    kinds = {ack["kind"]: Path(ack["path"]) for ack in result["acks"]}
    assert set(kinds) == {"RECEIPT", "RESPONSE"}
    response = etree.parse(str(kinds["RESPONSE"]))
    assert response.findtext("p:Status", namespaces=NS) == "REGISTERED"
    assert response.findtext(".//p:Registration/p:Number", namespaces=NS) == "000001"
    assert kinds["RECEIPT"].read_bytes().count(b"040301DEMO0120260310000001") == 1


def test_every_example_document_type_is_numbered_or_accepted(gateway: Gateway) -> None:
    expected = {
        "rksp.xml": ("RKSP", "BC 1.0"),
        "jksp.xml": ("JKSP", "BC 1.0"),
        "manifest-inward.xml": ("INWARD_MANIFEST", "BC 1.1"),
        "manifest-outward.xml": ("OUTWARD_MANIFEST", "BC 1.1"),
        "manifest-nil.xml": ("NIL_MANIFEST", "BC 1.1"),
    }
    numbers = {}
    for name, (doc_type, kind) in expected.items():
        [result] = run(gateway, example(name).encode(), name=name)
        assert (result["status"], result["document_type"]) == ("REGISTERED", doc_type), result
        assert result["registration"]["kind"] == kind
        numbers.setdefault(kind, []).append(result["registration"]["number"])
    assert numbers == {"BC 1.0": ["000001", "000002"], "BC 1.1": ["000001", "000002", "000003"]}


def test_same_content_again_is_refused_without_a_second_number(gateway: Gateway) -> None:
    [first] = run(gateway, rksp())
    [again] = run(gateway, rksp())
    # The call has its BC 1.0 (CALL-001) and the document was received before (DUP-001).
    assert again["status"] == "REFUSED" and codes(again) == ["CALL-001", "DUP-001"]
    assert "BC 1.0 number 000001" in again["errors"][0]["message_en"]
    assert first["nomor_aju"] in again["errors"][1]["message_en"]
    assert again["registration"] is None
    [other] = run(gateway, rksp(voyage="026N"))
    assert other["registration"]["number"] == "000002"  # the duplicate used no number


def test_sender_supplied_nomor_aju_is_used_and_unique(gateway: Gateway) -> None:
    aju = "040301DEMO0120260310123456"
    text = with_header(example("rksp.xml"), nomor_aju=aju)
    [first] = run(gateway, text.encode())
    assert first["status"] == "REGISTERED" and first["nomor_aju"] == aju
    changed = text.replace("<VoyageNumber>025N<", "<VoyageNumber>099S<")
    [again] = run(gateway, changed.encode())
    assert again["status"] == "REFUSED" and codes(again) == ["DUP-002"]
    assert again["nomor_aju"] != aju
    foreign = with_header(rksp("027N").decode(), nomor_aju="040301SAMU0120260310000001")
    [bad] = run(gateway, foreign.encode())
    assert codes(bad) == ["AJU-001"] and "SAMU01" in bad["errors"][0]["message_en"]


def test_unknown_sender_is_refused(gateway: Gateway) -> None:
    [result] = run(gateway, rksp(), partner="NOBODY")
    assert result["status"] == "REFUSED" and codes(result) == ["SND-001"]
    assert "NOBODY" in result["errors"][0]["message_id"]


def test_agreement_must_exist_and_be_in_force(gateway: Gateway) -> None:
    # DEMO has no agreement with Soekarno-Hatta, and its Makassar one ended in 2025.
    for office in ("050100", "150100"):
        data = with_header(example("rksp.xml"), office=office).encode()
        [result] = run(gateway, data)
        assert result["status"] == "REFUSED" and codes(result) == ["SND-002"], result
        assert "Art. 13" in result["errors"][0]["message_en"]
    [unknown] = run(gateway, with_header(example("rksp.xml"), office="999999").encode())
    assert "OFF-001" in codes(unknown)


def test_late_rksp_is_registered_and_flagged(gateway: Gateway) -> None:
    # Arrival 13:00 UTC the same day: due 24 h before, i.e. 13 h 30 min before receipt.
    [result] = run(gateway, rksp(Eta="2026-03-10T20:00:00+07:00", Etd="2026-03-11T20:00:00+07:00"))
    assert result["status"] == "REGISTERED" and result["registration"] is not None
    assert result["flags"] == ["LATE"]
    assert result["late_by_seconds"] == 13 * 3600 + 30 * 60
    [warning] = result["errors"]
    assert (warning["code"], warning["severity"]) == ("LATE-001", "WARNING")
    assert "13 h 30 min" in warning["message_en"]


def test_bad_identifiers_are_refused_with_their_place(gateway: Gateway) -> None:
    [result] = run(gateway, rksp(ImoNumber="9321484"))
    assert codes(result) == ["ID-002"]
    assert result["errors"][0]["location"]["path"] == "conveyance/imo"
    manifest = example("manifest-inward.xml").replace("MSKU1234565", "MSKU1234566")
    [bad] = run(gateway, manifest.encode())
    # (MAN-010, a warning, says no RKSP of this call was filed first.)
    refusals = {e["code"] for e in bad["errors"] if e["severity"] == "ERROR"}
    assert bad["status"] == "REFUSED" and refusals == {"ID-003"}
    assert "MSKU1234566" in bad["errors"][0]["message_en"]


def test_amendment_and_closing_refer_to_a_registered_bc11(gateway: Gateway) -> None:
    [manifest] = run(gateway, example("manifest-inward.xml").encode())
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]

    def pointed(name: str, pos: str | None = None) -> bytes:
        text = example(name).replace("<Number>000001</Number>", f"<Number>{number}</Number>")
        text = re.sub(r"(<Bc11>.*?<Date>)[^<]+(</Date>)", rf"\g<1>{day}\g<2>", text, flags=re.S)
        if pos:
            text = re.sub(r'<PosNumber pos="\d+"', f'<PosNumber pos="{pos}"', text)
        return text.encode()

    [amendment] = run(gateway, pointed("amendment.xml"))
    assert amendment["status"] == "PENDING_APPROVAL" and amendment["registration"] is None
    [closing] = run(gateway, pointed("pos-closing.xml"))
    assert closing["status"] == "ACCEPTED", closing
    [missing_pos] = run(gateway, pointed("pos-closing.xml", pos="99"))
    assert codes(missing_pos) == ["REF-002"]
    [unknown] = run(gateway, example("pos-closing.xml").encode())
    assert codes(unknown) == ["REF-001"]


def test_processing_twice_registers_once(gateway: Gateway) -> None:
    received = gateway.pipeline.receive(
        Inbound(channel="cli", sender="DEMO", source_name="a.xml", intake_key="k"),
        io.BytesIO(rksp()),
    )
    gateway.pipeline.process(received.submission_id)
    gateway.pipeline.process(received.submission_id)
    with gateway.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(registrations)).scalar() == 1


def test_unreadable_files_are_refused_and_kept(make_gateway, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    gateway = make_gateway(clock, max_file_bytes="2000")
    cases = {
        b"": "FILE-001",
        b"   \n": "FILE-001",
        b"\x00\x01binary junk\xff": "FILE-004",
        b'{"documentType": "RKSP"}': "FILE-005",
        b"ISA*00*          *00*          *ZZ*DEMOLINE~": "X12-001",
        b"<Rksp>" + b" " * 3000 + b"</Rksp>": "FILE-002",
        rksp()[:400]: "XML-001",
    }
    for data, code in cases.items():
        [result] = run(gateway, data)
        assert result["status"] == "REFUSED" and codes(result) == [code], (data[:20], result)
        assert result["document_type"] == "UNKNOWN"
        assert result["errors"][0]["message_id"] and result["errors"][0]["message_en"]
    raw_files = [p for p in (gateway.settings.raw_dir).rglob("*") if p.is_file()]
    assert len(raw_files) == len(cases)


def test_delivery_left_undone_is_finished_by_a_worker(gateway: Gateway, clock: FakeClock) -> None:
    received = gateway.pipeline.receive(
        Inbound(channel="filedrop", sender="DEMO", source_name="late.xml", intake_key="x"),
        io.BytesIO(rksp()),
    )
    gateway.pipeline.process(received.submission_id)  # then "crash" before delivering
    out = gateway.settings.drop_dir / "DEMO" / "out"
    assert not out.exists() or not list(out.iterdir())
    worker = Worker(
        pipeline=gateway.pipeline,
        worker_id="t:1:0",
        clock=clock,
        lease=__import__("datetime").timedelta(seconds=30),
    )
    assert worker.run_once() is False  # the safety net waits for the worker's own delivery
    clock.advance(seconds=6)
    assert worker.run_once() is True  # the DELIVER job
    assert sorted(p.name.rsplit(".", 2)[1] for p in out.iterdir()) == ["receipt", "response"]
    with gateway.db.engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(jobs.c.kind, jobs.c.status)).all())
    assert statuses == {JobKind.PROCESS: "done", JobKind.DELIVER: "done"}
    assert worker.run_once() is False


def test_registration_year_and_date_follow_the_office_time_zone(
    gateway: Gateway, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 23:30 WIB, still 2026
    [last] = run(gateway, rksp(voyage="A1"))
    clock.now = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)  # 00:30 WIB on 1 January 2027
    [first] = run(gateway, rksp(voyage="A2"))
    assert last["registration"]["date"] == "2026-12-31"
    assert first["registration"] == {
        "kind": "BC 1.0",
        "office": "040300",
        "number": "000001",
        "date": "2027-01-01",
    }
    assert first["nomor_aju"][12:20] == "20270101"


def test_a_parser_that_crashes_refuses_its_file_and_the_worker_goes_on(
    gateway: Gateway, clock: FakeClock
) -> None:
    """A defect the file trips is not retried until it is a dead letter: the file is refused
    with FILE-007 at the first attempt (tests/integration/test_always_answered.py)."""
    from datetime import timedelta

    from gateway.worker import MAX_ATTEMPTS
    from parsers.base import Format

    class BrokenParser:
        format = Format.XML

        def parse(self, data: bytes, *, max_bytes: int) -> object:
            if b"BROKEN" in data:
                raise RuntimeError("parser bug")
            return XmlParser().parse(data, max_bytes=max_bytes)

    from parsers.xml import XmlParser

    gateway.pipeline.parsers = {Format.XML: BrokenParser()}  # type: ignore[dict-item]
    bad = gateway.pipeline.receive(
        Inbound(channel="cli", sender="DEMO", source_name="bad.xml", intake_key="bad"),
        io.BytesIO(rksp(voyage="BROKEN")),
    )
    good = gateway.pipeline.receive(
        Inbound(channel="cli", sender="DEMO", source_name="good.xml", intake_key="good"),
        io.BytesIO(rksp(voyage="GOOD")),
    )
    worker = Worker(
        pipeline=gateway.pipeline, worker_id="t:1:0", clock=clock, lease=timedelta(seconds=30)
    )
    for _ in range(MAX_ATTEMPTS + 2):
        worker.run_once()
        clock.advance(seconds=600)  # past any backoff
    with gateway.db.engine.connect() as conn:
        rows = {
            (r.kind, r.ref): (r.status, r.attempts, r.last_error)
            for r in conn.execute(sa.select(jobs))
        }
        good_report = store_report(conn, good.submission_id)
        bad_report = store_report(conn, bad.submission_id)
    status, attempts, error = rows[(JobKind.PROCESS, bad.submission_id)]
    assert (status, attempts, error) == ("done", 1, None)
    assert bad_report[0]["status"] == "REFUSED" and codes(bad_report[0]) == ["FILE-007"]
    assert good_report[0]["status"] == "REGISTERED"
