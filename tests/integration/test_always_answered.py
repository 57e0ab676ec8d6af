"""A sender always gets an answer (docs/security.md, boundary 4).

Whatever bytes a carrier sends, the worker's own processing and delivery end the file in a
decision and deliver at least one acknowledgment; the job is never retried for it and never
becomes a dead letter, and every acknowledgment reads back with its own standard's reader
(XML against our XSDs, X12 with pyx12's reader, EDIFACT tokenised by pydifact and checked by
our envelope reader). A file that trips a defect is refused as FILE-007, the operators are
told, and ``pde-gateway replay`` reads its kept bytes again once the defect is fixed.

The property-based tests feed arbitrary bytes and mutated examples of the three formats
(docs/examples and the third-party corpus copied to tests/fixtures) through a real gateway on
SQLite. They are derandomised (the same examples on every run); the inputs that crashed a
reader before are pinned with ``@example``.
"""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import pyx12.x12file
import sqlalchemy as sa
import structlog
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.config import load_settings
from gateway.model import Document, Finding, Flag
from gateway.storage import submissions as store
from gateway.storage.tables import acks, documents, jobs, submissions
from gateway.web import create_app
from gateway.worker import Worker
from handlers import DEFAULT_RULES, RuleContext
from parsers.base import AckFile, Format, ParseResult
from parsers.edifact.envelope import Envelope, decode, read
from parsers.xml.schema import load_schema
from tests.integration.conftest import FakeClock
from tests.integration.documents import example as example_text
from tests.integration.documents import rksp, with_header

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
FIXTURES = REPO / "tests" / "fixtures"


def _read(paths: Iterable[Path]) -> list[bytes]:
    return [p.read_bytes() for p in sorted(paths) if p.suffix != ".md"]


XML_CORPUS = _read(EXAMPLES.glob("*.xml"))
X12_CORPUS = _read([*EXAMPLES.glob("*.x12"), *(FIXTURES / "x12").rglob("*.*")])
EDIFACT_CORPUS = _read([*EXAMPLES.glob("*.edi"), *(FIXTURES / "edifact").glob("*.edi")])

# -- the harness ------------------------------------------------------------------------------


class Harness:
    """One gateway and one worker; files go in through a channel and are worked off."""

    def __init__(self, gateway: Gateway, clock: FakeClock) -> None:
        self.gateway = gateway
        self.worker = Worker(
            pipeline=gateway.pipeline, worker_id="test:answer", clock=clock, lease=timedelta(1)
        )

    def send(self, data: bytes, name: str) -> int:
        inbound = Inbound(
            channel="cli", sender="DEMO", source_name=name, intake_key=uuid.uuid4().hex
        )
        sid = self.gateway.pipeline.receive(inbound, io.BytesIO(data)).submission_id
        self.work()
        return sid

    def work(self) -> None:
        while self.worker.run_once():
            pass

    def answer(self, data: bytes, name: str = "file") -> int:
        sid = self.send(data, name)
        self.assert_answered(sid)
        return sid

    def answer_read(self, data: bytes, name: str = "file") -> None:
        """Answered, and read: no reader, rule or renderer met a defect (FILE-007 would hide
        one from the carrier's point of view, not from this test)."""
        sid = self.answer(data, name)
        assert "FILE-007" not in codes(self.documents(sid))

    def assert_answered(self, sid: int) -> None:
        """Decided, processed at the first attempt, answered, every answer readable."""
        with self.gateway.db.engine.connect() as conn:
            status = conn.execute(
                sa.select(submissions.c.status).where(submissions.c.id == sid)
            ).scalar_one()
            job_rows = conn.execute(
                sa.select(jobs.c.kind, jobs.c.status, jobs.c.attempts, jobs.c.last_error).where(
                    jobs.c.ref == sid
                )
            ).all()
            ack_rows = conn.execute(
                sa.select(acks.c.kind, acks.c.status, acks.c.body).where(
                    acks.c.submission_id == sid
                )
            ).all()
        assert status != store.RECEIVED, job_rows
        process = [j for j in job_rows if j.kind == "process"]
        assert [(j.status, j.attempts) for j in process] == [("done", 1)], process
        assert not [j for j in job_rows if j.status == "failed"], job_rows
        assert ack_rows, "no acknowledgment"
        for ack in ack_rows:
            assert ack.status == "DELIVERED", ack.kind
            assert_readable(ack.kind, bytes(ack.body))

    def documents(self, sid: int) -> list[tuple[str, list[dict[str, Any]]]]:
        """(status, findings) of each document of the submission."""
        with self.gateway.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.status, documents.c.findings)
                .where(documents.c.submission_id == sid)
                .order_by(documents.c.doc_index)
            ).all()
        return [(str(r.status), list(r.findings)) for r in rows]

    def ack_bodies(self, sid: int) -> dict[str, bytes]:
        with self.gateway.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(acks.c.kind, acks.c.body).where(acks.c.submission_id == sid)
            ).all()
        return {r.kind: bytes(r.body) for r in rows}


