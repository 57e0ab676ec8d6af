"""``pde-gateway``: run the gateway, hand it files, look at submissions and the queue."""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from gateway import cli_bc11, cli_logins, cli_ops
from gateway.app import Gateway, Role, parse_roles
from gateway.channels.base import Inbound, safe_name
from gateway.channels.filedrop import PARTNER_FOLDER
from gateway.channels.folders import exists_at, open_tree, write_at
from gateway.cli_shared import actor, carrier_code, json_option, open_gateway, settings_of
from gateway.config import load_settings
from gateway.exceptions import ConfigurationError, GatewayError, UnsafeFolder
from gateway.logs import configure_logging
from gateway.reference import Agency, agency_from_mapping, carrier_from_mapping
from gateway.storage import credentials, pull_endpoints, reference_store, users
from gateway.storage import submissions as store
from gateway.storage.database import Database


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file (default config/gateway.toml; env PDE_GATEWAY_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """PDE Gateway: carriers' RKSP/JKSP (BC 1.0) and manifests (BC 1.1) for Indonesian Customs."""
    try:
        settings = load_settings(config_path)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    ctx.obj = settings


@main.command()
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE[,ROLE]",
    help="Run only these parts: worker, scheduler (also file drop and SFTP pull), web, sftp. "
    "Repeatable or comma-separated; default: all of them in this process.",
)
@click.pass_context
def run(ctx: click.Context, roles: tuple[str, ...]) -> None:
    """Start the gateway: intake, workers, scheduler (until Ctrl-C or SIGTERM)."""
    try:
        selected = parse_roles(roles)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from exc
    gateway = Gateway(settings_of(ctx), roles=selected)
    settings = gateway.settings
    click.echo(
        f"PDE Gateway: drop files into {settings.drop_dir}/<CARRIER>/in/, "
        f"responses appear in .../out/  (database: {gateway.db.dialect})",
        err=True,
    )
    if settings.sftp_enabled and Role.SFTP in selected:
        port = settings.sftp_port or "<port in the log>"
        click.echo(
            f"SFTP: sftp -P {port} CARRIER@{settings.sftp_host}"
            "  (keys: pde-gateway partners keys add CARRIER --key FILE.pub)",
            err=True,
        )
    try:
        gateway.run()
    except ConfigurationError as exc:  # e.g. the SFTP port is taken
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Upgrade the database schema to this version and load the reference data if missing.

    Idempotent: on a current database it changes nothing. ``run`` does the same at start-up;
    the other commands refuse a database whose schema is behind (they set up only a new one).
    """
    settings = settings_of(ctx)
    before = Database(settings.database_url, pool_size=1)
    try:
        was = before.revision()
    finally:
        before.dispose()
    gateway = Gateway(settings)  # migrates and seeds, starts nothing
    now = gateway.db.revision()
    gateway.db.dispose()
    if was == now:
        click.echo(f"skema sudah terbaru / schema up to date: revision {now}")
    else:
        click.echo(f"skema diperbarui / schema upgraded: {was or '(new)'} -> {now}")


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--partner", required=True, help="Carrier code, e.g. DEMO.")
@click.pass_context
def submit(ctx: click.Context, files: tuple[Path, ...], partner: str) -> None:
    """Hand files to a running gateway through the partner's drop folder."""
    code = partner.upper()
    if not PARTNER_FOLDER.match(code):
        raise click.BadParameter(f"{partner!r} is not a carrier code", param_hint="--partner")
    inbox = settings_of(ctx).drop_dir / code / "in"
    try:
        # The carrier controls its folder: links in it are not followed (docs/security.md §3).
        with open_tree(settings_of(ctx).drop_dir, code, ("in",), create=True) as folders:
            for file in files:
                name = safe_name(file.name)
                if exists_at(folders["in"], name):
                    stem, dot, suffix = name.rpartition(".")
                    name = (
                        f"{stem}-{uuid.uuid4().hex[:8]}.{suffix}"
                        if dot
                        else f"{name}-{uuid.uuid4().hex[:8]}"
                    )
                # A new temporary file, then renamed: the gateway never sees half a file.
                with open(file, "rb") as source:
                    write_at(folders["in"], name, source)
                click.echo(f"submitted {file} -> {inbox / name}")
    except UnsafeFolder as exc:
        raise click.ClickException(f"{inbox}: {exc}") from exc


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--partner", required=True, help="Carrier code, e.g. DEMO.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
@click.pass_context
def process(ctx: click.Context, files: tuple[Path, ...], partner: str, as_json: bool) -> None:
    """Run the whole pipeline on FILES in this process and print the outcome."""
    gateway = open_gateway(ctx)
    pipeline = gateway.pipeline
    failed = False
    for file in files:
        inbound = Inbound(
            channel="cli",
            sender=partner.upper(),
            source_name=file.name,
            intake_key=f"{file.resolve()}:{uuid.uuid4().hex}",
        )
        try:
            with open(file, "rb") as stream:
                received = pipeline.receive(inbound, stream)
            pipeline.process(received.submission_id)
            pipeline.deliver(received.submission_id)
        except GatewayError as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
        with gateway.db.engine.connect() as conn:
            results = store.report(conn, received.submission_id)
        for result in results:
            failed |= result["status"] == "REFUSED"
            _print_result(result, as_json)
    gateway.db.dispose()
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("key")
@json_option
@click.pass_context
def status(ctx: click.Context, key: str, as_json: bool) -> None:
    """Show a submission by its id or by a document's nomor aju."""
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        submission_id = store.find_submission_id(conn, key)
        results = store.report(conn, submission_id) if submission_id is not None else []
    if not results:
        raise click.ClickException(f"no submission {key} / tidak ada pengajuan {key}")
    for result in results:
        _print_result(result, as_json)


