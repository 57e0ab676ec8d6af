"""Acceptance helpers: the real gateway (``run_gateway.py``) as a subprocess, and its folders.

Each test gets its own data directory; the gateway logs (JSON lines on stderr) go to a file
under the test's tmp path, and the logs of every gateway still running are attached to the
report of a failing test.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lxml import etree

from gateway.storage.raw_files import RawFileStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
RESPONSE_XSD = REPO / "schemas" / "xml" / "response.xsd"
NS = "urn:pde-gateway:xml:1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOMOR_AJU_LENGTH = 26

T = TypeVar("T")

# Gateways started and not yet closed: their logs go into the report of a failing test.
_RUNNING: list[GatewayProcess] = []


# -- waiting -----------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
    gateway: GatewayProcess | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes.

    With ``gateway``, fail at once when that process has exited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if gateway is not None and not gateway.alive:
            pytest.fail(
                f"gateway exited with {gateway.returncode} while waiting for {_text(message)}"
            )
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {_text(message)}")
        time.sleep(interval)


def _text(message: str | Callable[[], str]) -> str:
    return message() if callable(message) else message


# -- the gateway process ------------------------------------------------------------------


def gateway_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a gateway with its own data dir; ``workers=2`` -> PDE_GATEWAY_WORKERS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDE_GATEWAY_")}
    env["PDE_GATEWAY_DATA_DIR"] = str(data_dir)
    env["PDE_GATEWAY_LOG_FORMAT"] = "json"
    # A free SFTP port per gateway (logged as sftp_port in "gateway started"): gateways of
    # tests running side by side, or next to `make run`, never fight over 2222.
    env["PDE_GATEWAY_SFTP_PORT"] = "0"
    env["PDE_GATEWAY_WEB_PORT"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    # drop_file() renames whole files into in/: no need for the default's wait for slow writers.
    env["PDE_GATEWAY_SETTLE_SECONDS"] = "0.3"
    for key, value in settings.items():
        env[f"PDE_GATEWAY_{key.upper()}"] = str(value)
    return env


class GatewayProcess:
    """``python run_gateway.py`` in a subprocess; every start logs to its own file."""

    def __init__(
        self, data_dir: Path, log_dir: Path, *, args: tuple[str, ...] = (), **settings: object
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.args = args  # run_gateway.py's own, e.g. ("--role", "worker")
        self.env = gateway_env(data_dir, **settings)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_paths: list[Path] = []

    # paths

    @property
    def drop(self) -> Path:
        return self.data_dir / "drop"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "gateway.db"

    def folder(self, carrier: str, sub: str) -> Path:
        return self.drop / carrier / sub

    def raw_path(self, sha256: str) -> Path:
        return RawFileStore(self.data_dir / "raw").path_for(sha256)

    # life cycle

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def start(self) -> None:
        assert not self.alive, "gateway already running"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"gateway-{len(self.log_paths) + 1}.log"
        self.log_paths.append(log_path)
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "run_gateway.py", *self.args],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self not in _RUNNING:
            _RUNNING.append(self)

    def wait_ready(self, timeout: float = 30) -> dict[str, Any]:
        """Wait for this start's ``gateway started`` log line and return it."""

        def started() -> dict[str, Any] | None:
            for line in self.log_events(current_only=True):
                if line.get("event") == "gateway started":
                    return line
            return None

        return wait_for(started, timeout, message="'gateway started'", gateway=self)

    def start_and_wait(self, timeout: float = 30) -> dict[str, Any]:
        self.start()
        return self.wait_ready(timeout)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; the exit code (the process is SIGKILLed if it overstays)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"gateway did not stop within {timeout} s of SIGTERM")
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no clean-up whatsoever in the gateway."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def close(self) -> None:
        """Make sure the process is gone (teardown); never raises for a running gateway."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _RUNNING:
            _RUNNING.remove(self)

    # logs

    def log_text(self) -> str:
        parts = []
        for path in self.log_paths:
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"==> {path} <==\n{text}")
        return "\n".join(parts)

    def log_events(self, *, current_only: bool = False) -> list[dict[str, Any]]:
        """The JSON log lines (other lines, e.g. the start banner, are skipped)."""
        paths = self.log_paths[-1:] if current_only else self.log_paths
        events = []
        for path in paths:
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("{"):
                    try:
                        events.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue  # a line cut short by SIGKILL
        return events

    def error_events(self) -> list[dict[str, Any]]:
        return [e for e in self.log_events() if e.get("level") in {"error", "critical"}]

    def peak_rss_bytes(self) -> int:
        """The process's peak resident set size (VmHWM), Linux only."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    # the CLI against the same data dir

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """``gateway_factory(workers=2, ...)`` -> a not yet started gateway on a fresh data dir."""
    made: list[GatewayProcess] = []

    def make(**settings: object) -> GatewayProcess:
        n = len(made) + 1
        gateway = GatewayProcess(tmp_path / f"data-{n}", tmp_path / f"logs-{n}", **settings)
        made.append(gateway)
        return gateway

    try:
        yield make
    finally:
        for gateway in made:
            gateway.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in {"setup", "call"}:
        for gateway in _RUNNING:
            text = gateway.log_text()
            if len(text) > 30_000:
                text = "...\n" + text[-30_000:]
            report.sections.append((f"gateway log ({gateway.data_dir})", text))


