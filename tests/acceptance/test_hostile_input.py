"""Hostile and broken files on the real gateway: every one refused with its code, none harmful.

One gateway (``PDE_GATEWAY_MAX_FILE_BYTES=200000``) receives all the files at once; each case
then checks its own Response, the raw store and error/. At the end the same process must still
register a valid RKSP, and nothing from ``/etc/passwd`` may have leaked into any ack.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import (
    GatewayProcess,
    acks_for,
    drop_file,
    example,
    read_response,
    rksp_variant,
    sha256,
    wait_for,
    wait_for_response,
)

MAX_FILE_BYTES = 200_000
# Everything must be answered quickly, the entity bomb included.
ANSWER_WITHIN = 30.0
PEAK_RSS_LIMIT = 400 * 1024 * 1024
SYMLINK_NAME = "passwd-link.xml"
PASSWD_MARKERS = ("root:x:0:0", "/bin/bash", "/usr/sbin/nologin", "daemon:x:")

RKSP = example("rksp.xml")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
ROOT_OPEN = b'<Rksp xmlns="urn:pde-gateway:xml:1">'


def _billion_laughs() -> bytes:
    lines = [b'<?xml version="1.0"?>', b"<!DOCTYPE lolz [", b' <!ENTITY lol "lol">']
    for level in range(1, 10):
        ref = b"&lol;" if level == 1 else b"&lol%d;" % (level - 1)
        lines.append(b' <!ENTITY lol%d "%s">' % (level, ref * 10))
    lines += [b"]>", b"<lolz>&lol9;</lolz>", b""]
    return b"\n".join(lines)


def _with_doctype(subset: bytes, *, vessel: bytes | None = None) -> bytes:
    """The example RKSP with an internal DTD subset, and optionally the vessel name replaced."""
    body = RKSP.removeprefix(XML_DECLARATION)
    assert body.startswith(b"<!--")
    if vessel is not None:
        body = body.replace(b"<Name>KM DEMO NUSANTARA</Name>", b"<Name>" + vessel + b"</Name>")
    return XML_DECLARATION + b"<!DOCTYPE Rksp [\n" + subset + b"\n]>\n" + body


def _oversize() -> bytes:
    # A valid RKSP padded with a comment to ~300 KB: refused for its size, before any parsing.
    padding = b"<!-- " + b"padding " * 37_500 + b"-->\n"
    data = rksp_variant(1).replace(ROOT_OPEN, padding + ROOT_OPEN, 1)
    assert 290_000 < len(data) < 310_000
    return data


def _bad_encoding() -> bytes:
    # Declared UTF-8, with a lone 0xFF byte inside a text node.
    data = rksp_variant(2).replace(b"<CallSign>PKDN</CallSign>", b"<CallSign>PK\xffDN</CallSign>")
    assert b"\xff" in data
    return data


def _truncated() -> bytes:
    data = rksp_variant(3)
    return data[: len(data) // 2]


def _binary_junk() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(20240101).randbytes(8192)


@dataclass(frozen=True)
class Case:
    name: str  # also the file's stem
    carrier: str
    data: bytes
    code: str


CASES = [
    Case("billion-laughs", "DEMO", _billion_laughs(), "XML-002"),
    Case(
        "xxe-passwd",
        "DEMO",
        _with_doctype(b'  <!ENTITY xxe SYSTEM "file:///etc/passwd">', vessel=b"&xxe;"),
        "XML-002",
    ),
    Case("plain-dtd", "DEMO", _with_doctype(b"  <!ELEMENT Rksp ANY>"), "XML-002"),
    Case("oversize", "DEMO", _oversize(), "FILE-002"),
    Case("bad-encoding", "DEMO", _bad_encoding(), "FILE-003"),
    Case("truncated", "DEMO", _truncated(), "XML-001"),
    Case("empty", "DEMO", b"", "FILE-001"),
    Case("binary-junk", "DEMO", _binary_junk(), "FILE-004"),
    Case("unknown-carrier", "NOBODY", RKSP, "SND-001"),
]


@dataclass
class HostileRun:
    gateway: GatewayProcess
    responses: dict[str, Path]
    answered_in: float


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    base = tmp_path_factory.mktemp("hostile")
    gateway = GatewayProcess(base / "data", base / "logs", max_file_bytes=MAX_FILE_BYTES)
    try:
        gateway.start_and_wait()
        dropped_at = time.monotonic()
        for case in CASES:
            drop_file(gateway.folder(case.carrier, "in"), f"{case.name}.xml", case.data)
        # A carrier with shell access could also leave a symlink to a file of the host.
        (gateway.folder("DEMO", "in") / SYMLINK_NAME).symlink_to("/etc/passwd")
        responses = {
            case.name: wait_for_response(
                gateway.folder(case.carrier, "out"),
                case.name,
                timeout=ANSWER_WITHIN,
                gateway=gateway,
            )
            for case in CASES
        }
        yield HostileRun(gateway, responses, time.monotonic() - dropped_at)
    finally:
        gateway.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_with_code_and_kept(hostile_run: HostileRun, case: Case) -> None:
    gateway = hostile_run.gateway
    response: dict[str, Any] = read_response(hostile_run.responses[case.name])
    assert response["status"] == "REFUSED", response
    assert response["registration"] is None
    # One reason each: a file refused as a whole is not read any further.
    assert [e["code"] for e in response["errors"]] == [case.code]
    for error in response["errors"]:
        assert error["severity"] in {"ERROR", "WARNING"}
        assert (error["message_id"] or "").strip(), f"no Indonesian message: {error}"
        assert (error["message_en"] or "").strip(), f"no English message: {error}"
        assert error["message_id"] != error["message_en"]
    assert response["sender"] == case.carrier
    assert response["source_name"] == f"{case.name}.xml"

    # The bytes as received are kept, addressed by their SHA-256.
    digest = sha256(case.data)
    assert response["sha256"] == digest
    raw = gateway.raw_path(digest)
    assert raw.is_file(), f"raw bytes of {case.name} not kept at {raw}"
    assert raw.read_bytes() == case.data

    # The original is in error/, the file left in/ (it is archived), a receipt was given.
    error_dir = gateway.folder(case.carrier, "error")
    originals = [p for p in error_dir.iterdir() if p.name.startswith(f"{case.name}-")]
    assert len(originals) == 1, sorted(p.name for p in error_dir.iterdir())
    assert originals[0].read_bytes() == case.data
    wait_for(
        lambda: not (gateway.folder(case.carrier, "in") / f"{case.name}.xml").exists(),
        10,
        message=f"{case.name}.xml to leave in/",
    )
    archived = list(gateway.folder(case.carrier, "archive").glob(f"*-{case.name}.xml"))
    assert [p.read_bytes() for p in archived] == [case.data]
    assert len(acks_for(gateway.folder(case.carrier, "out"), case.name, "receipt")) == 1


def test_nothing_from_etc_passwd_leaks(hostile_run: HostileRun) -> None:
    markers = list(PASSWD_MARKERS)
    passwd = Path("/etc/passwd")
    if passwd.is_file():
        first = passwd.read_text(errors="replace").splitlines()[:1]
        markers += [line for line in first if line.strip()]
    ack_files = [p for p in hostile_run.gateway.drop.glob("*/out/*") if p.is_file()]
    assert len(ack_files) >= 2 * len(CASES)
    for path in ack_files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for marker in markers:
            assert marker not in text, f"{marker!r} from /etc/passwd leaked into {path}"


def test_symlink_is_set_aside_unread(hostile_run: HostileRun) -> None:
    gateway = hostile_run.gateway
    assert not (gateway.folder("DEMO", "in") / SYMLINK_NAME).is_symlink()
    assert acks_for(gateway.folder("DEMO", "out"), "passwd-link") == []
    assert list(gateway.folder("DEMO", "archive").glob("*passwd-link*")) == []
    # Moved to error/ as it was (still a link: nothing was read through it), with the reason.
    [moved] = gateway.folder("DEMO", "error").glob("*passwd-link.xml")
    assert moved.is_symlink()
    reason = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
    assert reason.startswith("DROP-001") and "not a plain file" in reason
    aside = [
        e for e in gateway.log_events() if e.get("event") == "file drop entry set aside unread"
    ]
    assert any(e.get("name") == SYMLINK_NAME for e in aside), aside


def test_bomb_cost_neither_time_nor_memory(hostile_run: HostileRun) -> None:
    assert hostile_run.answered_in < ANSWER_WITHIN
    peak = hostile_run.gateway.peak_rss_bytes()
    print(
        f"all hostile files answered in {hostile_run.answered_in:.1f} s; peak RSS {peak >> 20} MiB"
    )
    assert peak < PEAK_RSS_LIMIT, f"gateway peak RSS {peak / 2**20:.0f} MiB"


def test_still_serving_afterwards(hostile_run: HostileRun) -> None:
    gateway = hostile_run.gateway
    assert gateway.alive, "the gateway died on hostile input"
    drop_file(gateway.folder("DEMO", "in"), "after-the-storm.xml", RKSP)
    response = read_response(
        wait_for_response(gateway.folder("DEMO", "out"), "after-the-storm", gateway=gateway)
    )
    assert response["status"] == "REGISTERED", response
    assert response["registration"] is not None
    assert response["registration"]["kind"] == "BC 1.0"
    assert response["registration"]["office"] == "040300"
    assert gateway.alive
    assert gateway.error_events() == []
    assert gateway.stop() == 0
