"""Throwaway PostgreSQL cluster for the test suite.

The cluster is created once per test session with ``initdb`` in a temporary
directory (on /dev/shm when roomy, else /tmp) and ``postgres`` is started on a
free loopback port, tuned for speed (no fsync, no full-page writes, asynchronous
commit).  Each test that needs PostgreSQL gets its own freshly created database.

PostgreSQL refuses to run as root.  When the tests run as root (as in CI), the
cluster directory is owned by the ``postgres`` system user (created by the
Debian ``postgresql`` package; a ``pgtest`` system user is created with
``useradd`` when it does not exist) and ``initdb``/``postgres``/``pg_ctl`` run
through ``runuser -u <user> --`` (or ``setpriv`` when ``runuser`` is missing).
``postgres`` runs as a direct child of the test process (so it is reaped here,
not left to PID 1) and ``pg_ctl stop -m immediate`` stops it.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under "
    "/usr/lib/postgresql/*/bin or on PATH. Install them with `scripts/install-system-deps` "
    "(Debian: apt-get update && apt-get install -y --no-install-recommends postgresql)."
)

_PG_BINARIES = ("initdb", "pg_ctl", "postgres")
_SERVER_SETTINGS = (
    "-F",
    *("-c", "fsync=off"),
    *("-c", "full_page_writes=off"),
    *("-c", "synchronous_commit=off"),
    *("-c", "max_connections=200"),
)
_FALLBACK_RUN_USER = "pgtest"
_MIN_SHM_FREE = 2 * 1024**3


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries are not installed."""


class PostgresStartError(RuntimeError):
    """The throwaway cluster could not be initialised or started."""


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin -> numeric version ("15", "9.6").
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))