# -- files ---------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_file(inbox: Path, name: str, data: bytes) -> Path:
    """Put ``data`` into ``inbox`` as ``name`` atomically (temporary name, then rename)."""
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / name
    tmp = inbox / f".{name}.tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return target


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def rksp_variant(n: int, *, base: bytes | None = None) -> bytes:
    """A valid RKSP of its own: the example with voyage number and vessel name changed."""
    data = example("rksp.xml") if base is None else base
    voyage = b"<VoyageNumber>025N</VoyageNumber>"
    vessel = b"<Name>KM DEMO NUSANTARA</Name>"
    assert data.count(voyage) == 1 and data.count(vessel) == 1
    data = data.replace(voyage, f"<VoyageNumber>V{n:05d}N</VoyageNumber>".encode())
    return data.replace(vessel, f"<Name>KM DEMO NUSANTARA {n}</Name>".encode())


def split_ack_name(name: str, kind: str = "response") -> tuple[str, str] | None:
    """``rksp-0001-<nomor aju>.response.xml`` -> (``rksp-0001``, nomor aju); None otherwise."""
    suffix = f".{kind}.xml"
    if name.startswith(".") or not name.endswith(suffix):
        return None
    stem, sep, aju = name.removesuffix(suffix).rpartition("-")
    if not sep or len(aju) != NOMOR_AJU_LENGTH:
        return None
    return stem, aju


def acks_for(outbox: Path, stem: str, kind: str = "response") -> list[Path]:
    """The acks in ``outbox`` for the source file whose name (without extension) is ``stem``."""
    if not outbox.is_dir():
        return []
    found = []
    for path in sorted(outbox.iterdir()):
        parts = split_ack_name(path.name, kind)
        if parts is not None and parts[0] == stem:
            found.append(path)
    return found


def count_acks(outbox: Path, kind: str = "response") -> int:
    if not outbox.is_dir():
        return 0
    with os.scandir(outbox) as entries:
        return sum(1 for e in entries if split_ack_name(e.name, kind) is not None)


def wait_for_response(
    outbox: Path, stem: str, *, timeout: float = 30, gateway: GatewayProcess | None = None
) -> Path:
    found = wait_for(
        lambda: acks_for(outbox, stem),
        timeout,
        message=f"a response for {stem} in {outbox}",
        gateway=gateway,
    )
    assert len(found) == 1, f"more than one response for {stem}: {found}"
    return found[0]


_response_schema: etree.XMLSchema | None = None


def response_schema() -> etree.XMLSchema:
    global _response_schema
    if _response_schema is None:
        _response_schema = etree.XMLSchema(etree.parse(str(RESPONSE_XSD)))
    return _response_schema


def read_response(path: Path, *, validate: bool = True) -> dict[str, Any]:
    """A Response file as a dict (validated against ``schemas/xml/response.xsd``)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(path.read_bytes(), parser)
    if validate:
        schema = response_schema()
        assert schema.validate(root), f"{path.name} is not valid: {schema.error_log}"
    assert root.tag == f"{{{NS}}}Response", root.tag

    def text(parent: etree._Element, name: str) -> str | None:
        element = parent.find(f"{{{NS}}}{name}")
        return None if element is None else (element.text or "")

    registration = None
    reg = root.find(f"{{{NS}}}Registration")
    if reg is not None:
        registration = {
            "kind": text(reg, "Kind"),
            "office": text(reg, "OfficeCode"),
            "number": text(reg, "Number"),
            "date": text(reg, "Date"),
        }
    errors = []
    for error in root.iterfind(f"{{{NS}}}Errors/{{{NS}}}Error"):
        messages = {m.get(XML_LANG): m.text or "" for m in error.iterfind(f"{{{NS}}}Message")}
        errors.append(
            {
                "code": text(error, "Code"),
                "severity": text(error, "Severity"),
                "message_id": messages.get("id"),
                "message_en": messages.get("en"),
            }
        )
    submission_id = text(root, "SubmissionId")
    return {
        "submission_id": int(submission_id) if submission_id else None,
        "nomor_aju": text(root, "NomorAju"),
        "sender": text(root, "Sender"),
        "office": text(root, "OfficeCode"),
        "document_type": text(root, "DocumentType"),
        "source_name": text(root, "SourceName"),
        "sha256": text(root, "Sha256"),
        "status": text(root, "Status"),
        "registration": registration,
        "flags": [f.text for f in root.iterfind(f"{{{NS}}}Flags/{{{NS}}}Flag/{{{NS}}}Code")],
        "errors": errors,
    }


# -- the database ----------------------------------------------------------------------------


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the gateway's SQLite database (running or not)."""
    with closing(sqlite3.connect(db_path, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = query(db_path, sql, params)
    return rows[0][0] if rows else None
