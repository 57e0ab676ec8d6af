"""The rule book through the whole pipeline: year boundaries, late flags, the BC 1.0 lookup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gateway.app import Gateway
from tests.integration.conftest import FakeClock
from tests.integration.documents import codes, example, rksp, run

# 31 December 23:30 WIB is 16:30 UTC; 1 January 00:30 WIB is 17:30 UTC.
NEW_YEARS_EVE = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)


def inward(voyage: str, **replace: str) -> bytes:
    text = example("manifest-inward.xml").replace("<VoyageNumber>025N<", f"<VoyageNumber>{voyage}<")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def test_a_manifest_at_2330_wib_on_31_december_is_numbered_in_that_year(
    make_gateway: Callable[..., Gateway],
) -> None:
    clock = FakeClock(NEW_YEARS_EVE)
    gateway = make_gateway(clock)
    [old_year] = run(gateway, inward("101N"))
    clock.advance(minutes=20)  # 23:50 WIB
    [same_year] = run(gateway, inward("102N"))
    clock.advance(minutes=40)  # 00:30 WIB on 1 January 2026
    [new_year] = run(gateway, inward("103N"))
    assert [r["status"] for r in (old_year, same_year, new_year)] == ["REGISTERED"] * 3
    assert [
        (r["registration"]["number"], r["registration"]["date"])
        for r in (
            old_year,
            same_year,
            new_year,
        )
    ] == [("000001", "2025-12-31"), ("000002", "2025-12-31"), ("000001", "2026-01-01")]
    assert {r["registration"]["office"] for r in (old_year, new_year)} == {"040300"}
    # The nomor aju carries the office's calendar day as well.
    assert old_year["nomor_aju"][12:20] == "20251231" and new_year["nomor_aju"][12:20] == "20260101"


def test_inward_manifest_finds_the_rksp_of_its_call(gateway: Gateway) -> None:
    [alone] = run(gateway, inward("201N"))
    assert alone["status"] == "REGISTERED" and codes(alone) == ["MAN-010"]
    assert alone["errors"][0]["severity"] == "WARNING"
    assert "[ART4-1-BC10]" in alone["errors"][0]["message_en"]
    [plan] = run(gateway, rksp(voyage="202N"))
    assert plan["registration"]["kind"] == "BC 1.0"
    [linked] = run(gateway, inward("202N"))
    assert linked["status"] == "REGISTERED" and codes(linked) == []
    # Same voyage and name, other ship (IMO): not its call.
    [other_ship] = run(gateway, inward("202N", **{"9321483": "9074729"}))
    assert codes(other_ship) == ["MAN-010"]


def test_late_inward_manifest_is_registered_and_flagged_in_minutes(
    gateway: Gateway, clock: FakeClock
) -> None:
    # Arrived 25 h 15 min before receipt, unloading not started: due arrival + 24 h.
    arrival = (clock.now - timedelta(hours=25, minutes=15)).astimezone(UTC)
    [result] = run(
        gateway,
        inward(
            "301N",
            **{"2099-03-14T06:30:00+07:00": arrival.isoformat().replace("+00:00", "Z")},
        ),
    )
    assert result["status"] == "REGISTERED" and result["registration"] is not None
    assert result["flags"] == ["LATE"] and result["late_by_seconds"] == 75 * 60
    late = [e for e in result["errors"] if e["code"] == "LATE-003"]
    assert late and "1 h 15 min" in late[0]["message_en"] and "WIB" in late[0]["message_en"]


def test_rksp_change_is_measured_to_the_registered_arrival(
    gateway: Gateway, clock: FakeClock
) -> None:
    eta = clock.now + timedelta(hours=30)
    [plan] = run(
        gateway, rksp(voyage="401N", Eta=eta.isoformat(), Etd=(eta + timedelta(days=2)).isoformat())
    )
    ref = plan["registration"]
    amends = (
        f"<Amends><OfficeCode>{ref['office']}</OfficeCode><Number>{ref['number']}</Number>"
        f"<Date>{ref['date']}</Date></Amends>"
    )
    later_eta = eta + timedelta(days=5)

    def change(voyage: str) -> bytes:
        text = rksp(
            voyage=voyage,
            Eta=later_eta.isoformat(),
            Etd=(later_eta + timedelta(days=1)).isoformat(),
        ).decode()
        return text.replace("</Header>", f"</Header>\n  {amends}", 1).encode()

    [early] = run(gateway, change("401N"))
    assert early["status"] == "ACCEPTED" and early["registration"] is None, early
    clock.advance(hours=31)  # past the registered arrival, before the arrival the change states
    [late] = run(gateway, change("401X"))
    assert late["status"] == "REFUSED" and codes(late) == ["DL-001"]
    assert ref["number"] in late["errors"][0]["message_en"]
