"""The deadline watch: what the scheduler reports to the offices (SPEC §6, P-10/BC/2006).

A *call* is a registered BC 1.0 at an office: an RKSP, or one call of a JKSP (its voyage, its
own ETA/ETD). For each call registered in the look-back window the watch reports:

- **Overdue inward manifests** (Art. 4(2), 4(3)): the inward-manifest deadline has passed
  (24 h after the arrival by sea, 8 h by air, at the arrival by land) and no inward (or
  inward nil) BC 1.1 of the same call (same office, same IMO number or conveyance name,
  same voyage) is registered.
- **Overdue outward manifests** (Art. 8(2): at the latest 24 h after the departure): the
  departure plus 24 h has passed and no outward (or outward nil) BC 1.1 of the same call is
  registered: same voyage, or (a carrier numbers its outbound voyage apart, 025N in, 025S
  out) an outward manifest of the conveyance at the office stating a departure between this
  call's arrival and its next one. This is how a recorded departure without its outward
  manifest shows.
- **Late RKSP/JKSP** (Art. 2(1), 2(2)): BC 1.0s registered with the LATE flag.

Deadlines rest on facts: the arrival (departure) is the call's **actual** one when it is
recorded (gateway/storage/call_facts.py: an officer's record, else the carrier's arrival
report), else the one the BC 1.0 **announced** (its ETA, ETD); every item says which
(``basis``) and, for an actual one, who recorded it (``source``). A call with neither an
actual nor an announced departure has no outward deadline to watch. :func:`watch` only reads;
the scheduler decides how often it runs and where the report goes.
"""

from __future__ import annotations

import enum
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.engine import Connection

from gateway.model import DocumentType, RegistrationKind, TransportMode
from gateway.model.common import RECORD
from gateway.reference import ReferenceData
from gateway.storage import call_facts
from gateway.storage.call_facts import Recorded, voyage_key
from gateway.storage.calls import RegisteredDocument, registered_since

# After arrival, when the inward manifest is due at the latest (Art. 4(3); land: at arrival).
INWARD_MANIFEST_DUE = {
    TransportMode.SEA: timedelta(hours=24),
    TransportMode.AIR: timedelta(hours=8),
    TransportMode.LAND: timedelta(0),
}
# After departure, when the outward manifest is due at the latest (Art. 8(2), every mode).
OUTWARD_MANIFEST_DUE = timedelta(hours=24)
# How far back the watch looks: a BC 1.0 is filed days, not months, before its arrival.
DEFAULT_LOOKBACK = timedelta(days=30)


class Basis(enum.StrEnum):
    """What a deadline is measured from."""

    ACTUAL = "actual"  # the recorded actual arrival/departure
    ANNOUNCED = "announced"  # what the BC 1.0 announced (ETA, ETD)


@dataclass(**RECORD)
class OverdueManifest:
    """A call past its inward-manifest deadline with no inward BC 1.1."""

    office_code: str
    bc10_number: str
    bc10_date: date
    bc10_nomor_aju: str
    conveyance: str
    imo_number: str | None
    voyages: tuple[str, ...]
    mode: TransportMode
    arrival: datetime  # in the office's time zone
    basis: Basis
    source: str | None  # for an actual arrival: OFFICER or CARRIER
    due: datetime  # in the office's time zone
    overdue_by: timedelta


@dataclass(**RECORD)
class OverdueOutward:
    """A call past its outward-manifest deadline (Art. 8(2)) with no outward BC 1.1."""

    office_code: str
    bc10_number: str
    bc10_date: date
    bc10_nomor_aju: str
    conveyance: str
    imo_number: str | None
    voyages: tuple[str, ...]
    mode: TransportMode
    departure: datetime  # in the office's time zone
    basis: Basis
    source: str | None
    due: datetime
    overdue_by: timedelta


@dataclass(**RECORD)
class LateBc10:
    office_code: str
    bc10_number: str
    nomor_aju: str
    document_type: str  # RKSP or JKSP
    conveyance: str
    voyages: tuple[str, ...]
    registered_at: datetime
    late_by: timedelta


