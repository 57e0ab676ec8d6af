"""Deadlines rest on facts: the rules measure from a call's recorded actual arrival/departure.

A call's facts reach the rules on its registered BC 1.0 (``Bc10Call.facts``, read from
``call_facts`` by the pipeline's lookup); here they are built by hand.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from gateway.model import Direction, Finding, TransportMode
from handlers.base import Bc10Call, CallFacts
from tests.unit.rulebook_records import (
    ARRIVAL,
    apply,
    bc10_call,
    bc10_ref,
    call,
    codes,
    context,
    jksp,
    lateness,
    manifest,
    rksp,
)

H = timedelta(hours=1)


def recorded(arrival: datetime | None = None, departure: datetime | None = None) -> Bc10Call:
    """The registered BC 1.0 of the manifests' call (025N) with what was recorded of it."""
    facts = (CallFacts(voyage="025n ", arrival=arrival, departure=departure),)
    return dataclasses.replace(bc10_call(), facts=facts)


def messages(items: list[Finding | object]) -> str:
    return " ".join(i.message_en for i in items if isinstance(i, Finding))


def test_an_inward_manifest_is_late_from_the_recorded_arrival_not_the_one_it_states() -> None:
    # The ship anchored 6 h before the arrival the manifest states: 24 h run from the anchoring.
    document = manifest()  # states ARRIVAL
    at = ARRIVAL + 20 * H
    assert lateness(apply("ART4-2-DEADLINE", document, context(at))) is None
    items = apply("ART4-2-DEADLINE", document, context(at, bc10=(recorded(ARRIVAL - 6 * H),)))
    assert lateness(items) == 2 * H
    assert "24 h after the recorded actual arrival" in messages(items)
    # A later recorded arrival moves the deadline later: the manifest is on time.
    later = context(ARRIVAL + 25 * H, bc10=(recorded(ARRIVAL + 2 * H),))
    assert lateness(apply("ART4-2-DEADLINE", document, later)) is None


def test_facts_of_another_voyage_do_not_count() -> None:
    other = dataclasses.replace(
        bc10_call(voyages=("025N", "026N")),
        facts=(CallFacts(voyage="026N", arrival=ARRIVAL - 6 * H),),
    )
    items = apply("ART4-2-DEADLINE", manifest(), context(ARRIVAL + 20 * H, bc10=(other,)))
    assert lateness(items) is None


def test_an_outward_manifest_is_late_24_h_after_the_recorded_departure() -> None:
    document = manifest(direction=Direction.OUTWARD)  # states departure ARRIVAL
    at = ARRIVAL + 25 * H
    assert lateness(apply("ART8-2-DEADLINE", document, context(at))) == H
    early = context(at, bc10=(recorded(ARRIVAL - 10 * H, departure=ARRIVAL - 2 * H),))
    assert lateness(apply("ART8-2-DEADLINE", document, early)) == 3 * H
    late = context(at, bc10=(recorded(ARRIVAL - 10 * H, departure=ARRIVAL + 2 * H),))
    assert lateness(apply("ART8-2-DEADLINE", document, late)) is None


def test_the_passenger_list_is_measured_from_the_recorded_landing() -> None:
    document = manifest(mode=TransportMode.AIR, passengers=True)
    at = ARRIVAL - H - timedelta(minutes=30)  # on time for the stated landing
    assert lateness(apply("ART4-8-PASSENGERS", document, context(at))) is None
    landed_early = context(at, bc10=(recorded(ARRIVAL - 2 * H),))
    assert lateness(apply("ART4-8-PASSENGERS", document, landed_early)) == 90 * timedelta(minutes=1)


def test_the_short_stay_exemption_rests_on_the_recorded_stay() -> None:
    # States a 20 h stay; the officer recorded 30 h: not exempt, so the nil manifest is late.
    document = manifest(nil=True, departure_at=ARRIVAL + 20 * H)
    assert codes(apply("ART4-11-EXEMPT", document, context(ARRIVAL + 30 * H))) == ["DL-004"]
    stayed = context(ARRIVAL + 30 * H, bc10=(recorded(ARRIVAL, departure=ARRIVAL + 30 * H),))
    assert codes(apply("ART4-11-EXEMPT", document, stayed)) == []
    assert lateness(apply("ART4-2-DEADLINE", document, stayed)) == 6 * H


