"""SFTP intake of the real gateway: N small RKSP files uploaded to the embedded server.

``run_gateway.py`` runs on a fresh data dir (SQLite, default settings, log level WARNING) with
its SFTP server on a free loopback port; the bench registers a new ed25519 key for carrier
DEMO with the real CLI (``pde-gateway partners keys add``), then uploads N distinct RKSP files
over 4 SSH connections in parallel (paramiko clients, one thread each). For every file the
clock starts when the client sends the CLOSE of its upload (the moment the gateway may take
it) and stops when the response is readable in DEMO's ``outbox/`` (the response file's
modification time: it is written whole, then renamed into place). Throughput is N divided by
first CLOSE -> last response.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from bench.common import (
    REPO_ROOT,
    OtherLoad,
    cli_command,
    gateway_env,
    percentile,
    print_table,
    verdict,
)
from bench.filedrop import _cpu_seconds, _log_tail, _source_stem, _stop_gateway, _Watcher
from bench.generate import rksp_name, rksp_xml

PARTNER = "DEMO"
CONNECTIONS = 4
READY_TIMEOUT = 60.0
STALL_TIMEOUT = 60.0


@dataclass
class SftpResult:
    files: int
    connections: int = CONNECTIONS
    responses: int = 0
    upload_seconds: float = 0.0  # first CLOSE -> last CLOSE
    elapsed_seconds: float = 0.0  # first CLOSE -> last response
    files_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    cpu_seconds: tuple[float, float] | None = None
    other_cores: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.responses == self.files


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _connect(port: int, key: paramiko.PKey) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a fresh server each run
    client.connect(
        "127.0.0.1",
        port=port,
        username=PARTNER,
        pkey=key,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def _upload(sftp: paramiko.SFTPClient, name: str, data: bytes) -> int:
    """Write ``/inbox/<name>``; returns the instant its CLOSE was sent."""
    remote = sftp.open(f"/inbox/{name}", "wb")
    remote.write(data)
    closed = time.time_ns()
    remote.close()
    return closed


def run(files: int, *, keep: bool = False) -> SftpResult:
    result = SftpResult(files=files)
    print(f"\n== sftp: {files} RKSP files over {CONNECTIONS} SFTP connections ==")
    work = Path(tempfile.mkdtemp(prefix="pde-bench-sftp-"))
    data_dir, log_path = work / "data", work / "gateway.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        key_path = work / "carrier_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_path)], check=True
        )
        port = _free_port()
        env = gateway_env(data_dir)
        env["PDE_GATEWAY_SFTP_PORT"] = str(port)
        added = subprocess.run(
            [*cli_command(), "partners", "keys", "add", PARTNER, "--key", f"{key_path}.pub"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            result.problems.append(f"partners keys add failed: {added.stderr.strip()}")
            return result
        key = paramiko.PKey.from_path(key_path)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(REPO_ROOT / "run_gateway.py")],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        outbox = data_dir / "sftp" / PARTNER / "outbox"
        watcher = _Watcher(outbox)
        _wait_ready(process, port, key, outbox, watcher)
        payloads = [(rksp_name(i), rksp_xml(i)) for i in range(files)]
        closes: dict[str, int] = {}
        lock = threading.Lock()
        errors: list[str] = []

        def uploader(share: list[tuple[str, bytes]]) -> None:
            try:
                client = _connect(port, key)
                try:
                    sftp = client.open_sftp()
                    for name, data in share:
                        closed = _upload(sftp, name, data)
                        with lock:
                            closes[name.removesuffix(".xml")] = closed
                finally:
                    client.close()
            except Exception as exc:  # reported, not raised: the other uploaders go on
                errors.append(f"{type(exc).__name__}: {exc}")

        load = OtherLoad()
        cpu_before = _cpu_seconds(process.pid)
        threads = [
            threading.Thread(target=uploader, args=(payloads[i::CONNECTIONS],))
            for i in range(CONNECTIONS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.problems += errors
        _wait_for_responses(process, watcher, closes, files)
        cpu_after = _cpu_seconds(process.pid)
        if cpu_before and cpu_after:
            result.cpu_seconds = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        watcher.stop.set()
        watcher.join()
        _measure(result, watcher, closes)
        result.other_cores = load.stop(ours=sum(result.cpu_seconds or (0.0, 0.0)))
        _print(result)
    except RuntimeError as exc:
        result.problems.append(f"gateway: {exc}")
        print(_log_tail(log_path))
    finally:
        if process is not None:
            _stop_gateway(process)
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def _wait_ready(
    process: subprocess.Popen[bytes],
    port: int,
    key: paramiko.PKey,
    outbox: Path,
    watcher: _Watcher,
) -> None:
    """The server accepts the key, and a warm-up upload (not counted) gets its response."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"it exited with {process.returncode}")
        try:
            client = _connect(port, key)
            break
        except (OSError, paramiko.SSHException) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no SFTP login after {READY_TIMEOUT:.0f} s: {exc}") from exc
            time.sleep(0.1)
    try:
        _upload(client.open_sftp(), "warmup.xml", rksp_xml(10**6))
    finally:
        client.close()
    while not outbox.is_dir():
        time.sleep(0.02)
    watcher.start()
    while watcher.count("warmup-") == 0:
        if process.poll() is not None:
            raise RuntimeError(f"it exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no response to the warm-up file after {READY_TIMEOUT:.0f} s")
        time.sleep(0.02)


