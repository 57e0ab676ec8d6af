"""Deadlines of Art. 2, 4 and 8: late documents are numbered and flagged, late changes refused.

Every deadline is an absolute instant computed from the instants the document (or the
registered BC 1.0 it changes) states, and compared with the receipt instant ``ctx.now``. The
zone a time is written in therefore never changes a decision; the office's zone (WIB, WITA,
WIT) is only used to show the due time the way the office reads it.

A late filing is still received and numbered (SPEC §2: lateness is the basis for sanctions):
the rule yields ``Flag("LATE", lateness, detail=<finding code>)`` and a WARNING saying by how
much, in minutes. Only a change to an RKSP/JKSP after the arrival is refused (Art. 2(3)).

Deadlines rest on facts: where the actual arrival or departure of the call is recorded
(handlers/calls.py: keyed in by an officer, or in the carrier's arrival report), a manifest's
deadline, the short-stay exemption and the Art. 2(3) limit are measured from it; otherwise
from what the manifest states (its arrival, its departure) or the BC 1.0 announced (its ETA).
A carrier cannot move its own deadline by stating a later arrival once the fact is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from gateway.messages import finding
from gateway.model import (
    Direction,
    Document,
    Finding,
    Flag,
    Jksp,
    Location,
    Manifest,
    Rksp,
    Severity,
    SupportingListKind,
    TransportMode,
)
from handlers.base import RuleContext
from handlers.calls import arrival_of, departure_of, reported
from handlers.rulebook import RuleSeverity, rule

RKSP_LEAD = timedelta(hours=24)  # Art. 2(1), 2(2)
OUTWARD_GRACE = timedelta(hours=24)  # Art. 8(2)
UNLOADING_WINDOW = {  # Art. 4(3): when unloading cannot start at once
    TransportMode.SEA: timedelta(hours=24),
    TransportMode.AIR: timedelta(hours=8),
}
EMERGENCY_WINDOW = timedelta(hours=72)  # Art. 4(10)(b): after unloading
PASSENGER_LIST_LEAD = timedelta(hours=1)  # Art. 4(8)
SHORT_STAY = {  # Art. 4(11), 8(7): no manifest needed for a short stay without cargo work
    TransportMode.SEA: timedelta(hours=24),
    TransportMode.AIR: timedelta(hours=8),
}
DOMESTIC = "ID"  # UN/LOCODEs of the customs territory start with Indonesia's country code


# -- predicates shared with registration and the content rules ------------------------------


def by_land_from_abroad(document: Rksp | Jksp | Manifest) -> bool:
    """A land conveyance whose last port of call (every call's, for a JKSP) is abroad."""
    if document.conveyance.mode is not TransportMode.LAND:
        return False
    if isinstance(document, Jksp):
        lasts = [call.last_port_of_call for call in document.calls]
        return bool(lasts) and all(_abroad(port) for port in lasts)
    return _abroad(document.last_port_of_call)


def _abroad(port: str | None) -> bool:
    return port is not None and not port.upper().startswith(DOMESTIC)


def rksp_not_required(document: Document) -> bool:
    """Art. 2(4): no RKSP/JKSP is required for a conveyance coming from abroad by land."""
    return isinstance(document, Rksp | Jksp) and by_land_from_abroad(document)


def short_stay_exempt(manifest: Manifest, ctx: RuleContext | None = None) -> bool:
    """Art. 4(11), 8(7): a nil manifest of a sea (air) call of at most 24 h (8 h).

    Formalised as: the manifest is nil (nothing loaded or unloaded), both the arrival and the
    departure are known, and departure - arrival is at most the mode's limit. Land calls have
    no exemption. With ``ctx``, the call's recorded actual arrival and departure replace
    what the manifest states.
    """
    limit = SHORT_STAY.get(manifest.conveyance.mode)
    if not manifest.nil or limit is None:
        return False
    arrival, departure = manifest.arrival_at, manifest.departure_at
    if ctx is not None:
        arrival, departure = arrival_of(manifest, ctx)[0], departure_of(manifest, ctx)[0]
    if arrival is None or departure is None:
        return False
    return timedelta(0) <= departure - arrival <= limit


def inward_due(manifest: Manifest, arrival: datetime | None = None) -> tuple[datetime, str] | None:
    """When an inward manifest is due (Art. 4(2), (3)), and which limit that is.

    Formalisation: land: at the arrival (4(2)(b)). Sea and air: "before unloading" (4(2)(a)),
    and "within 24 h (sea) / 8 h (air) of arrival" when unloading cannot start at once (4(3)),
    so due = min(unloading start, arrival + 24 h / 8 h); with no unloading start stated, the
    unloading has not started and due = arrival + 24 h / 8 h. The emergency of 4(10) is
    :func:`emergency_due`'s. ``arrival`` (the call's recorded actual arrival) replaces the
    manifest's. None when no arrival is known (nothing to measure from).
    """
    arrival = arrival or manifest.arrival_at
    if arrival is None:
        return None
    mode = manifest.conveyance.mode
    window = UNLOADING_WINDOW.get(mode)
    if window is None:
        return arrival, "arrival"
    due, basis = arrival + window, f"{int(window.total_seconds() // 3600)}h"
    started = manifest.unloading_started_at
    if started is not None and started < due:
        due, basis = started, "unloading"
    return due, basis


def emergency_due(manifest: Manifest) -> datetime | None:
    """Art. 4(10)(b): 72 h after the unloading an emergency allowed to start first."""
    if not manifest.emergency or manifest.unloading_started_at is None:
        return None
    return manifest.unloading_started_at + EMERGENCY_WINDOW


# -- formatting -----------------------------------------------------------------------------


def format_duration(delta: timedelta) -> str:
    """``1 d 2 h 5 min``. Part of a minute counts as a minute: never "0 min late"."""
    minutes = math.ceil(delta.total_seconds() / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours or days else []
    parts.append(f"{minutes} min")
    return " ".join(parts)


def office_time(instant: datetime, document: Document, ctx: RuleContext) -> str:
    """The instant as the office reads it: ``2026-03-10 09:30 WIB`` (UTC for unknown offices)."""
    office = ctx.reference.offices.get(document.header.office_code)
    local = instant.astimezone(office.zone if office else UTC)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _late(
    code: str, due: datetime, document: Document, ctx: RuleContext, basis: str = ""
) -> Iterator[Finding | Flag]:
    """LATE when received after ``due``; received exactly at ``due`` is in time."""
    if ctx.now <= due:
        return
    lateness = ctx.now - due
    yield Flag(code="LATE", lateness=lateness, detail=code)
    yield finding(
        code,
        severity=Severity.WARNING,
        lateness=format_duration(lateness),
        due=office_time(due, document, ctx),
        basis_id=_BASIS_ID.get(basis, ""),
        basis_en=_BASIS_EN.get(basis, ""),
    )


# -- rules ----------------------------------------------------------------------------------


@rule(
    id="ART2-1-DEADLINE",
    article="Art. 2(1)",
    severity=RuleSeverity.FLAG,
    checks=(
        "An RKSP is received at least 24 h before the ETA it states: due = ETA - 24 h, "
        "late when received after that instant (not for a land arrival from abroad, Art. 2(4))."
    ),
    example="ETA 2026-03-11 09:30 WIB; received 2026-03-10 09:30 WIB: on time; 09:31: LATE 1 min.",
    codes=["LATE-001"],
)
def check_rksp_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Rksp) and document.amends is None and not rksp_not_required(document):
        yield from _late("LATE-001", document.eta - RKSP_LEAD, document, ctx)


@rule(
    id="ART2-2-DEADLINE",
    article="Art. 2(2)",
    severity=RuleSeverity.FLAG,
    checks="A JKSP is received at least 24 h before the earliest ETA of its calls.",
    example="First call 2026-01-07 08:00 WIB; received 2026-01-06 08:30 WIB: LATE 30 min.",
    codes=["LATE-001"],
)
def check_jksp_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if (
        isinstance(document, Jksp)
        and document.amends is None
        and document.calls
        and not rksp_not_required(document)
    ):
        yield from _late("LATE-001", document.first_arrival - RKSP_LEAD, document, ctx)


@rule(
    id="ART2-3-CHANGE",
    article="Art. 2(3)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "A change to an RKSP is received at the latest at the arrival, a change to a JKSP at "
        "the latest at its first arrival. The arrival is the recorded actual arrival of the "
        "registered BC 1.0's (first) call when one is recorded, else its announced one (its "
        "ETA, its first call's), so a change cannot move its own deadline; else the one the "
        "change states. Received exactly at the arrival is in time. A change received later "
        "that reports actual times (the arrival report) is accepted for those facts only: "
        "nothing else in it is taken as a change."
    ),
    example=(
        "Change to BC 1.0 000123 whose ETA was 2026-05-01 08:00 WIB, received 08:01: refused; "
        "recorded as arrived 07:00, received 07:01: refused; with an Ata: accepted as report."
    ),
    codes=["DL-001", "DL-002", "ACT-004"],
)
def check_change_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Rksp | Jksp) or document.amends is None:
        return
    registered = ctx.bc10.get(document.amends)
    if isinstance(document, Rksp):
        code, own = "DL-001", document.eta
    elif document.calls:
        code, own = "DL-002", document.first_arrival
    elif registered is not None:
        code, own = "DL-002", registered.arrival
    else:
        return
    arrival = registered.arrival if registered is not None else own
    if registered is not None and registered.actual_arrival is not None:
        arrival = registered.actual_arrival
    if ctx.now > arrival and reported(document):
        # The arrival report: what happened is no change to the plan (Art. 2(3) limits those).
        yield finding(
            "ACT-004",
            severity=Severity.WARNING,
            number=document.amends.number,
            arrival=office_time(arrival, document, ctx),
            location=Location(path="amends"),
        )
    elif ctx.now > arrival:
        yield finding(
            code,
            number=document.amends.number,
            arrival=office_time(arrival, document, ctx),
            lateness=format_duration(ctx.now - arrival),
            location=Location(path="amends"),
        )


