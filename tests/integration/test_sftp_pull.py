"""SFTP pull against a real OpenSSH sshd on loopback (tests/sshd.py): a carrier's own server.

The gateway's pull channel fetches settled files from the remote inbox into the pipeline,
deletes (or moves) them only once they are durable and recorded, and pushes the
acknowledgments back into the remote outbox. The host key is pinned.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.app import Gateway
from gateway.channels.sftp_pull import _State
from gateway.exceptions import ConfigurationError, TransientError
from gateway.storage import pull_endpoints
from gateway.storage.pull_endpoints import EndpointError, PullEndpoint
from gateway.storage.tables import registrations, submissions
from tests.sshd import Sshd, keygen

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SENT = ("rksp.xml", "manifest-inward.xml", "jksp.edi")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """The carrier's server side: inbox (they put files), outbox (we put acks), done."""
    root = tmp_path / "carrier"
    for folder in ("inbox", "outbox", "done"):
        (root / folder).mkdir(parents=True)
    return root


def endpoint(sshd: Sshd, remote: Path, **changes: object) -> PullEndpoint:
    key_type, blob = sshd.host_key
    values: dict[str, object] = {
        "carrier": "DEMO",
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": sshd.user,
        "private_key_path": str(sshd.client_key),
        "host_key_type": key_type,
        "host_key": blob,
        "remote_inbox": str(remote / "inbox"),
        "remote_outbox": str(remote / "outbox"),
        "remote_done": None,
        "poll_seconds": 0.2,
        "enabled": True,
        **changes,
    }
    return PullEndpoint(**values)  # type: ignore[arg-type]


def save(gateway: Gateway, ep: PullEndpoint) -> None:
    with gateway.db.transaction() as conn:
        pull_endpoints.save(conn, ep, now=gateway.clock(), actor="test")


def submission_ids(gateway: Gateway) -> list[int]:
    with gateway.db.engine.connect() as conn:
        return list(conn.scalars(sa.select(submissions.c.id).order_by(submissions.c.id)))


def count(gateway: Gateway, table: sa.Table) -> int:
    with gateway.db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def poll_until_taken(gateway: Gateway, ep: PullEndpoint) -> int:
    """First look only notes each file; the next look takes the ones that did not change."""
    intake = gateway.pipeline.receive_many
    first = gateway.sftp_pull.poll(ep, intake)
    assert first.fetched == 0
    return gateway.sftp_pull.poll(ep, intake).fetched


def process_all(gateway: Gateway) -> None:
    ids = submission_ids(gateway)
    gateway.pipeline.process_many(ids)
    gateway.pipeline.deliver_many(ids)


