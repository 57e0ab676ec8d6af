"""Decision tables for the deadlines of Art. 2, 4 and 8 (handlers/timing.py).

Times are absolute instants: the tables write them in UTC, then check that writing the same
instants in WIB, WITA or WIT, or filing at an office in another zone, decides the same.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.model import Direction, DocumentType, Finding, Severity, TransportMode
from gateway.model.outcome import DocumentStatus
from handlers import DEFAULT_RULES, evaluate
from handlers.registration import accepted_status, registration_kind
from tests.unit.rulebook_records import (
    ARRIVAL,
    JAYAPURA,
    MAKASSAR,
    PRIOK,
    apply,
    bc10_call,
    bc10_ref,
    call,
    codes,
    context,
    conveyance,
    jksp,
    lateness,
    manifest,
    rksp,
)

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
ZONES = {
    "UTC": UTC,
    "WIB": ZoneInfo("Asia/Jakarta"),
    "WITA": ZoneInfo("Asia/Makassar"),
    "WIT": ZoneInfo("Asia/Jayapura"),
}

# -- ART2-1-DEADLINE: RKSP at least 24 h before arrival ----------------------------------------

RKSP_TABLE = [
    # received this long before the ETA -> lateness (None: on time)
    pytest.param(24 * H + MIN, None, id="24h01-before"),
    pytest.param(24 * H, None, id="exactly-24h00-before"),
    pytest.param(24 * H - MIN, MIN, id="23h59-before-late-1min"),
    pytest.param(H, 23 * H, id="1h-before-late-23h"),
    pytest.param(-2 * H, 26 * H, id="2h-after-arrival-late-26h"),
]


@pytest.mark.parametrize(("before", "late"), RKSP_TABLE)
def test_rksp_24_hours_before_arrival(before: timedelta, late: timedelta | None) -> None:
    items = apply("ART2-1-DEADLINE", rksp(), context(ARRIVAL - before))
    assert lateness(items) == late
    if late is None:
        assert items == []
    else:
        [warning] = [i for i in items if isinstance(i, Finding)]
        assert (warning.code, warning.severity) == ("LATE-001", Severity.WARNING)


@pytest.mark.parametrize("office", [PRIOK, MAKASSAR, JAYAPURA])
@pytest.mark.parametrize("eta_zone", list(ZONES))
@pytest.mark.parametrize("now_zone", list(ZONES))
@pytest.mark.parametrize(("before", "late"), [(24 * H, None), (24 * H - MIN, MIN)])
def test_the_same_instant_decides_the_same_in_every_zone(
    office: str, eta_zone: str, now_zone: str, before: timedelta, late: timedelta | None
) -> None:
    eta = ARRIVAL.astimezone(ZONES[eta_zone])
    now = (ARRIVAL - before).astimezone(ZONES[now_zone])
    assert lateness(apply("ART2-1-DEADLINE", rksp(office, eta=eta), context(now))) == late


@pytest.mark.parametrize(
    ("office", "shown"),
    [
        (PRIOK, "2026-03-10 09:30 WIB"),
        (MAKASSAR, "2026-03-10 10:30 WITA"),
        (JAYAPURA, "2026-03-10 11:30 WIT"),
    ],
)
def test_the_due_time_is_shown_in_the_office_zone(office: str, shown: str) -> None:
    items = apply("ART2-1-DEADLINE", rksp(office), context(ARRIVAL - 23 * H))
    [warning] = [i for i in items if isinstance(i, Finding)]
    assert shown in warning.message_en and shown in warning.message_id
    assert "1 h 0 min" in warning.message_en


def test_part_of_a_minute_late_counts_as_a_minute() -> None:
    items = apply("ART2-1-DEADLINE", rksp(), context(ARRIVAL - 24 * H + timedelta(seconds=1)))
    assert lateness(items) == timedelta(seconds=1)
    assert "0 min" not in str(items) and "filed 1 min late" in str(items)


# -- ART2-2-DEADLINE: JKSP at least 24 h before its first call ---------------------------------


@pytest.mark.parametrize(
    ("before_first", "late"),
    [(24 * H, None), (24 * H - MIN, MIN), (25 * H, None), (0 * H, 24 * H)],
)
def test_jksp_24_hours_before_its_first_call(before_first: timedelta, late: timedelta) -> None:
    # The calls are not in date order: the first arrival is the earliest ETA, not the first row.
    schedule = jksp((call("003N", ARRIVAL + 14 * 24 * H), call("001N", ARRIVAL)))
    items = apply("ART2-2-DEADLINE", schedule, context(ARRIVAL - before_first))
    assert lateness(items) == late


# -- ART2-3-CHANGE: changes until the arrival / first arrival ----------------------------------


@pytest.mark.parametrize(
    ("received", "registered_arrival", "refused"),
    [
        pytest.param(ARRIVAL - H, None, False, id="before-arrival"),
        pytest.param(ARRIVAL, None, False, id="exactly-at-arrival"),
        pytest.param(ARRIVAL + MIN, None, True, id="1min-after-arrival"),
        # The registered BC 1.0 arrived earlier than the change now says: its arrival counts.
        pytest.param(ARRIVAL - H, ARRIVAL - 2 * H, True, id="after-registered-arrival"),
        pytest.param(ARRIVAL - 3 * H, ARRIVAL - 2 * H, False, id="before-registered-arrival"),
    ],
)
def test_rksp_change_until_the_arrival(
    received: datetime, registered_arrival: datetime | None, refused: bool
) -> None:
    change = rksp(amends=bc10_ref("000007"))
    known = (
        ()
        if registered_arrival is None
        else (bc10_call(number="000007", arrival=registered_arrival),)
    )
    items = apply("ART2-3-CHANGE", change, context(received, bc10=known))
    assert codes(items) == (["DL-001"] if refused else [])
    assert all(isinstance(i, Finding) and i.is_error for i in items)
    # A change is never flagged late and never numbered.
    assert apply("ART2-1-DEADLINE", change, context(received)) == []
    assert registration_kind(change) is None


@pytest.mark.parametrize(
    ("received", "refused"),
    [(ARRIVAL, False), (ARRIVAL + MIN, True), (ARRIVAL + 10 * 24 * H, True)],
)
def test_jksp_change_until_the_first_arrival(received: datetime, refused: bool) -> None:
    # The change's later calls do not help: the first arrival of the schedule is the limit.
    change = jksp((call("001N", ARRIVAL), call("003N", ARRIVAL + 14 * 24 * H)), amends=bc10_ref())
    items = apply("ART2-3-CHANGE", change, context(received))
    assert codes(items) == (["DL-002"] if refused else [])


def test_jksp_change_measured_to_the_registered_first_arrival() -> None:
    change = jksp((call("003N", ARRIVAL + 14 * 24 * H),), amends=bc10_ref())
    registered = bc10_call(document_type=DocumentType.JKSP, arrival=ARRIVAL, voyages=("001N",))
    assert codes(apply("ART2-3-CHANGE", change, context(ARRIVAL + H))) == []
    late = apply("ART2-3-CHANGE", change, context(ARRIVAL + H, bc10=(registered,)))
    assert codes(late) == ["DL-002"]
    assert "2026-03-11 09:30 WIB" in str(late) and "1 h 0 min after" in str(late)


# -- ART2-4-LAND: no RKSP for a land arrival from abroad ---------------------------------------


@pytest.mark.parametrize(
    ("mode", "last_port", "not_required"),
    [
        (TransportMode.LAND, "MYKCH", True),
        (TransportMode.LAND, "IDPNK", False),  # domestic by land: Art. 2(1)(b) still applies
        (TransportMode.SEA, "MYKCH", False),
        (TransportMode.AIR, "SGSIN", False),
    ],
)
def test_rksp_for_a_land_arrival_from_abroad(
    mode: TransportMode, last_port: str, not_required: bool
) -> None:
    document = rksp(conveyance=conveyance(mode), last_port_of_call=last_port)
    late = context(ARRIVAL - H)  # would be 23 h late if it were required
    items = apply("ART2-4-LAND", document, late)
    assert codes(items) == (["DL-003"] if not_required else [])
    assert all(isinstance(i, Finding) and i.severity is Severity.WARNING for i in items)
    assert (lateness(apply("ART2-1-DEADLINE", document, late)) is None) is not_required
    if not_required:
        assert registration_kind(document) is None
        assert accepted_status(document) is DocumentStatus.ACCEPTED
        assert not evaluate(document, late, DEFAULT_RULES).refused
    else:
        assert registration_kind(document) is not None


def test_jksp_by_land_is_not_required_only_when_every_call_comes_from_abroad() -> None:
    land = conveyance(TransportMode.LAND)
    abroad = jksp((call("1", ARRIVAL, "MYKCH"), call("2", ARRIVAL + H, "MYKCH")), conveyance=land)
    mixed = jksp((call("1", ARRIVAL, "MYKCH"), call("2", ARRIVAL + H, "IDPNK")), conveyance=land)
    assert codes(apply("ART2-4-LAND", abroad, context(ARRIVAL))) == ["DL-003"]
    assert codes(apply("ART2-4-LAND", mixed, context(ARRIVAL))) == []
    assert registration_kind(abroad) is None and registration_kind(mixed) is not None


# -- ART4-2-DEADLINE: inward manifest before unloading / at arrival / 24 h / 8 h -----------------


@pytest.mark.parametrize(
    ("mode", "unloading_after", "received_after", "late"),
    [
        # sea: unloading not started -> due arrival + 24 h
        pytest.param(TransportMode.SEA, None, -H, None, id="sea-before-arrival"),
        pytest.param(TransportMode.SEA, None, 24 * H, None, id="sea-24h00"),
        pytest.param(TransportMode.SEA, None, 24 * H + MIN, MIN, id="sea-24h01"),
        # sea: unloading started 2 h after arrival -> due at the unloading start
        pytest.param(TransportMode.SEA, 2 * H, 2 * H, None, id="sea-at-unloading"),
        pytest.param(TransportMode.SEA, 2 * H, 2 * H + MIN, MIN, id="sea-after-unloading"),
        # sea: unloading started after 30 h -> still due arrival + 24 h
        pytest.param(TransportMode.SEA, 30 * H, 25 * H, H, id="sea-late-unloading-24h-cap"),
        # air: 8 h
        pytest.param(TransportMode.AIR, None, 8 * H, None, id="air-8h00"),
        pytest.param(TransportMode.AIR, None, 8 * H + MIN, MIN, id="air-8h01"),
        pytest.param(TransportMode.AIR, H, H + 5 * MIN, 5 * MIN, id="air-after-unloading"),
        # land: at the arrival
        pytest.param(TransportMode.LAND, None, 0 * H, None, id="land-at-arrival"),
        pytest.param(TransportMode.LAND, None, MIN, MIN, id="land-1min-after"),
    ],
)
def test_inward_manifest_deadline(
    mode: TransportMode,
    unloading_after: timedelta | None,
    received_after: timedelta,
    late: timedelta | None,
) -> None:
    unloading = None if unloading_after is None else ARRIVAL + unloading_after
    document = manifest(mode=mode, unloading_started_at=unloading)
    items = apply("ART4-2-DEADLINE", document, context(ARRIVAL + received_after))
    assert lateness(items) == late
    assert codes(items) == ([] if late is None else ["LATE-003"])


@pytest.mark.parametrize("zone", list(ZONES.values()))
@pytest.mark.parametrize("office", [PRIOK, MAKASSAR, JAYAPURA])
def test_inward_manifest_air_limit_in_every_zone(office: str, zone: ZoneInfo) -> None:
    document = manifest(office, mode=TransportMode.AIR, arrival_at=ARRIVAL.astimezone(zone))
    assert lateness(apply("ART4-2-DEADLINE", document, context(ARRIVAL + 8 * H))) is None
    late = apply("ART4-2-DEADLINE", document, context((ARRIVAL + 8 * H + MIN).astimezone(zone)))
    assert lateness(late) == MIN


def test_a_late_manifest_is_still_numbered() -> None:
    document = manifest(mode=TransportMode.AIR)
    result = evaluate(document, context(ARRIVAL + 9 * H), DEFAULT_RULES)
    assert not result.refused and [f.code for f in result.flags] == ["LATE"]
    assert registration_kind(document) is not None
    assert "8 h after the arrival" in str(result.findings)


# -- ART4-10-EMERGENCY: 72 h after unloading ----------------------------------------------------


@pytest.mark.parametrize(
    ("received_after_unloading", "late"),
    [(71 * H, None), (72 * H, None), (72 * H + MIN, MIN), (100 * H, 28 * H)],
)
def test_emergency_72_hours_after_unloading(
    received_after_unloading: timedelta, late: timedelta | None
) -> None:
    unloading = ARRIVAL + H
    document = manifest(emergency=True, unloading_started_at=unloading)
    now = context(unloading + received_after_unloading)
    assert lateness(apply("ART4-10-EMERGENCY", document, now)) == late
    # The ordinary limit (unloading start) does not apply in an emergency.
    assert apply("ART4-2-DEADLINE", document, now) == []


def test_emergency_without_unloading_start_falls_back_to_the_ordinary_limit() -> None:
    document = manifest(emergency=True)
    now = context(ARRIVAL + 24 * H + MIN)
    assert apply("ART4-10-EMERGENCY", document, now) == []
    assert lateness(apply("ART4-2-DEADLINE", document, now)) == MIN


# -- ART4-8-PASSENGERS: air passenger list 1 h before arrival -----------------------------------


@pytest.mark.parametrize(
    ("mode", "passengers", "before", "late"),
    [
        (TransportMode.AIR, True, H, None),
        (TransportMode.AIR, True, H - MIN, MIN),
        (TransportMode.AIR, True, 0 * H, H),
        (TransportMode.AIR, False, 0 * H, None),  # no passenger list in this manifest
        (TransportMode.SEA, True, 0 * H, None),  # the 1 h rule is for air only
    ],
)
def test_air_passenger_list_one_hour_before_arrival(
    mode: TransportMode, passengers: bool, before: timedelta, late: timedelta | None
) -> None:
    document = manifest(mode=mode, passengers=passengers)
    items = apply("ART4-8-PASSENGERS", document, context(ARRIVAL - before))
    assert lateness(items) == late
    assert codes(items) == ([] if late is None else ["LATE-005"])


# -- ART8-2-DEADLINE: outward manifest within 24 h of departure ---------------------------------


@pytest.mark.parametrize(
    ("after_departure", "late"),
    [(-H, None), (24 * H, None), (24 * H + MIN, MIN), (48 * H, 24 * H)],
)
def test_outward_manifest_24_hours_after_departure(
    after_departure: timedelta, late: timedelta | None
) -> None:
    document = manifest(direction=Direction.OUTWARD)
    items = apply("ART8-2-DEADLINE", document, context(ARRIVAL + after_departure))
    assert lateness(items) == late
    assert codes(items) == ([] if late is None else ["LATE-002"])


# -- ART4-11-EXEMPT: short stays without loading or unloading -----------------------------------


@pytest.mark.parametrize(
    ("mode", "nil", "stay", "exempt"),
    [
        (TransportMode.SEA, True, 24 * H, True),
        (TransportMode.SEA, True, 24 * H + MIN, False),
        (TransportMode.AIR, True, 8 * H, True),
        (TransportMode.AIR, True, 8 * H + MIN, False),
        (TransportMode.SEA, False, H, False),  # cargo was worked: a manifest is due
        (TransportMode.LAND, True, H, False),  # no exemption by land
        (TransportMode.SEA, True, None, False),  # departure not stated: cannot tell
    ],
)
@pytest.mark.parametrize("direction", list(Direction))
def test_short_stay_exemption(
    mode: TransportMode, nil: bool, stay: timedelta | None, exempt: bool, direction: Direction
) -> None:
    document = manifest(
        mode=mode,
        direction=direction,
        nil=nil,
        arrival_at=ARRIVAL,
        departure_at=None if stay is None else ARRIVAL + stay,
    )
    long_after = context(ARRIVAL + 10 * 24 * H)
    items = apply("ART4-11-EXEMPT", document, long_after)
    assert codes(items) == (["DL-004"] if exempt else [])
    assert all(isinstance(i, Finding) and i.severity is Severity.WARNING for i in items)
    deadline = "ART4-2-DEADLINE" if direction is Direction.INWARD else "ART8-2-DEADLINE"
    # Not required means never late; required means ten days after arrival is late (when the
    # instant the deadline runs from is stated: an outward one without departure cannot be).
    if direction is Direction.INWARD or document.departure_at is not None:
        assert (lateness(apply(deadline, document, long_after)) is None) is exempt


def test_inward_deadline_ignores_documents_it_does_not_govern() -> None:
    outward = manifest(direction=Direction.OUTWARD)
    no_arrival = dataclasses.replace(manifest(), arrival_at=None)
    later = context(ARRIVAL + 100 * H)
    assert apply("ART4-2-DEADLINE", outward, later) == []
    assert apply("ART4-2-DEADLINE", no_arrival, later) == []
    assert apply("ART4-2-DEADLINE", rksp(), later) == []
