"""One big inward manifest through ``pde-gateway process FILE --partner DEMO --json``.

The child runs against a fresh data dir (SQLite); the bench measures its wall time from spawn
to exit and its peak RSS (``/usr/bin/time -v``, see ``_run_child``). A 1-pos
manifest is run the same way first: its time is the fixed cost (interpreter, imports,
migrations, reference data) that any ``process`` call pays.
"""

from __future__ import annotations

import itertools
import json
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    REPO_ROOT,
    OtherLoad,
    cli_command,
    gateway_env,
    print_table,
    settle_filesystem,
    top_functions,
    utc_ns,
    verdict,
)
from bench.generate import count_pos, manifest_layout, manifest_xml, validate, write_file

PARTNER = "DEMO"
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 400.0
CHILD_TIMEOUT = 900.0


@dataclass
class ChildRun:
    wall_seconds: float
    peak_rss_mb: float
    exit_code: int
    started_ns: int
    ended_ns: int
    results: list[dict[str, Any]]
    stderr_tail: str
    cpu_seconds: tuple[float, float] | None = None  # (user, system) of the child
    other_cores: float | None = None


@dataclass
class ManifestResult:
    pos: int
    file_bytes: int = 0
    masters: int = 0
    wall_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    baseline_seconds: float = 0.0
    baseline_rss_mb: float = 0.0
    status: str = "?"
    registration: str | None = None
    pos_rows: int = 0
    cpu_seconds: tuple[float, float] | None = None
    other_cores: float | None = None
    phases: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.wall_seconds < TARGET_SECONDS
            and self.peak_rss_mb < TARGET_RSS_MB
        )


TIME_BIN = Path("/usr/bin/time")
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_USER = re.compile(r"User time \(seconds\): ([\d.]+)")
_SYSTEM = re.compile(r"System time \(seconds\): ([\d.]+)")


def _run_child(command: list[str], data_dir: Path, log_dir: Path) -> ChildRun:
    """Spawn ``command`` with a gateway environment; wall time and peak RSS of that child.

    Peak RSS comes from ``/usr/bin/time -v`` when there is one: the rusage of a child forked
    from this (big) process would also count this process's resident set at fork time, since
    Linux keeps the high-water mark of the pre-exec memory.
    """
    env = gateway_env(data_dir)
    stdout_path, stderr_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    time_path = log_dir / "time.txt"
    use_time = TIME_BIN.exists()
    if use_time:
        command = [str(TIME_BIN), "-v", "-o", str(time_path), *command]
    settle_filesystem()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started_ns = time.time_ns()
        others = OtherLoad()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=err)
        try:
            process.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        wall = time.perf_counter() - t0
        ended_ns = time.time_ns()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib = float(usage.ru_maxrss)  # an upper bound, see above
    cpu = (usage.ru_utime - before.ru_utime, usage.ru_stime - before.ru_stime)
    if use_time:
        report = time_path.read_text(errors="replace")
        match = _MAX_RSS.search(report)
        if match:
            peak_kib = float(match.group(1))
        user, system = _USER.search(report), _SYSTEM.search(report)
        if user and system:
            cpu = (float(user.group(1)), float(system.group(1)))
    other_cores = others.stop(usage.ru_utime - before.ru_utime + usage.ru_stime - before.ru_stime)
    results = []
    for line in stdout_path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            results.append(json.loads(line))
    tail = "\n".join(stderr_path.read_text(errors="replace").splitlines()[-15:])
    return ChildRun(
        wall_seconds=wall,
        peak_rss_mb=peak_kib / 1024,  # Linux reports KiB
        exit_code=process.returncode,
        started_ns=started_ns,
        ended_ns=ended_ns,
        results=results,
        stderr_tail=tail,
        cpu_seconds=cpu,
        other_cores=other_cores,
    )


def child_in(command: list[str], folder: Path) -> ChildRun:
    """``command`` as a measured child with its own data dir under ``folder``."""
    folder.mkdir(parents=True)
    return _run_child(command, folder / "data", folder)


