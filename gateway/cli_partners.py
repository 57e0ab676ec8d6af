"""``pde-gateway partners``: carriers, their PDE agreements, agencies and log-ins (SFTP keys and
passwords, the servers the gateway pulls from). Messages are in Indonesian and English."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from gateway.cli_shared import actor, carrier_code, json_option, open_gateway
from gateway.reference import Agency, agency_from_mapping, carrier_from_mapping
from gateway.storage import credentials, pull_endpoints, reference_store


@click.group()
def partners() -> None:
    """Carriers (partners) and their PDE agreements."""


@partners.command("list")
@json_option
@click.pass_context
def partners_list(ctx: click.Context, as_json: bool) -> None:
    reference = open_gateway(ctx).pipeline.reference()
    if as_json:
        click.echo(json.dumps([_carrier_json(c) for c in reference.carriers.values()], indent=2))
        return
    for carrier in reference.carriers.values():
        offices = ", ".join(
            f"{a.office_code} ({a.valid_from}..{a.valid_until or ''})" for a in carrier.agreements
        )
        click.echo(f"{carrier.code:<8} {carrier.npwp:<16} {carrier.name}  agreements: {offices}")


@partners.command("add")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--npwp", required=True)
@click.option("--aju-code", default=None, help="6-character sender code in nomor aju.")
@click.option("--office", "offices", multiple=True, help="Office with a PDE agreement.")
@click.option("--valid-from", default=None, help="Agreement start (YYYY-MM-DD, default today).")
@click.option("--valid-until", default=None)
@click.pass_context
def partners_add(
    ctx: click.Context,
    code: str,
    name: str,
    npwp: str,
    aju_code: str | None,
    offices: tuple[str, ...],
    valid_from: str | None,
    valid_until: str | None,
) -> None:
    """Register a carrier, with agreements for the given offices."""
    gateway = open_gateway(ctx)
    mapping: dict[str, Any] = {
        "code": code,
        "name": name,
        "npwp": npwp,
        "aju_code": aju_code,
        "agreements": [
            {
                "office": office,
                "valid_from": valid_from or date.today().isoformat(),
                "valid_until": valid_until,
            }
            for office in offices
        ],
    }
    try:
        carrier = carrier_from_mapping(mapping)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    reference = gateway.pipeline.reference()
    unknown = [o for o in offices if o not in reference.offices]
    if unknown:
        raise click.ClickException(f"unknown office(s): {', '.join(unknown)}")
    try:
        with gateway.db.transaction() as conn:
            if reference_store.carrier_exists(conn, carrier.code):
                raise click.ClickException(f"carrier {carrier.code} already exists")
            reference_store.add_carrier(conn, carrier, now=gateway.clock())
    except sa.exc.IntegrityError as exc:
        raise click.ClickException(f"cannot add {carrier.code}: {exc.orig}") from exc
    gateway.filedrop.prepare([carrier.code])
    gateway.sftp.prepare([carrier.code])
    click.echo(f"added {carrier.code} ({carrier.name}), aju code {carrier.aju_code}")


@partners.group("agencies")
def partners_agencies() -> None:
    """Principals a carrier may file for (a shipping agent and the lines it represents)."""


@partners_agencies.command("add")
@click.argument("carrier")
@click.option("--npwp", required=True, help="The principal's NPWP, as documents name it.")
@click.option("--name", required=True, help="The principal's name.")
@click.option("--valid-from", default=None, help="YYYY-MM-DD (default today).")
@click.option("--valid-until", default=None, help="YYYY-MM-DD (default open-ended).")
@click.option("--reference", default=None, help="The power of attorney / agency letter.")
@click.pass_context
def partners_agencies_add(
    ctx: click.Context,
    carrier: str,
    npwp: str,
    name: str,
    valid_from: str | None,
    valid_until: str | None,
    reference: str | None,
) -> None:
    """Record CARRIER as agent of the principal NPWP: it may file in that name."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    try:
        agency = agency_from_mapping(
            {
                "npwp": npwp,
                "name": name,
                "valid_from": valid_from or date.today().isoformat(),
                "valid_until": valid_until,
                "reference": reference,
            }
        )
        with gateway.db.transaction() as conn:
            reference_store.add_agency(conn, code, agency, now=gateway.clock(), actor=actor())
    except (ValueError, sa.exc.IntegrityError) as exc:
        raise click.ClickException(f"cannot add the agency / keagenan ditolak: {exc}") from exc
    until = agency.valid_until or "open-ended"
    click.echo(
        f"{code} files for {agency.principal_name} (NPWP {agency.principal_npwp}) "
        f"from {agency.valid_from} until {until}"
    )


