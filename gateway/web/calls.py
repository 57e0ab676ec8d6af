"""The call page: what actually happened at a registered BC 1.0's calls (issue 13, point 6).

``/calls/<office>/<number>/<date>`` shows a registered BC 1.0 (an RKSP, or a JKSP and its
calls) with, per call, what was announced (ETA, ETD), what actually happened (the recorded
arrival and departure: who recorded it, when, from which source) and the manifest deadlines
measured from them, saying which basis each rests on. An officer or head of office **of that
office** records an actual arrival or departure there (a POST with the session's CSRF token,
times typed in the office's local time, audited with the user on the BC 1.0's submission).

Who sees the page: officers and heads of office of that office, operators, and the carrier
that filed the BC 1.0. Anyone else gets 404, as for a BC 1.0 that does not exist: the page
does not tell another office's staff or another carrier that it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.deadline_watch import INWARD_MANIFEST_DUE, OUTWARD_MANIFEST_DUE
from gateway.model import TransportMode
from gateway.model.common import RECORD
from gateway.storage import call_facts
from gateway.storage.call_facts import (
    Bc10Registration,
    CallEvent,
    CallFactError,
    Fact,
    FactSource,
    voyage_key,
)
from gateway.storage.users import Role
from gateway.web.console import _lang, _user, render
from gateway.web.security import Caller, check_csrf, gateway_of

router = APIRouter(include_in_schema=False)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PATH = "/calls/{office}/{number}/{day}"


@dataclass(**RECORD)
class Moment:
    """An instant as the office reads it, with what it rests on."""

    at: datetime  # in the office's zone
    basis: str  # actual, announced
    source: str | None = None  # OFFICER, CARRIER for an actual one
    recorded_by: str | None = None


@dataclass(**RECORD)
class CallRow:
    voyage: str
    eta: datetime | None
    etd: datetime | None
    arrival: Moment | None  # actual when recorded, else announced
    departure: Moment | None
    inward_due: datetime | None
    outward_due: datetime | None


def _local(value: str | None, zone: tzinfo) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(zone) if value else None


def _rows(call: Bc10Registration, zone: tzinfo, recorded: dict[str, Any]) -> list[CallRow]:
    summary = call.summary
    voyages = call.voyages
    etas = summary.get("etas") or [summary.get("eta") or summary.get("first_arrival")]
    etds = summary.get("etds") or [summary.get("etd")]
    if len(etas) != len(voyages):  # a JKSP summarised before calls kept their own times
        etas, etds = [etas[0]] + [None] * (len(voyages) - 1), [None] * len(voyages)
    etds = list(etds) + [None] * (len(voyages) - len(etds))
    mode = TransportMode(summary.get("mode", "SEA"))
    rows = []
    for voyage, eta_text, etd_text in zip(voyages, etas, etds, strict=True):
        eta, etd = _local(eta_text, zone), _local(etd_text, zone)
        facts = recorded.get(voyage_key(voyage))
        arrival = _moment(facts.arrival if facts else None, eta, zone)
        departure = _moment(facts.departure if facts else None, etd, zone)
        rows.append(
            CallRow(
                voyage=voyage,
                eta=eta,
                etd=etd,
                arrival=arrival,
                departure=departure,
                inward_due=arrival.at + INWARD_MANIFEST_DUE[mode] if arrival else None,
                outward_due=departure.at + OUTWARD_MANIFEST_DUE if departure else None,
            )
        )
    return rows


def _moment(fact: Fact | None, announced: datetime | None, zone: tzinfo) -> Moment | None:
    if fact is not None:
        return Moment(
            at=fact.occurred_at.astimezone(zone),
            basis="actual",
            source=str(fact.source),
            recorded_by=fact.recorded_by,
        )
    return Moment(at=announced, basis="announced") if announced is not None else None


def _may_see(who: Caller, call: Bc10Registration) -> bool:
    if who.carrier is not None:
        return who.carrier == call.sender
    if who.has(Role.ADMIN):
        return True
    return who.user is not None and who.user.office_code == call.ref.office_code


def _may_record(who: Caller, call: Bc10Registration) -> bool:
    """Officers and heads of office of the BC 1.0's own office (not operators, not carriers)."""
    return (
        who.has(Role.OFFICER, Role.HEAD_OF_OFFICE)
        and who.user is not None
        and who.user.office_code == call.ref.office_code
    )