def assert_readable(kind: str, body: bytes) -> None:
    """The acknowledgment reads back with its own standard's reader, without a fault."""
    if kind in {"RECEIPT", "RESPONSE"}:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        document = etree.fromstring(body, parser)
        load_schema(f"{kind.lower()}.xsd").assertValid(document)
    elif kind in {"TA1", "997", "999", "355"}:
        reader = pyx12.x12file.X12Reader(io.StringIO(body.decode("ascii")))
        ids = [segment.get_seg_id() for segment in reader]
        reader.cleanup()
        assert ids[0] == "ISA" and ids[-1] == "IEA", ids
        assert reader.pop_errors() == [], body
    elif kind in {"CONTRL", "CUSRES"}:
        envelope = Envelope()
        messages = read(decode(body), envelope)
        assert not envelope.errors, (envelope.errors, body)
        assert messages and not any(m.errors for m in envelope.messages), body
        assert all(m.type == kind for m in messages)
    else:
        pytest.fail(f"an acknowledgment of unknown kind {kind}")


@pytest.fixture
def clock() -> FakeClock:
    # From the real time on: `replay` runs as a CLI process with the real clock, and what it
    # queues (run_after = its now) must be due for this test's worker.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def harness(make_gateway: Callable[..., Gateway], clock: FakeClock) -> Harness:
    return Harness(make_gateway(clock), clock)


@pytest.fixture
def fuzz(sqlite_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Harness]:
    """One SQLite gateway for all the examples of a property (each file is a new submission)."""
    settings_ = load_settings(
        environ={
            "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "PDE_GATEWAY_DATABASE_URL": sqlite_url,
        }
    )
    gateway = Gateway(settings_, clock=clock)
    yield Harness(gateway, clock)
    gateway.db.dispose()


