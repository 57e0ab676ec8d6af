"""File-drop throughput and latency of the real gateway (``run_gateway.py``) on SQLite.

N distinct RKSP files are dropped at once into ``drop/DEMO/in/``: all are first written as
``*.tmp`` (ignored by the gateway), then each is touched and renamed in one burst; the rename
is the moment a file appears, and its modification time is that moment too, as when an
uploader finishes writing and renames. A watcher records every response that
shows up in ``out/``; its modification time is taken as the moment it was written.

Readiness: at log level WARNING the gateway does not print its ``gateway started`` line, so
the bench drops one warm-up file (not counted) and waits for its response: the file drop,
the workers and the database are then all up, and the schema is compiled.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    REPO_ROOT,
    OtherLoad,
    gateway_env,
    percentile,
    print_table,
    settle_filesystem,
    top_functions,
    utc_ns,
    verdict,
)
from bench.generate import rksp_name, rksp_xml, validate

PARTNER = "DEMO"
TARGET_FILES_PER_SECOND = 200.0
READY_TIMEOUT = 60.0
STALL_TIMEOUT = 60.0  # give up when no new response appeared for this long
WATCH_INTERVAL = 0.1  # out/ polling; precision comes from the responses' mtime, not this
_STATUS = re.compile(rb"<Status>([A-Z_]+)</Status>")


@dataclass
class FiledropResult:
    files: int
    workers: str
    responses: int = 0
    registered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    drop_seconds: float = 0.0  # first rename -> last rename
    elapsed_seconds: float = 0.0  # first rename -> last response written
    files_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    intake_per_second: float = 0.0
    jobs: list[tuple[str, str, int, int]] = field(default_factory=list)
    # Gateway CPU (user, system) from the first drop to the last response, all threads.
    cpu_seconds: tuple[float, float] | None = None
    other_cores: float | None = None  # CPU used by other processes meanwhile, in cores
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.registered == self.files
            and self.files_per_second >= TARGET_FILES_PER_SECOND
        )


class _Watcher(threading.Thread):
    """Polls out/ and records (first seen, mtime) of every new ``*.response.xml``."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.out_dir = out_dir
        self.seen: dict[str, tuple[int, int]] = {}  # name -> (seen ns, mtime ns)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(WATCH_INTERVAL)
        self.poll()

    def poll(self) -> None:
        now = time.time_ns()
        with os.scandir(self.out_dir) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(".response.xml") and name not in self.seen:
                    try:
                        mtime = entry.stat().st_mtime_ns
                    except FileNotFoundError:
                        continue
                    with self.lock:
                        self.seen[name] = (now, mtime)

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for name in self.seen if name.startswith(prefix))


def _source_stem(response_name: str) -> str:
    """``rksp-000001-<nomor aju>.response.xml`` -> ``rksp-000001``."""
    return response_name.removesuffix(".response.xml").rsplit("-", 1)[0]