def _wait_for_responses(
    process: subprocess.Popen[bytes], watcher: _Watcher, closes: dict[str, int], files: int
) -> None:
    last_count, last_change = -1, time.monotonic()
    while True:
        with watcher.lock:
            count = sum(1 for name in watcher.seen if _source_stem(name) in closes)
        if count >= files:
            return
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        if time.monotonic() - last_change > STALL_TIMEOUT:
            return
        if process.poll() is not None:
            raise RuntimeError(f"it exited with {process.returncode}")
        time.sleep(0.05)


def _measure(result: SftpResult, watcher: _Watcher, closes: dict[str, int]) -> None:
    written = {_source_stem(n): mtime for n, (_seen, mtime) in watcher.seen.items()}
    latencies = [written[stem] - closed for stem, closed in closes.items() if stem in written]
    result.responses = len(latencies)
    if not closes or not latencies:
        result.problems.append("no responses")
        return
    first, last_close = min(closes.values()), max(closes.values())
    last = max(written[s] for s in closes if s in written)
    result.upload_seconds = (last_close - first) / 1e9
    result.elapsed_seconds = (last - first) / 1e9
    result.files_per_second = result.responses / result.elapsed_seconds
    ms = [v / 1e6 for v in latencies]
    result.latency_ms = {p: percentile(ms, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}
    result.latency_ms["max"] = max(ms)
    if result.responses < result.files:
        result.problems.append(f"{result.files - result.responses} files got no response")


def _print(result: SftpResult) -> None:
    rows: list[list[object]] = [
        ["files uploaded", result.files, ""],
        ["parallel SFTP connections", result.connections, ""],
        ["responses in outbox/", result.responses, verdict(result.responses == result.files)],
        ["uploads: first CLOSE -> last CLOSE", f"{result.upload_seconds:.2f} s", ""],
        ["first CLOSE -> last response", f"{result.elapsed_seconds:.2f} s", ""],
        ["throughput", f"{result.files_per_second:.1f} files/s", ""],
        *[
            [f"CLOSE -> response readable, {p}", f"{v:.0f} ms", ""]
            for p, v in result.latency_ms.items()
        ],
    ]
    if result.cpu_seconds is not None:
        user, system = result.cpu_seconds
        rows.append(["gateway CPU", f"{user:.2f} s user + {system:.2f} s system", ""])
    if result.other_cores is not None:
        rows.append(["other processes' CPU", f"{result.other_cores:.2f} cores", ""])
    print_table(["sftp", "value", "check"], rows)
    for problem in result.problems:
        print(f"PROBLEM: {problem}")


if __name__ == "__main__":  # python -m bench.sftp [N]
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sys.exit(0 if run(files, keep=bool(os.environ.get("KEEP"))).ok else 1)
