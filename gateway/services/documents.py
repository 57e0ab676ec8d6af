"""The decided documents' rows: documents, dedup keys, registrations, held calls, audit.

Inside the decision's transaction, after numbering.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.engine import Connection

from gateway import pos_ledger
from gateway.model import Amendment, Jksp, Manifest, PosClosing, Rksp
from gateway.model.outcome import DocumentStatus
from gateway.services.plans import Plan, flags
from gateway.services.serialise import finding_json, flag_json, summarize
from gateway.storage import audit, call_register
from gateway.storage import call_facts as facts_store
from gateway.storage import submissions as store
from handlers.calls import reported

log = structlog.get_logger("gateway.pipeline")


def record(conn: Connection, plans: list[Plan], now: datetime) -> None:
    """The batch's documents, their keys, registrations and held calls, and the pos ledger."""
    ids = store.insert_documents(
        conn,
        [
            {
                "submission_id": p.submission.id,
                "doc_index": p.decision.index,
                "nomor_aju": p.nomor_aju,
                "sender": p.submission.sender,
                "office_code": p.decision.office_code,
                "document_type": str(p.decision.document_type),
                "status": str(p.status),
                "sender_reference": p.decision.sender_reference,
                "flags": [flag_json(f) for f in flags(p)],
                "findings": [finding_json(f) for f in p.findings],
                "summary": summarize(p.decision.document),
                "decided_at": now,
            }
            for p in plans
        ],
    )
    dedup, regs, trail = [], [], []
    held_calls: list[tuple[str, int]] = []
    ledger: list[pos_ledger.Accepted] = []
    for plan, document_id in zip(plans, ids, strict=True):
        plan.document_id = document_id
        submission = plan.submission
        if plan.status is not DocumentStatus.REFUSED:
            dedup += [
                {"sender": submission.sender, "key": k, "document_id": document_id}
                for k in plan.keys
            ]
        if plan.stores_control_key:  # spent once received, whatever became of it
            dedup.append(
                {
                    "sender": submission.sender,
                    "key": plan.decision.control_key,
                    "document_id": document_id,
                }
            )
        if plan.registration is not None:
            held_calls += [(str(call), document_id) for call in plan.call_keys]
            ref = plan.registration
            regs.append(
                {
                    "document_id": document_id,
                    "kind": str(ref.kind),
                    "office_code": ref.office_code,
                    "year": ref.date.year,
                    "number": ref.number,
                    "registration_date": ref.date,
                    "registered_at": now,
                }
            )
        document = plan.decision.document
        if plan.status is not DocumentStatus.REFUSED and (
            isinstance(document, Amendment | PosClosing)
            or (isinstance(document, Manifest) and plan.registration is not None)
        ):
            ledger.append(
                pos_ledger.Accepted(
                    document_id=document_id, submission_id=submission.id, document=document
                )
            )
        trail.append(
            audit.entry(
                at=now,
                actor="pipeline",
                action="decided",
                submission_id=submission.id,
                document_id=document_id,
                from_status=store.RECEIVED,
                to_status=str(plan.status),
                detail={
                    "nomor_aju": plan.nomor_aju,
                    "registration": plan.registration.number if plan.registration else None,
                    "errors": [f.code for f in plan.findings if f.is_error],
                },
            )
        )
    store.insert_dedup_keys(conn, dedup)
    store.insert_registrations(conn, regs)
    call_register.insert(conn, held_calls)
    audit.record_many(conn, trail)
    # After the registrations: an amendment or closing may name a BC 1.1 of this batch.
    pos_ledger.record_accepted(conn, ledger, now=now)
    record_reported_facts(conn, plans, now)


def record_reported_facts(conn: Connection, plans: list[Plan], now: datetime) -> None:
    """Actual arrivals and departures an accepted RKSP/JKSP reports become facts of the
    call: of the BC 1.0 it changes (the arrival report), or of its own registration."""
    for plan in plans:
        document = plan.decision.document
        if plan.status is DocumentStatus.REFUSED or not isinstance(document, Rksp | Jksp):
            continue
        facts = reported(document)
        ref = document.amends or plan.registration
        if not facts or ref is None:
            continue
        call = facts_store.find_bc10(conn, ref.office_code, ref.number, ref.date)
        if call is None:
            continue
        for fact in facts:
            events = (
                (facts_store.CallEvent.ARRIVAL, fact.arrival),
                (facts_store.CallEvent.DEPARTURE, fact.departure),
            )
            for event, at in events:
                if at is None:
                    continue
                try:
                    facts_store.record(
                        conn,
                        call,
                        voyage=fact.voyage,
                        event=event,
                        occurred_at=at,
                        source=facts_store.FactSource.CARRIER,
                        recorded_by=f"carrier:{plan.submission.sender}",
                        now=now,
                        document_id=plan.document_id,
                    )
                except facts_store.CallFactError as exc:
                    # The rules checked it (ART1-18-ACTUAL); an officer's record made
                    # meanwhile may still contradict it: the officer's stands.
                    log.warning(
                        "reported fact not recorded",
                        nomor_aju=plan.nomor_aju,
                        reason=exc.finding.code,
                    )