def test_a_change_after_the_recorded_arrival_is_refused_even_before_the_eta() -> None:
    change = rksp(amends=bc10_ref(), eta=ARRIVAL + 5 * H)
    before_eta = ARRIVAL - H
    assert codes(apply("ART2-3-CHANGE", change, context(before_eta, bc10=(bc10_call(),)))) == []
    arrived = (recorded(ARRIVAL - 2 * H),)
    assert codes(apply("ART2-3-CHANGE", change, context(before_eta, bc10=arrived))) == ["DL-001"]
    # Delayed: the ETA passed, the ship has not arrived (recorded later): still in time.
    delayed = (recorded(ARRIVAL + 3 * H),)
    assert codes(apply("ART2-3-CHANGE", change, context(ARRIVAL + H, bc10=delayed))) == []


def test_a_change_after_the_arrival_that_reports_what_happened_is_the_arrival_report() -> None:
    report = rksp(amends=bc10_ref(), actual_arrival=ARRIVAL + H)
    items = apply("ART2-3-CHANGE", report, context(ARRIVAL + 2 * H, bc10=(bc10_call(),)))
    assert codes(items) == ["ACT-004"]
    assert all(not i.is_error for i in items if isinstance(i, Finding))
    assert "only the actual times are recorded" in messages(items)
    plain = rksp(amends=bc10_ref())
    assert codes(apply("ART2-3-CHANGE", plain, context(ARRIVAL + 2 * H, bc10=(bc10_call(),)))) == [
        "DL-001"
    ]


def test_reported_times_have_happened_and_belong_to_the_call() -> None:
    now = ARRIVAL + 2 * H
    ctx = context(now, bc10=(bc10_call(),))
    future = rksp(amends=bc10_ref(), actual_arrival=now + timedelta(minutes=1))
    [finding] = apply("ART1-18-ACTUAL", future, ctx)
    assert isinstance(finding, Finding) and finding.code == "ACT-001" and finding.is_error
    assert finding.location is not None and finding.location.path == "actual_arrival"
    backwards = rksp(amends=bc10_ref(), actual_arrival=ARRIVAL, actual_departure=ARRIVAL - H)
    assert codes(apply("ART1-18-ACTUAL", backwards, ctx)) == ["ACT-002"]
    # A departure before the arrival recorded earlier is as wrong.
    after_record = context(now, bc10=(recorded(ARRIVAL),))
    departed = rksp(amends=bc10_ref(), actual_departure=ARRIVAL - H)
    assert codes(apply("ART1-18-ACTUAL", departed, after_record)) == ["ACT-002"]
    elsewhere = rksp(amends=bc10_ref(), voyage_number="026N", actual_arrival=ARRIVAL)
    assert codes(apply("ART1-18-ACTUAL", elsewhere, ctx)) == ["ACT-003"]
    fine = rksp(amends=bc10_ref(), actual_arrival=ARRIVAL, actual_departure=ARRIVAL + H)
    assert apply("ART1-18-ACTUAL", fine, ctx) == []


def test_a_jksp_report_is_checked_call_by_call() -> None:
    calls = (
        dataclasses.replace(call("025N", ARRIVAL), actual_arrival=ARRIVAL),
        dataclasses.replace(call("026N", ARRIVAL + 168 * H), actual_arrival=ARRIVAL + 169 * H),
    )
    report = jksp(calls, amends=bc10_ref())
    ctx = context(ARRIVAL + 2 * H, bc10=(bc10_call(voyages=("025N", "026N")),))
    [finding] = apply("ART1-18-ACTUAL", report, ctx)
    assert isinstance(finding, Finding) and finding.code == "ACT-001"
    assert finding.location is not None and finding.location.path == "calls[1]/actual_arrival"


def test_a_jksp_change_is_due_at_the_recorded_first_arrival() -> None:
    # The JKSP's first call is 026N (earliest ETA); it anchored 3 h early.
    registered = dataclasses.replace(
        bc10_call(voyages=("025N", "026N"), arrival=ARRIVAL),
        first_voyage="026N",
        facts=(
            CallFacts(voyage="025N", arrival=ARRIVAL - 10 * H),  # not the first call
            CallFacts(voyage="026N", arrival=ARRIVAL - 3 * H),
        ),
    )
    assert registered.actual_arrival == ARRIVAL - 3 * H
    change = jksp((call("025N", ARRIVAL + 168 * H), call("026N", ARRIVAL)), amends=bc10_ref())
    ctx = context(ARRIVAL - 2 * H, bc10=(registered,))
    assert codes(apply("ART2-3-CHANGE", change, ctx)) == ["DL-002"]
    in_time = context(ARRIVAL - 4 * H, bc10=(registered,))
    assert codes(apply("ART2-3-CHANGE", change, in_time)) == []
