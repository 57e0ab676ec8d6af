"""``pde-gateway amendments|pos|watch|calls``: decisions, open pos, deadlines and their facts.

Until the console has buttons for them (issue 6): approving or refusing manifest amendments
(Art. 6(2)), the open pos of an office with their age (Art. 10), and the deadline watch; the
actual arrival and departure of a BC 1.0's calls (``calls arrived|departed|show``), which the
deadlines rest on (gateway/storage/call_facts.py). Messages are in Indonesian and English,
like every response of the gateway.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import click

from gateway import pos_ledger
from gateway.cli_shared import json_option, open_gateway
from gateway.deadline_watch import watch as run_watch
from gateway.decision_responses import DecisionResponder
from gateway.model.findings import Finding
from gateway.storage import amendments as amendment_store
from gateway.storage import call_facts
from gateway.storage import pos as pos_store
from gateway.storage.amendments import AmendmentStatus
from gateway.storage.call_facts import CallEvent


def _fail(reason: Finding) -> click.ClickException:
    return click.ClickException(f"{reason.code}: {reason.message_id} / {reason.message_en}")


# -- amendments -------------------------------------------------------------------------------


@click.group()
def amendments() -> None:
    """Manifest amendments (perbaikan, Art. 6): list, approve, refuse."""


@amendments.command("list")
@click.option("--office", default=None, help="Customs office code, e.g. 040300.")
@click.option(
    "--status",
    type=click.Choice([str(s) for s in AmendmentStatus]),
    default=None,
    help="Only amendments in this status (e.g. PENDING_APPROVAL).",
)
@json_option
@click.pass_context
def amendments_list(
    ctx: click.Context, office: str | None, status: str | None, as_json: bool
) -> None:
    """Amendments, oldest first."""
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        rows = amendment_store.listing(conn, office_code=office, status=status)
    gateway.db.dispose()
    if as_json:
        click.echo(json.dumps([_amendment_json(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("tidak ada perbaikan / no amendments")
    for r in rows:
        decided = f"  {r.decided_by} {r.decided_at:%Y-%m-%d %H:%M}" if r.decided_at else ""
        click.echo(
            f"{r.nomor_aju}  kind {r.kind}  BC 1.1 {r.bc11_number}/{r.bc11_date}  "
            f"pos {r.pos_number}  {r.status}{decided}"
        )


@amendments.command("approve")
@click.argument("key", metavar="ID")
@click.option("--by", "by", required=True, help="The head of office deciding (name or user).")
@json_option
@click.pass_context
def amendments_approve(ctx: click.Context, key: str, by: str, as_json: bool) -> None:
    """Approve amendment ID (nomor aju or document id): the pos gets its next version.

    The carrier gets the approval as a response on the channel the amendment came by."""
    gateway = open_gateway(ctx)
    try:
        decision = pos_ledger.approve(
            gateway.db, key, by=by, now=gateway.clock(), respond=DecisionResponder(gateway.pipeline)
        )
    except pos_ledger.DecisionError as exc:
        raise _fail(exc.finding) from exc
    finally:
        gateway.db.dispose()
    _print_decision(decision, as_json)


@amendments.command("refuse")
@click.argument("key", metavar="ID")
@click.option("--by", "by", required=True, help="The head of office deciding (name or user).")
@click.option("--reason", required=True, help="Why, as the carrier will read it.")
@json_option
@click.pass_context
def amendments_refuse(ctx: click.Context, key: str, by: str, reason: str, as_json: bool) -> None:
    """Refuse amendment ID (nomor aju or document id); the pos stays as it is.

    The carrier gets the refusal, with the reason, on the channel the amendment came by."""
    gateway = open_gateway(ctx)
    try:
        decision = pos_ledger.refuse(
            gateway.db,
            key,
            by=by,
            reason=reason,
            now=gateway.clock(),
            respond=DecisionResponder(gateway.pipeline),
        )
    except pos_ledger.DecisionError as exc:
        raise _fail(exc.finding) from exc
    finally:
        gateway.db.dispose()
    _print_decision(decision, as_json)


def _print_decision(decision: pos_ledger.Decision, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "nomor_aju": decision.nomor_aju,
                    "status": str(decision.status),
                    "decided_by": decision.decided_by,
                    "decided_at": decision.decided_at.isoformat(),
                    "reason": decision.reason,
                    "pos": decision.pos_number,
                    "pos_version": decision.pos_version,
                    "message_id": decision.message.message_id,
                    "message_en": decision.message.message_en,
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(decision.message.message_id)
    click.echo(decision.message.message_en)


def _amendment_json(r: amendment_store.AmendmentRow) -> dict[str, Any]:
    return {
        "nomor_aju": r.nomor_aju,
        "document_id": r.document_id,
        "sender": r.sender,
        "office": r.office_code,
        "bc11": {"number": r.bc11_number, "date": r.bc11_date.isoformat()},
        "pos": r.pos_number,
        "kind": r.kind,
        "status": str(r.status),
        "reason": r.reason,
        "requested_by": r.requested_by,
        "requested_at": r.requested_at.isoformat(),
        "changes": r.content.get("changes", []),
        "merged_pos": r.content.get("merged_pos", []),
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        "decision_reason": r.decision_reason,
    }


# -- pos --------------------------------------------------------------------------------------


@click.group("pos")
def pos() -> None:
    """Pos of registered BC 1.1 documents: open pos (Art. 10), a pos's history (Art. 6)."""


