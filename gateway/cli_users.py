"""``pde-gateway users|tokens``: console users and their roles, carriers' API tokens."""

from __future__ import annotations

import sys

import click

from gateway.cli_shared import actor, carrier_code, open_gateway
from gateway.storage import users


@click.group("users")
def users_group() -> None:
    """Console users and roles (docs/console.md)."""


@users_group.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([str(r) for r in users.Role]),
    required=True,
    help="carrier_admin (admin induk), carrier_operator, officer, head_of_office, admin.",
)
@click.option("--name", "display_name", required=True, help="The person's name.")
@click.option("--carrier", default=None, help="Carrier code, for carrier roles.")
@click.option("--office", default=None, help="Office code, for officer / head_of_office.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    display_name: str,
    carrier: str | None,
    office: str | None,
    password_stdin: bool,
) -> None:
    """Create a console user (6+ characters with an upper-case letter, a digit, a symbol)."""
    gateway = open_gateway(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with gateway.db.transaction() as conn:
            user = users.add_user(
                conn,
                username=username,
                display_name=display_name,
                role=users.Role(role),
                password=password,
                carrier_code=carrier.upper() if carrier else None,
                office_code=office,
                now=gateway.clock(),
                actor=actor(),
            )
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {user.username} ({user.role}) created")


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        found = users.list_users(conn)
    for user in found:
        where = user.carrier_code or user.office_code or ""
        state = "active" if user.active else "disabled"
        click.echo(f"{user.username:<20} {user.role:<17} {where:<8} {state}  {user.display_name}")


@click.group("tokens")
def tokens_group() -> None:
    """Carriers' HTTP API tokens."""


@tokens_group.command("issue")
@click.argument("carrier")
@click.option("--label", default=None, help="What the token is for, e.g. the carrier's system.")
@click.pass_context
def tokens_issue(ctx: click.Context, carrier: str, label: str | None) -> None:
    """Issue an API token for CARRIER; it is printed once and never stored."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    with gateway.db.transaction() as conn:
        token = users.issue_api_token(conn, code, label=label, now=gateway.clock(), actor=actor())
    click.echo(token)