def find_pg_bin_dir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: the highest Debian version, else PATH."""
    candidates = [
        p
        for p in Path("/usr/lib/postgresql").glob("*/bin")
        if all(os.access(p / b, os.X_OK) for b in _PG_BINARIES)
    ]
    if candidates:
        return max(candidates, key=_version_key)
    found = [shutil.which(b) for b in _PG_BINARIES]
    if all(found):
        dirs = {Path(f).resolve().parent for f in found if f}
        if len(dirs) == 1:
            return dirs.pop()
    raise PostgresUnavailable(INSTALL_HINT)


def _cluster_parent_dir() -> str:
    """Where to put the throwaway cluster: RAM-backed /dev/shm when it is roomy.

    CREATE/DROP DATABASE are I/O bound even with fsync=off (about 20 ms on tmpfs
    against 300+ ms on a disk-backed /tmp), and every postgres test creates one.
    Small /dev/shm mounts (Docker's 64 MiB default) fall back to /tmp.
    """
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return "/tmp"
    if os.access(shm, os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize >= _MIN_SHM_FREE:
        return shm
    return "/tmp"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ensure_run_user() -> pwd.struct_passwd:
    """Unprivileged account to run PostgreSQL as when we are root."""
    for name in ("postgres", _FALLBACK_RUN_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            _FALLBACK_RUN_USER,
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(_FALLBACK_RUN_USER)


def _clean_env() -> dict[str, str]:
    # Keep stray PG* variables (PGDATA, PGPORT, PGHOST, ...) from steering the tools.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


@dataclass
class PostgresServer:
    """A running throwaway cluster; see :func:`start_postgres`."""

    bin_dir: Path
    base_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"
    run_as: pwd.struct_passwd | None = None
    # More ``-c name=value`` pairs, after (so over) the speed settings.
    settings: tuple[str, ...] = ()
    _admin: psycopg.Connection[tuple[object, ...]] | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for ``dbname`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str) -> str:
        """libpq connection string for ``dbname`` (for plain psycopg)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def _admin_conn(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.dsn("postgres"), autocommit=True)
        return self._admin

    def create_database(self) -> str:
        """Create a fresh, uniquely named database and return its SQLAlchemy URL."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        conn = self._admin_conn()
        # FILE_COPY (PostgreSQL 15+) copies the tiny template instead of WAL-logging
        # every block; with fsync off it is the faster strategy.
        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(f'CREATE DATABASE "{name}"{strategy}')
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database created by :meth:`create_database`, kicking out its sessions."""
        name = url_or_name.rsplit("/", 1)[-1]
        if not re.fullmatch(r"test_[0-9a-f]{16}", name):
            raise ValueError(f"refusing to drop non-test database {name!r}")
        self._admin_conn().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- process control ---------------------------------------------------

    def _cmd(self, args: Sequence[str]) -> list[str]:
        if self.run_as is None:
            return list(args)
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as.pw_name, "--", *args]
        return [
            "setpriv",
            f"--reuid={self.run_as.pw_uid}",
            f"--regid={self.run_as.pw_gid}",
            "--init-groups",
            "--",
            *args,
        ]

    def _run(self, args: Sequence[str], timeout: float = 120) -> None:
        proc = subprocess.run(
            self._cmd(args),
            cwd=self.base_dir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresStartError(
                f"{' '.join(args)} failed (exit {proc.returncode})\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n{self._log_tail()}"
            )

    def initdb(self) -> None:
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                self.user,
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )

    def start(self, timeout: float = 60) -> None:
        """Run ``postgres`` as our own child and wait until it accepts connections.

        (``pg_ctl start`` would daemonize the postmaster and leave it to PID 1 to
        reap; running it as a direct child lets us reap it ourselves on stop.)
        """
        args = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            str(self.socket_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            *_SERVER_SETTINGS,
            *(arg for setting in self.settings for arg in ("-c", setting)),
        ]
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(
                self._cmd(args),
                cwd=self.base_dir,
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: a terminal Ctrl-C reaches pytest (which then
                # stops the server cleanly), not the server directly.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                raise PostgresStartError(f"postgres exited during start-up\n{self._log_tail()}")
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self._kill()
                    raise PostgresStartError(
                        f"postgres not ready after {timeout}s\n{self._log_tail()}"
                    ) from None
                time.sleep(0.02)

    def _log_tail(self) -> str:
        if not self.log_file.exists():
            return ""
        return "server log:\n" + self.log_file.read_text(errors="replace")[-4000:]

    def _kill(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait(timeout=30)
        self._proc = None

    def halt(self, mode: str = "fast") -> None:
        """Stop the server as an outage does (``pg_ctl stop -m fast|immediate``: sessions cut,
        new connections refused), keeping its data; :meth:`start` brings it back on the same
        port (after ``immediate``, through crash recovery)."""
        if mode not in {"smart", "fast", "immediate"}:
            raise ValueError(f"unknown pg_ctl stop mode {mode!r}")
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        pg_ctl = str(self.bin_dir / "pg_ctl")
        self._run([pg_ctl, "stop", "-w", "-m", mode, "-D", str(self.data_dir)], timeout=60)
        if self._proc is not None:
            self._proc.wait(timeout=30)
            self._proc = None

    def stop(self) -> None:
        """Stop the server immediately, reap it and remove its directory."""
        try:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        finally:
            try:
                if self._proc is not None and self._proc.poll() is None:
                    try:
                        pg_ctl = str(self.bin_dir / "pg_ctl")
                        self._run(
                            [pg_ctl, "stop", "-w", "-m", "immediate", "-D", str(self.data_dir)],
                            timeout=60,
                        )
                        self._proc.wait(timeout=30)
                        self._proc = None
                    finally:
                        self._kill()
            finally:
                shutil.rmtree(self.base_dir, ignore_errors=True)


def start_postgres(attempts: int = 3, *, settings: Sequence[str] = ()) -> PostgresServer:
    """initdb a throwaway cluster under a temp dir and start it on a free loopback port.

    ``settings``: ``name=value`` server settings over the speed ones, e.g.
    ``synchronous_commit=on`` for a server that a test stops with ``-m immediate`` (with
    commits asynchronous, the last ones acknowledged would be lost).

    Raises :class:`PostgresUnavailable` when the binaries are missing and
    :class:`PostgresStartError` when the cluster fails to come up.
    """
    bin_dir = find_pg_bin_dir()
    run_as = _ensure_run_user() if os.geteuid() == 0 else None

    # The parent (/dev/shm or /tmp) is world-traversable (mode 1777); the cluster
    # dir itself is 0755 and, when we are root, owned by the unprivileged run_as.
    base_dir = Path(tempfile.mkdtemp(prefix="pde-pgtest-", dir=_cluster_parent_dir()))
    os.chmod(base_dir, 0o755)
    if run_as is not None:
        os.chown(base_dir, run_as.pw_uid, run_as.pw_gid)

    server = PostgresServer(
        bin_dir=bin_dir, base_dir=base_dir, port=0, run_as=run_as, settings=tuple(settings)
    )
    try:
        server.socket_dir.mkdir(mode=0o700)
        if run_as is not None:
            os.chown(server.socket_dir, run_as.pw_uid, run_as.pw_gid)
        server.initdb()
        for attempt in range(attempts):
            server.port = _free_port()
            try:
                server.start()
                break
            except PostgresStartError:
                # Most likely someone grabbed the port in between; try another.
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
        return server
    except BaseException:
        server.stop()
        raise
