"""``pde-gateway replay|deadletters``: the operator's re-runs (docs/operations.md).

Both only put work back in the queue; the workers of the running gateway (any process with
the worker role, on any machine sharing the database) do it. Nothing here decides a
document, so nothing here can register one twice. Messages are in Indonesian and English.
"""

from __future__ import annotations

import json

import click

from gateway.cli_shared import actor, open_gateway
from gateway.storage import deadletters
from gateway.storage import submissions as store
from gateway.storage.deadletters import ReplayOutcome


@click.command()
@click.argument("key")
@click.option(
    "--redeliver",
    is_flag=True,
    help="For a decided submission: send its acknowledgments again (same files, no new number).",
)
@click.pass_context
def replay(ctx: click.Context, key: str, redeliver: bool) -> None:
    """Queue submission KEY (id or nomor aju) for processing again, if it is stuck or failed.

    A decided submission (registered, accepted or refused) is never processed again; with
    --redeliver its acknowledgments are queued for delivery once more. A file refused
    because the gateway could not read it (FILE-007) is read again, once the defect is
    fixed, as a new submission from the same kept bytes.
    """
    gateway = open_gateway(ctx)
    with gateway.db.transaction() as conn:
        submission_id = store.find_submission_id(conn, key)
        result = (
            deadletters.replay(
                conn, submission_id, redeliver=redeliver, now=gateway.clock(), actor=actor()
            )
            if submission_id is not None
            else deadletters.Replay(outcome=ReplayOutcome.NOT_FOUND, submission_id=None)
        )
    gateway.db.dispose()
    sid = result.submission_id
    if result.outcome is ReplayOutcome.NOT_FOUND:
        raise click.ClickException(f"tidak ada pengajuan {key} / no submission {key}")
    if result.outcome is ReplayOutcome.ALREADY_DECIDED:
        statuses = ", ".join(result.statuses) or "-"
        raise click.ClickException(
            f"pengajuan #{sid} sudah diputus ({statuses}) dan tidak pernah diproses dua kali; "
            "gunakan --redeliver untuk mengirim ulang tanda terima dan responsnya / "
            f"submission #{sid} is already decided ({statuses}) and is never processed twice; "
            "use --redeliver to send its acknowledgments again"
        )
    if result.outcome is ReplayOutcome.IN_HAND:
        raise click.ClickException(
            f"pengajuan #{sid} sedang dikerjakan oleh {result.held_by}; tunggu hasilnya / "
            f"submission #{sid} is being worked on by {result.held_by}; wait for its outcome"
        )
    if result.outcome is ReplayOutcome.REREAD_QUEUED:
        click.echo(
            f"#{sid}: berkas yang tidak terbaca dibaca ulang sebagai pengajuan "
            f"#{result.replayed_as} / the unreadable file is read again as submission "
            f"#{result.replayed_as}"
        )
        return
    if result.outcome is ReplayOutcome.ALREADY_REREAD:
        raise click.ClickException(
            f"pengajuan #{sid} sudah dibaca ulang sebagai #{result.replayed_as}; putar ulang "
            f"#{result.replayed_as} bila perlu / submission #{sid} was already read again as "
            f"#{result.replayed_as}; replay #{result.replayed_as} if need be"
        )
    if result.outcome is ReplayOutcome.REDELIVERY_QUEUED:
        click.echo(
            f"#{sid}: {result.acks} tanda terima/respons diantrekan untuk dikirim ulang / "
            f"{result.acks} acknowledgment(s) queued for delivery again"
        )
        return
    click.echo(
        f"#{sid}: diantrekan untuk diproses ulang oleh worker / queued for processing again "
        "by the workers"
    )


@click.group("deadletters")
def deadletters_group() -> None:
    """Jobs given up after their last attempt (status failed): list and retry."""


@deadletters_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
def deadletters_list(ctx: click.Context, as_json: bool) -> None:
    """Dead letters, oldest first: job, kind, submission, attempts, age, last error."""
    gateway = open_gateway(ctx)
    with gateway.db.engine.connect() as conn:
        found = deadletters.list_failed(conn)
    gateway.db.dispose()
    now = gateway.clock()
    rows = [d.as_json(now=now) for d in found]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("tidak ada pekerjaan gagal / no dead letters")
        return
    for row in rows:
        error = (row["last_error"] or "-").splitlines()[0][:120]
        click.echo(
            f"job {row['job_id']:<8} {row['kind']:<8} submission #{row['submission_id']:<8} "
            f"{row['sender'] or '-':<8} attempts {row['attempts']:<3} "
            f"age {_duration(row['age_seconds'])}  failed {row['failed_at'] or '-'}"
        )
        click.echo(f"    {row['source_name'] or '-'}  {row['nomor_aju'] or ''}")
        click.echo(f"    {error}")


@deadletters_group.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter.")
@click.pass_context
def deadletters_retry(ctx: click.Context, job_ids: tuple[int, ...], retry_all: bool) -> None:
    """Put dead letters JOB_IDS (or --all) back in the queue with their attempts reset.

    Fix the cause first (see `deadletters list`): a job retried unchanged fails again.
    """
    if retry_all == bool(job_ids):
        raise click.UsageError(
            "sebutkan nomor pekerjaan atau --all / give job ids or --all (not both)"
        )
    gateway = open_gateway(ctx)
    with gateway.db.transaction() as conn:
        retried = deadletters.retry_failed(
            conn, None if retry_all else list(job_ids), now=gateway.clock(), actor=actor()
        )
    gateway.db.dispose()
    for d in retried:
        click.echo(f"job {d.job_id} ({d.kind}, submission #{d.ref}) diantrekan lagi / queued again")
    missing = sorted(set(job_ids) - {d.job_id for d in retried})
    if missing:
        listed = ", ".join(str(m) for m in missing)
        raise click.ClickException(f"bukan pekerjaan gagal: {listed} / not dead letters: {listed}")
    if not retried:
        click.echo("tidak ada pekerjaan gagal / no dead letters")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