def check_registered(
    child: ChildRun, *, expected: int, outcomes: list[str], problems: list[str]
) -> None:
    """Every document of a ``process --json`` run REGISTERED with a BC 1.1 number."""
    if child.exit_code != 0:
        problems.append(f"pde-gateway process exited with {child.exit_code}")
    if len(child.results) != expected:
        problems.append(f"expected {expected} JSON lines, got {len(child.results)}")
    for outcome in child.results:
        status = str(outcome.get("status"))
        registration = outcome.get("registration") or {}
        outcomes.append(
            f"{status} {registration.get('kind', '')} {registration.get('number', '')}".strip()
        )
        if status != "REGISTERED":
            codes = [e.get("code") for e in outcome.get("errors", [])]
            problems.append(f"status {status}, findings {codes[:10]}")
        if registration.get("kind") != "BC 1.1":
            problems.append(f"no BC 1.1 number: {registration or None}")


def _process_command(file: Path) -> list[str]:
    return [*cli_command(), "process", str(file), "--partner", PARTNER, "--json"]


def phases(
    db_path: Path,
    child: ChildRun,
    *,
    parse: str = "read, XML parse + XSD, records, rules",
    acks: str = "numbering, inserts, acks, commit",
) -> tuple[list[tuple[str, float]], int]:
    """Spawn -> received -> last decided -> last ack delivered -> exit (child's database)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (received,) = conn.execute("SELECT MAX(received_at) FROM submissions").fetchone()
        (decided,) = conn.execute("SELECT MAX(decided_at) FROM documents").fetchone()
        (delivered,) = conn.execute("SELECT MAX(delivered_at) FROM acks").fetchone()
        (pos_rows,) = conn.execute("SELECT COUNT(*) FROM manifest_pos").fetchone()
    finally:
        conn.close()
    marks = [
        ("spawn -> received (start-up, migrations, raw store)", child.started_ns),
        (f"received -> decided ({parse})", utc_ns(received)),
        (f"decided -> acks delivered ({acks})", utc_ns(decided)),
        ("acks delivered -> exit (report, teardown)", utc_ns(delivered)),
        ("", child.ended_ns),
    ]
    out = []
    for (label, start), (_next, end) in itertools.pairwise(marks):
        if start is not None and end is not None:
            out.append((label, (end - start) / 1e9))
    return out, int(pos_rows)


def run(pos: int, *, profile: bool = False, keep: bool = False) -> ManifestResult:
    result = ManifestResult(pos=pos)
    masters, per_master = manifest_layout(pos)
    result.masters = masters
    print(f"\n== manifest: one inward manifest with {pos} pos ==")
    work = Path(tempfile.mkdtemp(prefix="pde-bench-manifest-"))
    try:
        t0 = time.perf_counter()
        data = manifest_xml(pos)
        generated = time.perf_counter() - t0
        file = write_file(work / f"manifest-{pos}.xml", data)
        result.file_bytes = len(data)
        t0 = time.perf_counter()
        found = count_pos(validate(data))
        validated = time.perf_counter() - t0
        if found != pos:
            result.problems.append(f"the parser found {found} pos, expected {pos}")
        layout = (
            f"{masters} master B/L x {per_master} records (house B/L as sub-pos)"
            if per_master > 1
            else f"{masters} pos"
        )
        print(
            f"generated {file.name}: {len(data) / 1e6:.2f} MB, {layout}, groups 1..3 "
            f"({generated:.1f} s); validated with parsers.xml.XmlParser ({validated:.1f} s)"
        )

        small = write_file(work / "manifest-1.xml", manifest_xml(1))
        baseline_dir = work / "baseline"
        baseline_dir.mkdir()
        baseline = _run_child(_process_command(small), baseline_dir / "data", baseline_dir)
        result.baseline_seconds = baseline.wall_seconds
        result.baseline_rss_mb = baseline.peak_rss_mb
        baseline_ok = baseline.exit_code == 0 and [r.get("status") for r in baseline.results] == [
            "REGISTERED"
        ]
        if not baseline_ok:
            result.problems.append(
                f"the 1-pos manifest was not registered (exit {baseline.exit_code}): "
                + (baseline.stderr_tail.splitlines() or [""])[-1]
            )

        run_dir = work / "run"
        run_dir.mkdir()
        child = _run_child(_process_command(file), run_dir / "data", run_dir)
        result.wall_seconds = child.wall_seconds
        result.peak_rss_mb = child.peak_rss_mb
        result.cpu_seconds = child.cpu_seconds
        result.other_cores = child.other_cores
        _check(result, child)
        if child.exit_code == 0 or child.results:
            try:
                result.phases, result.pos_rows = phases(run_dir / "data" / "gateway.db", child)
            except Exception as exc:  # a diagnostic only
                result.problems.append(f"cannot read the gateway database: {exc}")
            if result.pos_rows and result.pos_rows != pos:
                result.problems.append(f"{result.pos_rows} pos rows stored, expected {pos}")
        _print(result)
        if result.problems and child.stderr_tail:
            print("child stderr tail:\n" + child.stderr_tail)
        if profile:
            _profile(file, work / "profile")
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def _check(result: ManifestResult, child: ChildRun) -> None:
    if child.exit_code != 0:
        result.problems.append(f"pde-gateway process exited with {child.exit_code}")
    if len(child.results) != 1:
        result.problems.append(f"expected one JSON line, got {len(child.results)}")
        return
    (outcome,) = child.results
    result.status = str(outcome.get("status"))
    registration = outcome.get("registration") or {}
    if registration:
        result.registration = f"{registration.get('kind')} {registration.get('number')}"
    if result.status != "REGISTERED":
        codes = [e.get("code") for e in outcome.get("errors", [])]
        result.problems.append(f"status {result.status}, findings {codes[:10]}")
    if registration.get("kind") != "BC 1.1":
        result.problems.append(f"no BC 1.1 number: {registration or None}")


def _print(result: ManifestResult) -> None:
    rows: list[list[Any]] = [
        ["pos (records)", result.pos, ""],
        ["file size", f"{result.file_bytes / 1e6:.2f} MB ({result.file_bytes} bytes)", ""],
        [
            "wall time",
            f"{result.wall_seconds:.2f} s",
            f"target < {TARGET_SECONDS:.0f} s: {verdict(result.wall_seconds < TARGET_SECONDS)}",
        ],
        [
            "peak RSS",
            f"{result.peak_rss_mb:.0f} MB",
            f"target < {TARGET_RSS_MB:.0f} MB: {verdict(result.peak_rss_mb < TARGET_RSS_MB)}",
        ],
        ["status", result.status, verdict(result.status == "REGISTERED")],
        *_cpu_rows(result),
        ["registration", result.registration or "-", ""],
        ["pos rows stored", result.pos_rows, ""],
        [
            "fixed cost (1-pos manifest)",
            f"{result.baseline_seconds:.2f} s, {result.baseline_rss_mb:.0f} MB",
            "",
        ],
    ]
    print_table(["manifest", "value", "check"], rows)
    if result.phases:
        print("where the wall time goes (instants from the child's database):")
        print_table(["phase", "seconds"], [[p, f"{s:.2f}"] for p, s in result.phases])
    for problem in result.problems:
        print(f"PROBLEM: {problem}")


def _cpu_rows(result: ManifestResult) -> list[list[Any]]:
    rows: list[list[Any]] = []
    if result.cpu_seconds is not None:
        user, system = result.cpu_seconds
        rows.append(["CPU of the child", f"{user:.2f} s user + {system:.2f} s system", ""])
    if result.other_cores is not None:
        note = "> 0.2: shared machine, figures pessimistic" if result.other_cores > 0.2 else ""
        rows.append(["other processes' CPU meanwhile", f"{result.other_cores:.2f} cores", note])
    return rows


def _profile(file: Path, work: Path) -> None:
    """The same command under cProfile, against another fresh data dir."""
    import pstats

    work.mkdir(parents=True, exist_ok=True)
    prof = work / "process.prof"
    command = [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(prof),
        "-m",
        "gateway.cli",
        "process",
        str(file),
        "--partner",
        PARTNER,
        "--json",
    ]
    child = _run_child(command, work / "data", work)
    print(
        f"\n-- cProfile of pde-gateway process ({child.wall_seconds:.2f} s under the profiler, "
        f"exit {child.exit_code}) --"
    )
    if not prof.exists():
        print("no profile was written:\n" + child.stderr_tail)
        return
    stats = pstats.Stats(str(prof))
    print("top 40 by cumulative time")
    print(top_functions(stats, sort="cumulative", limit=40))
    print("\ntop 25 by own time")
    print(top_functions(stats, sort="tottime", limit=25))
