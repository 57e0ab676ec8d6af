"""The embedded SFTP server in this process, driven by paramiko's own SFTP client.

Path resolution and the login guard are checked directly; limits, refusal texts, password
logins and the host key through a real server on a loopback port (SQLite). The tests against
OpenSSH's client are in ``tests/acceptance/test_sftp.py``.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import argon2
import paramiko
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_PERMISSION_DENIED

from gateway.app import Gateway
from gateway.channels.sftp_server import (
    CarrierTree,
    PathRefused,
    VirtualPath,
    load_or_create_host_key,
    resolve_path,
)
from gateway.config import load_settings
from gateway.login_guard import LoginGuard, LoginPolicy
from gateway.storage import credentials
from gateway.storage.database import Database
from gateway.storage.submissions import PendingAck
from gateway.storage.tables import audit_log, submissions
from tests.integration.conftest import EXAMPLES, FakeClock

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
LIMIT = 20_000
PASSWORD = "kata sandi yang panjang"

# -- path resolution --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_path", "expected"),
    [
        ("", VirtualPath()),
        (".", VirtualPath()),
        ("/", VirtualPath()),
        ("..", VirtualPath()),
        ("/../../..", VirtualPath()),
        ("inbox", VirtualPath(area="inbox")),
        ("/outbox/", VirtualPath(area="outbox")),
        ("//inbox//a.xml", VirtualPath(area="inbox", name="a.xml")),
        ("inbox/../outbox/r.xml", VirtualPath(area="outbox", name="r.xml")),
        ("../../inbox/./a.xml", VirtualPath(area="inbox", name="a.xml")),
        ("/inbox/.a.xml.part", VirtualPath(area="inbox", name=".a.xml.part")),
        ("/inbox/nama berkas é.xml", VirtualPath(area="inbox", name="nama berkas é.xml")),
    ],
)
def test_paths_resolve_inside_the_tree(client_path: str, expected: VirtualPath) -> None:
    assert resolve_path(client_path) == expected
    # Resolving the canonical text again is stable (what `realpath` hands back to clients).
    assert resolve_path(expected.text) == expected


@pytest.mark.parametrize(
    ("client_path", "code"),
    [
        ("/etc/passwd", SFTP_NO_SUCH_FILE),
        ("../SAMU/outbox/x.xml", SFTP_NO_SUCH_FILE),
        ("/../DEMO/outbox", SFTP_NO_SUCH_FILE),
        ("/var/sftp/DEMO/outbox/x.xml", SFTP_NO_SUCH_FILE),
        ("/inbox/sub/a.xml", SFTP_NO_SUCH_FILE),
        ("/inbox/a\x00b", SFTP_PERMISSION_DENIED),
        ("/inbox/a\nb.xml", SFTP_PERMISSION_DENIED),
        ("/inbox/a\x1b[2Jb.xml", SFTP_PERMISSION_DENIED),
        ("/inbox/a\x85b.xml", SFTP_PERMISSION_DENIED),
        ("/inbox/..\\..\\x", SFTP_PERMISSION_DENIED),
        ("/inbox/" + "a" * 256, SFTP_PERMISSION_DENIED),
    ],
)
def test_paths_outside_or_unsafe_are_refused(client_path: str, code: int) -> None:
    with pytest.raises(PathRefused) as refused:
        resolve_path(client_path)
    assert refused.value.code == code
    indonesian, english = refused.value.text.split(" / ")
    assert indonesian and english


def test_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    demo, samu = CarrierTree(tmp_path / "DEMO"), CarrierTree(tmp_path / "SAMU")
    demo.prepare()
    samu.prepare()
    secret = demo.area_dir("outbox") / "secret.xml"
    secret.write_text("<secret/>")
    (samu.area_dir("outbox") / "planted.xml").symlink_to(secret)
    (samu.area_dir("outbox") / "dir").mkdir()
    planted = VirtualPath(area="outbox", name="planted.xml")
    with pytest.raises(PathRefused):
        samu.real(planted)
    with pytest.raises(PathRefused):
        samu.regular_file(VirtualPath(area="outbox", name="dir"))
    path, st = demo.regular_file(VirtualPath(area="outbox", name="secret.xml"))
    assert path == secret and st.st_size == len("<secret/>")


# -- the login guard --------------------------------------------------------------------------


def test_login_guard_slows_down_then_locks_and_forgives_success(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    clock = FakeClock(T0)
    policy = LoginPolicy(delay=0.5, max_delay=2.0, limit=8, user_limit=12, lockout=60.0)
    guard = LoginGuard(db, door="sftp", policy=policy, clock=clock)
    try:
        attempts = [guard.attempt("DEMO", "10.0.0.1") for _ in range(7)]
        assert [a.delay for a in attempts] == [0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 2.0]
        assert all(a.allowed for a in attempts) and not guard.locked("DEMO", "10.0.0.1")
        assert guard.attempt("DEMO", "10.0.0.1").allowed  # the 8th is still checked
        assert guard.locked("DEMO", "10.0.0.1")
        assert not guard.attempt("DEMO", "10.0.0.1").allowed
        # Other addresses may still try, until the user's count over all of them (12) is up.
        assert [guard.attempt("DEMO", f"10.0.0.{n}").allowed for n in range(2, 7)] == [
            True,
            True,
            True,
            True,
            False,
        ]
        # Other users, and the other door, are not affected.
        assert guard.attempt("SAMU", "10.0.0.1").allowed
        web = LoginGuard(db, door="web", policy=policy, clock=clock)
        assert web.attempt("DEMO", "10.0.0.1").allowed
        # One IPv6 /64 is one address.
        for n in range(8):
            guard.attempt("SAMU", f"2001:db8:1:2::{n + 1}")
        assert guard.locked("SAMU", "2001:db8:1:2:ffff::9")
        assert not guard.locked("SAMU", "2001:db8:1:3::1")
        # A success starts the user's counters again.
        guard.succeeded("SAMU", "2001:db8:1:2::1")
        assert not guard.locked("SAMU", "2001:db8:1:2::1")
        # Quiet for the lock-out period: the counters start again.
        clock.advance(seconds=61)
        again = guard.attempt("DEMO", "10.0.0.1")
        assert again.allowed and again.attempts == 1
    finally:
        db.dispose()


# -- a running server -------------------------------------------------------------------------


class Server:
    def __init__(self, gateway: Gateway, stop: threading.Event, thread: threading.Thread) -> None:
        self.gateway = gateway
        self.stop = stop
        self.thread = thread
        port = gateway.sftp.port
        assert port is not None
        self.port = port

    def connect(
        self,
        user: str,
        *,
        key: paramiko.PKey | None = None,
        password: str | None = None,
        source: str = "127.0.0.1",
    ) -> paramiko.Transport:
        # Any 127.x.y.z is this host: a source address of its own is another client address.
        sock = socket.create_connection(("127.0.0.1", self.port), source_address=(source, 0))
        transport = paramiko.Transport(sock)
        try:
            transport.connect(username=user, pkey=key, password=password)
        except BaseException:
            transport.close()
            raise
        return transport

    def client(self, user: str, **login: Any) -> paramiko.SFTPClient:
        transport = self.connect(user, **login)
        try:
            client = paramiko.SFTPClient.from_transport(transport)
        except BaseException:
            transport.close()
            raise
        assert client is not None
        return client

    def audit(self, action: str) -> list[Any]:
        with self.gateway.db.engine.connect() as conn:
            return conn.execute(
                sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            ).all()

    def submissions(self) -> list[Any]:
        with self.gateway.db.engine.connect() as conn:
            return conn.execute(sa.select(submissions).order_by(submissions.c.id)).all()


def disconnect(client: paramiko.SFTPClient) -> None:
    """Close the SFTP session and its SSH connection (SFTPClient.close keeps the latter)."""
    transport = client.get_channel().get_transport()  # type: ignore[union-attr]
    client.close()
    transport.close()


def make_key(path: Path) -> paramiko.Ed25519Key:
    private = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    return paramiko.Ed25519Key(filename=str(path))


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, paramiko.Ed25519Key]:
    return {name: make_key(tmp_path / f"{name}.key") for name in ("DEMO", "SAMU", "stranger")}


@pytest.fixture
def start_server(
    sqlite_url: str, tmp_path: Path, keys: dict[str, paramiko.Ed25519Key]
) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**overrides: str) -> Server:
        env = {
            "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "PDE_GATEWAY_DATABASE_URL": sqlite_url,
            "PDE_GATEWAY_SFTP_PORT": "0",
            "PDE_GATEWAY_MAX_FILE_BYTES": str(LIMIT),
            "PDE_GATEWAY_LOGIN_DELAY_SECONDS": "0.01",
            "PDE_GATEWAY_LOGIN_DELAY_MAX_SECONDS": "0.02",
            **{f"PDE_GATEWAY_{k.upper()}": v for k, v in overrides.items()},
        }
        gateway = Gateway(load_settings(environ=env))
        with gateway.db.transaction() as conn:
            for carrier in ("DEMO", "SAMU"):
                line = f"{keys[carrier].get_name()} {keys[carrier].get_base64()}"
                if not credentials.list_credentials(conn, carrier):
                    credentials.add_key(
                        conn,
                        carrier,
                        credentials.parse_public_key(line),
                        comment=None,
                        now=T0,
                        actor="test",
                    )
        gateway.sftp.listen()
        stop = threading.Event()
        thread = threading.Thread(
            target=gateway.sftp.run, args=(gateway.pipeline.receive_many, stop), daemon=True
        )
        thread.start()
        server = Server(gateway, stop, thread)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop.set()
        server.thread.join(timeout=15)
        server.gateway.db.dispose()


def test_upload_on_close_refusal_texts_and_audit(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server()
    inbox = server.gateway.settings.sftp_dir / "DEMO" / "inbox"
    client = server.client("demo", key=keys["DEMO"])  # the user name is the carrier code
    data = (EXAMPLES / "rksp.xml").read_bytes()
    with client.open("/inbox/rksp.xml", "wb") as upload:
        upload.write(data)
        assert (inbox / "rksp.xml").exists()
        assert server.submissions() == []  # not before the close
    (received,) = server.submissions()
    assert (received.channel, received.sender, received.source_name, received.size) == (
        "sftp",
        "DEMO",
        "rksp.xml",
        len(data),
    )
    assert not (inbox / "rksp.xml").exists()
    (upload_row,) = server.audit("sftp_upload")
    assert upload_row.submission_id == received.id
    assert upload_row.actor == "sftp:DEMO"
    assert upload_row.detail["size"] == len(data)

    # Each refusal says why, in Indonesian and English.
    refusals = {
        "/inbox/x\x07.xml": "Invalid file name",
        "/outbox/new.xml": "for downloading and deleting only",
        "/elsewhere/x.xml": "there are only /inbox and /outbox",
    }
    for path, english in refusals.items():
        with pytest.raises(OSError, match=english) as failed:
            client.open(path, "wb")
        assert " / " in str(failed.value)
    with pytest.raises(OSError, match="for uploading only"):
        client.open("/inbox/rksp.xml", "rb")
    with pytest.raises(OSError, match="Links are not allowed"):
        client.symlink("/outbox", "/inbox/link")
    with pytest.raises(OSError, match="Folders cannot be created"):
        client.mkdir("/inbox/sub")
    with pytest.raises(OSError, match="Rename only in /inbox"):
        client.rename("/outbox/a.xml", "/inbox/a.xml")
    assert client.normalize("../../inbox/..") == "/"
    assert sorted(client.listdir("/")) == ["inbox", "outbox"]
    client.close()


def test_too_large_is_cut_with_an_error_and_never_taken(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server()
    client = server.client("DEMO", key=keys["DEMO"])
    upload = client.open("/inbox/big.xml", "wb")
    upload.write(b"x" * (LIMIT - 10))  # paramiko writes synchronously unless pipelined
    with pytest.raises(OSError, match=f"over the limit of {LIMIT} bytes") as refused:
        upload.write(b"y" * 20)
    assert "melebihi batas" in str(refused.value)
    upload.close()
    assert list((server.gateway.settings.sftp_dir / "DEMO" / "inbox").iterdir()) == []
    assert server.submissions() == []
    (row,) = server.audit("sftp_upload_refused")
    assert row.detail["reason"] == "too large"
    client.close()


def test_temporary_name_waits_for_the_rename(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server()
    client = server.client("DEMO", key=keys["DEMO"])
    data = (EXAMPLES / "jksp.xml").read_bytes()
    with client.open("/inbox/jksp.xml.part", "wb") as upload:
        upload.write(data)
    assert server.submissions() == []
    assert client.listdir("/inbox") == ["jksp.xml.part"]
    client.rename("/inbox/jksp.xml.part", "/inbox/.jksp.tmp")  # temporary to temporary: kept
    assert server.submissions() == []
    client.rename("/inbox/.jksp.tmp", "/inbox/jksp.xml")
    (received,) = server.submissions()
    assert received.source_name == "jksp.xml" and received.size == len(data)
    assert client.listdir("/inbox") == []
    with pytest.raises(FileNotFoundError):
        client.rename("/inbox/.jksp.tmp", "/inbox/jksp.xml")
    assert len(server.submissions()) == 1
    client.close()


def test_handle_and_session_limits(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server(sftp_max_open_handles="2", sftp_max_sessions_per_carrier="2")
    first = server.client("DEMO", key=keys["DEMO"])
    a = first.open("/inbox/a.part", "wb")
    b = first.open("/inbox/b.part", "wb")
    with pytest.raises(OSError, match="Too many open files in this session"):
        first.open("/inbox/c.part", "wb")
    a.close()
    first.open("/inbox/c.part", "wb").close()
    # Another session cannot write a name this one is uploading.
    second = server.client("DEMO", key=keys["DEMO"])
    with pytest.raises(OSError, match="being uploaded"):
        second.open("/inbox/b.part", "wb")
    b.close()

    third = server.connect("DEMO", key=keys["DEMO"])
    with pytest.raises(paramiko.ChannelException):
        paramiko.SFTPClient.from_transport(third)
    third.close()
    (refused,) = server.audit("sftp_session_refused")
    assert refused.actor == "sftp:DEMO" and refused.detail["limit"] == 2
    # SAMU has sessions of its own.
    disconnect(server.client("SAMU", key=keys["SAMU"]))
    disconnect(second)
    disconnect(first)
    # A slot comes back when its connection ends (the server notices within moments).
    deadline = time.monotonic() + 10
    while True:
        try:
            disconnect(server.client("DEMO", key=keys["DEMO"]))
            break
        except paramiko.ChannelException:
            assert time.monotonic() < deadline, "the session slots were not given back"
            time.sleep(0.05)


def test_password_login_slow_down_and_lockout(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server(login_failure_limit="5", login_failure_limit_per_user="6")
    with server.gateway.db.transaction() as conn:
        credentials.set_password(conn, "SAMU", PASSWORD, now=T0, actor="test")
    server.client("SAMU", password=PASSWORD).close()
    (login,) = server.audit("sftp_login")
    assert login.detail["method"] == "password" and login.actor == "sftp:SAMU"

    with pytest.raises(paramiko.AuthenticationException):
        server.connect("DEMO", key=keys["stranger"])
    for _ in range(5):
        with pytest.raises(paramiko.AuthenticationException):
            server.connect("SAMU", password="tebakan yang salah")
    # Five failures from this address: even the right password is refused now.
    with pytest.raises(paramiko.AuthenticationException):
        server.connect("SAMU", password=PASSWORD)
    # DEMO (one failure) still gets in with its key.
    server.client("DEMO", key=keys["DEMO"]).close()

    failed = server.audit("sftp_login_failed")
    stranger = credentials.fingerprint(keys["stranger"].asbytes())
    assert [(r.actor, r.detail["method"]) for r in failed] == [
        ("sftp:DEMO", "publickey"),
        *[("sftp:SAMU", "password")] * 6,
    ]
    assert failed[0].detail["fingerprint"] == stranger
    assert failed[-1].detail["locked_out"] is True
    assert all(r.detail["peer"] == "127.0.0.1" for r in failed)
    assert [r.actor for r in server.audit("sftp_login")] == ["sftp:SAMU", "sftp:DEMO"]

    # From another address: one more wrong password is checked (the user's 6th), then the
    # user is locked everywhere for passwords, but not for its key (keys cannot be guessed).
    with pytest.raises(paramiko.AuthenticationException):
        server.connect("SAMU", password="tebakan lain", source="127.0.0.2")
    with pytest.raises(paramiko.AuthenticationException):
        server.connect("SAMU", password=PASSWORD, source="127.0.0.2")
    assert [r.detail["locked_out"] for r in server.audit("sftp_login_failed")[-2:]] == [
        False,
        True,
    ]
    server.connect("SAMU", key=keys["SAMU"], source="127.0.0.2").close()


def test_host_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "sftp" / "host_key"
    first = load_or_create_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.get_name() == "ssh-ed25519"
    again = load_or_create_host_key(path)
    assert again.asbytes() == first.asbytes()
    public = path.with_name("host_key.pub").read_text().split()
    assert public[:2] == [first.get_name(), first.get_base64()]


def test_delivery_is_idempotent_and_hidden_while_written(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server()
    ack = PendingAck(
        id=1,
        submission_id=1,
        kind="RESPONSE",
        channel="sftp",
        partner="SAMU",
        file_name="x-040301SAMU0120260201000001.response.xml",
        body=b"<Response/>",
        refused=False,
        source_name="x.xml",
        raw_path=Path("/nonexistent"),
    )
    first = server.gateway.sftp.deliver(ack)
    second = server.gateway.sftp.deliver(ack)
    assert first == second and first.read_bytes() == b"<Response/>"
    outbox = first.parent
    assert [p.name for p in outbox.iterdir()] == [ack.file_name]
    (outbox / ".half-written.tmp").write_bytes(b"")
    client = server.client("SAMU", key=keys["SAMU"])
    assert client.listdir("/outbox") == [ack.file_name]
    with client.open(f"/outbox/{ack.file_name}", "rb") as download:
        assert download.read() == b"<Response/>"
    client.remove(f"/outbox/{ack.file_name}")
    assert client.listdir("/outbox") == []
    client.close()
    assert [r.detail["file"] for r in server.audit("sftp_download")] == [f"/outbox/{ack.file_name}"]
    assert [r.detail["file"] for r in server.audit("sftp_delete")] == [f"/outbox/{ack.file_name}"]


def test_port_in_use_is_a_configuration_error(
    start_server: Callable[..., Server], tmp_path: Path, sqlite_url: str
) -> None:
    from gateway.exceptions import ConfigurationError

    server = start_server()
    env = {
        "PDE_GATEWAY_DATA_DIR": str(tmp_path / "other"),
        "PDE_GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
        "PDE_GATEWAY_SFTP_PORT": str(server.port),
    }
    gateway = Gateway(load_settings(environ=env))
    try:
        with pytest.raises(ConfigurationError, match="cannot listen") as failed:
            gateway.sftp.listen()
        assert isinstance(failed.value.__cause__, OSError)
        assert failed.value.__cause__.errno == errno.EADDRINUSE
    finally:
        gateway.db.dispose()
    assert os.path.exists(server.gateway.sftp.host_key_path)


# -- log-in limits, pre-authentication flooding, stat after close (issue 12) ------------------


class Verifications:
    """How many times argon2 verified a password in this process (the library call, counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        lock = threading.Lock()
        verify = argon2.PasswordHasher.verify

        def counted(hasher: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                self.count += 1
            return verify(hasher, *args, **kwargs)

        monkeypatch.setattr(argon2.PasswordHasher, "verify", counted)


def test_forty_parallel_wrong_passwords_are_checked_at_most_limit_times(
    start_server: Callable[..., Server],
    keys: dict[str, paramiko.Ed25519Key],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Room for all 40 at once, so that the log-in limit is what is tested here.
    server = start_server(
        login_failure_limit="10",
        sftp_max_unauthenticated="64",
        sftp_max_unauthenticated_per_address="64",
        sftp_max_connections="128",
    )
    with server.gateway.db.transaction() as conn:
        credentials.set_password(conn, "SAMU", PASSWORD, now=T0, actor="test")
    verified = Verifications(monkeypatch)

    def guess(n: int) -> str:
        try:
            server.connect("SAMU", password=f"tebakan {n}").close()
        except paramiko.AuthenticationException:
            return "refused"
        return "in"

    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(guess, range(40)))
    assert outcomes == ["refused"] * 40
    assert verified.count == 10
    # Locked: the right password is refused without being checked.
    with pytest.raises(paramiko.AuthenticationException):
        server.connect("SAMU", password=PASSWORD)
    assert verified.count == 10
    failed = server.audit("sftp_login_failed")
    assert len(failed) == 41
    assert sum(1 for r in failed if not r.detail["locked_out"]) == 10
    # Another carrier from the same address is not affected.
    disconnect(server.client("DEMO", key=keys["DEMO"]))


def _idle(port: int, source: str) -> socket.socket:
    """A TCP connection from ``source`` (any 127.x address is this host) that says nothing."""
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (its banner is skipped)."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_idle_connections_do_not_keep_a_carrier_out(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key]
) -> None:
    server = start_server(
        sftp_max_unauthenticated="16",
        sftp_max_unauthenticated_per_address="4",
        sftp_max_connections="40",
    )
    idle: list[socket.socket] = []
    try:
        # One address opening many: past 4 they are closed at once, before any banner.
        crowd = [_idle(server.port, "127.0.0.99") for _ in range(10)]
        idle += crowd
        assert sum(_closed_by_server(s, 0.5) for s in crowd) == 6
        # Many addresses, one each: 70 connections that never send a banner.
        idle += [_idle(server.port, f"127.0.0.{n}") for n in range(2, 72)]
        started = time.monotonic()
        demo = server.client("DEMO", key=keys["DEMO"])
        assert time.monotonic() - started < 3
        with demo.open("/inbox/rksp.xml", "wb") as upload:
            upload.write((EXAMPLES / "rksp.xml").read_bytes())
        # Logged in, DEMO no longer counts against the pre-login cap: more newcomers do not
        # push it out, and SAMU gets in too.
        idle += [_idle(server.port, f"127.0.1.{n}") for n in range(2, 40)]
        samu = server.client("SAMU", key=keys["SAMU"])
        assert demo.listdir("/outbox") is not None
        disconnect(samu)
        disconnect(demo)
        assert len(server.submissions()) == 1
        # Of all the idle ones, no more than the cap are still open.
        still_open = [s for s in idle if not _closed_by_server(s, 0.05)]
        assert len(still_open) <= 16
    finally:
        for sock in idle:
            sock.close()


def test_connections_that_do_not_log_in_are_closed_after_the_timeouts(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(sftp_banner_timeout_seconds="0.5", sftp_auth_timeout_seconds="1.5")
    silent = _idle(server.port, "127.0.0.1")
    started = time.monotonic()
    assert _closed_by_server(silent, 5)
    assert time.monotonic() - started < 2.5
    silent.close()
    # A client that finishes the key exchange and then never logs in.
    transport = paramiko.Transport(("127.0.0.1", server.port))
    try:
        transport.start_client(timeout=10)
        started = time.monotonic()
        while transport.is_active() and time.monotonic() - started < 6:
            time.sleep(0.05)
        assert not transport.is_active()
        assert time.monotonic() - started < 3
    finally:
        transport.close()


def test_put_with_confirm_succeeds_and_the_name_answers_stat_for_a_while(
    start_server: Callable[..., Server], keys: dict[str, paramiko.Ed25519Key], tmp_path: Path
) -> None:
    server = start_server(sftp_received_stat_seconds="1.5")
    local = tmp_path / "rksp.xml"
    local.write_bytes((EXAMPLES / "rksp.xml").read_bytes())
    client = server.client("DEMO", key=keys["DEMO"])
    attributes = client.put(str(local), "/inbox/rksp.xml", confirm=True)
    assert attributes.st_size == local.stat().st_size
    (received,) = server.submissions()
    assert received.size == local.stat().st_size
    assert not (server.gateway.settings.sftp_dir / "DEMO" / "inbox" / "rksp.xml").exists()
    assert client.stat("/inbox/rksp.xml").st_size == local.stat().st_size
    assert client.lstat("inbox/rksp.xml").st_size == local.stat().st_size
    client.utime("/inbox/rksp.xml", (1_700_000_000, 1_700_000_000))  # `put -p` after close
    assert client.listdir("/inbox") == []  # gone from the listing: it is taken
    # Another carrier does not see it.
    other = server.client("SAMU", key=keys["SAMU"])
    with pytest.raises(FileNotFoundError):
        other.stat("/inbox/rksp.xml")
    disconnect(other)
    time.sleep(1.6)
    with pytest.raises(FileNotFoundError):
        client.stat("/inbox/rksp.xml")
    # A renamed temporary upload answers under its final name too.
    client.put(str(local), "/inbox/.second.part", confirm=True)
    client.rename("/inbox/.second.part", "/inbox/second.xml")
    assert client.stat("/inbox/second.xml").st_size == local.stat().st_size
    assert len(server.submissions()) == 2
    disconnect(client)