def codes(rows: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    return [f["code"] for _, findings in rows for f in findings]


def metric(gateway: Gateway, name: str, **labels: str) -> float | None:
    text = TestClient(create_app(gateway)).get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


# -- the readers' crashes, fixed in the readers ---------------------------------------------

ISA = example_text("rksp.x12").split("\n", 1)[0]  # 106 characters with its terminator "~"
RKSP_X12 = example_text("rksp.x12")
RKSP_EDI = example_text("rksp.edi")
assert len(ISA) == 106 and ISA.endswith("~")

# (bytes, the refusal's code, the segment it names): each crashed a reader (IndexError,
# X12Error, AttributeError...), so the job was retried eight times and the carrier got nothing.
READER_CRASHES = [
    pytest.param(b"UNA", "EDI-001", 1, id="una-alone"),
    pytest.param(b"UNA:+.", "EDI-001", 1, id="una-cut-short"),
    pytest.param(b"UNB+'", "EDI-001", 1, id="unb-without-syntax-identifier"),
    pytest.param(b"UNA:+.? 'UNB+'", "EDI-001", 2, id="una-then-empty-unb"),
    pytest.param(b"UNA++.? 'UNB+UNOC:3+DEMOLINE'", "EDI-001", 1, id="una-separators-collide"),
    pytest.param((ISA[:104] + "~~").encode(), "X12-001", 1, id="isa-component-is-terminator"),
    pytest.param((ISA[:104] + "**").encode(), "X12-001", 1, id="isa-component-is-element"),
    pytest.param((ISA[:104] + ">*\n").encode(), "X12-001", 1, id="isa-terminator-is-element"),
    pytest.param((ISA + "\nGE*0*1~").encode(), "X12-001", 2, id="ge-closes-no-group"),
    pytest.param(
        (ISA + "\nIEA*0*000000101~\nIEA*0*000000101~").encode(), "X12-001", 3, id="iea-twice"
    ),
    pytest.param(
        RKSP_X12.replace("~\nST*323", "~ \n~\nST*323", 1).encode(), "X12-001", 3, id="blank"
    ),
    pytest.param(
        RKSP_X12.replace("ST*323", "ST*\r323", 1).encode(), "X12-001", 3, id="control-char"
    ),
    pytest.param(
        RKSP_X12.replace("\nGE*1*", "\nGE**", 1).encode(), "X12-001", None, id="ge01-missing"
    ),
    # The refusal's own place held the NUL (PostgreSQL: no \u0000 in JSONB, a FILE-007).
    pytest.param(RKSP_X12.replace("\nV1*", "\n\x00V1*", 1).encode(), "X12-001", 4, id="nul"),
]


@pytest.mark.parametrize(("data", "code", "segment"), READER_CRASHES)
def test_what_crashed_a_reader_is_refused_with_its_place(
    harness: Harness, data: bytes, code: str, segment: int | None
) -> None:
    sid = harness.answer(data, "crash")
    ((status, findings),) = harness.documents(sid)
    assert status == "REFUSED"
    assert [f["code"] for f in findings] == [code], findings
    if segment is not None:
        assert findings[0]["location"]["line"] == segment, findings


# Inputs that crashed a reader or a renderer deeper in: refused with the format's own codes.
DEEPER_CRASHES = [
    # pyx12's validator met a transaction set its map has no place for (AttributeError).
    pytest.param(RKSP_X12.replace("ST*323*0001~", "ST*323'0001~", 1), id="st01-unknown"),
    # GS08 missing: the 997 renderer met None for the version (AttributeError).
    pytest.param(re.sub(r"\*X\*004010~", "*X~", RKSP_X12, count=1), id="gs08-missing"),
    # pydifact refuses a tag that is not 3 capitals (ValueError) mid-interchange.
    pytest.param(RKSP_EDI.replace("\nBGM+", "\nbgm+", 1), id="edifact-lowercase-tag"),
    # A NUL in a value (UNOC is Latin-1: it decodes) reached the records and the findings;
    # PostgreSQL stores neither a NUL in text nor \u0000 in JSONB (DataError).
    pytest.param(RKSP_EDI.replace("KM DEMO", "KM\x00DEMO", 1), id="edifact-nul-in-value"),
    pytest.param(RKSP_EDI.replace("\nBGM+", "\nB\x00M+", 1), id="edifact-nul-in-tag"),
    pytest.param(RKSP_EDI.replace("+RKSP0001+", "+RKSP\x000001+", 1), id="edifact-nul-in-unb"),
]


@pytest.mark.parametrize("text", DEEPER_CRASHES)
def test_what_crashed_deeper_is_refused_with_the_formats_codes(harness: Harness, text: str) -> None:
    sid = harness.answer(text.encode("latin-1"), "crash")
    found = harness.documents(sid)
    assert found and all(status == "REFUSED" for status, _ in found)
    assert "FILE-007" not in codes(found)


@pytest.mark.parametrize("name", ["rksp.x12", "manifest-inward.x12"])
def test_acknowledgments_keep_a_line_feed_terminator_readable(harness: Harness, name: str) -> None:
    """X12 lets the segment terminator be a line feed; our acks are written with the sender's
    delimiters, one segment a line: a blank line between them stopped pyx12's reader."""
    harness.answer(example_text(name).replace("~\n", "\n").encode(), name)


# -- a defect of the gateway: FILE-007, told, counted, replayable -----------------------------

BROKEN_VOYAGE = "666N"


def broken_rule(document: Document, context: RuleContext) -> Iterable[Finding | Flag]:
    """A rule with a defect this one file's content trips (stands for any future bug)."""
    if getattr(document, "voyage_number", None) == BROKEN_VOYAGE:
        raise ZeroDivisionError("the rule book divided by the number of pos")
    return ()


def test_a_defect_met_while_reading_is_refused_as_file_007_and_replayed_once_fixed(
    harness: Harness, clock: FakeClock, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    gateway = harness.gateway
    gateway.pipeline.rules = (*DEFAULT_RULES, broken_rule)
    with structlog.testing.capture_logs() as logs:
        sid = harness.answer(rksp(voyage=BROKEN_VOYAGE), "rksp-666n.xml")

    # Refused at the first attempt, with a reference the carrier can quote ...
    ((status, findings),) = harness.documents(sid)
    assert status == "REFUSED"
    assert [f["code"] for f in findings] == ["FILE-007"]
    reference = re.search(rf"\(reference ({sid}-[0-9a-f]{{8}})\)", findings[0]["message_en"])
    assert reference is not None, findings
    assert f"rujukan {reference.group(1)}" in findings[0]["message_id"]
    response = harness.ack_bodies(sid)["RESPONSE"].decode()
    assert reference.group(1) in response and "could not read the file" in response
    # ... one error line with the traceback for the operators ...
    (line,) = [e for e in logs if e.get("reference") == reference.group(1)]
    assert line["log_level"] == "error" and line["submission_id"] == sid
    assert isinstance(line["exc_info"], ZeroDivisionError) and line["stage"] == "read"
    # ... and counted on /metrics, from the database.
    labels = {"channel": "cli", "format": "XML"}
    assert metric(gateway, "pde_documents_unreadable_total", **labels) == 1.0
    assert metric(gateway, "pde_unreadable_waiting_replay", **labels) == 1.0

    gateway.pipeline.rules = DEFAULT_RULES  # the defect is fixed
    replayed = cli("replay", str(sid))
    assert replayed.returncode == 0, replayed.stderr
    found = re.search(r"read again as submission #(\d+)", replayed.stdout)
    assert found is not None and "dibaca ulang" in replayed.stdout, replayed.stdout
    new_sid = int(found.group(1))
    clock.advance(minutes=1)  # past the CLI's own clock
    harness.work()
    harness.assert_answered(new_sid)
    ((new_status, _),) = harness.documents(new_sid)
    assert new_status == "REGISTERED"  # the same bytes, read this time
    assert [s for s, _ in harness.documents(sid)] == ["REFUSED"]  # the refusal stands
    with gateway.db.engine.connect() as conn:
        original, again = (
            conn.execute(sa.select(submissions).where(submissions.c.id == i)).one()
            for i in (sid, new_sid)
        )
    assert (again.raw_path, again.sha256, again.sender, again.source_name) == (
        original.raw_path,
        original.sha256,
        original.sender,
        original.source_name,
    )
    assert again.received_at == original.received_at  # deadlines measured to the sending
    assert metric(gateway, "pde_unreadable_waiting_replay", **labels) == 0.0

    twice = cli("replay", str(sid))  # a second replay makes no third submission
    assert twice.returncode == 1
    assert f"already read again as #{new_sid}" in twice.stderr
    with gateway.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar() == 2


def unstorable_flag(document: Document, context: RuleContext) -> Iterable[Finding | Flag]:
    """A flag whose detail the database cannot store (stands for any defect in storing)."""
    if getattr(document, "voyage_number", None) == BROKEN_VOYAGE:
        yield Flag(code="TEST-1", detail=cast(str, object()))


def test_a_decision_the_database_cannot_store_is_refused_as_file_007(harness: Harness) -> None:
    harness.gateway.pipeline.rules = (*DEFAULT_RULES, unstorable_flag)
    with structlog.testing.capture_logs() as logs:
        sid = harness.answer(rksp(voyage=BROKEN_VOYAGE), "rksp-666n.xml")
    assert codes(harness.documents(sid)) == ["FILE-007"]
    (line,) = [e for e in logs if e.get("stage") == "commit"]
    assert line["submission_id"] == sid and line["log_level"] == "error"
    harness.answer(rksp(), "rksp.xml")  # the next file is not held back


def test_a_unique_key_that_fails_again_is_an_answer_not_a_retry(harness: Harness) -> None:
    """A carrier supplies, in its own namespace, a nomor aju the gateway generated for it
    before: the documents' unique key fails on every attempt (it is no concurrent twin), and
    the job went on to be a dead letter with no answer. Deciding again at once tells a twin
    (committed, now seen as a duplicate) from this; this one is refused and answered."""
    first = harness.answer(rksp(), "rksp.xml")
    with harness.gateway.db.engine.connect() as conn:
        taken = conn.execute(
            sa.select(documents.c.nomor_aju).where(documents.c.submission_id == first)
        ).scalar_one()
    again = with_header(rksp(voyage="026N").decode(), nomor_aju=taken)
    sid = harness.answer(again.encode(), "rksp-026n.xml")
    assert [s for s, _ in harness.documents(sid)] == ["REFUSED"]


class BrokenRenderer:
    """An acknowledgment renderer with a defect (stands for any future bug)."""

    def render(self, result: ParseResult | None, outcomes: Any, numbers: Any) -> list[AckFile]:
        raise KeyError("the renderer lost its place")


def test_a_failing_acknowledgment_renderer_falls_back_to_the_xml_answer(
    harness: Harness,
) -> None:
    pipeline = harness.gateway.pipeline
    pipeline.ack_renderers = {**pipeline.ack_renderers, Format.X12: BrokenRenderer()}
    with structlog.testing.capture_logs() as logs:
        sid = harness.answer(example_text("rksp.x12").encode(), "rksp.x12")
    assert [s for s, _ in harness.documents(sid)] == ["REGISTERED"]  # the decision stands
    assert set(harness.ack_bodies(sid)) == {"RECEIPT", "RESPONSE"}
    (line,) = [e for e in logs if e["event"].startswith("acknowledgment renderer failed")]
    assert line["submission_id"] == sid and line["format"] == "X12"


# -- the properties -------------------------------------------------------------------------

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
JUNK = (
    b"\x00",
    b"\xff\xfe",  # UTF-16 LE BOM
    b"\xfe\xff",  # UTF-16 BE BOM
    b"\xef\xbb\xbf",  # UTF-8 BOM
    b"\xc3\x28",  # invalid UTF-8
    b"\x80",
    b"\xed\xa0\x80",  # a UTF-8 encoded surrogate
)
SEPARATORS = {
    "xml": b"<>/=\"' \n&;:",
    "x12": b"*~:>^\n|U ",
    "edifact": b"+:'?. \n*",
}


def _terminator(data: bytes, fmt: str) -> bytes:
    if fmt == "x12" and data.startswith(b"ISA") and len(data) > 105:
        return data[105:106]
    if fmt == "edifact":
        return data[8:9] if data.startswith(b"UNA") and len(data) > 8 else b"'"
    return b"\n"


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes], fmt: str) -> bytes:
    """An example file with one to four mutations: byte flips, truncation, segments doubled
    or dropped, two separators swapped, NUL / BOM / invalid UTF-8 inserted."""
    data = draw(st.sampled_from(corpus))
    separators = st.sampled_from(sorted({bytes([c]) for c in SEPARATORS[fmt]}))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "cut", "double", "drop", "swap", "insert")))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind in ("double", "drop"):
            terminator = _terminator(data, fmt)
            parts = data.split(terminator)
            i = draw(st.integers(0, len(parts) - 1))
            if kind == "double":
                parts.insert(i, parts[i])
            elif len(parts) > 1:
                del parts[i]
            data = terminator.join(parts)
        elif kind == "swap":
            a, b = draw(separators), draw(separators)
            data = data.translate(bytes.maketrans(a + b, b + a)) if a != b else data
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(st.sampled_from(JUNK)) + data[i:]
    return data