_WHAT_ID = {"arrival": "kedatangan", "departure": "keberangkatan"}


@rule(
    id="ART1-18-ACTUAL",
    article="Art. 1(18), 1(19)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "The actual arrival and departure an RKSP/JKSP reports (XML Ata/Atd, X12 DTM*372/*370, "
        "EDIFACT DTM+178/+186) have happened: neither is later than the receipt, and a call's "
        "departure is not before its arrival (reported, else recorded). In a change, each call "
        "that reports one is a call (voyage) of the amended BC 1.0, whose facts they become."
    ),
    example=(
        "Ata 2026-03-12 06:00 WIB received 05:59 WIB: refused; Atd before Ata: refused; a "
        "change of BC 1.0 000123 (voyage 025N) reporting an Ata for voyage 026N: refused."
    ),
    codes=["ACT-001", "ACT-002", "ACT-003"],
)
def check_reported_facts(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Rksp):
        calls = [("", document.voyage_number, document.actual_arrival, document.actual_departure)]
    elif isinstance(document, Jksp):
        calls = [
            (f"calls[{i}]/", c.voyage_number, c.actual_arrival, c.actual_departure)
            for i, c in enumerate(document.calls)
        ]
    else:
        return
    registered = ctx.bc10.get(document.amends) if document.amends is not None else None
    for where, voyage, arrival, departure in calls:
        if arrival is None and departure is None:
            continue
        for what, at in (("arrival", arrival), ("departure", departure)):
            if at is not None and at > ctx.now:
                yield finding(
                    "ACT-001",
                    what_id=_WHAT_ID[what],
                    what_en=what,
                    at=office_time(at, document, ctx),
                    now=office_time(ctx.now, document, ctx),
                    voyage=voyage,
                    location=Location(path=f"{where}actual_{what}"),
                )
        known = registered.facts_of(voyage) if registered is not None else None
        since = arrival or (known.arrival if known is not None else None)
        if departure is not None and since is not None and departure < since:
            yield finding(
                "ACT-002",
                departure=office_time(departure, document, ctx),
                arrival=office_time(since, document, ctx),
                voyage=voyage,
                location=Location(path=f"{where}actual_departure"),
            )
        if registered is not None and voyage.strip().upper() not in {
            v.strip().upper() for v in registered.voyages
        }:
            yield finding(
                "ACT-003",
                voyage=voyage,
                number=registered.registration.number,
                voyages=", ".join(registered.voyages),
                location=Location(path=f"{where}voyage_number"),
            )


@rule(
    id="ART2-4-LAND",
    article="Art. 2(4)",
    severity=RuleSeverity.WARN,
    checks=(
        "An RKSP/JKSP of a land conveyance whose last port of call is abroad (not ID...) is not "
        "required: it is accepted, said so, and given no BC 1.0 number."
    ),
    example="RKSP of a truck arriving at Entikong from MYKCH: accepted, no BC 1.0 number.",
    codes=["DL-003"],
)
def check_land_arrival(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if rksp_not_required(document):
        yield finding("DL-003", severity=Severity.WARNING)


@rule(
    id="ART4-2-DEADLINE",
    article="Art. 4(2), 4(3)",
    severity=RuleSeverity.FLAG,
    checks=(
        "An inward manifest is received by its due instant: land: the arrival; sea (air): "
        "min(unloading start, arrival + 24 h (8 h)), i.e. before unloading and never later "
        "than 24 h (8 h) after the arrival; arrival + 24 h (8 h) while unloading has not "
        "started. The arrival is the call's recorded actual arrival (its BC 1.0: same office, "
        "conveyance, voyage) when one is recorded, else the one the manifest states. Not for "
        "an emergency with a stated unloading start (ART4-10-EMERGENCY) nor an exempt short "
        "stay (ART4-11-EXEMPT)."
    ),
    example="Air arrival 01:00 UTC, no unloading yet; received 09:00 UTC: on time; 09:01: LATE.",
    codes=["LATE-003"],
)
def check_inward_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if (
        not isinstance(document, Manifest)
        or document.direction is not Direction.INWARD
        or emergency_due(document) is not None
        or short_stay_exempt(document, ctx)
    ):
        return
    arrival, actual = arrival_of(document, ctx)
    due = inward_due(document, arrival)
    if due is not None:
        instant, basis = due
        if actual and basis != "unloading":
            basis += "-actual"
        yield from _late("LATE-003", instant, document, ctx, basis)


_BASIS_ID = {
    "arrival": "pada saat kedatangan",
    "unloading": "sebelum pembongkaran",
    "24h": "24 jam sejak kedatangan",
    "8h": "8 jam sejak kedatangan",
    "arrival-actual": "pada saat kedatangan sebenarnya yang tercatat",
    "24h-actual": "24 jam sejak kedatangan sebenarnya yang tercatat",
    "8h-actual": "8 jam sejak kedatangan sebenarnya yang tercatat",
}
_BASIS_EN = {
    "arrival": "at the arrival",
    "unloading": "before unloading",
    "24h": "24 h after the arrival",
    "8h": "8 h after the arrival",
    "arrival-actual": "at the recorded actual arrival",
    "24h-actual": "24 h after the recorded actual arrival",
    "8h-actual": "8 h after the recorded actual arrival",
}


@rule(
    id="ART4-10-EMERGENCY",
    article="Art. 4(10)",
    severity=RuleSeverity.FLAG,
    checks=(
        "In an emergency (unloaded first), the inward manifest is received at the latest 72 h "
        "after the unloading started. An emergency without a stated unloading start is "
        "measured by ART4-2-DEADLINE."
    ),
    example="Unloading started 2026-03-01 10:00 WIB; received 2026-03-04 10:00 WIB: on time.",
    codes=["LATE-004"],
)
def check_emergency_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Manifest) and document.direction is Direction.INWARD:
        due = emergency_due(document)
        if due is not None:
            yield from _late("LATE-004", due, document, ctx)


@rule(
    id="ART4-8-PASSENGERS",
    article="Art. 4(8)",
    severity=RuleSeverity.FLAG,
    checks=(
        "An air inward manifest that carries the passenger list is received at least 1 h "
        "before the arrival (the recorded actual landing when one is recorded, else the "
        "manifest's); else the passenger list is flagged LATE."
    ),
    example="Landing 12:00 WITA, manifest with passenger list received 11:00 WITA: on time.",
    codes=["LATE-005"],
)
def check_passenger_list(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if (
        isinstance(document, Manifest)
        and document.direction is Direction.INWARD
        and document.conveyance.mode is TransportMode.AIR
        and any(s.kind is SupportingListKind.PASSENGERS for s in document.supporting_lists)
    ):
        arrival = arrival_of(document, ctx)[0]
        if arrival is not None:
            yield from _late("LATE-005", arrival - PASSENGER_LIST_LEAD, document, ctx)


@rule(
    id="ART8-2-DEADLINE",
    article="Art. 8(2)",
    severity=RuleSeverity.FLAG,
    checks=(
        "An outward manifest is received at the latest 24 h after the departure: the call's "
        "recorded actual departure (its BC 1.0: same office, conveyance, voyage) when one is "
        "recorded, else the departure the manifest states."
    ),
    example=(
        "Departure 2026-03-16 22:00 WIB; received 2026-03-17 22:00 WIB: on time; recorded "
        "as departed 20:00: LATE 2 h."
    ),
    codes=["LATE-002"],
)
def check_outward_deadline(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if (
        isinstance(document, Manifest)
        and document.direction is Direction.OUTWARD
        and not short_stay_exempt(document, ctx)
    ):
        departure = departure_of(document, ctx)[0]
        if departure is not None:
            yield from _late("LATE-002", departure + OUTWARD_GRACE, document, ctx)


@rule(
    id="ART4-11-EXEMPT",
    article="Art. 4(11), 8(7)",
    severity=RuleSeverity.WARN,
    checks=(
        "A nil manifest of a call of at most 24 h (sea) / 8 h (air) between the arrival and "
        "the departure (recorded actual ones when recorded, else those it states) is not "
        "required: it is accepted, said so, and never late."
    ),
    example="Nil manifest, sea, arrival 06:00, departure 06:00 next day: not required (warning).",
    codes=["DL-004"],
)
def check_short_stay(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Manifest) and short_stay_exempt(document, ctx):
        limit = SHORT_STAY[document.conveyance.mode]
        yield finding("DL-004", severity=Severity.WARNING, hours=int(limit.total_seconds() // 3600))
