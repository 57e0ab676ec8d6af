"""What every ``pde-gateway`` command shares: its settings, the gateway it opens, who acts.

Commands other than ``run`` and ``migrate`` open the gateway without upgrading the schema: a
new, empty database is set up on first use, but a database behind the code is refused with a
message telling to run ``pde-gateway migrate`` (an upgrade is the operator's decision, made
once, not a side effect of looking at the queue).
"""

from __future__ import annotations

import getpass
import os

import click

from gateway.app import Gateway
from gateway.config import Settings
from gateway.exceptions import SchemaOutdated
from gateway.storage.database import Database

# ``--json``: the same answer for scripts instead of the text for people.
json_option = click.option("--json", "as_json", is_flag=True)


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def open_gateway(ctx: click.Context) -> Gateway:
    """The gateway for one command (threads are not started; the schema is not upgraded)."""
    try:
        return Gateway(settings_of(ctx), migrate=False)
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc


def open_database(ctx: click.Context) -> Database:
    """The database alone, for commands that need no reference data."""
    db = Database(settings_of(ctx).database_url, pool_size=1)
    try:
        db.require_schema()
    except SchemaOutdated as exc:
        db.dispose()
        raise click.ClickException(str(exc)) from exc
    return db


def actor() -> str:
    """Who the audit log names for a command: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (containers)
        return f"cli:uid{os.getuid()}"


def carrier_code(gateway: Gateway, code: str) -> str:
    """``code`` upper-cased, if the reference data knows the carrier."""
    carrier = code.upper()
    if carrier not in gateway.pipeline.reference().carriers:
        raise click.ClickException(f"no carrier {carrier} / tidak ada pengangkut {carrier}")
    return carrier