@pos.command("open")
@click.option("--office", required=True, help="Customs office code, e.g. 040300.")
@json_option
@click.pass_context
def pos_open(ctx: click.Context, office: str, as_json: bool) -> None:
    """Open and partially closed pos of the office, with their age and what remains."""
    gateway = open_gateway(ctx)
    now = gateway.clock()
    with gateway.db.engine.connect() as conn:
        rows = pos_store.open_pos(conn, office)
    gateway.db.dispose()
    lines = [_open_json(r, now) for r in rows]
    if as_json:
        click.echo(json.dumps(lines, ensure_ascii=False, indent=2))
        return
    if not lines:
        click.echo(f"tidak ada pos terbuka di {office} / no open pos at {office}")
    for line in lines:
        remaining = line["remaining"]
        click.echo(
            f"BC 1.1 {line['bc11']['number']}/{line['bc11']['date']}  pos {line['pos']}  "
            f"{line['transport_document']}  {line['status']}  age {line['age_hours']} h  "
            f"remaining {remaining['packages']} pkg / {remaining['gross_weight_kg']} kg"
        )


def _open_json(r: pos_store.OpenPos, now: datetime) -> dict[str, Any]:
    weight_left = (
        None if r.gross_weight_kg is None else r.gross_weight_kg - r.gross_weight_kg_closed
    )
    return {
        "office": r.office_code,
        "bc11": {
            "number": r.bc11_number,
            "date": r.bc11_date.isoformat(),
            "nomor_aju": r.bc11_nomor_aju,
        },
        "registered_at": r.registered_at.isoformat(),
        "age_hours": int((now - r.registered_at).total_seconds() // 3600),
        "group": r.group,
        "pos": r.pos_number,
        "transport_document": r.transport_document,
        "status": str(r.status),
        "version": r.version,
        "packages": r.packages,
        "gross_weight_kg": None if r.gross_weight_kg is None else str(r.gross_weight_kg),
        "closed": {"packages": r.packages_closed, "gross_weight_kg": str(r.gross_weight_kg_closed)},
        "remaining": {
            "packages": None if r.packages is None else r.packages - r.packages_closed,
            "gross_weight_kg": None if weight_left is None else str(weight_left),
        },
    }


@pos.command("show")
@click.argument("bc11", metavar="BC11")
@click.argument("number", metavar="POS")
@json_option
@click.pass_context
def pos_show(ctx: click.Context, bc11: str, number: str, as_json: bool) -> None:
    """A pos as it stands and its versions. BC11: the manifest's nomor aju; POS: 2, 1.1, ..."""
    wanted = _pos_number(number)
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        document_id = pos_store.bc11_by_nomor_aju(conn, bc11)
        found = {} if document_id is None else pos_store.registered_pos(conn, document_id, [wanted])
        stored = found.get(wanted)
        versions = [] if stored is None else pos_store.history(conn, stored.id)
        closings = [] if stored is None else pos_store.closings(conn, stored.id)
    gateway.db.dispose()
    if stored is None:
        raise click.ClickException(
            f"tidak ada pos {wanted} pada BC 1.1 {bc11} / no pos {wanted} in BC 1.1 {bc11}"
        )
    state = stored.state
    out = {
        "pos": state.number,
        "group": state.group,
        "status": str(state.status),
        "version": state.version,
        "current": None if state.pos is None else pos_store.pos_to_json(state.pos),
        "packages_closed": state.packages_closed,
        "gross_weight_kg_closed": str(state.gross_weight_kg_closed),
        "versions": [
            {
                "version": v.version,
                "amendment": v.amendment_nomor_aju,
                "valid_from": v.valid_from.isoformat(),
                "content": pos_store.pos_to_json(v.pos),
            }
            for v in versions
        ],
        "closings": [
            {
                "nomor_aju": c.document_nomor_aju,
                "document": {
                    "code": c.closing_document.code,
                    "number": c.closing_document.number,
                    "date": c.closing_document.date.isoformat(),
                },
                "packages": c.packages_closed,
                "gross_weight_kg": None
                if c.gross_weight_kg_closed is None
                else str(c.gross_weight_kg_closed),
                "closed_at": c.closed_at.isoformat(),
            }
            for c in closings
        ],
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"pos {state.number}  group {state.group}  {state.status}  version {state.version}")
    for v in versions:
        made = f"amendment {v.amendment_nomor_aju}" if v.amendment_nomor_aju else "registered"
        click.echo(
            f"  v{v.version} {v.valid_from:%Y-%m-%d %H:%M}  {made}  "
            f"{v.pos.transport_document.number}  consignee {v.pos.consignee.name}  "
            f"{v.pos.packages.count} {v.pos.packages.kind_code}  {v.pos.gross_weight_kg} kg"
        )
    for c in closings:
        click.echo(
            f"  closed by {c.closing_document.code} {c.closing_document.number} "
            f"{c.closing_document.date}: {c.packages_closed or '-'} pkg / "
            f"{c.gross_weight_kg_closed or '-'} kg"
        )


def _pos_number(text: str) -> str:
    """``2`` -> 000200000000, ``1.1`` or ``1/1`` -> 000100010000; 12 digits as they are."""
    if len(text) == 12 and text.isdigit():
        return text
    parts = text.replace("/", ".").split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise click.BadParameter(f"{text!r} is not a pos number such as 2, 1.1 or 000100010000")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return "".join(f"{n:04d}" for n in numbers)


# -- the deadline watch -----------------------------------------------------------------------


@click.command("watch")
@json_option
@click.pass_context
def watch(ctx: click.Context, as_json: bool) -> None:
    """Manifests overdue after arrival (Art. 4) and after departure (Art. 8(2)); late RKSP/JKSP.

    Each deadline is measured from the recorded actual arrival/departure when there is one,
    else from the BC 1.0's announced ETA/ETD; the basis is printed with it.
    """
    gateway = open_gateway(ctx)
    reference = gateway.pipeline.reference()
    with gateway.db.engine.connect() as conn:
        report = run_watch(conn, now=gateway.clock(), reference=reference)
    gateway.db.dispose()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    data = report.to_json()
    click.echo(
        f"manifes terlambat / overdue manifests: {len(data['overdue_manifests'])}; "
        f"outward manifest terlambat / overdue outward manifests: "
        f"{len(data['overdue_outward'])}; "
        f"RKSP/JKSP terlambat / late RKSP/JKSP: {len(data['late_bc10'])}"
    )
    for m in data["overdue_manifests"]:
        click.echo(
            f"  {m['office']} BC 1.0 {m['bc10_number']} {m['conveyance']} "
            f"voyage {'/'.join(m['voyages'])}: arrival {m['arrival']} "
            f"({_basis(m)}), inward due {m['due']}, {m['overdue_minutes']} min overdue"
        )
    for m in data["overdue_outward"]:
        click.echo(
            f"  {m['office']} BC 1.0 {m['bc10_number']} {m['conveyance']} "
            f"voyage {'/'.join(m['voyages'])}: departure {m['departure']} "
            f"({_basis(m)}), outward due {m['due']}, {m['overdue_minutes']} min overdue"
        )
    for r in data["late_bc10"]:
        click.echo(
            f"  {r['office']} {r['document_type']} BC 1.0 {r['bc10_number']} {r['conveyance']}: "
            f"{r['late_minutes']} min late"
        )


def _basis(item: dict[str, Any]) -> str:
    if item["basis"] == "actual":
        who = "petugas / officer" if item["source"] == "OFFICER" else "pengangkut / carrier"
        return f"sebenarnya / actual, {who}"
    return "sesuai pemberitahuan / announced"


# -- actual arrival and departure of a call ----------------------------------------------------


@click.group()
def calls() -> None:
    """Actual arrival and departure of a registered BC 1.0's calls (the deadlines rest on them)."""


def _record_fact(
    ctx: click.Context,
    event: CallEvent,
    office: str,
    number: str,
    day: str,
    voyage: str | None,
    at: str,
    by: str,
) -> None:
    gateway = open_gateway(ctx)
    reference = gateway.pipeline.reference()
    zone = reference.offices[office].zone if office in reference.offices else UTC
    try:
        when = date.fromisoformat(day)
        with gateway.db.transaction() as conn:
            call = call_facts.find_bc10(conn, office, number, when)
            if call is None:
                raise call_facts.not_registered(office, number, day)
            fact = call_facts.record(
                conn,
                call,
                voyage=voyage or call.voyages[0],
                event=event,
                occurred_at=call_facts.parse_local(at, zone, event),
                source=call_facts.FactSource.OFFICER,
                recorded_by=f"user:{by}",
                now=gateway.clock(),
                shown_in=zone,
            )
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date YYYY-MM-DD", param_hint="DATE") from None
    except call_facts.CallFactError as exc:
        raise _fail(exc.finding) from None
    finally:
        gateway.db.dispose()
    local = fact.occurred_at.astimezone(zone)
    click.echo(
        f"BC 1.0 {number} {day} voyage {fact.voyage}: {event.lower()} "
        f"{local:%Y-%m-%d %H:%M} {local.tzname()} dicatat / recorded"
    )


_CALL_ARGS = (
    click.argument("office"),
    click.argument("number"),
    click.argument("day", metavar="DATE"),
    click.option("--voyage", default=None, help="The call's voyage (a JKSP's; default: first)."),
    click.option(
        "--at",
        "at",
        required=True,
        help="When, in the office's local time: 2026-03-12T05:30 (or with an offset).",
    ),
    click.option("--by", "by", required=True, help="The officer recording it (name or user)."),
)


def _with_call_args(func: Any) -> Any:
    for decorator in reversed(_CALL_ARGS):
        func = decorator(func)
    return func


@calls.command("arrived")
@_with_call_args
@click.pass_context
def calls_arrived(
    ctx: click.Context, office: str, number: str, day: str, voyage: str | None, at: str, by: str
) -> None:
    """Record the actual arrival of BC 1.0 NUMBER of DATE at OFFICE (Art. 1 item 18)."""
    _record_fact(ctx, CallEvent.ARRIVAL, office, number, day, voyage, at, by)


@calls.command("departed")
@_with_call_args
@click.pass_context
def calls_departed(
    ctx: click.Context, office: str, number: str, day: str, voyage: str | None, at: str, by: str
) -> None:
    """Record the actual departure of BC 1.0 NUMBER of DATE at OFFICE (Art. 1 item 19)."""
    _record_fact(ctx, CallEvent.DEPARTURE, office, number, day, voyage, at, by)


@calls.command("show")
@click.argument("office")
@click.argument("number")
@click.argument("day", metavar="DATE")
@json_option
@click.pass_context
def calls_show(ctx: click.Context, office: str, number: str, day: str, as_json: bool) -> None:
    """Every actual arrival and departure recorded of a BC 1.0, oldest first."""
    gateway = open_gateway(ctx)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date YYYY-MM-DD", param_hint="DATE") from None
    with gateway.db.engine.connect() as conn:
        call = call_facts.find_bc10(conn, office, number, when)
        history = call_facts.history(conn, call.registration_id) if call is not None else []
    gateway.db.dispose()
    if call is None:
        raise _fail(call_facts.not_registered(office, number, day).finding)
    rows = [
        {
            "voyage": f.voyage,
            "event": str(f.event),
            "at": f.occurred_at.isoformat(),
            "source": str(f.source),
            "recorded_by": f.recorded_by,
            "recorded_at": f.recorded_at.isoformat(),
        }
        for f in history
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("belum ada yang dicatat / nothing recorded")
    for r in rows:
        click.echo(
            f"{r['voyage']}  {r['event']}  {r['at']}  {r['source']}  {r['recorded_by']}  "
            f"{r['recorded_at']}"
        )