@partners_agencies.command("end")
@click.argument("carrier")
@click.option("--npwp", required=True)
@click.option("--on", "on", default=None, help="Last day in force (YYYY-MM-DD, default today).")
@click.pass_context
def partners_agencies_end(ctx: click.Context, carrier: str, npwp: str, on: str | None) -> None:
    """End CARRIER's agency for the principal NPWP (the record is kept)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    try:
        day = date.fromisoformat(on) if on else date.today()
    except ValueError as exc:
        raise click.ClickException(f"--on: {exc}") from exc
    with gateway.db.transaction() as conn:
        count = reference_store.end_agency(
            conn, code, npwp, on=day, now=gateway.clock(), actor=actor()
        )
    if not count:
        raise click.ClickException(f"{code} has no agency in force for NPWP {npwp}")
    click.echo(f"ended {count} agency of {code} for NPWP {npwp} on {day}")


@partners_agencies.command("list")
@click.argument("carrier", required=False)
@json_option
@click.pass_context
def partners_agencies_list(ctx: click.Context, carrier: str | None, as_json: bool) -> None:
    """Agency relations, of one carrier or all."""
    gateway = open_gateway(ctx)
    carriers = gateway.pipeline.reference().carriers
    codes = [carrier_code(gateway, carrier)] if carrier else sorted(carriers)
    rows = [
        {"carrier": code, **_agency_json(agency)}
        for code in codes
        for agency in carriers[code].agencies
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['carrier']:<8} {row['principal_npwp']:<16} {row['principal_name']}  "
            f"{row['valid_from']}..{row['valid_until'] or ''}  {row['reference'] or ''}"
        )


def _agency_json(agency: Agency) -> dict[str, Any]:
    return {
        "principal_npwp": agency.principal_npwp,
        "principal_name": agency.principal_name,
        "valid_from": agency.valid_from.isoformat(),
        "valid_until": agency.valid_until.isoformat() if agency.valid_until else None,
        "reference": agency.reference,
    }


@partners.group("keys")
def partners_keys() -> None:
    """SSH public keys a carrier logs in to the SFTP server with."""


def _key_lines(key: str) -> list[str]:
    """``--key``: a .pub file (every key line in it) or the key line itself."""
    path = Path(key).expanduser()
    if "\n" not in key and len(key) < 4096 and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read {path}: {exc}") from exc
        lines = [ln.strip() for ln in text.splitlines()]
        found = [ln for ln in lines if ln and not ln.startswith("#")]
        if not found:
            raise click.ClickException(f"{path} holds no key")
        return found
    return [key]


@partners_keys.command("add")
@click.argument("carrier")
@click.option("--key", "key", required=True, help="A .pub file or an 'ssh-ed25519 AAAA...' line.")
@click.option("--comment", default=None, help="Instead of the key's own comment.")
@click.pass_context
def partners_keys_add(ctx: click.Context, carrier: str, key: str, comment: str | None) -> None:
    """Let CARRIER log in to the SFTP server with a public key."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    try:
        keys = [credentials.parse_public_key(line) for line in _key_lines(key)]
        with gateway.db.transaction() as conn:
            added = [
                credentials.add_key(
                    conn, code, k, comment=comment, now=gateway.clock(), actor=actor()
                )
                for k in keys
            ]
    except credentials.CredentialError as exc:
        raise click.ClickException(str(exc)) from exc
    for credential in added:
        click.echo(f"added {credential.key_type} {credential.fingerprint} for {code}")


@partners_keys.command("revoke")
@click.argument("carrier")
@click.argument("fingerprint")
@click.pass_context
def partners_keys_revoke(ctx: click.Context, carrier: str, fingerprint: str) -> None:
    """Revoke one of CARRIER's keys by its SHA256 fingerprint (see `keys list`)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    wanted = fingerprint if fingerprint.startswith("SHA256:") else f"SHA256:{fingerprint}"
    with gateway.db.transaction() as conn:
        done = credentials.revoke_key(conn, code, wanted, now=gateway.clock(), actor=actor())
    if not done:
        raise click.ClickException(f"{code} has no active key {wanted}")
    click.echo(f"revoked {wanted} of {code}")


@partners_keys.command("list")
@click.argument("carrier")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked credentials too.")
@json_option
@click.pass_context
def partners_keys_list(
    ctx: click.Context, carrier: str, include_revoked: bool, as_json: bool
) -> None:
    """CARRIER's SFTP credentials (keys, and whether a password is set)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    with gateway.db.engine.connect() as conn:
        found = credentials.list_credentials(conn, code, include_revoked=include_revoked)
    rows = [
        {
            "kind": c.kind,
            "key_type": c.key_type,
            "fingerprint": c.fingerprint,
            "comment": c.comment,
            "created_at": c.created_at.isoformat(timespec="seconds"),
            "revoked_at": c.revoked_at.isoformat(timespec="seconds") if c.revoked_at else None,
        }
        for c in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"{code} has no SFTP credentials / {code} belum punya kredensial SFTP")
    for row in rows:
        what = f"{row['key_type']} {row['fingerprint']}" if row["kind"] == "ssh-key" else "password"
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(f"{what}  {row['comment'] or ''}  added {row['created_at']}  {state}")


@partners.group("password")
def partners_password() -> None:
    """The optional SFTP password of a carrier (stored only as an argon2id hash)."""


