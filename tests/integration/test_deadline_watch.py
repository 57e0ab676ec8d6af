"""The deadline watch on both databases: overdue inward manifests and late BC 1.0s."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.app import Gateway
from gateway.deadline_watch import WatchReport, watch
from tests.integration.conftest import FakeClock
from tests.integration.documents import example, run

WIB = ZoneInfo("Asia/Jakarta")
ARRIVAL = datetime(2026, 3, 12, 6, 0, tzinfo=WIB)  # the clock starts on 10 March 09:30 WIB


def rksp(voyage: str, eta: datetime = ARRIVAL) -> bytes:
    text = example("rksp.xml").replace("<VoyageNumber>025N<", f"<VoyageNumber>{voyage}<")
    text = re.sub(r"<Eta>[^<]+</Eta>", f"<Eta>{eta.isoformat()}</Eta>", text, count=1)
    etd = (eta + timedelta(days=2)).isoformat()
    return re.sub(r"<Etd>[^<]+</Etd>", f"<Etd>{etd}</Etd>", text, count=1).encode()


def report(gateway: Gateway, clock: FakeClock) -> WatchReport:
    with gateway.db.engine.connect() as conn:
        return watch(conn, now=clock(), reference=gateway.pipeline.reference())


def test_a_conveyance_without_a_manifest_is_overdue_24_hours_after_arriving_by_sea(
    gateway: Gateway, clock: FakeClock
) -> None:
    [filed] = run(gateway, rksp("025N"))
    [unfiled] = run(gateway, rksp("030S"))
    assert (filed["flags"], unfiled["flags"]) == ([], [])
    [manifest] = run(gateway, example("manifest-inward.xml").encode())  # voyage 025N
    assert manifest["status"] == "REGISTERED"

    clock.now = ARRIVAL + timedelta(hours=24)  # exactly at the deadline: not overdue yet
    assert report(gateway, clock).overdue_manifests == ()
    clock.advance(minutes=1)
    [overdue] = report(gateway, clock).overdue_manifests
    assert overdue.bc10_nomor_aju == unfiled["nomor_aju"] and overdue.voyages == ("030S",)
    assert overdue.due == ARRIVAL + timedelta(hours=24) and overdue.due.tzinfo is not None
    assert overdue.overdue_by == timedelta(minutes=1)
    assert str(overdue.due.utcoffset()) == "7:00:00"  # shown in the office's time (WIB)
    assert report(gateway, clock).late_bc10 == ()


def test_a_late_rksp_is_reported_with_its_lateness(gateway: Gateway, clock: FakeClock) -> None:
    [late] = run(gateway, rksp("025N", eta=clock().astimezone(WIB) + timedelta(hours=23)))
    assert late["flags"] == ["LATE"]
    [entry] = report(gateway, clock).late_bc10
    assert (entry.nomor_aju, entry.late_by) == (late["nomor_aju"], timedelta(hours=1))
    assert report(gateway, clock).to_json()["late_bc10"][0]["late_minutes"] == 60
