"""The web console: server-rendered pages (Jinja2), no build step, Indonesian and English.

Pages: log in/out, dashboard, a submission (raw file, parsed summary, reasons with their
place in the file, acknowledgments, timeline from the audit trail), search, upload (carrier
staff, with progress); paper documents keyed in by an officer are manual.py's. Every state
change is a POST carrying the session's CSRF token and is written to the audit trail with the
user.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Connection

from gateway import deadline_watch, pos_ledger
from gateway.decision_responses import DecisionResponder
from gateway.login_guard import LoginGuard
from gateway.reference import Agreement, agency_from_mapping
from gateway.storage import amendments as amendment_store
from gateway.storage import audit, credentials, pull_endpoints, reference_store, users, views
from gateway.storage import pos as pos_store
from gateway.storage import submissions as store
from gateway.storage.raw_files import RawFileStore
from gateway.storage.tables import acks, audit_log
from gateway.storage.users import Role
from gateway.web import readable
from gateway.web.i18n import LANGUAGES, translate
from gateway.web.security import COOKIE, Caller, caller, check_csrf, gateway_of

if TYPE_CHECKING:  # the gateway composes the web, never the other way round
    from gateway.app import Gateway

router = APIRouter(include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
RAW_PREVIEW_BYTES = 200_000
# The submission page: documents per page, acknowledgment bodies shown up to this many bytes
# (the download has them whole), the latest audit events.
PAGE_DOCUMENTS = 20
ACK_PREVIEW_BYTES = 20_000
TIMELINE_EVENTS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get("lang") or "id"
    return wanted if wanted in LANGUAGES else "id"


def render(
    request: Request, template: str, who: Caller | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = _lang(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": lambda key: translate(lang, key),
            "lang": lang,
            "who": who,
            "Role": Role,
            "csrf": who.session.csrf_token if who and who.session else "",
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, httponly=True, samesite="strict")
    return response


def _user(request: Request) -> Caller:
    who = caller(request)
    if who is None or who.user is None:
        raise _LoginFirst()
    return who


class _LoginFirst(Exception):
    """Raised by pages that need a user; answered with a redirect to /login."""


# -- log in / out ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None)


@router.post("/login", response_class=HTMLResponse, response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    gateway = gateway_of(request)
    guard: LoginGuard = request.app.state.login_guard
    # The socket's peer, or what a proxy named in web_trusted_proxies says (web/server.py).
    peer = request.client.host if request.client else "?"
    if _CONTROL.search(username):  # no user name has them; PostgreSQL refuses NUL in text
        return render(request, "login.html", None, 401, error="bad_login")
    outcome = await run_in_threadpool(_log_in, gateway, guard, username, password, peer)
    if outcome.locked_out:
        return render(request, "login.html", None, 429, error="locked")
    if outcome.token is None:
        # Waited here, not in a worker thread nor in a transaction: a flood of failures holds
        # neither threads nor database connections while it waits.
        await asyncio.sleep(outcome.delay)
        return render(request, "login.html", None, 401, error="bad_login")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        outcome.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
    )
    return response


@dataclass(frozen=True, kw_only=True, slots=True)
class _LoginOutcome:
    token: str | None  # the new session's cookie, None when refused
    locked_out: bool  # refused by the log-in limits, the password unchecked
    delay: float  # to wait before answering a wrong password


def _log_in(
    gateway: Gateway, guard: LoginGuard, username: str, password: str, peer: str
) -> _LoginOutcome:
    """Count the attempt first, then check the password only if the limits allow it
    (gateway/login_guard.py); every refusal is audited with the peer address."""
    attempt = guard.attempt(username, peer)
    token = None
    with gateway.db.transaction() as conn:
        user = users.authenticate(conn, username, password) if attempt.allowed else None
        now = gateway.clock()
        if user is None:
            detail = {"user": username, "locked_out": not attempt.allowed}
            audit.record(conn, at=now, actor=f"web:{peer}", action="login failed", detail=detail)
        else:
            token, _session = users.open_session(conn, user, now=now)
            audit.record(conn, at=now, actor=f"user:{user.username}", action="login", detail={})
    if token is not None:
        guard.succeeded(username, peer)
    return _LoginOutcome(token=token, locked_out=not attempt.allowed, delay=attempt.delay)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    who = _user(request)
    check_csrf(request, who, csrf)
    token = request.cookies.get(COOKIE, "")
    gateway = gateway_of(request)
    with gateway.db.transaction() as conn:
        users.close_session(conn, token)
        audit.record(conn, at=gateway.clock(), actor=who.actor, action="logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


# -- dashboard, search, submission ----------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    who = _user(request)
    gateway = gateway_of(request)
    reference = gateway.pipeline.reference()  # before: SQLite allows one open transaction
    with gateway.db.engine.connect() as conn:
        board = views.dashboard(conn, who.scope, now=gateway.clock())
        report = deadline_watch.watch(conn, now=gateway.clock(), reference=reference)

    # Overdue conveyances are the offices' business: carriers see their own late filings.
    def ours(o: deadline_watch.OverdueManifest | deadline_watch.OverdueOutward) -> bool:
        return who.scope.carrier is None and who.scope.office in (None, o.office_code)

    overdue = [o for o in report.overdue_manifests if ours(o)]
    overdue_outward = [o for o in report.overdue_outward if ours(o)]
    peak = max([1, *(h[1] for h in board.hours)])
    return render(
        request,
        "dashboard.html",
        who,
        board=board,
        peak=peak,
        overdue=overdue,
        overdue_outward=overdue_outward,
    )


@router.get("/search", response_class=HTMLResponse)
def search(request: Request) -> HTMLResponse:
    who = _user(request)
    params = request.query_params
    rows: list[views.Row] | None = None
    if any(_CONTROL.search(v) for v in params.values()):
        return render(request, "search.html", who, 422, rows=[], params={})
    if any(params.get(k) for k in ("q", "carrier", "status", "from", "until")):
        query = views.SearchQuery(
            text=params.get("q") or None,
            carrier=params.get("carrier") or None,
            status=params.get("status") or None,
            received_from=_date(params.get("from")),
            received_until=_date(params.get("until")),
        )
        with gateway_of(request).db.engine.connect() as conn:
            rows = views.search(conn, who.scope, query)
    return render(request, "search.html", who, rows=rows, params=params)


def _date(text: str | None) -> Any:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission(
    request: Request,
    submission_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    who = _user(request)
    gateway = gateway_of(request)
    # One page of documents, their acks and the file's own, the latest events, the head of
    # the raw file: a file of 2,000 documents is not one page of 2,000 (docs/security.md 7).
    with gateway.db.engine.connect() as conn:
        seen = views.share(conn, who.scope, submission_id)
        if seen is None:
            return render(request, "message.html", who, 404, message="not_found")
        found = store.get_submission(conn, submission_id)
        total = store.count_documents(conn, submission_id, office=seen.office)
        report = store.report(
            conn, submission_id, office=seen.office, limit=PAGE_DOCUMENTS, offset=offset
        )
        listed = [a for item in report for a in item.get("acks", [])]
        if seen.sees_ack(None):
            listed += store.file_acks(conn, submission_id, limit=PAGE_DOCUMENTS)[0]
        ack_rows = [a for a in listed if seen.sees_ack(a["document_id"])]
        previews = _ack_previews(conn, [a["id"] for a in ack_rows])
        events = sa.select(audit_log).where(audit_log.c.submission_id == submission_id)
        if seen.document_ids is not None:
            events = events.where(
                sa.or_(
                    audit_log.c.document_id.is_(None),
                    audit_log.c.document_id.in_(sorted(seen.document_ids)),
                )
            )
        latest = conn.execute(
            events.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(TIMELINE_EVENTS)
        ).all()
        timeline = [
            event
            for event in reversed(latest)
            if event.document_id is None or seen.sees_ack(event.document_id)
        ]
        events_total = conn.execute(
            sa.select(sa.func.count()).select_from(events.subquery())
        ).scalar_one()
    assert found is not None
    # Only the head of the file is read: the preview, and the parse when it is small enough.
    with RawFileStore(gateway.settings.raw_dir).open_file(found.sha256) as kept:
        raw = kept.read(max(RAW_PREVIEW_BYTES, readable.MAX_BYTES))
    every = None
    if found.size <= readable.MAX_BYTES:
        page_indexes = {i for i in (item.get("document_index") for item in report) if i is not None}
        every = readable.parsed_lines(gateway.pipeline, raw, only=page_indexes)
    # Aligned with the report: an officer reads only their office's documents of the file.
    parsed = None
    if every is not None:
        parsed = [
            every[i] if i is not None and i < len(every) else []
            for i in (item.get("document_index") for item in report)
        ]
    # The raw bytes speak of every document: shown only when all are in the caller's view.
    text = raw[:RAW_PREVIEW_BYTES].decode("utf-8", errors="replace") if seen.whole_file else ""
    lines = text.splitlines() or [""]
    marked = {
        e["location"]["line"]
        for item in report
        for e in item["errors"]
        if e.get("location") and e["location"].get("line")
    }
    return render(
        request,
        "submission.html",
        who,
        sub=found,
        report=report,
        acks=[
            {
                "id": a["id"],
                "kind": a["kind"],
                "file_name": a["file_name"],
                "status": a["status"],
                "body": previews.get(a["id"], b"").decode("utf-8", errors="replace"),
            }
            for a in ack_rows
        ],
        timeline=timeline,
        timeline_hidden=max(0, events_total - len(latest)),
        pages=_pages(offset, len(report), total, f"/submissions/{submission_id}"),
        lines=lines,
        marked=marked,
        truncated=seen.whole_file and found.size > RAW_PREVIEW_BYTES,
        whole_file=seen.whole_file,
        parsed=parsed,
    )


def _ack_previews(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    """The first ACK_PREVIEW_BYTES of each acknowledgment's body (cut in the database)."""
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(
            acks.c.id, sa.func.substr(acks.c.body, 1, ACK_PREVIEW_BYTES, type_=sa.LargeBinary)
        ).where(acks.c.id.in_(ids))
    ).all()
    return {int(row[0]): bytes(row[1] or b"") for row in rows}