ANY_BYTES = st.one_of(
    st.binary(max_size=600),
    st.tuples(
        st.sampled_from([b"ISA", b"UNA", b"UNB", b"<", b"<?xml ", b"\xef\xbb\xbf<", b" ISA"]),
        st.binary(max_size=400),
    ).map(b"".join),
)


@FUZZ
@given(data=ANY_BYTES)
@example(data=b"UNA")
@example(data=b"UNA\x88&F\x90")
@example(data=b"UNB+'")
@example(data=(ISA[:104] + "~~").encode())
@example(data=(ISA + "\nGE*0*1~").encode())
@example(data=(ISA + "\nIEA*0*000000101~\nIEA*0*000000101~").encode())
@example(data=(ISA + " \n~ \n~").encode())
@example(data=RKSP_X12.replace("ST*323", "ST*\r323", 1).encode())
@example(data=RKSP_X12.replace("ST*323*0001~", "ST*323'0001~", 1).encode())
@example(data=re.sub(r"\*X\*004010~", "*X~", RKSP_X12, count=1).encode())
@example(data=RKSP_X12.replace("\nGE*1*", "\nGE**", 1).encode())
@example(data=RKSP_EDI.replace("\nBGM+", "\nbgm+", 1).encode())
@example(data=RKSP_EDI.replace("\nBGM+", "\nODI'\nBGM+", 1).encode())  # a tag alone
def test_any_bytes_are_answered(fuzz: Harness, data: bytes) -> None:
    fuzz.answer_read(data)


@FUZZ
@given(data=mutated(XML_CORPUS, "xml"))
def test_mutated_xml_is_answered(fuzz: Harness, data: bytes) -> None:
    fuzz.answer_read(data, "mutated.xml")


@FUZZ
@given(data=mutated(X12_CORPUS, "x12"))
def test_mutated_x12_is_answered(fuzz: Harness, data: bytes) -> None:
    fuzz.answer_read(data, "mutated.x12")


@FUZZ
@given(data=mutated(EDIFACT_CORPUS, "edifact"))
def test_mutated_edifact_is_answered(fuzz: Harness, data: bytes) -> None:
    fuzz.answer_read(data, "mutated.edi")
