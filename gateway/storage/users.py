"""Console users, their sessions, and carriers' API tokens.

Passwords follow the portals' rule (at least 6 characters with an upper-case letter, a digit
and a symbol; ``../shared/reference``) and are stored only as argon2id hashes. A session
cookie and an API token are random 256-bit values shown once; the database keeps only their
SHA-256, so a copy of the database opens no session.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway import passwords
from gateway.model.common import RECORD
from gateway.storage import audit
from gateway.storage.tables import api_tokens, carriers, offices, users, web_sessions

SESSION_LIFETIME = timedelta(hours=12)
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")


class Role(enum.StrEnum):
    CARRIER_ADMIN = "carrier_admin"  # admin induk
    CARRIER_OPERATOR = "carrier_operator"
    OFFICER = "officer"
    HEAD_OF_OFFICE = "head_of_office"
    ADMIN = "admin"

    @property
    def carrier_side(self) -> bool:
        return self in (Role.CARRIER_ADMIN, Role.CARRIER_OPERATOR)

    @property
    def office_side(self) -> bool:
        return self in (Role.OFFICER, Role.HEAD_OF_OFFICE)


class UserError(ValueError):
    """A user that cannot be stored: weak password, unknown carrier/office, name taken."""


@dataclass(**RECORD)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    carrier_code: str | None
    office_code: str | None
    npwp: str | None
    active: bool

    @property
    def company_group(self) -> str | None:
        """The first 9 NPWP digits: the company group an admin induk manages."""
        return self.npwp[:9] if self.npwp else None


@dataclass(**RECORD)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def password_problems(password: str) -> list[str]:
    """Why ``password`` breaks the portal rule (empty when it is acceptable), in English."""
    problems = []
    if len(password) < 6:
        problems.append("at least 6 characters")
    if not re.search(r"[A-Z]", password):
        problems.append("an upper-case letter")
    if not re.search(r"\d", password):
        problems.append("a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        problems.append("a symbol")
    return problems


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        carrier_code=row.carrier_code,
        office_code=row.office_code,
        npwp=row.npwp,
        active=row.active,
    )


def add_user(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    carrier_code: str | None = None,
    office_code: str | None = None,
    now: datetime,
    actor: str,
) -> User:
    if not _USERNAME.match(username):
        raise UserError("user name: 3-64 letters, digits or . _ @ -")
    problems = password_problems(password)
    if problems:
        raise UserError("the password needs " + ", ".join(problems))
    npwp = None
    if role.carrier_side:
        if carrier_code is None:
            raise UserError(f"a {role} belongs to a carrier (--carrier)")
        row = conn.execute(sa.select(carriers.c.npwp).where(carriers.c.code == carrier_code))
        found = row.first()
        if found is None:
            raise UserError(f"unknown carrier {carrier_code!r}")
        npwp = found.npwp
        office_code = None
    elif role.office_side:
        if office_code is None:
            raise UserError(f"an {role} works at an office (--office)")
        known = conn.execute(sa.select(offices.c.code).where(offices.c.code == office_code))
        if known.first() is None:
            raise UserError(f"unknown office {office_code!r}")
        carrier_code = None
    else:
        carrier_code = office_code = None
    taken = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
    if taken is not None:
        raise UserError(f"user name {username!r} is taken")
    inserted = conn.execute(
        sa.insert(users).values(
            username=username,
            display_name=display_name,
            role=str(role),
            carrier_code=carrier_code,
            office_code=office_code,
            npwp=npwp,
            password_hash=passwords.hash_password(password),
            active=True,
            created_at=now,
            created_by=actor,
        )
    )
    new_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    _audit(conn, now, actor, "user added", {"user": username, "role": str(role)})
    user = get_user(conn, new_id)
    assert user is not None
    return user


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return _user(row) if row is not None else None


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (same cost either way)."""
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    if not passwords.verify(row.password_hash if row is not None else None, password):
        return None
    assert row is not None
    if not row.active:
        return None
    if passwords.needs_rehash(row.password_hash):
        conn.execute(
            sa.update(users)
            .where(users.c.id == row.id)
            .values(password_hash=passwords.hash_password(password))
        )
    return _user(row)


def open_session(conn: Connection, user: User, *, now: datetime) -> tuple[str, Session]:
    """A new session: (cookie token, session). Only the token's digest is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    conn.execute(
        sa.insert(web_sessions).values(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    return token, Session(user=user, csrf_token=csrf, expires_at=expires)


def find_session(conn: Connection, token: str, *, now: datetime) -> Session | None:
    row = conn.execute(
        sa.select(web_sessions, users)
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.token_hash == _digest(token))
    ).first()
    if row is None or row.expires_at <= now or not row.active:
        return None
    return Session(user=_user(row), csrf_token=row.csrf_token, expires_at=row.expires_at)


def close_session(conn: Connection, token: str) -> None:
    conn.execute(sa.delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))


def issue_api_token(
    conn: Connection, carrier_code: str, *, label: str | None, now: datetime, actor: str
) -> str:
    """A new API token for ``carrier_code``; the token itself is returned once, never stored."""
    known = conn.execute(sa.select(carriers.c.code).where(carriers.c.code == carrier_code))
    if known.first() is None:
        raise UserError(f"unknown carrier {carrier_code!r}")
    token = "pde_" + secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(api_tokens).values(
            carrier_code=carrier_code, token_hash=_digest(token), label=label, created_at=now
        )
    )
    _audit(conn, now, actor, "api token issued", {"carrier": carrier_code, "label": label})
    return token


def carrier_for_token(conn: Connection, token: str) -> str | None:
    row = conn.execute(
        sa.select(api_tokens.c.carrier_code).where(
            api_tokens.c.token_hash == _digest(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return str(row.carrier_code) if row is not None else None


def _audit(
    conn: Connection, now: datetime, actor: str, action: str, detail: dict[str, Any]
) -> None:
    audit.record(conn, at=now, actor=actor, action=action, detail=detail)
