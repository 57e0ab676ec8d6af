"""Calls: the registered BC 1.0 a manifest belongs to, and what actually happened at it.

A *call* is a registered BC 1.0 at an office (an RKSP, or one call of a JKSP): conveyance and
voyage. What actually happened there, the arrival (Art. 1 item 18: anchored, landed, at the
border post) and the departure (item 19), is recorded as the call's *facts*: keyed in by an
officer of the office, or reported by the carrier in a change of the BC 1.0 sent after the
fact, the *arrival report* (gateway/storage/call_facts.py). The deadline rules and the
deadline watch rest on those facts when they are recorded, on what the documents announce
otherwise, and say which.
"""

from __future__ import annotations

from datetime import datetime

from gateway.model import Conveyance, Jksp, Manifest, Rksp
from handlers.base import Bc10Call, CallFacts, RuleContext


def same_conveyance(call: Bc10Call, conveyance: Conveyance) -> bool:
    """IMO numbers decide when both state one; else the names, ignoring case and spacing."""
    if call.imo_number and conveyance.imo_number:
        return call.imo_number == conveyance.imo_number
    return _name(call.conveyance_name) == _name(conveyance.name)


def _name(name: str) -> str:
    return " ".join(name.split()).casefold()


def bc10_of_call(manifest: Manifest, ctx: RuleContext) -> Bc10Call | None:
    """The BC 1.0 of the same call: same office, conveyance and voyage (the latest one)."""
    voyage = manifest.voyage_number.strip().upper()
    for call in ctx.bc10.for_conveyance(manifest.header.office_code, manifest.conveyance):
        if same_conveyance(call, manifest.conveyance) and voyage in {
            v.strip().upper() for v in call.voyages
        }:
            return call
    return None


def recorded(manifest: Manifest, ctx: RuleContext) -> CallFacts | None:
    """The facts recorded of the manifest's call, or None (no BC 1.0 found, nothing recorded)."""
    call = bc10_of_call(manifest, ctx)
    return call.facts_of(manifest.voyage_number) if call is not None else None


def arrival_of(manifest: Manifest, ctx: RuleContext) -> tuple[datetime | None, bool]:
    """The call's arrival and whether it is the recorded actual one (else the manifest's)."""
    facts = recorded(manifest, ctx)
    if facts is not None and facts.arrival is not None:
        return facts.arrival, True
    return manifest.arrival_at, False


def departure_of(manifest: Manifest, ctx: RuleContext) -> tuple[datetime | None, bool]:
    """The call's departure and whether it is the recorded actual one (else the manifest's)."""
    facts = recorded(manifest, ctx)
    if facts is not None and facts.departure is not None:
        return facts.departure, True
    return manifest.departure_at, False


def reported(document: Rksp | Jksp) -> tuple[CallFacts, ...]:
    """The calls of an RKSP/JKSP that report an actual arrival or departure."""
    if isinstance(document, Rksp):
        calls = [(document.voyage_number, document.actual_arrival, document.actual_departure)]
    else:
        calls = [(c.voyage_number, c.actual_arrival, c.actual_departure) for c in document.calls]
    return tuple(
        CallFacts(voyage=voyage, arrival=arrival, departure=departure)
        for voyage, arrival, departure in calls
        if arrival is not None or departure is not None
    )
