"""SFTP pull end to end: the real ``run_gateway.py`` polling a real OpenSSH sshd.

The endpoint is set with the real CLI (``pde-gateway partners pull set``). Files the carrier
puts in its own server's inbox are fetched, registered, removed from the server, and the
answers appear in the server's outbox. Then the gateway is killed (SIGKILL) while a fetched
file could not yet be removed remotely, and restarted: nothing registered twice, nothing lost.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tests.acceptance.conftest import EXAMPLES, GatewayProcess, wait_for
from tests.sshd import Sshd


def rows(gateway: GatewayProcess, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{gateway.db_path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def set_endpoint(gateway: GatewayProcess, sshd: Sshd, remote: Path) -> None:
    done = gateway.cli(
        "partners",
        "pull",
        "set",
        "DEMO",
        "--host",
        "127.0.0.1",
        "--port",
        str(sshd.port),
        "--user",
        sshd.user,
        "--key",
        str(sshd.client_key),
        "--host-key",
        str(sshd.root / "host_key.pub"),
        "--inbox",
        str(remote / "inbox"),
        "--outbox",
        str(remote / "outbox"),
        "--every",
        "0.3",
    )
    assert done.returncode == 0, done.stderr
    listed = gateway.cli("partners", "pull", "list")
    assert f"127.0.0.1:{sshd.port}" in listed.stdout


def test_pull_fetches_answers_and_survives_a_kill_before_the_remote_delete(
    gateway_factory: Callable[..., GatewayProcess], sshd: Sshd, tmp_path: Path
) -> None:
    remote = tmp_path / "carrier"
    for folder in ("inbox", "outbox"):
        (remote / folder).mkdir(parents=True)
    gateway = gateway_factory()
    gateway.start_and_wait()
    set_endpoint(gateway, sshd, remote)

    for name in ("rksp.xml", "manifest-inward.edi"):
        shutil.copy(EXAMPLES / name, remote / "inbox" / name)
    wait_for(
        lambda: not list((remote / "inbox").iterdir()),
        30,
        message="the inbox emptied",
        gateway=gateway,
    )
    wait_for(
        lambda: (
            any(p.name.startswith("rksp-") for p in (remote / "outbox").iterdir())
            and any(p.name.endswith(".cusres.edi") for p in (remote / "outbox").iterdir())
        ),
        30,
        message="the answers in the carrier's outbox",
        gateway=gateway,
    )
    assert not any(p.name.endswith(".part") for p in (remote / "outbox").iterdir())

    # The carrier's server now refuses deletes: the next file is fetched and recorded but
    # stays remote, which is what a crash between download and delete leaves behind.
    sshd.restart(deny="remove")
    shutil.copy(EXAMPLES / "jksp.xml", remote / "inbox" / "jksp.xml")
    wait_for(
        lambda: rows(gateway, "SELECT id FROM submissions WHERE source_name = 'jksp.xml'"),
        30,
        message="jksp.xml recorded",
        gateway=gateway,
    )
    assert (remote / "inbox" / "jksp.xml").exists()
    gateway.kill()

    sshd.restart()
    gateway.start_and_wait()
    wait_for(
        lambda: not (remote / "inbox" / "jksp.xml").exists(),
        30,
        message="jksp.xml removed after the restart",
        gateway=gateway,
    )
    wait_for(
        lambda: any(p.name.startswith("jksp-") for p in (remote / "outbox").iterdir()),
        30,
        message="the JKSP's answer in the carrier's outbox",
        gateway=gateway,
    )
    names = [r[0] for r in rows(gateway, "SELECT source_name FROM submissions ORDER BY id")]
    assert sorted(names) == ["jksp.xml", "manifest-inward.edi", "rksp.xml"]
    registered = rows(gateway, "SELECT kind, number FROM registrations ORDER BY id")
    assert len(registered) == 3 and len(set(registered)) == 3
    gateway.stop()
