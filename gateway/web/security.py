"""Who is asking: console sessions (cookie + CSRF token) and carrier API tokens.

The session cookie is HttpOnly and SameSite=Strict (``Secure`` when the console is served
over HTTPS), carries a random token whose SHA-256 is looked up in ``web_sessions``; every
form and every state-changing API call made with the cookie carries the session's CSRF token
(hidden field ``csrf`` or header ``X-CSRF-Token``). A bearer token (``Authorization: Bearer
pde_...``) is a carrier's API token: scoped to that carrier, no CSRF (no cookie involved).
Log-in limits (attempts counted in the database before the password is checked, per
(user, address) and per user) are in ``gateway/login_guard.py``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from gateway.model.common import RECORD
from gateway.storage import users
from gateway.storage.users import Role, Session, User
from gateway.storage.views import Scope

if TYPE_CHECKING:  # the gateway composes the web, never the other way round
    from gateway.app import Gateway

COOKIE = "pde_session"


@dataclass(**RECORD)
class Caller:
    """Either a console user (with their session) or a carrier's API token."""

    user: User | None
    session: Session | None
    token_carrier: str | None  # set for an API token

    @property
    def carrier(self) -> str | None:
        if self.token_carrier is not None:
            return self.token_carrier
        if self.user is not None and self.user.role.carrier_side:
            return self.user.carrier_code
        return None

    @property
    def scope(self) -> Scope:
        if self.carrier is not None:
            return Scope(carrier=self.carrier)
        if self.user is not None and self.user.role.office_side:
            return Scope(office=self.user.office_code)
        return Scope()

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        return f"token:{self.token_carrier}"

    def has(self, *roles: Role) -> bool:
        return self.user is not None and self.user.role in roles


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def caller(request: Request) -> Caller | None:
    """The caller of this request, or None when anonymous."""
    gateway = gateway_of(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        with gateway.db.engine.connect() as conn:
            carrier = users.carrier_for_token(conn, header[7:].strip())
        if carrier is None:
            raise HTTPException(401, "invalid API token / token API tidak sah")
        return Caller(user=None, session=None, token_carrier=carrier)
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with gateway.db.engine.connect() as conn:
        session = users.find_session(conn, token, now=gateway.clock())
    if session is None:
        return None
    return Caller(user=session.user, session=session, token_carrier=None)


def require(request: Request) -> Caller:
    found = caller(request)
    if found is None:
        raise HTTPException(401, "log in first / silakan masuk dulu")
    return found


def check_csrf(request: Request, who: Caller, submitted: str | None) -> None:
    """A cookie-authenticated change must carry the session's CSRF token."""
    if who.session is None:  # bearer token: no ambient credential to forge
        return
    sent = submitted or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent, who.session.csrf_token):
        raise HTTPException(403, "CSRF token missing or wrong / token CSRF salah")
