"""Amendments and pos closings end to end through the real console script (issue 6).

`pde-gateway process ... --json` registers the example inward manifest, then takes the
example amendment and pos closing rewritten to point at it; `amendments approve|refuse`,
`pos show|open`, `status` and `watch` are what the head of office and the officers run.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing as closing_db
from pathlib import Path
from typing import Any

import pytest

from tests.bc11_documents import amendment, closing, example, house_bill

SCRIPT = Path(sys.executable).with_name("pde-gateway")


class Console:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.data = tmp_path / "data"
        self.files = 0

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PDE_GATEWAY_DATA_DIR": str(self.data)}
        env["PDE_GATEWAY_LOG_LEVEL"] = "WARNING"
        env.pop("PDE_GATEWAY_DATABASE_URL", None)
        return subprocess.run(
            [str(SCRIPT), *args],
            env=env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def process(self, data: bytes, name: str = "doc.xml") -> dict[str, Any]:
        self.files += 1
        path = self.tmp / f"{self.files:02d}-{name}"
        path.write_bytes(data)
        done = self("process", str(path), "--partner", "DEMO", "--json")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, done.stdout + done.stderr
        result: dict[str, Any] = json.loads(lines[0])
        assert done.returncode == (1 if result["status"] == "REFUSED" else 0)
        return result

    def audit(self, document_aju: str) -> list[tuple[Any, ...]]:
        with closing_db(sqlite3.connect(self.data / "gateway.db")) as conn:
            return conn.execute(
                "SELECT a.actor, a.action, a.from_status, a.to_status, a.detail FROM audit_log a "
                "JOIN documents d ON d.id = a.document_id WHERE d.nomor_aju = ? ORDER BY a.id",
                (document_aju,),
            ).fetchall()


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(tmp_path)


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"] if e["severity"] == "ERROR"]


def test_amendment_scenarios_through_the_console_script(console: Console) -> None:
    manifest = console.process(example("manifest-inward.xml").encode(), "manifest.xml")
    assert manifest["status"] == "REGISTERED", manifest
    bc11 = manifest["nomor_aju"]
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]

    # A consignee correction (kind C) waits for the head of office.
    correction = console.process(amendment(number, day), "consignee.xml")
    assert correction["status"] == "PENDING_APPROVAL" and codes(correction) == []
    pending = console.json(
        "amendments", "list", "--office", "040300", "--status", "PENDING_APPROVAL"
    )
    assert [a["nomor_aju"] for a in pending] == [correction["nomor_aju"]]
    assert pending[0]["changes"][0]["new_value"] == "PT Cahaya Abadi Logistik"
    before = console.json("pos", "show", bc11, "2")
    assert before["current"]["consignee"]["name"] == "PT Cahya Abadi Logistik"
    assert before["version"] == 1

    approved = console.json("amendments", "approve", correction["nomor_aju"], "--by", "Kepala KPU")
    assert approved["status"] == "APPROVED" and approved["pos_version"] == 2
    assert "disetujui" in approved["message_id"] and "approved" in approved["message_en"]
    after = console.json("pos", "show", bc11, "2")
    assert after["current"]["consignee"]["name"] == "PT Cahaya Abadi Logistik"
    assert [(v["version"], v["amendment"]) for v in after["versions"]] == [
        (1, None),
        (2, correction["nomor_aju"]),
    ]
    assert ("user:Kepala KPU", "amendment approved", "PENDING_APPROVAL", "APPROVED") in [
        row[:4] for row in console.audit(correction["nomor_aju"])
    ]

    # A merge (kind D) of pos with different shippers: refused, saying which field differs.
    merge = console.process(
        amendment(number, day, kind="D", pos="1", changes=[], merged=["3"], revised_bl="REV1"),
        "merge.xml",
    )
    assert merge["status"] == "REFUSED" and set(codes(merge)) == {"AMD-006"}
    shipper = next(e for e in merge["errors"] if "shipper" in e["message_en"])
    assert "Ningbo Machinery Export Corp." in shipper["message_en"]
    assert "berbeda" in shipper["message_id"] and "[ART6-1-MERGE]" in shipper["message_id"]

    # A consolidated breakdown (kind E) creates the sub-pos at once.
    split = console.process(
        amendment(number, day, kind="E", pos="1", changes=[], breakdown=house_bill(3, "HB3")),
        "breakdown.xml",
    )
    assert split["status"] == "ACCEPTED" and codes(split) == []
    house = console.json("pos", "show", bc11, "1.3")
    assert house["status"] == "OPEN" and house["current"]["transport_document"]["number"] == "HB3"
    assert house["versions"][0]["amendment"] == split["nomor_aju"]

    # An amendment of a closed pos is refused.
    settled = console.process(closing(number, day, pos="2", packages=None, weight=None), "c.xml")
    assert settled["status"] == "ACCEPTED", settled
    late = console.process(
        amendment(number, day, changes=[("notify.name", None, "PT Notifikasi")]), "late.xml"
    )
    assert late["status"] == "REFUSED" and codes(late) == ["AMD-001"]
    assert "CLOSED" in late["errors"][0]["message_en"]

    opened = console.json("pos", "open", "--office", "040300")
    assert {(p["pos"], p["status"]) for p in opened} == {
        ("000100000000", "OPEN"),
        ("000100010000", "OPEN"),
        ("000100020000", "OPEN"),
        ("000100030000", "OPEN"),
        ("000300000000", "OPEN"),
    }
    assert all(p["age_hours"] == 0 and p["bc11"]["nomor_aju"] == bc11 for p in opened)


def test_the_head_of_office_refusing_an_amendment(console: Console) -> None:
    manifest = console.process(example("manifest-inward.xml").encode(), "manifest.xml")
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]
    correction = console.process(amendment(number, day), "consignee.xml")
    aju = correction["nomor_aju"]

    done = console(
        "amendments", "refuse", aju, "--by", "Kepala KPU", "--reason", "Dokumen pendukung kurang"
    )
    assert done.returncode == 0, done.stderr
    assert "ditolak oleh Kepala KPU" in done.stdout and "refused by Kepala KPU" in done.stdout

    [status] = [json.loads(line) for line in console("status", aju, "--json").stdout.splitlines()]
    assert status["status"] == "REFUSED"
    decision = status["amendment"]
    assert (decision["status"], decision["decided_by"], decision["reason"]) == (
        "REFUSED",
        "Kepala KPU",
        "Dokumen pendukung kurang",
    )
    assert decision["decided_at"]
    [row] = [r for r in console.audit(aju) if r[1] == "amendment refused"]
    assert row[:4] == ("user:Kepala KPU", "amendment refused", "PENDING_APPROVAL", "REFUSED")
    assert json.loads(row[4])["reason"] == "Dokumen pendukung kurang"

    again = console("amendments", "approve", aju, "--by", "Kepala KPU")
    assert again.returncode != 0 and "AMD-103" in again.stderr
    assert "tidak menunggu persetujuan" in again.stderr and "not waiting" in again.stderr
    unknown = console("amendments", "approve", "999999", "--by", "x")
    assert unknown.returncode != 0 and "AMD-105" in unknown.stderr
    assert console.json("pos", "show", manifest["nomor_aju"], "2")["version"] == 1


def test_the_watch_reports_late_rksp(console: Console) -> None:
    # The example RKSP arrives in 2099: on time. Moved to an arrival that has passed, it is
    # registered LATE, and no manifest follows it.
    text = example("rksp.xml")
    late = re.sub(r"<Eta>[^<]+</Eta>", "<Eta>2026-01-02T08:00:00+07:00</Eta>", text, count=1)
    late = re.sub(r"<Etd>[^<]+</Etd>", "<Etd>2026-01-03T08:00:00+07:00</Etd>", late, count=1)
    rksp = console.process(late.encode(), "rksp.xml")
    assert rksp["status"] == "REGISTERED" and "LATE" in rksp["flags"], rksp
    report = console.json("watch")
    [flagged] = report["late_bc10"]
    assert flagged["nomor_aju"] == rksp["nomor_aju"] and flagged["late_minutes"] > 0
    [overdue] = report["overdue_manifests"]
    assert overdue["bc10_nomor_aju"] == rksp["nomor_aju"]
    assert overdue["due"].startswith("2026-01-03T08:00:00+07:00")  # sea: 24 h after arrival