def _pages(offset: int, shown: int, total: int, path: str) -> dict[str, Any]:
    """Where this page of documents sits, with links to the pages around it."""
    return {
        "first": offset + 1 if shown else 0,
        "last": offset + shown,
        "total": total,
        "previous": f"{path}?offset={max(0, offset - PAGE_DOCUMENTS)}" if offset > 0 else None,
        "next": f"{path}?offset={offset + PAGE_DOCUMENTS}"
        if offset + PAGE_DOCUMENTS < total
        else None,
    }


# -- upload ----------------------------------------------------------------------------


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request) -> HTMLResponse:
    who = _user(request)
    if who.carrier is None and not who.has(Role.OFFICER, Role.HEAD_OF_OFFICE):
        # Operators administer the gateway; carriers file, officers take media at the counter.
        return render(request, "message.html", who, 403, message="forbidden")
    carriers = sorted(gateway_of(request).pipeline.reference().carriers)
    return render(request, "upload.html", who, carriers=carriers)


# -- users (operators: everyone; admin induk: operators of their company group) -------------


def _group_carriers(request: Request, who: Caller) -> list[str]:
    """Carriers whose users ``who`` manages: all for an operator, the NPWP group otherwise."""
    carriers = gateway_of(request).pipeline.reference().carriers
    if who.has(Role.ADMIN):
        return sorted(carriers)
    group = who.user.company_group if who.user is not None else None
    return sorted(code for code, c in carriers.items() if group and c.npwp[:9] == group)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.ADMIN, Role.CARRIER_ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    managed = _group_carriers(request, who)
    return render(request, "users.html", who, listed=_managed_users(request, who), carriers=managed)