@dataclass(**RECORD)
class WatchReport:
    generated_at: datetime
    since: datetime
    overdue_manifests: tuple[OverdueManifest, ...]
    late_bc10: tuple[LateBc10, ...]
    overdue_outward: tuple[OverdueOutward, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "since": self.since.isoformat(),
            "overdue_manifests": [
                {
                    **_call_json(m),
                    "arrival": m.arrival.isoformat(),
                    "basis": str(m.basis),
                    "source": m.source,
                    "due": m.due.isoformat(),
                    "overdue_minutes": int(m.overdue_by.total_seconds() // 60),
                }
                for m in self.overdue_manifests
            ],
            "overdue_outward": [
                {
                    **_call_json(m),
                    "departure": m.departure.isoformat(),
                    "basis": str(m.basis),
                    "source": m.source,
                    "due": m.due.isoformat(),
                    "overdue_minutes": int(m.overdue_by.total_seconds() // 60),
                }
                for m in self.overdue_outward
            ],
            "late_bc10": [
                {
                    "office": r.office_code,
                    "bc10_number": r.bc10_number,
                    "nomor_aju": r.nomor_aju,
                    "document_type": r.document_type,
                    "conveyance": r.conveyance,
                    "voyages": list(r.voyages),
                    "registered_at": r.registered_at.isoformat(),
                    "late_minutes": int(r.late_by.total_seconds() // 60),
                }
                for r in self.late_bc10
            ],
        }


def _call_json(m: OverdueManifest | OverdueOutward) -> dict[str, Any]:
    return {
        "office": m.office_code,
        "bc10_number": m.bc10_number,
        "bc10_date": m.bc10_date.isoformat(),
        "bc10_nomor_aju": m.bc10_nomor_aju,
        "conveyance": m.conveyance,
        "imo_number": m.imo_number,
        "voyages": list(m.voyages),
        "mode": str(m.mode),
    }


@dataclass(**RECORD)
class _Call:
    voyages: tuple[str, ...]  # one, except for a JKSP summarised before calls kept their ETAs
    eta: datetime
    etd: datetime | None


def _the_call(w: _Watched) -> dict[str, Any]:
    """What an overdue inward and an overdue outward report say alike about the call."""
    doc, summary = w.doc, w.doc.summary
    return {
        "office_code": doc.office_code,
        "bc10_number": doc.number,
        "bc10_date": doc.registration_date,
        "bc10_nomor_aju": doc.nomor_aju,
        "conveyance": summary.get("conveyance", ""),
        "imo_number": summary.get("imo"),
        "voyages": w.voyages,
        "mode": w.mode,
    }


def watch(
    conn: Connection,
    *,
    now: datetime,
    reference: ReferenceData,
    since: datetime | None = None,
) -> WatchReport:
    """Overdue manifests and late BC 1.0s among documents registered since ``since``."""
    since = since if since is not None else now - DEFAULT_LOOKBACK
    bc10s = registered_since(conn, RegistrationKind.BC10, since)
    bc11s = registered_since(conn, RegistrationKind.BC11, since)
    inward = _Index(m for m in bc11s if _is_inward(m.document_type, m.summary))
    outward = _Index(m for m in bc11s if _is_outward(m.document_type, m.summary))
    recorded = call_facts.registered_since(conn, since)
    late = []
    watched: list[_Watched] = []
    for doc in bc10s:
        office = reference.offices.get(doc.office_code)
        zone: tzinfo | None = office.zone if office is not None else None
        summary = doc.summary
        lateness = next(
            (f.get("lateness_seconds") for f in doc.flags if f.get("code") == "LATE"), None
        )
        if lateness:
            late.append(
                LateBc10(
                    office_code=doc.office_code,
                    bc10_number=doc.number,
                    nomor_aju=doc.nomor_aju,
                    document_type=doc.document_type,
                    conveyance=summary.get("conveyance", ""),
                    voyages=_voyages(summary),
                    registered_at=doc.registered_at.astimezone(zone),
                    late_by=timedelta(seconds=int(lateness)),
                )
            )
        mode_text = summary.get("mode")
        if mode_text is None:
            continue
        facts = recorded.get(doc.registration_id, {})
        for call in _calls(summary):
            fact = next((facts[k] for k in map(voyage_key, call.voyages) if k in facts), None)
            arrival, arrival_basis, arrival_source = _instant(call.eta, fact, "arrival")
            departure, departure_basis, departure_source = _instant(call.etd, fact, "departure")
            assert arrival is not None  # every call announced one
            watched.append(
                _Watched(
                    doc=doc,
                    voyages=call.voyages,
                    mode=TransportMode(mode_text),
                    zone=zone,
                    arrival=arrival,
                    arrival_basis=arrival_basis,
                    arrival_source=arrival_source,
                    departure=departure,
                    departure_basis=departure_basis,
                    departure_source=departure_source,
                )
            )
    next_arrival = _next_arrivals(watched)
    overdue: list[OverdueManifest] = []
    overdue_out: list[OverdueOutward] = []
    for w in watched:
        doc = w.doc
        zone = w.zone
        due = w.arrival + INWARD_MANIFEST_DUE[w.mode]
        if now > due and not any(_same_call(doc, w.voyages, m) for m in inward.candidates(doc)):
            overdue.append(
                OverdueManifest(
                    **_the_call(w),
                    arrival=w.arrival.astimezone(zone),
                    basis=w.arrival_basis,
                    source=w.arrival_source,
                    due=due.astimezone(zone),
                    overdue_by=now - due,
                )
            )
        if w.departure is None:
            continue
        due = w.departure + OUTWARD_MANIFEST_DUE
        until = next_arrival.get(id(w))
        if now > due and not any(
            _same_call(doc, w.voyages, m) or _departs_between(doc, m, w.arrival, until)
            for m in outward.candidates(doc)
        ):
            overdue_out.append(
                OverdueOutward(
                    **_the_call(w),
                    departure=w.departure.astimezone(zone),
                    basis=w.departure_basis,
                    source=w.departure_source,
                    due=due.astimezone(zone),
                    overdue_by=now - due,
                )
            )
    return WatchReport(
        generated_at=now,
        since=since,
        overdue_manifests=tuple(sorted(overdue, key=lambda m: m.due)),
        late_bc10=tuple(late),
        overdue_outward=tuple(sorted(overdue_out, key=lambda m: m.due)),
    )


@dataclass(**RECORD)
class _Watched:
    """One call with the instants its deadlines are measured from."""

    doc: RegisteredDocument
    voyages: tuple[str, ...]
    mode: TransportMode
    zone: tzinfo | None
    arrival: datetime
    arrival_basis: Basis
    arrival_source: str | None
    departure: datetime | None
    departure_basis: Basis
    departure_source: str | None


def _conveyance_keys(summary: dict[str, Any]) -> tuple[str, ...]:
    """Keys a conveyance is found under: its IMO number and its name (either may decide)."""
    keys = [f"name:{' '.join(str(summary.get('conveyance', '')).split()).casefold()}"]
    if summary.get("imo"):
        keys.append(f"imo:{summary['imo']}")
    return tuple(keys)


class _Index:
    """Registered BC 1.1s by office and conveyance, so a call looks only at its own."""

    def __init__(self, manifests: Iterable[RegisteredDocument]) -> None:
        self._by: dict[tuple[str, str], list[RegisteredDocument]] = defaultdict(list)
        for manifest in manifests:
            for key in _conveyance_keys(manifest.summary):
                self._by[(manifest.office_code, key)].append(manifest)

    def candidates(self, bc10: RegisteredDocument) -> list[RegisteredDocument]:
        seen: dict[int, RegisteredDocument] = {}
        for key in _conveyance_keys(bc10.summary):
            for manifest in self._by.get((bc10.office_code, key), ()):
                seen.setdefault(manifest.registration_id, manifest)
        return list(seen.values())


def _next_arrivals(watched: list[_Watched]) -> dict[int, datetime]:
    """For each call, the conveyance's next arrival at the same office (when there is one)."""
    by_conveyance: dict[tuple[str, str], list[_Watched]] = defaultdict(list)
    for w in watched:
        by_conveyance[(w.doc.office_code, _conveyance_keys(w.doc.summary)[-1])].append(w)
    found: dict[int, datetime] = {}
    for calls in by_conveyance.values():
        calls.sort(key=lambda w: w.arrival)
        for here, following in itertools.pairwise(calls):
            found[id(here)] = following.arrival
    return found


def _departs_between(
    bc10: RegisteredDocument,
    manifest: RegisteredDocument,
    arrival: datetime,
    next_arrival: datetime | None,
) -> bool:
    """An outward manifest of the conveyance stating a departure after this call's arrival
    and before its next one: a carrier numbers its outbound voyage apart (025N in, 025S out),
    and an RKSP announces only the inbound one."""
    stated = manifest.summary.get("departure_at")
    if not stated or not _same_conveyance(bc10.summary, manifest.summary):
        return False
    departs = datetime.fromisoformat(stated)
    return arrival <= departs and (next_arrival is None or departs < next_arrival)


def _instant(
    announced: datetime | None, fact: Recorded | None, event: str
) -> tuple[datetime | None, Basis, str | None]:
    """The recorded actual instant of ``event`` when there is one, else the announced one."""
    recorded = getattr(fact, event) if fact is not None else None
    if recorded is not None:
        return recorded.occurred_at, Basis.ACTUAL, str(recorded.source)
    return announced, Basis.ANNOUNCED, None


def _calls(summary: dict[str, Any]) -> list[_Call]:
    """The calls of a BC 1.0 as its summary keeps them, each with its announced times."""
    voyages = _voyages(summary)
    etas, etds = summary.get("etas"), summary.get("etds") or []
    if etas and len(etas) == len(voyages):  # a JKSP: every call on its own
        return [
            _Call(
                voyages=(voyage,),
                eta=datetime.fromisoformat(eta),
                etd=datetime.fromisoformat(etd) if etd else None,
            )
            for voyage, eta, etd in zip(
                voyages, etas, etds + [None] * (len(voyages) - len(etds)), strict=True
            )
        ]
    arrival = summary.get("first_arrival") or summary.get("eta")
    if arrival is None:
        return []
    etd = summary.get("etd")
    return [
        _Call(
            voyages=voyages,
            eta=datetime.fromisoformat(arrival),
            etd=datetime.fromisoformat(etd) if etd else None,
        )
    ]


def _is_inward(document_type: str, summary: dict[str, Any]) -> bool:
    if document_type == DocumentType.INWARD_MANIFEST:
        return True
    # A nil manifest says its direction by the instant it carries (arrival or departure).
    return document_type == DocumentType.NIL_MANIFEST and "arrival_at" in summary


def _is_outward(document_type: str, summary: dict[str, Any]) -> bool:
    if document_type == DocumentType.OUTWARD_MANIFEST:
        return True
    return document_type == DocumentType.NIL_MANIFEST and "departure_at" in summary


def _voyages(summary: dict[str, Any]) -> tuple[str, ...]:
    return call_facts.voyages_of(summary)


def _same_call(
    bc10: RegisteredDocument, voyages: tuple[str, ...], manifest: RegisteredDocument
) -> bool:
    if manifest.office_code != bc10.office_code:
        return False
    if voyage_key(str(manifest.summary.get("voyage_number", ""))) not in {
        voyage_key(v) for v in voyages
    }:
        return False
    return _same_conveyance(bc10.summary, manifest.summary)


def _same_conveyance(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """IMO numbers decide when both state one; else the names, ignoring case and spacing."""
    imo, other_imo = one.get("imo"), other.get("imo")
    if imo and other_imo:
        return bool(imo == other_imo)
    name = str(one.get("conveyance", ""))
    return (
        " ".join(name.split()).casefold()
        == " ".join(str(other.get("conveyance", "")).split()).casefold()
    )
