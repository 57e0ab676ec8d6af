"""``pde-gateway logins list|unlock``: the log-in limits seen and lifted by the operator.

The counters are in the database (gateway/login_guard.py), so these act on every gateway
process at once. Messages are in Indonesian and English.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from gateway.cli_shared import actor, open_database, settings_of
from gateway.login_guard import DOORS, address_key
from gateway.storage import audit, login_failures
from gateway.storage.login_failures import EVERY_ADDRESS


@click.group("logins")
def logins_group() -> None:
    """Failed log-ins: who is locked out of the console (web) or SFTP, and unlocking them."""


@logins_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Every live counter, not only locks.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, for scripts.")
@click.pass_context
def logins_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Users refused for too many failed log-ins (per address, and over every address)."""
    settings = settings_of(ctx)
    db = open_database(ctx)
    now = datetime.now(UTC)
    since = now - timedelta(seconds=settings.login_lockout_seconds)
    with db.engine.connect() as conn:
        found = login_failures.counters(conn, since=since)
    db.dispose()
    for counter in found:
        every = counter.address == EVERY_ADDRESS
        limit = settings.login_failure_limit_per_user if every else settings.login_failure_limit
        locked = counter.attempts >= limit
        if not (locked or show_all):
            continue
        until = counter.last_at + timedelta(seconds=settings.login_lockout_seconds)
        if as_json:
            line = {
                "door": counter.door,
                "user": counter.username,
                "address": counter.address,
                "attempts": counter.attempts,
                "limit": limit,
                "locked": locked,
                "first_at": counter.first_at.isoformat(),
                "last_at": counter.last_at.isoformat(),
                "locked_until": until.isoformat() if locked else None,
            }
            click.echo(json.dumps(line))
            continue
        where = "semua alamat / every address" if every else counter.address
        state = f"TERKUNCI / LOCKED until {until:%Y-%m-%d %H:%M:%S}Z" if locked else "open"
        click.echo(
            f"{counter.door:<5} {counter.username:<20} {where:<32} "
            f"{counter.attempts:>5}/{limit:<4} {state}"
        )


@logins_group.command("unlock")
@click.argument("username")
@click.option("--door", type=click.Choice(DOORS), default=None, help="Only the console or SFTP.")
@click.option("--address", default=None, help="Only the counter of this client address.")
@click.pass_context
def logins_unlock(ctx: click.Context, username: str, door: str | None, address: str | None) -> None:
    """Lift the lock-out of USERNAME (a console user, or a carrier code for SFTP).

    Removes the user's counters (every door and address unless narrowed); the next log-in
    is checked again at once. The unlock is in the audit trail.
    """
    db = open_database(ctx)
    # Carrier codes are counted in upper case, as the SFTP server reads them.
    names = {username, username.strip().upper()} if door != "web" else {username}
    where = None if address is None else address_key(address)
    removed = 0
    with db.transaction() as conn:
        for name in sorted(names):
            removed += login_failures.unlock(conn, username=name, door=door, address=where)
        audit.record(
            conn,
            at=datetime.now(UTC),
            actor=actor(),
            action="login_unlocked",
            detail={"user": username, "door": door, "address": where, "counters": removed},
        )
    db.dispose()
    click.echo(
        f"{username}: {removed} penghitung dihapus, boleh masuk lagi / "
        f"{removed} counter(s) removed, may log in again"
    )