def _managed_users(request: Request, who: Caller) -> list[users.User]:
    """The users ``who`` administers: everyone for an operator, its NPWP group otherwise."""
    managed = set(_group_carriers(request, who))
    with gateway_of(request).db.engine.connect() as conn:
        return [
            u for u in users.list_users(conn) if who.has(Role.ADMIN) or u.carrier_code in managed
        ]


@router.post("/users", response_class=HTMLResponse)
def users_add(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=256)],
    carrier: Annotated[str, Form(max_length=20)] = "",
    office: Annotated[str, Form(max_length=6)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    who = _user(request)
    check_csrf(request, who, csrf)
    if not who.has(Role.ADMIN, Role.CARRIER_ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    if who.has(Role.CARRIER_ADMIN) and (
        role != Role.CARRIER_OPERATOR or carrier not in _group_carriers(request, who)
    ):
        # An admin induk creates operators, and only for its own company group.
        return render(request, "message.html", who, 403, message="forbidden")
    gateway = gateway_of(request)
    try:
        with gateway.db.transaction() as conn:
            users.add_user(
                conn,
                username=username,
                display_name=display_name,
                role=Role(role),
                password=password,
                carrier_code=carrier or None,
                office_code=office or None,
                now=gateway.clock(),
                actor=who.actor,
            )
    except (users.UserError, ValueError) as exc:
        return render(
            request,
            "users.html",
            who,
            400,
            listed=_managed_users(request, who),
            carriers=_group_carriers(request, who),
            error=str(exc),
        )
    return RedirectResponse("/users", status_code=303)


# -- amendment approvals (head of office) and the open-pos report -----------------------------


@router.get("/amendments", response_class=HTMLResponse)
def amendments_page(request: Request) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.HEAD_OF_OFFICE, Role.OFFICER, Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    office = who.user.office_code if who.user is not None else None
    with gateway_of(request).db.engine.connect() as conn:
        pending = amendment_store.listing(conn, office_code=office, status="PENDING_APPROVAL")
        decided = [
            a
            for a in amendment_store.listing(conn, office_code=office)
            if a.status != "PENDING_APPROVAL"
        ][-20:]
    return render(
        request,
        "amendments.html",
        who,
        pending=pending,
        decided=decided,
        reason_max=pos_ledger.REASON_MAX_CHARS,
    )


@router.post("/amendments/{key}/{action}", response_class=HTMLResponse)
def amendment_decide(
    request: Request,
    key: Annotated[str, PathParam(max_length=26)],
    action: Annotated[str, PathParam(pattern="^(approve|refuse)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    who = _user(request)
    check_csrf(request, who, csrf)
    if not who.has(Role.HEAD_OF_OFFICE):  # Art. 6(2): the head of office decides
        return render(request, "message.html", who, 403, message="forbidden")
    gateway = gateway_of(request)
    with gateway.db.engine.connect() as conn:
        found = amendment_store.find(conn, key)
    if found is None or (who.user is not None and found.office_code != who.user.office_code):
        return render(request, "message.html", who, 404, message="not_found")
    by = who.user.username if who.user is not None else who.actor
    # The carrier gets the decision as a response on its channel (gateway/decision_responses).
    respond = DecisionResponder(gateway.pipeline)
    try:
        if action == "approve":
            pos_ledger.approve(gateway.db, key, by=by, now=gateway.clock(), respond=respond)
        else:
            if not reason.strip():
                return render(request, "message.html", who, 400, message="reason_required")
            pos_ledger.refuse(
                gateway.db, key, by=by, reason=reason, now=gateway.clock(), respond=respond
            )
    except pos_ledger.DecisionError as exc:
        lang = _lang(request)
        text = exc.finding.message_en if lang == "en" else exc.finding.message_id
        return render(request, "message.html", who, 409, message=text)
    return RedirectResponse("/amendments", status_code=303)


@router.get("/pos/open", response_class=HTMLResponse)
def open_pos_page(request: Request) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.HEAD_OF_OFFICE, Role.OFFICER, Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    office = (who.user.office_code if who.user else None) or request.query_params.get("office")
    gateway = gateway_of(request)
    rows = []
    if office:
        with gateway.db.engine.connect() as conn:
            rows = pos_store.open_pos(conn, office)
    now = gateway.clock()
    return render(request, "open_pos.html", who, rows=rows, office=office, now=now)


# -- partner administration (operators) -------------------------------------------------------


@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    gateway = gateway_of(request)
    reference = gateway.pipeline.reference()
    with gateway.db.engine.connect() as conn:
        keys = {
            code: credentials.list_credentials(conn, code, include_revoked=False)
            for code in reference.carriers
        }
        pulls = {e.carrier: e for e in pull_endpoints.load(conn)}
    return render(
        request,
        "partners.html",
        who,
        status,
        carriers=sorted(reference.carriers.values(), key=lambda c: c.code),
        offices=sorted(reference.offices),
        keys=keys,
        pulls=pulls,
        error=error,
    )


@router.post("/partners/{carrier}/{action}", response_class=HTMLResponse)
async def partners_change(
    request: Request,
    carrier: Annotated[str, PathParam(max_length=20)],
    action: Annotated[str, PathParam(pattern="^(agreement|agency|key|revoke)$")],
) -> Response:
    who = _user(request)
    form = await request.form()
    check_csrf(request, who, str(form.get("csrf") or ""))
    if not who.has(Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    gateway = gateway_of(request)
    field = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    try:
        with gateway.db.transaction() as conn:
            if action == "agreement":
                agreement = Agreement(
                    office_code=field.get("office", ""),
                    valid_from=date.fromisoformat(field.get("valid_from", "")),
                    valid_until=date.fromisoformat(field["valid_until"])
                    if field.get("valid_until")
                    else None,
                    reference=field.get("reference") or None,
                )
                reference_store.add_agreement(
                    conn, carrier, agreement, now=gateway.clock(), actor=who.actor
                )
            elif action == "agency":
                reference_store.add_agency(
                    conn,
                    carrier,
                    agency_from_mapping(field),
                    now=gateway.clock(),
                    actor=who.actor,
                )
            elif action == "key":
                key = credentials.parse_public_key(field.get("key", ""))
                credentials.add_key(
                    conn, carrier, key, comment=None, now=gateway.clock(), actor=who.actor
                )
            else:
                credentials.revoke_key(
                    conn,
                    carrier,
                    field.get("fingerprint", ""),
                    now=gateway.clock(),
                    actor=who.actor,
                )
    except (KeyError, ValueError, credentials.CredentialError, sa.exc.IntegrityError) as exc:
        return partners_page(request, error=str(exc), status=400)
    return RedirectResponse("/partners", status_code=303)
