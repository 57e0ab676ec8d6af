"""Memory of the web side under large answers: 12 raw downloads and a 2,000-set submission.

``run_gateway.py`` runs on a fresh data dir (SQLite, default settings: max_file_bytes 50 MiB,
so the upload's hard limit is 100 MiB). Over the HTTP API with a carrier token the bench
submits a 98 MiB raw file (refused FILE-002 for its size, and kept) and an X12 file of 2,000
``ST*323`` transaction sets (``docs/examples/rksp.x12``'s set repeated with distinct control
numbers and voyages: 722 KB, the file of issue 12), and waits until both are decided. Then 13
clients run at once: 12 download the 98 MiB file (each checks its SHA-256), one reads the
2,000-set submission page by page (``limit`` 50: 40 pages) and downloads its 997. The RSS of
the gateway's process tree is sampled every 10 ms (psutil) from before the clients start to
after the last one ends; the target is a peak under 400 MB.

The same bench runs against older code that answers a submission with one list (it then
counts that list), to measure the "before" figures.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.common import REPO_ROOT, cli_command, gateway_env, print_table, verdict
from bench.filedrop import _log_tail, _stop_gateway

RAW_BYTES = 98 * 1024 * 1024
SETS = 2000
DOWNLOADERS = 12
PAGE = 50
TARGET_RSS_MB = 400.0
READY_TIMEOUT = 60.0
DECIDE_TIMEOUT = 900.0  # 2,000 sets take ~80 s on 2 busy cores
SAMPLE_SECONDS = 0.01


@dataclass
class MemoryResult:
    raw_bytes: int = RAW_BYTES
    sets: int = SETS
    baseline_rss_mb: float = 0.0  # gateway tree, just before the clients start
    peak_rss_mb: float = 0.0  # gateway tree, while the 13 clients run
    lifetime_peak_mb: float = 0.0  # the gateway process's VmHWM (intake and decisions too)
    wall_seconds: float = 0.0  # the 13 clients, first start to last end
    download_seconds: list[float] = field(default_factory=list)
    report_seconds: float = 0.0
    report_pages: int = 0
    report_documents: int = 0
    largest_page_bytes: int = 0
    decide_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.peak_rss_mb < TARGET_RSS_MB


def x12_sets(count: int) -> bytes:
    """``docs/examples/rksp.x12`` with its transaction set repeated ``count`` times."""
    lines = (REPO_ROOT / "docs" / "examples" / "rksp.x12").read_text(encoding="ascii").split("\n")
    head, body, tail = lines[:2], lines[2:13], lines[13:15]
    out = list(head)
    for n in range(1, count + 1):
        for segment in body:
            out.append(
                segment.replace("ST*323*0001", f"ST*323*{n:04d}")
                .replace("SE*11*0001", f"SE*11*{n:04d}")
                .replace("*025N*", f"*{n:04d}N*")
            )
    out += [tail[0].replace("GE*1*", f"GE*{count}*"), tail[1]]
    return ("\n".join(out) + "\n").encode("ascii")


class _Api:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def submit(self, name: str, pieces: list[bytes]) -> int:
        conn = self.connect()
        conn.putrequest("POST", f"/api/v1/submissions?name={name}")
        for key, value in self.headers.items():
            conn.putheader(key, value)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(sum(len(p) for p in pieces)))
        conn.endheaders()
        for piece in pieces:
            conn.send(piece)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        if answer.status != 202:
            raise RuntimeError(f"upload of {name}: {answer.status} {body[:200]!r}")
        return int(json.loads(body)["submission_id"])

    def get(self, path: str) -> tuple[int, bytes]:
        conn = self.connect()
        conn.request("GET", path, headers=self.headers)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        return answer.status, body


def _status(api: _Api, submission_id: int) -> str | None:
    status, body = api.get(f"/api/v1/submissions/{submission_id}?limit=1")
    if status != 200:
        return None
    answer = json.loads(body)
    if isinstance(answer, list):  # older code: one object per document
        return "PROCESSED" if answer and answer[0].get("document_type") else None
    return str(answer["status"])


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def _vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run(*, keep: bool = False) -> MemoryResult:
    result = MemoryResult()
    print(
        f"\n== memory: {DOWNLOADERS} downloads of a {RAW_BYTES / 2**20:.0f} MiB raw file and "
        f"a {SETS}-set X12 submission read page by page =="
    )
    work = Path(tempfile.mkdtemp(prefix="pde-bench-memory-"))
    data_dir, log_path = work / "data", work / "gateway.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        env = gateway_env(data_dir)
        env["PDE_GATEWAY_LOG_LEVEL"] = "INFO"  # "gateway started" carries the web port
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(REPO_ROOT / "run_gateway.py")],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        port = _web_port(process, log_path)
        issued = subprocess.run(
            [*cli_command(), "tokens", "issue", "DEMO"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if issued.returncode != 0:
            result.problems.append(f"tokens issue failed: {issued.stderr.strip()}")
            return result
        api = _Api(port, issued.stdout.strip())
        piece = bytes(range(256)) * 4096  # 1 MiB
        raw_sha = hashlib.sha256(piece * (RAW_BYTES // len(piece))).hexdigest()
        t0 = time.monotonic()
        raw_id = api.submit("big.bin", [piece] * (RAW_BYTES // len(piece)))
        x12_id = api.submit("rksp-2000.x12", [x12_sets(SETS)])
        deadline = time.monotonic() + DECIDE_TIMEOUT
        while not all(_status(api, i) == "PROCESSED" for i in (raw_id, x12_id)):
            if process.poll() is not None or time.monotonic() > deadline:
                result.problems.append("the two files were not decided in time")
                return result
            time.sleep(1.0)
        result.decide_seconds = time.monotonic() - t0
        _clients(result, api, psutil.Process(process.pid), raw_id, raw_sha, x12_id)
        result.lifetime_peak_mb = _vm_hwm(process.pid) / 2**20
    except Exception as exc:  # reported with the gateway's log, not raised
        result.problems.append(f"{type(exc).__name__}: {exc}")
        print(_log_tail(log_path))
    finally:
        if process is not None:
            _stop_gateway(process)
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    _print(result)
    return result


def _web_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited: {_log_tail(log_path)}")
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"gateway started"' in line:
                return int(json.loads(line)["web_port"])
        time.sleep(0.1)
    raise RuntimeError("gateway did not start")


def _clients(
    result: MemoryResult,
    api: _Api,
    gateway: psutil.Process,
    raw_id: int,
    raw_sha: str,
    x12_id: int,
) -> None:
    errors: list[str] = []
    lock = threading.Lock()

    def download() -> None:
        started = time.monotonic()
        conn = api.connect()
        conn.request("GET", f"/api/v1/submissions/{raw_id}/raw", headers=api.headers)
        answer = conn.getresponse()
        digest = hashlib.sha256()
        while piece := answer.read(1024 * 1024):
            digest.update(piece)
        conn.close()
        with lock:
            if answer.status != 200 or digest.hexdigest() != raw_sha:
                errors.append(f"raw download: {answer.status}, sha256 {digest.hexdigest()}")
            result.download_seconds.append(time.monotonic() - started)

    def read_report() -> None:
        started = time.monotonic()
        path: str | None = f"/api/v1/submissions/{x12_id}?limit={PAGE}"
        ack_path = None
        while path is not None:
            status, body = api.get(path)
            if status != 200:
                errors.append(f"report page {path}: {status}")
                return
            result.report_pages += 1
            result.largest_page_bytes = max(result.largest_page_bytes, len(body))
            answer: Any = json.loads(body)
            if isinstance(answer, list):  # older code: everything at once
                result.report_documents += len(answer)
                break
            result.report_documents += len(answer["documents"])
            if ack_path is None and answer["file_acks"]:
                ack_path = next(a["url"] for a in answer["file_acks"] if a["kind"] == "997")
            path = answer["next"]
        if ack_path is not None:
            status, _ = api.get(ack_path)
            if status != 200:
                errors.append(f"997 download: {status}")
        result.report_seconds = time.monotonic() - started

    def guarded(target: Any) -> None:
        try:
            target()
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    result.baseline_rss_mb = _tree_rss(gateway) / 2**20
    peak = [result.baseline_rss_mb]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(gateway) / 2**20)
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=guarded, args=(download,)) for _ in range(DOWNLOADERS)]
    threads.append(threading.Thread(target=guarded, args=(read_report,)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_seconds = time.monotonic() - started
    done.set()
    sampler.join()
    result.peak_rss_mb = peak[0]
    result.problems += errors
    if result.report_documents != SETS:
        result.problems.append(f"report listed {result.report_documents} of {SETS} documents")


def _print(result: MemoryResult) -> None:
    downloads = sorted(result.download_seconds)
    rows: list[list[object]] = [
        ["decided (both files, from the first upload byte)", f"{result.decide_seconds:.1f} s"],
        ["gateway RSS before the clients", f"{result.baseline_rss_mb:.0f} MB"],
        ["gateway RSS peak, 13 clients at once", f"{result.peak_rss_mb:.0f} MB"],
        [
            "gateway VmHWM (whole life: intake, 2,000 decisions)",
            f"{result.lifetime_peak_mb:.0f} MB",
        ],
        ["13 clients, wall", f"{result.wall_seconds:.1f} s"],
    ]
    if downloads:
        moved = RAW_BYTES * len(downloads) / 2**20
        rows += [
            [
                f"{len(downloads)} raw downloads (min / max)",
                f"{downloads[0]:.1f} / {downloads[-1]:.1f} s, "
                f"{moved / result.wall_seconds:.0f} MiB/s together",
            ]
        ]
    rows += [
        [
            "2,000-set report",
            f"{result.report_pages} pages, {result.report_documents} documents, "
            f"{result.report_seconds:.1f} s, "
            f"largest answer {result.largest_page_bytes / 1024:.0f} KiB",
        ],
        ["verdict", f"{verdict(result.ok)} (peak < {TARGET_RSS_MB:.0f} MB)"],
    ]
    print_table(["memory", ""], rows)
    for problem in result.problems:
        print(f"  problem: {problem}")