def _start_gateway(
    data_dir: Path,
    log_path: Path,
    *,
    workers: int | None,
    profile_dir: Path | None,
    profile_timer: str,
) -> subprocess.Popen[bytes]:
    env = gateway_env(data_dir, workers=workers)
    if profile_dir is not None:
        env["PDE_BENCH_PROFILE_DIR"] = str(profile_dir)
        env["PDE_BENCH_PROFILE_TIMER"] = profile_timer
        command = [sys.executable, "-m", "bench.profiled_gateway"]
    else:
        command = [sys.executable, str(REPO_ROOT / "run_gateway.py")]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _stop_gateway(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(user, system) CPU seconds of process ``pid`` so far (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _log_tail(log_path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stage(inbox: Path, name: str, data: bytes) -> Path:
    """Write ``name`` under a temporary name the gateway ignores (``*.tmp``)."""
    tmp = inbox / f"{name}.tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    return tmp


def _publish(tmp: Path) -> int:
    """Touch the staged file (a writer's last write), rename it into place: its appearance."""
    os.utime(tmp)
    os.replace(tmp, tmp.with_suffix(""))
    return time.time_ns()


def _drop(inbox: Path, name: str, data: bytes) -> int:
    return _publish(_stage(inbox, name, data))


def _wait_ready(process: subprocess.Popen[bytes], drop: Path, watcher: _Watcher) -> None:
    """Drop folders exist, then a warm-up file gets its response; RuntimeError otherwise."""
    deadline = time.monotonic() + READY_TIMEOUT
    inbox, out = drop / "in", drop / "out"
    while not (inbox.is_dir() and out.is_dir()):
        if process.poll() is not None:
            raise RuntimeError(f"it exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no drop folders after {READY_TIMEOUT:.0f} s")
        time.sleep(0.05)
    watcher.start()
    _drop(inbox, "warmup.xml", rksp_xml(10**6))
    while watcher.count("warmup-") == 0:
        if process.poll() is not None:
            raise RuntimeError(f"it exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no response to the warm-up file after {READY_TIMEOUT:.0f} s")
        time.sleep(0.02)


def _database_view(
    db_path: Path,
) -> tuple[dict[str, tuple[int | None, int | None]], list[tuple[str, str, int, int]]]:
    """Per source file (received, decided) instants, and the job queue by kind and status."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT s.source_name, s.received_at, d.decided_at FROM submissions s "
            "LEFT JOIN documents d ON d.submission_id = s.id WHERE s.channel = 'filedrop'"
        ).fetchall()
        jobs = conn.execute(
            "SELECT kind, status, COUNT(*), SUM(attempts) FROM jobs GROUP BY kind, status "
            "ORDER BY kind, status"
        ).fetchall()
    finally:
        conn.close()
    times = {name.removesuffix(".xml"): (utc_ns(rec), utc_ns(dec)) for name, rec, dec in rows}
    return times, [(str(k), str(s), int(c), int(a or 0)) for k, s, c, a in jobs]


def _summary(values_ns: list[int]) -> dict[str, float]:
    ms = [v / 1e6 for v in values_ns]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


def run(
    files: int,
    *,
    workers: int | None = None,
    profile: bool = False,
    profile_timer: str = "wall",
    keep: bool = False,
) -> FiledropResult:
    result = FiledropResult(files=files, workers=str(workers) if workers else "default (2)")
    print(f"\n== filedrop: {files} RKSP files into drop/{PARTNER}/in/ ==")
    payloads = [rksp_xml(i) for i in range(files)]
    for index in sorted({0, files // 2, files - 1}):
        document_type = str(validate(payloads[index]).document_type)
        assert document_type == "RKSP", document_type
    print(
        f"generated {files} files ({sum(map(len, payloads)) / files:.0f} bytes each), "
        "sample validated with parsers.xml.XmlParser"
    )

    work = Path(tempfile.mkdtemp(prefix="pde-bench-filedrop-"))
    settle_filesystem()
    data_dir = work / "data"
    log_path = work / "gateway.log"
    profile_dir = work / "profile" if profile else None
    drop = data_dir / "drop" / PARTNER
    process = _start_gateway(
        data_dir, log_path, workers=workers, profile_dir=profile_dir, profile_timer=profile_timer
    )
    watcher = _Watcher(drop / "out")
    appeared: dict[str, int] = {}
    ready = False
    try:
        started = time.monotonic()
        try:
            _wait_ready(process, drop, watcher)
            ready = True
        except RuntimeError as exc:
            result.problems.append(f"gateway not ready: {exc}")
        if ready:
            print(f"gateway ready (warm-up answered) after {time.monotonic() - started:.1f} s")
            _drop_and_wait(result, process, drop / "in", payloads, appeared, watcher)
    finally:
        watcher.stop.set()
        if watcher.is_alive():
            watcher.join()
        result.exit_code = _stop_gateway(process)

    if ready:
        _measure(result, drop, appeared, watcher, data_dir / "gateway.db")
    _print(result)
    if profile_dir is not None:
        _print_profile(profile_dir, profile_timer)
    if result.problems:
        print("gateway log tail:\n" + _log_tail(log_path))
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _drop_and_wait(
    result: FiledropResult,
    process: subprocess.Popen[bytes],
    inbox: Path,
    payloads: list[bytes],
    appeared: dict[str, int],
    watcher: _Watcher,
) -> None:
    """Drop every file, then wait until each has its response (or the gateway stalls)."""
    # Written beforehand, so that the drop is a burst of renames, as from many senders.
    staged = [_stage(inbox, rksp_name(i), data) for i, data in enumerate(payloads)]
    cpu_before = _cpu_seconds(process.pid)
    others = OtherLoad()
    for tmp in staged:
        appeared[tmp.name.removesuffix(".xml.tmp")] = _publish(tmp)
    last_progress, last_count = time.monotonic(), 0
    while True:
        count = watcher.count("rksp-")
        if count >= len(payloads):
            break
        if count != last_count:
            last_progress, last_count = time.monotonic(), count
        if process.poll() is not None:
            result.problems.append(f"gateway exited with {process.returncode}")
            break
        if time.monotonic() - last_progress > STALL_TIMEOUT:
            result.problems.append(f"no new response for {STALL_TIMEOUT:.0f} s")
            break
        time.sleep(0.1)
    cpu_after = _cpu_seconds(process.pid)
    if cpu_before is not None and cpu_after is not None:
        result.cpu_seconds = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        result.other_cores = others.stop(sum(result.cpu_seconds))


def _measure(
    result: FiledropResult,
    drop: Path,
    appeared: dict[str, int],
    watcher: _Watcher,
    db_path: Path,
) -> None:
    written: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for name, (_seen, mtime) in watcher.seen.items():
        stem = _source_stem(name)
        if stem not in appeared:
            continue  # the warm-up file
        written[stem] = mtime
        match = _STATUS.search((drop / "out" / name).read_bytes())
        status = match.group(1).decode() if match else "?"
        statuses[status] = statuses.get(status, 0) + 1
    result.responses = len(written)
    result.statuses = statuses
    result.registered = statuses.get("REGISTERED", 0)
    if result.registered != result.files:
        result.problems.append(f"{result.registered} of {result.files} files REGISTERED")
    if not written:
        return
    first_drop = min(appeared.values())
    result.drop_seconds = (max(appeared.values()) - first_drop) / 1e9
    result.elapsed_seconds = (max(written.values()) - first_drop) / 1e9
    result.files_per_second = result.responses / result.elapsed_seconds
    result.latency_ms = _summary([written[s] - appeared[s] for s in written])

    try:
        times, result.jobs = _database_view(db_path)
    except Exception as exc:  # the breakdown is a diagnostic; never fail the bench on it
        result.problems.append(f"cannot read the gateway database: {exc}")
        return
    intake, process, deliver, received_all = [], [], [], []
    for stem, done in written.items():
        received, decided = times.get(stem, (None, None))
        if received is None or decided is None:
            continue
        received_all.append(received)
        intake.append(received - appeared[stem])
        process.append(decided - received)
        deliver.append(done - decided)
    if intake:
        result.stages_ms = {
            "dropped -> received (settle + file drop intake)": _summary(intake),
            "received -> decided (queue wait + parse + rules)": _summary(process),
            "decided -> response written (commit + deliver)": _summary(deliver),
        }
        result.intake_per_second = len(received_all) / max(
            (max(received_all) - first_drop) / 1e9, 1e-9
        )


def _print(result: FiledropResult) -> None:
    if not result.responses:
        for problem in result.problems:
            print(f"PROBLEM: {problem}")
        return
    lat = result.latency_ms
    rows: list[list[Any]] = [
        ["files dropped", result.files, ""],
        ["workers", result.workers, ""],
        ["drop burst (first -> last rename)", f"{result.drop_seconds:.2f} s", ""],
        ["first drop -> last response", f"{result.elapsed_seconds:.2f} s", ""],
        [
            "throughput",
            f"{result.files_per_second:.1f} files/s",
            f"target >= {TARGET_FILES_PER_SECOND:.0f}: "
            f"{verdict(result.files_per_second >= TARGET_FILES_PER_SECOND)}",
        ],
        ["intake rate (file drop -> database)", f"{result.intake_per_second:.1f} files/s", ""],
    ]
    if result.cpu_seconds is not None and result.elapsed_seconds:
        user, system = result.cpu_seconds
        per_file = 1000 / max(result.responses, 1)
        rows.append(
            [
                "gateway CPU while busy (user + system)",
                f"{user + system:.1f} s = {(user + system) / result.elapsed_seconds:.2f} "
                f"of {os.cpu_count()} cores",
                f"{(user + system) * per_file:.1f} ms per file "
                f"({user * per_file:.1f} user + {system * per_file:.1f} system)",
            ]
        )
        rows.append(
            [
                "  user CPU only (Python holds the GIL)",
                f"{user / result.elapsed_seconds:.2f} of 1 core",
                "near 1.00: bound by one core (GIL)",
            ]
        )
    if result.other_cores is not None:
        rows.append(
            [
                "other processes' CPU meanwhile",
                f"{result.other_cores:.2f} cores",
                "> 0.2: shared machine, figures pessimistic" if result.other_cores > 0.2 else "",
            ]
        )
    for key in ("p50", "p95", "p99", "max"):
        if key in lat:
            rows.append([f"latency {key} (appeared -> response written)", f"{lat[key]:.0f} ms", ""])
    rows.append(["responses", result.responses, ""])
    rows.append(
        [
            "REGISTERED",
            result.registered,
            f"all {result.files}: {verdict(result.registered == result.files)}",
        ]
    )
    others = {k: v for k, v in result.statuses.items() if k != "REGISTERED"}
    if others:
        rows.append(["other statuses", ", ".join(f"{k}={v}" for k, v in others.items()), ""])
    rows.append(["gateway exit code", result.exit_code, ""])
    print_table(["filedrop", "value", "check"], rows)
    if result.stages_ms:
        print("where a file's latency goes (from the gateway database; ms):")
        print_table(
            ["stage", "p50", "p95", "max"],
            [
                [stage, f"{v['p50']:.0f}", f"{v['p95']:.0f}", f"{v['max']:.0f}"]
                for stage, v in result.stages_ms.items()
            ],
        )
    if result.jobs:
        print_table(["job kind", "status", "jobs", "attempts"], [list(row) for row in result.jobs])
    for problem in result.problems:
        print(f"PROBLEM: {problem}")


def _print_profile(profile_dir: Path, timer: str) -> None:
    import pstats

    files = sorted(profile_dir.glob("*.prof"))
    if not files:
        print("no profile was written")
        return
    what = "CPU time per thread" if timer == "cpu" else "wall-clock"
    print(f"\n-- cProfile of the gateway's threads ({what}; the profiler slows it down) --")
    print(
        "NOTE: throughput and latency above were measured under the profiler; "
        "run without --profile for the real figures."
    )
    groups: dict[str, list[Path]] = {}
    for path in files:
        kind = re.sub(r"-\d+$", "", path.stem)
        groups.setdefault(kind, []).append(path)
    for kind in ("filedrop", "worker"):
        paths = groups.get(kind)
        if not paths:
            continue
        stats = pstats.Stats(str(paths[0]))
        for extra in paths[1:]:
            stats.add(str(extra))
        label = f"{kind} thread" + (f"s x{len(paths)} (merged)" if len(paths) > 1 else "")
        print(f"\n[{label}] top 30 by cumulative time")
        print(top_functions(stats, sort="cumulative", limit=30))
        print(f"\n[{label}] top 20 by own time")
        print(top_functions(stats, sort="tottime", limit=20))
