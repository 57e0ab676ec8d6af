"""``pde-gateway``: run the gateway, hand it files, look at submissions and the queue."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click

from gateway import cli_bc11, cli_logins, cli_ops, cli_partners, cli_users
from gateway.app import Gateway, Role, parse_roles
from gateway.channels.base import Inbound, safe_name
from gateway.channels.filedrop import PARTNER_FOLDER
from gateway.channels.folders import exists_at, open_tree, write_at
from gateway.cli_shared import json_option, open_gateway, settings_of
from gateway.config import load_settings
from gateway.exceptions import ConfigurationError, GatewayError, UnsafeFolder
from gateway.logs import configure_logging
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


# Carriers and their log-ins; console users and API tokens.
main.add_command(cli_partners.partners)
main.add_command(cli_users.users_group)
main.add_command(cli_users.tokens_group)
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
