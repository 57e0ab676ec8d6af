"""The gateway's SFTP server against OpenSSH's own ``sftp`` client (issue 5, acceptance).

One gateway (``run_gateway.py``, SQLite) serves the whole module on a free loopback port.
Carriers: DEMO ("A") and SAMU ("B"), each with an Ed25519 key made by ``ssh-keygen`` and
registered with ``pde-gateway partners keys add`` before the start. The client pins the
server's host key from ``<data_dir>/sftp/host_key.pub`` (``StrictHostKeyChecking=yes``), as
docs/channels/sftp.md tells carriers to.

Without the OpenSSH client these tests fail under ``CI=true`` and are skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from tests.acceptance.conftest import (
    REPO,
    GatewayProcess,
    count_acks,
    example,
    query,
    read_response,
    rksp_variant,
    scalar,
    sha256,
    split_ack_name,
    wait_for,
)
from tests.conftest import unavailable

A, B = "DEMO", "SAMU"
INSTALL_HINT = "install it with scripts/install-system-deps (Debian package openssh-client)"
OTHER_EXAMPLES = ("jksp.xml", "manifest-outward.xml", "manifest-nil.xml", "manifest-inward.xml")


@dataclass(frozen=True, kw_only=True)
class Batch:
    returncode: int
    stdout: str
    stderr: str


class Sftp:
    """The running gateway and how to reach it with OpenSSH's ``sftp``."""

    def __init__(self, gateway: GatewayProcess, port: int, base: Path, keys: dict[str, Path]):
        self.gateway = gateway
        self.port = port
        self.base = base
        self.keys = keys
        self.known_hosts = base / "known_hosts"
        host_key = (gateway.data_dir / "sftp" / "host_key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        self._batches = 0

    def tree(self, carrier: str, area: str) -> Path:
        return self.gateway.data_dir / "sftp" / carrier / area

    def command(self, user: str, key: str, batch: Path, *extra: str) -> list[str]:
        return [
            "sftp",
            *extra,
            "-b",
            str(batch),
            "-i",
            str(self.keys[key]),
            "-P",
            str(self.port),
            "-F",
            "/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            f"{user}@127.0.0.1",
        ]

    def batch_file(self, commands: Sequence[str]) -> Path:
        self._batches += 1
        path = self.base / f"batch-{self._batches}.txt"
        path.write_text("".join(f"{c}\n" for c in commands))
        return path

    def run(
        self, user: str, commands: Sequence[str], *, key: str | None = None, cwd: Path
    ) -> Batch:
        done = subprocess.run(
            self.command(user, key or user, self.batch_file(commands)),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Batch(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def submissions(self, source_name: str) -> list[tuple[int, str]]:
        return [
            (row[0], row[1])
            for row in query(
                self.gateway.db_path,
                "SELECT id, channel FROM submissions WHERE source_name = ? AND sender = ?",
                (source_name, A),
            )
        ]

    def audit(self, action: str) -> list[tuple[str, int | None, str]]:
        return [
            (row[0], row[1], row[2])
            for row in query(
                self.gateway.db_path,
                "SELECT actor, submission_id, detail FROM audit_log WHERE action = ? ORDER BY id",
                (action,),
            )
        ]


def _require_openssh() -> None:
    missing = [tool for tool in ("sftp", "ssh-keygen") if shutil.which(tool) is None]
    if missing:
        unavailable(f"OpenSSH client missing ({', '.join(missing)}): {INSTALL_HINT}")


@pytest.fixture(scope="module")
def sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sftp]:
    _require_openssh()
    base = tmp_path_factory.mktemp("sftp")
    keys: dict[str, Path] = {}
    for name in (A, B, "stranger"):
        keys[name] = base / f"{name.lower()}_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(keys[name])],
            check=True,
            timeout=30,
        )
    gateway = GatewayProcess(base / "data", base / "logs")
    try:
        for carrier in (A, B):
            added = gateway.cli("partners", "keys", "add", carrier, "--key", f"{keys[carrier]}.pub")
            assert added.returncode == 0, added.stderr
            printed = subprocess.run(
                ["ssh-keygen", "-l", "-f", f"{keys[carrier]}.pub"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[1]
            assert printed in added.stdout  # the CLI's fingerprint is ssh-keygen's
        ready = gateway.start_and_wait()
        port = ready["sftp_port"]
        assert isinstance(port, int) and port > 0
        yield Sftp(gateway, port, base, keys)
        assert gateway.error_events() == []
    finally:
        gateway.close()


def _wait_responses(sftp: Sftp, outbox: Path, names: Sequence[str]) -> dict[str, Path]:
    """name -> its response in ``outbox`` (server side), waiting until all are there."""
    stems = {Path(n).stem: n for n in names}

    def found() -> dict[str, Path] | None:
        seen: dict[str, Path] = {}
        for path in outbox.iterdir() if outbox.is_dir() else ():
            parts = split_ack_name(path.name)
            if parts is not None and parts[0] in stems:
                assert stems[parts[0]] not in seen, f"two responses for {parts[0]}"
                seen[stems[parts[0]]] = path
        return seen if len(seen) == len(names) else None

    return wait_for(found, 60, message=f"responses for {len(names)} files", gateway=sftp.gateway)


# -- (a) parallel uploads ----------------------------------------------------------------------


def test_parallel_uploads_each_get_a_response_in_their_own_outbox(
    sftp: Sftp, tmp_path: Path
) -> None:
    local = tmp_path / "upload"
    local.mkdir()
    batches: list[list[str]] = [[] for _ in range(4)]
    uploaded: dict[str, bytes] = {}
    for n in range(12):
        if n % 3 == 2:
            name, data = f"a{n:02d}-{OTHER_EXAMPLES[n // 3]}", example(OTHER_EXAMPLES[n // 3])
        else:
            name, data = f"a{n:02d}-rksp.xml", rksp_variant(100 + n)
        (local / name).write_bytes(data)
        uploaded[name] = data
        batches[n % 4].append(f"put {name} /inbox/{name}")
    logins_before = len(sftp.audit("sftp_login"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda cmds: sftp.run(A, ["cd inbox", *cmds], cwd=local), batches))
    for result in results:
        assert result.returncode == 0, result.stderr

    responses = _wait_responses(sftp, sftp.tree(A, "outbox"), list(uploaded))
    # Download every response with sftp, and read what came down.
    down = tmp_path / "download"
    down.mkdir()
    got = sftp.run(A, ["lcd " + str(down), "get /outbox/*.response.xml"], cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    for name, data in uploaded.items():
        downloaded = down / responses[name].name
        assert downloaded.read_bytes() == responses[name].read_bytes()
        response = read_response(downloaded)
        assert response["source_name"] == name
        assert response["sha256"] == sha256(data)
        assert response["sender"] == A
        if name.endswith("-rksp.xml"):
            assert response["status"] == "REGISTERED", response
        (submission,) = sftp.submissions(name)
        assert submission[1] == "sftp"
    assert sorted(os.listdir(sftp.tree(A, "inbox"))) == []

    # Nothing for B, on disk or through its own session.
    assert count_acks(sftp.tree(B, "outbox")) == 0
    listing = sftp.run(B, ["ls -1 /outbox", "ls -1 /inbox"], cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert not any(name.split(".")[0] in listing.stdout for name in uploaded)

    # The trail: four more logins, one upload row per file, pointing at its submission.
    assert len(sftp.audit("sftp_login")) - logins_before >= 4
    uploads = {
        detail: submission_id
        for actor, submission_id, detail in sftp.audit("sftp_upload")
        if actor == f"sftp:{A}"
    }
    for name in uploaded:
        ((submission_id, _),) = sftp.submissions(name)
        assert any(f'"/inbox/{name}"' in d and s == submission_id for d, s in uploads.items())
    assert len([1 for _, _, d in sftp.audit("sftp_download") if ".response.xml" in d]) >= 12


# -- (b) B cannot reach A's files ----------------------------------------------------------------


def test_b_cannot_reach_a_or_leave_its_tree(sftp: Sftp, tmp_path: Path) -> None:
    # A file of A's to aim at.
    (tmp_path / "target.xml").write_bytes(rksp_variant(200))
    put = sftp.run(A, ["put target.xml /inbox/target.xml"], cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    a_outbox = sftp.tree(A, "outbox")
    secret = _wait_responses(sftp, a_outbox, ["target.xml"])["target.xml"]
    before = {p.name: p.read_bytes() for p in a_outbox.iterdir()}
    # A link planted on the server (by anyone but B) is not followed either.
    (sftp.tree(B, "outbox") / "planted.xml").symlink_to(secret)

    real_a = sftp.gateway.data_dir / "sftp" / A
    (tmp_path / "evil.xml").write_bytes(b"<evil/>")
    tricks = [
        f"ls ../{A}/outbox",
        f"ls /../{A}/outbox",
        f"ls ../../../{A}/outbox",
        f"ls {real_a}/outbox",
        f"get ../{A}/outbox/{secret.name} loot1",
        f"get /../../{A}/outbox/{secret.name} loot2",
        f"get {real_a}/outbox/{secret.name} loot3",
        f"get ../../../../../../..{real_a}/outbox/{secret.name} loot4",
        "get /outbox/planted.xml loot5",
        f"put evil.xml ../{A}/inbox/evil.xml",
        f"put evil.xml {real_a}/inbox/evil.xml",
        "put evil.xml ../../evil.xml",
        f"rm ../{A}/outbox/{secret.name}",
        f"rm {real_a}/outbox/{secret.name}",
        f"rename ../{A}/outbox/{secret.name} /inbox/.stolen.part",
        f"rename {real_a}/outbox/{secret.name} /outbox/stolen.xml",
        f"ln -s {real_a}/outbox/{secret.name} /inbox/link1",
        f"ln -s ../{A}/outbox/{secret.name} /outbox/link2",
        f"ln ../{A}/outbox/{secret.name} /inbox/link3",
        "get /inbox/link1 loot6",
        "mkdir ../escape",
        f"mkdir /inbox/{A}",
        "cd ..",
        "cd ../../..",
        "pwd",
        "ls -1a",
        "cd /outbox",
        "ls -1",
    ]
    result = sftp.run(B, [f"-{t}" for t in tricks], cwd=tmp_path)
    output = result.stdout + result.stderr

    assert not list(tmp_path.glob("loot*")), "B downloaded something of A's"
    assert {p.name: p.read_bytes() for p in a_outbox.iterdir()} == before
    assert os.listdir(sftp.tree(A, "inbox")) == []
    assert sftp.submissions("evil.xml") == []
    # B's own tree got nothing new, and nothing landed outside the trees.
    assert os.listdir(sftp.tree(B, "inbox")) == []
    assert sorted(os.listdir(sftp.tree(B, "outbox"))) == ["planted.xml"]
    assert sorted(os.listdir(sftp.gateway.data_dir / "sftp")) == sorted(
        [A, B, "GIAA", "host_key", "host_key.pub"]
    )
    assert not (sftp.gateway.data_dir / "evil.xml").exists()
    links = [p for p in (sftp.gateway.data_dir / "sftp").rglob("*") if p.is_symlink()]
    assert [p.name for p in links] == ["planted.xml"]
    # `cd ..` stayed at B's root, which has only inbox and outbox; the planted link is hidden.
    assert "Remote working directory: /\n" in result.stdout
    root_listing = result.stdout.split("ls -1a\n", 1)[1].split("sftp>", 1)[0]
    assert set(root_listing.split()) <= {".", "..", "inbox", "outbox"}
    assert "planted.xml" not in result.stdout.rsplit("ls -1", 1)[1]
    # A's file name only comes back in B's own commands and the errors about them.
    errors = ("not found", "No such file", "Permission denied", "unsupported", "not support")
    shown = [line for line in output.splitlines() if not line.startswith("sftp>")]
    leaks = [line for line in shown if secret.name in line and not any(e in line for e in errors)]
    assert leaks == []
    assert "Operation unsupported" in output or "not supported" in output


# -- (c) a cut upload --------------------------------------------------------------------------


def test_upload_cut_by_killing_the_client_is_never_processed(sftp: Sftp, tmp_path: Path) -> None:
    padding = b"<!-- " + b"x" * (3 * 1024 * 1024) + b" -->\n"
    data = rksp_variant(300).replace(b"<Rksp ", padding + b"<Rksp ", 1)
    (tmp_path / "big.xml").write_bytes(data)
    inbox = sftp.tree(A, "inbox")
    aborted_before = len(sftp.audit("sftp_upload_aborted"))

    # 64 kbit/s: the upload is still running when the client (sftp and its ssh) is killed.
    client = subprocess.Popen(
        sftp.command(A, A, sftp.batch_file(["put big.xml /inbox/big.xml"]), "-l", "64"),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (inbox / "big.xml").exists() and (inbox / "big.xml").stat().st_size > 0,
            30,
            message="the upload to start",
            gateway=sftp.gateway,
        )
    finally:
        os.killpg(client.pid, signal.SIGKILL)
        client.wait(timeout=30)
    assert client.returncode == -signal.SIGKILL

    wait_for(lambda: not (inbox / "big.xml").exists(), 30, message="the partial file to go")
    wait_for(
        lambda: len(sftp.audit("sftp_upload_aborted")) > aborted_before,
        10,
        message="the aborted upload in the audit trail",
    )
    time.sleep(0.5)  # a wrongly taken file would be recorded by now
    assert sftp.submissions("big.xml") == []
    assert count_acks(sftp.tree(A, "outbox")) == len(
        [p for p in sftp.tree(A, "outbox").iterdir() if p.name.endswith(".response.xml")]
    )
    assert not any(p.name.startswith("big-") for p in sftp.tree(A, "outbox").iterdir())

    # The retry, at full speed, is taken once and answered.
    retry = sftp.run(A, ["put big.xml /inbox/big.xml"], cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    ((_, channel),) = sftp.submissions("big.xml")
    assert channel == "sftp"
    response = read_response(_wait_responses(sftp, sftp.tree(A, "outbox"), ["big.xml"])["big.xml"])
    assert response["sha256"] == sha256(data)
    assert response["status"] == "REGISTERED", response


# -- (d) temporary name, then rename ---------------------------------------------------------


def test_temporary_name_then_rename_is_taken_once(sftp: Sftp, tmp_path: Path) -> None:
    data = rksp_variant(400)
    (tmp_path / "renamed.xml").write_bytes(data)
    first = sftp.run(A, ["put renamed.xml /inbox/.renamed.xml.part", "ls -1a /inbox"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert ".renamed.xml.part" in first.stdout
    # Closed but under a temporary name: kept, not taken.
    assert (sftp.tree(A, "inbox") / ".renamed.xml.part").read_bytes() == data
    assert sftp.submissions("renamed.xml") == sftp.submissions(".renamed.xml.part") == []

    second = sftp.run(
        A,
        [
            "rename /inbox/.renamed.xml.part /inbox/renamed.xml",
            "-rename /inbox/.renamed.xml.part /inbox/renamed.xml",
        ],
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert len(sftp.submissions("renamed.xml")) == 1
    assert os.listdir(sftp.tree(A, "inbox")) == []
    response = read_response(
        _wait_responses(sftp, sftp.tree(A, "outbox"), ["renamed.xml"])["renamed.xml"]
    )
    assert response["source_name"] == "renamed.xml"
    assert response["status"] == "REGISTERED", response
    assert len(sftp.submissions("renamed.xml")) == 1


# -- (d2) the client checks the upload after closing it (issue 12) -----------------------------


def test_put_then_checking_the_file_reports_success_and_it_is_received_once(
    sftp: Sftp, tmp_path: Path
) -> None:
    data = rksp_variant(401)
    (tmp_path / "checked.xml").write_bytes(data)
    # `put -p` sets the times, `ls -l` asks for the size: both after the file was taken.
    batch = sftp.run(
        A,
        ["put -p checked.xml /inbox/checked.xml", "ls -l /inbox/checked.xml", "ls -1 /inbox"],
        cwd=tmp_path,
    )
    assert batch.returncode == 0, batch.stderr
    listed = [line for line in batch.stdout.splitlines() if not line.startswith("sftp>")]
    assert len(listed) == 1 and f" {len(data)} " in listed[0] and "checked.xml" in listed[0]
    assert len(sftp.submissions("checked.xml")) == 1
    assert os.listdir(sftp.tree(A, "inbox")) == []
    # B sees nothing of it.
    other = sftp.run(B, ["ls -l /inbox/checked.xml"], cwd=tmp_path)
    assert other.returncode != 0
    _wait_responses(sftp, sftp.tree(A, "outbox"), ["checked.xml"])
    assert len(sftp.submissions("checked.xml")) == 1


# -- (e) wrong key, revoked key ----------------------------------------------------------------


def test_wrong_and_revoked_keys_are_refused_and_audited(sftp: Sftp, tmp_path: Path) -> None:
    stranger = sftp.run(A, ["ls /"], key="stranger", cwd=tmp_path)
    assert stranger.returncode != 0
    assert "Permission denied (publickey" in stranger.stderr
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{sftp.keys['stranger']}.pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    failed = [
        detail
        for actor, _, detail in sftp.audit("sftp_login_failed")
        if actor == f"sftp:{A}" and fingerprint in detail
    ]
    assert failed, "the refused login is not in the audit trail"
    assert not any(fingerprint in detail for _, _, detail in sftp.audit("sftp_login"))

    # B's key, revoked while the gateway runs, no longer opens the door.
    assert sftp.run(B, ["ls /"], cwd=tmp_path).returncode == 0
    b_fingerprint = re.search(r"SHA256:\S+", sftp.gateway.cli("partners", "keys", "list", B).stdout)
    assert b_fingerprint is not None
    revoked = sftp.gateway.cli("partners", "keys", "revoke", B, b_fingerprint.group())
    assert revoked.returncode == 0, revoked.stderr
    after = sftp.run(B, ["ls /"], cwd=tmp_path)
    assert after.returncode != 0 and "Permission denied" in after.stderr
    assert scalar(
        sftp.gateway.db_path,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'credential_revoked' AND actor LIKE 'cli:%'",
    )


# -- passwords through the CLI ---------------------------------------------------------------


def test_password_from_the_cli_is_stored_hashed_and_can_be_cleared(sftp: Sftp) -> None:
    password = "Pelabuhan-Tanjung-Priok-2026"

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            cwd=REPO,
            env=sftp.gateway.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    set_it = cli("partners", "password", "set", B, "--password-stdin", stdin=password + "\n")
    assert set_it.returncode == 0, set_it.stderr
    stored = scalar(
        sftp.gateway.db_path,
        "SELECT password_hash FROM partner_credentials"
        " WHERE carrier_code = ? AND kind = 'password' AND revoked_at IS NULL",
        (B,),
    )
    assert stored.startswith("$argon2id$")
    for path in sftp.gateway.db_path.parent.glob(sftp.gateway.db_path.name + "*"):  # -wal too
        assert password.encode() not in path.read_bytes()

    def log_in() -> bool:
        transport = paramiko.Transport(("127.0.0.1", sftp.port))
        try:
            transport.connect(username=B, password=password)
            client = paramiko.SFTPClient.from_transport(transport)
            assert client is not None
            return sorted(client.listdir("/")) == ["inbox", "outbox"]
        except paramiko.AuthenticationException:
            return False
        finally:
            transport.close()

    assert log_in()
    cleared = cli("partners", "password", "clear", B)
    assert cleared.returncode == 0, cleared.stderr
    assert not log_in()