@main.command()
@json_option
@click.pass_context
def queue(ctx: click.Context, as_json: bool) -> None:
    """Jobs in the work queue by kind and status."""
    gateway = open_gateway(ctx)
    rows = gateway.pipeline.queue.stats()
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("queue is empty / antrean kosong")
    for row in rows:
        oldest = row["oldest"].isoformat(timespec="seconds") if row["oldest"] else "-"
        click.echo(f"{row['kind']:<8} {row['status']:<6} {row['count']:>8}  oldest {oldest}")


@main.group()
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


@main.group()
def offices() -> None:
    """Customs offices served by this gateway."""


@offices.command("list")
@json_option
@click.pass_context
def offices_list(ctx: click.Context, as_json: bool) -> None:
    reference = open_gateway(ctx).pipeline.reference()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "code": o.code,
                        "name": o.name,
                        "timezone": o.timezone,
                        "unlocodes": list(o.unlocodes),
                        "channels": list(o.channels),
                    }
                    for o in reference.offices.values()
                ],
                indent=2,
            )
        )
        return
    for office in reference.offices.values():
        click.echo(
            f"{office.code}  {office.name:<45} {office.timezone:<15} "
            f"{','.join(office.unlocodes):<12} {','.join(office.channels)}"
        )


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


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    reg = result["registration"]
    number = f"{reg['kind']} {reg['number']} / {reg['date']} @ {reg['office']}" if reg else "-"
    click.echo(
        f"#{result['submission_id']} {result['nomor_aju']} {result['document_type']} "
        f"{result['status']}  {number}  {' '.join(result['flags'])}"
    )
    for error in result["errors"]:
        where = error["location"] or {}
        place = " ".join(f"{k}={v}" for k, v in where.items() if v is not None)
        click.echo(f"  {error['severity']} {error['code']}: {error['message_en']} [{place}]")
        click.echo(f"  {' ' * len(error['severity'])} {error['code']}: {error['message_id']}")
    for ack in result["acks"]:
        click.echo(f"  {ack['kind'].lower()}: {ack['path']}")


@main.group("users")
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


@main.group("tokens")
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


# Amendment decisions, open pos and the deadline watch (issue 6) live in their own module.
main.add_command(cli_bc11.amendments)
main.add_command(cli_bc11.pos)
main.add_command(cli_bc11.watch)
main.add_command(cli_bc11.calls)  # actual arrival/departure of a call (issue 13, point 6)
# Operator re-runs (issue 8): replay a submission, list and retry dead letters.
main.add_command(cli_ops.replay)
main.add_command(cli_ops.deadletters_group)
# Log-in limits (issue 12): who is locked out, and lifting it.
main.add_command(cli_logins.logins_group)


if __name__ == "__main__":  # pragma: no cover
    main()