@partners_password.command("set")
@click.argument("carrier")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def partners_password_set(ctx: click.Context, carrier: str, password_stdin: bool) -> None:
    """Set (or replace) CARRIER's SFTP password."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with gateway.db.transaction() as conn:
            credentials.set_password(conn, code, password, now=gateway.clock(), actor=actor())
    except credentials.CredentialError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password set for {code}")


@partners_password.command("clear")
@click.argument("carrier")
@click.pass_context
def partners_password_clear(ctx: click.Context, carrier: str) -> None:
    """Remove CARRIER's SFTP password (keys keep working)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    with gateway.db.transaction() as conn:
        done = credentials.clear_password(conn, code, now=gateway.clock(), actor=actor())
    click.echo(f"password cleared for {code}" if done else f"{code} had no password")


@partners.group("pull")
def partners_pull() -> None:
    """Carriers' own SFTP servers the gateway polls (docs/channels/sftp.md)."""


@partners_pull.command("set")
@click.argument("carrier")
@click.option("--host", required=True)
@click.option("--port", type=int, default=22, show_default=True)
@click.option("--user", "username", required=True, help="Login name on the carrier's server.")
@click.option(
    "--key",
    "private_key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    help="The gateway's private key for this server (its path is stored, not the key).",
)
@click.option(
    "--host-key",
    required=True,
    help="The server's public host key: an 'ssh-ed25519 AAAA...' line, a .pub file or a "
    "known_hosts line (ssh-keyscan). It is pinned: any other key is refused.",
)
@click.option("--inbox", required=True, help="Absolute remote folder the carrier puts files in.")
@click.option("--outbox", required=True, help="Absolute remote folder for our answers.")
@click.option("--done", default=None, help="Move fetched files here instead of deleting them.")
@click.option("--every", "poll_seconds", type=float, default=30.0, show_default=True)
@click.option("--disabled", is_flag=True, help="Store it but do not poll yet.")
@click.pass_context
def partners_pull_set(
    ctx: click.Context,
    carrier: str,
    host: str,
    port: int,
    username: str,
    private_key: str,
    host_key: str,
    inbox: str,
    outbox: str,
    done: str | None,
    poll_seconds: float,
    disabled: bool,
) -> None:
    """Poll CARRIER's own SFTP server (replaces an earlier endpoint)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    try:
        host_key_text = _key_lines(host_key)[0]
        key_type, blob = pull_endpoints.parse_host_key(host_key_text)
        endpoint = pull_endpoints.PullEndpoint(
            carrier=code,
            host=host,
            port=port,
            username=username,
            private_key_path=private_key,
            host_key_type=key_type,
            host_key=blob,
            remote_inbox=inbox,
            remote_outbox=outbox,
            remote_done=done,
            poll_seconds=poll_seconds,
            enabled=not disabled,
        )
        with gateway.db.transaction() as conn:
            pull_endpoints.save(conn, endpoint, now=gateway.clock(), actor=actor())
    except pull_endpoints.EndpointError as exc:
        raise click.ClickException(str(exc)) from exc
    state = "disabled" if disabled else f"every {poll_seconds:g} s"
    click.echo(f"pulling {code} from sftp://{endpoint.address}{inbox} ({state})")


@partners_pull.command("list")
@json_option
@click.pass_context
def partners_pull_list(ctx: click.Context, as_json: bool) -> None:
    """Every pull endpoint."""
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        found = pull_endpoints.load(conn)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(e) for e in found], indent=2))
        return
    if not found:
        click.echo("no pull endpoints / belum ada titik penarikan SFTP")
    for e in found:
        state = "enabled" if e.enabled else "disabled"
        click.echo(
            f"{e.carrier:<8} sftp://{e.address}  in {e.remote_inbox}  out {e.remote_outbox}  "
            f"{'done ' + e.remote_done if e.remote_done else 'delete'}  every "
            f"{e.poll_seconds:g} s  {state}  {e.host_key_type}"
        )


@partners_pull.command("remove")
@click.argument("carrier")
@click.pass_context
def partners_pull_remove(ctx: click.Context, carrier: str) -> None:
    """Stop polling CARRIER's server (acknowledgments already spooled stay in data_dir/pull)."""
    gateway = open_gateway(ctx)
    code = carrier_code(gateway, carrier)
    with gateway.db.transaction() as conn:
        done = pull_endpoints.remove(conn, code, now=gateway.clock(), actor=actor())
    if not done:
        raise click.ClickException(f"{code} has no pull endpoint")
    click.echo(f"no longer pulling {code}")


def _carrier_json(carrier: Any) -> dict[str, Any]:
    return {
        "code": carrier.code,
        "name": carrier.name,
        "npwp": carrier.npwp,
        "aju_code": carrier.aju_code,
        "agreements": [
            {
                "office": a.office_code,
                "valid_from": a.valid_from.isoformat(),
                "valid_until": a.valid_until.isoformat() if a.valid_until else None,
            }
            for a in carrier.agreements
        ],
        "agencies": [_agency_json(a) for a in carrier.agencies],
    }