def _find(request: Request, office: str, number: str, day: str) -> Bc10Registration | None:
    try:
        registered = date.fromisoformat(day)
    except ValueError:
        return None
    with gateway_of(request).db.engine.connect() as conn:
        return call_facts.find_bc10(conn, office, number, registered)


def _page(
    request: Request,
    who: Caller,
    call: Bc10Registration,
    status_code: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    gateway = gateway_of(request)
    office = gateway.pipeline.reference().offices.get(call.ref.office_code)
    zone: tzinfo = office.zone if office is not None else ZoneInfo("UTC")
    with gateway.db.engine.connect() as conn:
        recorded = call_facts.current(conn, [call.registration_id]).get(call.registration_id, {})
        history = call_facts.history(conn, call.registration_id)
    now = gateway.clock().astimezone(zone)
    return render(
        request,
        "call.html",
        who,
        status_code,
        call=call,
        rows=_rows(call, zone, recorded),
        history=[
            (f, f.occurred_at.astimezone(zone), f.recorded_at.astimezone(zone)) for f in history
        ],
        zone_name=now.tzname(),
        now=now,
        may_record=_may_record(who, call),
        events=list(CallEvent),
        error=error,
        values=values or {},
    )


@router.get(PATH, response_class=HTMLResponse)
def call_page(
    request: Request,
    office: Annotated[str, PathParam(pattern=r"^\d{6}$")],
    number: Annotated[str, PathParam(pattern=r"^\d{6}$")],
    day: Annotated[str, PathParam(max_length=10)],
) -> HTMLResponse:
    who = _user(request)
    found = _find(request, office, number, day)
    if found is None or not _may_see(who, found):
        return render(request, "message.html", who, 404, message="not_found")
    return _page(request, who, found)


@router.post(PATH, response_class=HTMLResponse)
async def record_fact(
    request: Request,
    office: Annotated[str, PathParam(pattern=r"^\d{6}$")],
    number: Annotated[str, PathParam(pattern=r"^\d{6}$")],
    day: Annotated[str, PathParam(max_length=10)],
    voyage: Annotated[str, Form(max_length=35)] = "",
    event: Annotated[str, Form(max_length=10)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    who = _user(request)
    check_csrf(request, who, csrf)
    if not who.has(Role.OFFICER, Role.HEAD_OF_OFFICE):
        return render(request, "message.html", who, 403, message="forbidden")
    call = await run_in_threadpool(_find, request, office, number, day)
    if call is None or not _may_record(who, call):
        # Another office's BC 1.0 is answered as one that does not exist.
        return render(request, "message.html", who, 404, message="not_found")
    values = {"voyage": voyage, "event": event, "at": at}
    if any(_CONTROL.search(v) for v in values.values()):
        printable = {k: _CONTROL.sub("", v) for k, v in values.items()}
        return await run_in_threadpool(
            _page, request, who, call, 400, error="control_characters", values=printable
        )
    if event not in CallEvent.__members__:
        return await run_in_threadpool(
            _page, request, who, call, 400, error="event_required", values=values
        )
    gateway = gateway_of(request)
    office_data = gateway.pipeline.reference().offices.get(call.ref.office_code)
    zone: tzinfo = office_data.zone if office_data is not None else ZoneInfo("UTC")
    kind = CallEvent(event)
    assert who.user is not None  # an officer

    def recorded() -> None:
        occurred = call_facts.parse_local(at, zone, kind)
        with gateway.db.transaction() as conn:
            call_facts.record(
                conn,
                call,
                voyage=voyage,
                event=kind,
                occurred_at=occurred,
                source=FactSource.OFFICER,
                recorded_by=who.actor,
                now=gateway.clock(),
                shown_in=zone,
            )

    try:
        await run_in_threadpool(recorded)
    except CallFactError as exc:
        text = exc.finding.message_en if _lang(request) == "en" else exc.finding.message_id
        return await run_in_threadpool(_page, request, who, call, 400, error=text, values=values)
    return RedirectResponse(
        f"/calls/{call.ref.office_code}/{call.ref.number}/{call.ref.date.isoformat()}",
        status_code=303,
    )
