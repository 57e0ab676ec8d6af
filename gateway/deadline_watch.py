"""The deadline watch: what the scheduler reports to the offices (SPEC §6, P-10/BC/2006).

- **Overdue inward manifests** (Art. 4(2), 4(3)): a conveyance whose registered BC 1.0 said
  it arrives at an office, whose inward-manifest deadline has passed (24 h after arrival by
  sea, 8 h by air, at arrival by land), and for which no BC 1.1 of the same call (same
  office, same IMO number or conveyance name, same voyage) is registered.
- **Late RKSP/JKSP** (Art. 2(1), 2(2)): BC 1.0s registered with the LATE flag.

The arrival is the one the BC 1.0 announced (its ETA; a JKSP's first arrival), the best the
gateway knows until the console records actual arrivals. :func:`watch` only reads; the
scheduler decides how often it runs and where the report goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from gateway.model import DocumentType, RegistrationKind, TransportMode
from gateway.model.common import RECORD
from gateway.reference import ReferenceData
from gateway.storage.calls import RegisteredDocument, registered_since

# After arrival, when the inward manifest is due at the latest (Art. 4(3); land: at arrival).
INWARD_MANIFEST_DUE = {
    TransportMode.SEA: timedelta(hours=24),
    TransportMode.AIR: timedelta(hours=8),
    TransportMode.LAND: timedelta(0),
}
# How far back the watch looks: a BC 1.0 is filed days, not months, before its arrival.
DEFAULT_LOOKBACK = timedelta(days=30)


@dataclass(**RECORD)
class OverdueManifest:
    office_code: str
    bc10_number: str
    bc10_nomor_aju: str
    conveyance: str
    imo_number: str | None
    voyages: tuple[str, ...]
    mode: TransportMode
    arrival: datetime  # as announced, in the office's time zone
    due: datetime  # in the office's time zone
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

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "since": self.since.isoformat(),
            "overdue_manifests": [
                {
                    "office": m.office_code,
                    "bc10_number": m.bc10_number,
                    "bc10_nomor_aju": m.bc10_nomor_aju,
                    "conveyance": m.conveyance,
                    "imo_number": m.imo_number,
                    "voyages": list(m.voyages),
                    "mode": str(m.mode),
                    "arrival": m.arrival.isoformat(),
                    "due": m.due.isoformat(),
                    "overdue_minutes": int(m.overdue_by.total_seconds() // 60),
                }
                for m in self.overdue_manifests
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


def watch(
    conn: Connection,
    *,
    now: datetime,
    reference: ReferenceData,
    since: datetime | None = None,
) -> WatchReport:
    """Overdue inward manifests and late BC 1.0s among documents registered since ``since``."""
    since = since if since is not None else now - DEFAULT_LOOKBACK
    bc10s = registered_since(conn, RegistrationKind.BC10, since)
    manifests = [
        m
        for m in registered_since(conn, RegistrationKind.BC11, since)
        if _is_inward(m.document_type, m.summary)
    ]
    overdue = []
    late = []
    for doc in bc10s:
        zone = (
            reference.offices[doc.office_code].zone
            if doc.office_code in reference.offices
            else None
        )
        summary = doc.summary
        voyages = _voyages(summary)
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
                    voyages=voyages,
                    registered_at=doc.registered_at.astimezone(zone),
                    late_by=timedelta(seconds=int(lateness)),
                )
            )
        arrival_text = summary.get("first_arrival") or summary.get("eta")
        mode_text = summary.get("mode")
        if arrival_text is None or mode_text is None:
            continue
        mode = TransportMode(mode_text)
        arrival = datetime.fromisoformat(arrival_text).astimezone(zone)
        due = arrival + INWARD_MANIFEST_DUE[mode]
        if now <= due or any(_same_call(doc, voyages, m) for m in manifests):
            continue
        overdue.append(
            OverdueManifest(
                office_code=doc.office_code,
                bc10_number=doc.number,
                bc10_nomor_aju=doc.nomor_aju,
                conveyance=summary.get("conveyance", ""),
                imo_number=summary.get("imo"),
                voyages=voyages,
                mode=mode,
                arrival=arrival,
                due=due,
                overdue_by=now - due,
            )
        )
    return WatchReport(
        generated_at=now,
        since=since,
        overdue_manifests=tuple(sorted(overdue, key=lambda m: m.due)),
        late_bc10=tuple(late),
    )


def _is_inward(document_type: str, summary: dict[str, Any]) -> bool:
    if document_type == DocumentType.INWARD_MANIFEST:
        return True
    # A nil manifest says its direction by the instant it carries (arrival or departure).
    return document_type == DocumentType.NIL_MANIFEST and "arrival_at" in summary


def _voyages(summary: dict[str, Any]) -> tuple[str, ...]:
    voyages = summary.get("voyages") or [summary.get("voyage_number")]
    return tuple(str(v) for v in voyages if v)


def _same_call(
    bc10: RegisteredDocument, voyages: tuple[str, ...], manifest: RegisteredDocument
) -> bool:
    if manifest.office_code != bc10.office_code:
        return False
    if str(manifest.summary.get("voyage_number", "")).strip().upper() not in {
        v.strip().upper() for v in voyages
    }:
        return False
    imo, other_imo = bc10.summary.get("imo"), manifest.summary.get("imo")
    if imo and other_imo:
        return bool(imo == other_imo)
    name = str(bc10.summary.get("conveyance", ""))
    return (
        " ".join(name.split()).casefold()
        == " ".join(str(manifest.summary.get("conveyance", "")).split()).casefold()
    )
