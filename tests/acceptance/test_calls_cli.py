"""`pde-gateway calls arrived|departed|show` and `watch` through the real console script.

An RKSP whose ETA has passed is registered; once an officer records the actual arrival (in
the office's local time) the watch measures from it and says "actual"; a recorded departure
without an outward manifest is reported. (The storage-level refusals, and the "announced"
basis, are tested in tests/integration/test_call_facts.py.)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.acceptance.test_amendments_cli import Console
from tests.bc11_documents import example

WIB = ZoneInfo("Asia/Jakarta")


def test_an_officer_records_a_call_and_the_watch_rests_on_it(tmp_path: Path) -> None:
    console = Console(tmp_path)
    eta = (datetime.now(UTC) - timedelta(days=3)).astimezone(WIB).replace(second=0, microsecond=0)
    text = re.sub(r"<Eta>[^<]+</Eta>", f"<Eta>{eta.isoformat()}</Eta>", example("rksp.xml"))
    etd = (eta + timedelta(days=5)).isoformat()
    text = re.sub(r"<Etd>[^<]+</Etd>", f"<Etd>{etd}</Etd>", text)
    rksp = console.process(text.encode(), "rksp.xml")
    assert rksp["status"] == "REGISTERED", rksp
    number, day = rksp["registration"]["number"], rksp["registration"]["date"]

    anchored = eta - timedelta(hours=5)
    done = console(
        "calls", "arrived", "040300", number, day,
        "--at", anchored.strftime("%Y-%m-%dT%H:%M"), "--by", "Petugas Priok",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{anchored:%Y-%m-%d %H:%M} WIB" in done.stdout
    left = eta + timedelta(hours=10)
    departed = console(
        "calls", "departed", "040300", number, day, "--voyage", "025n",
        "--at", left.isoformat(), "--by", "Petugas Priok",
    )  # fmt: skip
    assert departed.returncode == 0, departed.stderr

    report = console.json("watch")
    [overdue] = report["overdue_manifests"]
    assert (overdue["basis"], overdue["source"]) == ("actual", "OFFICER")
    assert overdue["bc10_date"] == day
    assert overdue["arrival"] == anchored.isoformat()
    assert overdue["due"] == (anchored + timedelta(hours=24)).isoformat()
    [outward] = report["overdue_outward"]
    assert (outward["basis"], outward["departure"]) == ("actual", left.isoformat())
    printed = console("watch").stdout
    assert "sebenarnya / actual, petugas / officer" in printed and "outward due" in printed

    shown = console.json("calls", "show", "040300", number, day)
    assert [(r["event"], r["source"], r["recorded_by"]) for r in shown] == [
        ("ARRIVAL", "OFFICER", "user:Petugas Priok"),
        ("DEPARTURE", "OFFICER", "user:Petugas Priok"),
    ]
