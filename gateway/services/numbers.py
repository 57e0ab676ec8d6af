"""Which documents are new, and the numbers they get: duplicates, nomor aju, registrations.

These run inside the decision's transaction, on the plans of one batch.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from gateway.call_keys import RegisteredCall, keys_of
from gateway.messages import finding
from gateway.model import RegistrationKind, RegistrationRef
from gateway.model.outcome import DocumentStatus
from gateway.numbering import aju_prefix, check_supplied, format_nomor_aju
from gateway.reference import ReferenceData
from gateway.services.plans import Decision, Plan
from gateway.storage import call_register, counters
from gateway.storage import submissions as store
from handlers.register import call_taken
from handlers.registration import accepted_status, registration_kind
from parsers.base import Format

# Numbering a file whose office is unknown still needs a calendar day; WIB is the capital's.
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")


def plan_of(
    submission: store.Submission,
    fmt: Format,
    decision: Decision,
    reference: ReferenceData,
) -> Plan:
    """A decided document as the transaction takes it up: the keys it would hold, its call."""
    document = decision.document
    file_key = f"sha:{submission.sha256}:{decision.index}"
    plan = Plan(
        submission=submission,
        fmt=fmt,
        decision=decision,
        findings=list(decision.findings),
        # What the document means, not how its file spells it (gateway/model/digest.py);
        # the file's bytes are still looked up for documents accepted before schema 0008.
        keys=[decision.content_key] if decision.content_key else [file_key],
        legacy_keys=[file_key] if decision.content_key else [],
    )
    office = reference.offices.get(decision.office_code or "")
    if document is not None and office is not None and registration_kind(document):
        plan.call_keys = keys_of(document, office.zone)
    supplied = decision.sender_reference
    if supplied:
        carrier = reference.carriers.get(submission.sender)
        problem = check_supplied(supplied, aju_code=carrier.aju_code if carrier else "")
        if problem:
            plan.findings.append(finding("AJU-001", nomor_aju=supplied, detail=problem))
        else:
            plan.supplied_ok = True
            plan.keys.append(f"aju:{supplied}")
    return plan


def find_duplicates(conn: Connection, plans: list[Plan], reference: ReferenceData) -> None:
    """Same sender, same content or same nomor aju as an accepted document: refused.
    A call that has its BC 1.0 (a call and direction that has its BC 1.1) already,
    whoever sent it: refused.

    An envelope control number used before (X12 ISA13) refuses every document of the
    envelope, whatever their content, and nothing in it is numbered again.

    Each check reads the keys committed before this transaction and those of the batch's
    earlier documents; a twin another worker commits meanwhile makes this transaction
    fail on the keys' primary keys, and its retry finds the twin here.
    """
    controlled = [p for p in plans if p.decision.control_key]
    used = store.find_duplicates(
        conn, [(p.submission.sender, p.decision.control_key or "") for p in controlled]
    )
    first_of: dict[tuple[str, str], Plan] = {}
    reused_envelope: set[int] = set()
    for plan in controlled:
        pair = (plan.submission.sender, plan.decision.control_key or "")
        owner = first_of.setdefault(pair, plan)
        reused = pair in used or owner.submission.id != plan.submission.id
        if reused:
            control = pair[1].rsplit(":", 1)[-1]
            plan.findings.append(finding("DUP-003", control=control))
            reused_envelope.add(id(plan))
        elif owner is plan:
            plan.stores_control_key = True
    # A document refused by a rule is still told it is a duplicate (a resent RKSP is told
    # its call has its BC 1.0, and that it was received before); a reused envelope is
    # refused as such only.
    candidates = [
        p
        for p in plans
        if p.decision.document is not None
        and p.submission.sender in reference.carriers
        and id(p) not in reused_envelope
    ]
    taken = store.find_duplicates(
        conn,
        [(p.submission.sender, k) for p in candidates for k in (*p.keys, *p.legacy_keys)],
    )
    in_batch: dict[tuple[str, str], Plan] = {}
    for plan in candidates:
        for key in (*plan.keys, *plan.legacy_keys):
            pair = (plan.submission.sender, key)
            earlier: Plan | str | None = taken.get(pair) or in_batch.get(pair)
            if earlier is not None:
                plan.duplicate_of, plan.duplicate_key = earlier, key
                break
        if plan.duplicate_of is None and not plan.refused:
            for key in plan.keys:
                in_batch[(plan.submission.sender, key)] = plan

    # A supplied nomor aju shares its namespace with the ones the gateway generated for
    # the same sender code: one the gateway gave out already is a duplicate too.
    supplied = [p for p in candidates if p.supplied_ok and p.duplicate_of is None]
    given = store.nomor_aju_taken(conn, [p.decision.sender_reference or "" for p in supplied])
    for plan in supplied:
        aju = plan.decision.sender_reference or ""
        if aju in given:
            plan.duplicate_of, plan.duplicate_key = aju, f"aju:{aju}"

    # One number per call, whoever sends it (gateway/call_keys.py).
    keyed = [p for p in plans if p.call_keys and not p.refused]
    registered = call_register.find(conn, [str(k) for p in keyed for k in p.call_keys])
    calls: dict[str, Plan] = {}
    for plan in keyed:
        for call in plan.call_keys:
            holder = registered.get(str(call)) or calls.get(str(call))
            if holder is not None:
                plan.call_taken, plan.call_key = holder, str(call)
                break
        if plan.call_taken is None and plan.duplicate_of is None:
            calls.update((str(call), plan) for call in plan.call_keys)


def number(conn: Connection, plans: list[Plan], reference: ReferenceData, now: datetime) -> None:
    """Nomor aju for every document, then registration numbers for accepted ones.

    Each sequence is bumped once per batch by the number of values it needs, so the
    counters' rows are locked once and the values follow the documents' order.
    """
    carriers = reference.carriers
    generated: dict[str, list[Plan]] = defaultdict(list)
    for plan in plans:
        if plan.supplied_ok and plan.duplicate_of is None and not plan.refused:
            plan.nomor_aju = plan.decision.sender_reference or ""
            continue
        office = reference.offices.get(plan.decision.office_code or "")
        day = plan.submission.received_at.astimezone(office.zone if office else DEFAULT_ZONE)
        carrier = carriers.get(plan.submission.sender)
        prefix = aju_prefix(
            plan.decision.office_code,
            plan.decision.document_type,
            carrier.aju_code if carrier else "XXXXXX",
            day.date(),
        )
        generated[prefix].append(plan)
    # Senders may supply numbers of this namespace: the sequence skips the ones in use
    # (by an earlier document, or supplied by another document of this batch).
    supplied = {p.nomor_aju for p in plans if p.nomor_aju}
    for prefix, group in generated.items():
        waiting = list(group)
        while waiting:
            first = counters.allocate(conn, f"aju:{prefix}", len(waiting))
            offered = [format_nomor_aju(prefix, first + n) for n in range(len(waiting))]
            used = supplied | store.nomor_aju_taken(conn, offered)
            free = [aju for aju in offered if aju not in used]
            for plan, aju in zip(waiting, free, strict=False):
                plan.nomor_aju = aju
            waiting = waiting[len(free) :]

    sequences: dict[tuple[str, str, int], list[Plan]] = defaultdict(list)
    for plan in plans:
        if plan.duplicate_of is not None:
            earlier = plan.duplicate_of
            if plan.duplicate_key.startswith("aju:"):
                plan.findings.append(finding("DUP-002", nomor_aju=plan.decision.sender_reference))
            else:
                aju = earlier.nomor_aju if isinstance(earlier, Plan) else earlier
                plan.findings.append(finding("DUP-001", nomor_aju=aju))
        document = plan.decision.document
        if plan.refused or document is None:
            plan.status = DocumentStatus.REFUSED
            continue
        plan.status = accepted_status(document)
        kind = registration_kind(document)
        office = reference.offices.get(plan.decision.office_code or "")
        if kind is not None and office is not None:
            year = now.astimezone(office.zone).year
            sequences[(office.code, str(kind), year)].append(plan)
            plan.kind = kind
    for (office_code, kind_name, year), group in sequences.items():
        kind = RegistrationKind(kind_name)
        sequence = counters.registration_sequence(office_code, kind_name, year)
        first = counters.allocate(conn, sequence, len(group))
        zone = reference.offices[office_code].zone
        for offset, plan in enumerate(group):
            plan.registration = RegistrationRef(
                kind=kind,
                office_code=office_code,
                number=f"{first + offset:06d}",
                date=now.astimezone(zone).date(),
            )
    # Refusals naming the number of the call: known now for an earlier plan of the batch.
    for plan in plans:
        holder, document = plan.call_taken, plan.decision.document
        if holder is None or document is None:
            continue
        if isinstance(holder, Plan):
            if holder.registration is None:  # it held the call's keys: it was numbered
                raise RuntimeError(f"{holder.nomor_aju} holds a call but has no number")
            holder = RegisteredCall(
                key=plan.call_key,
                registration=holder.registration,
                document_type=holder.decision.document_type,
            )
        refusal = call_taken(document, plan.call_keys, holder)
        at = next((i for i, f in enumerate(plan.findings) if f.code.startswith("DUP-")), None)
        plan.findings.insert(len(plan.findings) if at is None else at, refusal)