def test_files_are_fetched_removed_remotely_and_answered(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    gateway = make_gateway()
    ep = endpoint(sshd, remote)
    save(gateway, ep)
    for name in SENT:
        shutil.copy(EXAMPLES / name, remote / "inbox" / name)
    (remote / "inbox" / "upload.xml.part").write_text("still being written")

    assert poll_until_taken(gateway, ep) == len(SENT)
    assert sorted(p.name for p in (remote / "inbox").iterdir()) == ["upload.xml.part"]
    assert len(submission_ids(gateway)) == len(SENT)

    process_all(gateway)
    assert count(gateway, registrations) == len(SENT)
    report = gateway.sftp_pull.poll(ep, gateway.pipeline.receive_many)
    answered = sorted(p.name for p in (remote / "outbox").iterdir())
    assert report.pushed == len(answered) >= len(SENT)
    assert not any(name.endswith(".part") for name in answered)
    for stem in ("rksp", "manifest-inward", "jksp"):
        assert any(name.startswith(f"{stem}-") for name in answered), answered
    assert any(name.endswith(".cusres.edi") for name in answered)
    spool = gateway.sftp_pull.spool("DEMO")
    assert list(spool.iterdir()) == []  # all pushed, kept locally under sent/
    # Delivering again does not upload again.
    gateway.pipeline.deliver_many(submission_ids(gateway))
    assert list(spool.iterdir()) == []


def test_a_file_still_changing_waits(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    gateway = make_gateway()
    ep = endpoint(sshd, remote)
    target = remote / "inbox" / "rksp.xml"
    target.write_bytes((EXAMPLES / "rksp.xml").read_bytes()[:100])
    intake = gateway.pipeline.receive_many
    assert gateway.sftp_pull.poll(ep, intake).waiting == 1
    shutil.copy(EXAMPLES / "rksp.xml", target)  # grew since the last look
    assert gateway.sftp_pull.poll(ep, intake).fetched == 0
    assert gateway.sftp_pull.poll(ep, intake).fetched == 1
    assert len(submission_ids(gateway)) == 1


def test_moved_to_done_instead_of_deleted(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    gateway = make_gateway()
    ep = endpoint(sshd, remote, remote_done=str(remote / "done"))
    shutil.copy(EXAMPLES / "rksp.xml", remote / "inbox" / "rksp.xml")
    assert poll_until_taken(gateway, ep) == 1
    [moved] = list((remote / "done").iterdir())
    assert (
        moved.name.endswith("-rksp.xml")
        and moved.read_bytes() == (EXAMPLES / "rksp.xml").read_bytes()
    )


def test_remote_delete_failing_after_download_ingests_once(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    """The state a crash between download and remote delete leaves: the file is durable and
    recorded here and still on the carrier's server. The next poll must not ingest it again."""
    gateway = make_gateway()
    ep = endpoint(sshd, remote)
    shutil.copy(EXAMPLES / "rksp.xml", remote / "inbox" / "rksp.xml")
    sshd.restart(deny="remove")  # internal-sftp -P remove: downloads work, deletes fail
    intake = gateway.pipeline.receive_many
    gateway.sftp_pull.poll(ep, intake)
    with pytest.raises(TransientError, match="delete"):
        gateway.sftp_pull.poll(ep, intake)
    assert (remote / "inbox" / "rksp.xml").exists()
    assert len(submission_ids(gateway)) == 1

    sshd.restart()
    gateway.sftp_pull.poll(ep, intake)  # a new gateway would need a second look: same here
    gateway.sftp_pull.poll(ep, intake)
    assert not (remote / "inbox" / "rksp.xml").exists()
    assert len(submission_ids(gateway)) == 1
    process_all(gateway)
    assert count(gateway, registrations) == 1


def test_server_down_is_transient_and_backs_off(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    gateway = make_gateway()
    ep = endpoint(sshd, remote, poll_seconds=1.0)
    sshd.stop()
    with pytest.raises(TransientError, match="cannot reach"):
        gateway.sftp_pull.poll(ep, gateway.pipeline.receive_many)
    state = _State()
    delays = []
    for _ in range(3):
        before = time.monotonic()
        gateway.sftp_pull._poll_with_backoff(ep, state, gateway.pipeline.receive_many)
        delays.append(round(state.due - before))
    assert delays == [2, 4, 8]
    sshd.start()
    gateway.sftp_pull._poll_with_backoff(ep, state, gateway.pipeline.receive_many)
    assert state.failures == 0


def test_another_host_key_is_refused(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path, tmp_path: Path
) -> None:
    gateway = make_gateway()
    other_type, other_blob = keygen(tmp_path / "impostor").split()[:2]
    ep = endpoint(sshd, remote, host_key_type=other_type, host_key=other_blob)
    shutil.copy(EXAMPLES / "rksp.xml", remote / "inbox" / "rksp.xml")
    with pytest.raises(ConfigurationError, match="host key"):
        gateway.sftp_pull.poll(ep, gateway.pipeline.receive_many)
    assert submission_ids(gateway) == []


def test_endpoint_storage_checks_what_it_stores(
    make_gateway: Callable[..., Gateway], sshd: Sshd, remote: Path
) -> None:
    gateway = make_gateway()
    ep = endpoint(sshd, remote)
    save(gateway, ep)
    save(gateway, endpoint(sshd, remote, poll_seconds=5.0))  # replaces, one per carrier
    with gateway.db.engine.connect() as conn:
        [stored] = pull_endpoints.load(conn)
    assert stored.poll_seconds == 5.0 and stored.host_key == ep.host_key
    for bad in (
        {"carrier": "NOPE"},
        {"remote_inbox": "relative/inbox"},
        {"host_key": "bm90IGEga2V5"},
    ):
        with pytest.raises(EndpointError), gateway.db.transaction() as conn:
            pull_endpoints.save(conn, endpoint(sshd, remote, **bad), now=gateway.clock(), actor="t")
