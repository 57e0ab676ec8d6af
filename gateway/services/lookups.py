"""What the rules may ask of the register (handlers.base protocols), answered from storage.

Each look-up reads with a connection of its own, outside the processing transaction: the rules
run before it (see gateway/services/decide.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from gateway.call_keys import CallKey, RegisteredCall
from gateway.model import Conveyance, DocumentType, RegistrationRef
from gateway.model.registered_pos import RegisteredPos
from gateway.storage import call_facts as facts_store
from gateway.storage import call_register, registered
from gateway.storage import pos as pos_store
from gateway.storage import submissions as store
from gateway.storage.database import Database
from handlers.base import Bc10Call, CallFacts, Holder


class Bc11Lookup:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        with self.db.engine.connect() as conn:
            return store.bc11_pos_numbers(conn, ref)

    def holder(self, ref: RegistrationRef) -> Holder | None:
        with self.db.engine.connect() as conn:
            found = registered.bc11_sender(conn, ref)
        return None if found is None else holder(*found)

    def pos_records(self, ref: RegistrationRef) -> Mapping[str, RegisteredPos] | None:
        with self.db.engine.connect() as conn:
            document_id = pos_store.bc11_document_id(conn, ref)
            if document_id is None:
                return None
            found = pos_store.registered_pos(conn, document_id)
        return {number: stored.state for number, stored in found.items()}


class CallLookup:
    """The calls registered BC 1.0s and BC 1.1s hold (table call_keys), for the rules."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def holder(self, keys: Sequence[CallKey]) -> RegisteredCall | None:
        wanted = [str(key) for key in keys]
        with self.db.engine.connect() as conn:
            found = call_register.find(conn, wanted)
        return next((found[key] for key in wanted if key in found), None)


class Bc10Lookup:
    """Registered BC 1.0s, read from their documents' summaries (see serialise.summarize)."""

    # A conveyance calls at an office a few times a year; the newest few are its candidates.
    CANDIDATES = 50

    def __init__(self, db: Database) -> None:
        self.db = db
        # One lookup serves one document's rules, several of which ask for the same call.
        self._seen: dict[tuple[str, str, str | None], tuple[Bc10Call, ...]] = {}

    def get(self, ref: RegistrationRef) -> Bc10Call | None:
        with self.db.engine.connect() as conn:
            found = self._calls(conn, registered.bc10(conn, ref, limit=self.CANDIDATES))
        return found[0] if found else None

    def for_conveyance(self, office_code: str, conveyance: Conveyance) -> tuple[Bc10Call, ...]:
        key = (office_code, conveyance.name.upper(), conveyance.imo_number)
        if key not in self._seen:
            with self.db.engine.connect() as conn:
                rows = registered.bc10_for_conveyance(
                    conn,
                    office_code,
                    conveyance.name,
                    conveyance.imo_number,
                    limit=self.CANDIDATES,
                )
                self._seen[key] = self._calls(conn, rows)
        return self._seen[key]

    @staticmethod
    def _calls(conn: Connection, rows: list[registered.Registered]) -> tuple[Bc10Call, ...]:
        recorded = facts_store.current(conn, [row.registration_id for row in rows])
        calls = []
        for row in rows:
            summary = row.summary
            arrival = summary.get("first_arrival") or summary.get("eta")
            if arrival is None:  # summarised before BC 1.0s recorded their arrival
                continue
            voyages = summary.get("voyages") or [summary.get("voyage_number")]
            calls.append(
                Bc10Call(
                    registration=row.ref,
                    document_type=DocumentType(row.document_type),
                    conveyance_name=summary.get("conveyance", ""),
                    imo_number=summary.get("imo"),
                    arrival=datetime.fromisoformat(arrival),
                    voyages=tuple(str(v) for v in voyages if v),
                    holder=holder(row.sender, summary),
                    first_voyage=first_voyage(summary),
                    facts=tuple(
                        CallFacts(
                            voyage=r.voyage,
                            arrival=r.arrival.occurred_at if r.arrival else None,
                            departure=r.departure.occurred_at if r.departure else None,
                        )
                        for r in recorded.get(row.registration_id, {}).values()
                    ),
                )
            )
        return tuple(calls)


def first_voyage(summary: Mapping[str, Any]) -> str | None:
    """The voyage of a JKSP's first call (by ETA), when its summary lists the ETAs."""
    voyages, etas = summary.get("voyages") or [], summary.get("etas") or []
    if not voyages or len(etas) != len(voyages):
        return None
    return str(min(zip(etas, voyages, strict=True), key=lambda p: datetime.fromisoformat(p[0]))[1])


def holder(sender: str, summary: Mapping[str, Any] | None) -> Holder:
    summary = summary or {}
    return Holder(
        sender=sender,
        carrier_npwp=summary.get("carrier_npwp"),
        carrier_name=summary.get("carrier_name"),
    )
