"""Shared helpers: the machine, child-process environment, tables, percentiles, profiles."""

from __future__ import annotations

import hashlib
import io
import math
import os
import platform
import pstats
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "PDE_GATEWAY_"


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python and SQLite versions: printed with every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def code_fingerprint() -> str:
    """SHA-256 (12 hex) of the product's sources, schemas and config, and their newest mtime.

    Ties a figure to the code it was measured on (the bench does not use git).
    """
    digest = hashlib.sha256()
    newest = 0.0
    for folder in ("gateway", "parsers", "handlers", "schemas", "config"):
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".xsd", ".toml"}:
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes())
                newest = max(newest, path.stat().st_mtime)
    edited = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{digest.hexdigest()[:12]} (last edit {edited})"


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def settle_filesystem() -> None:
    """Flush dirty data left by earlier runs (deleted data dirs...), so each run starts even."""
    if hasattr(os, "sync"):
        os.sync()


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot, summed over cores (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How much CPU processes other than ours used over an interval, in cores.

    ``stop(ours)`` takes the CPU seconds our own processes used meanwhile (the bench's own
    share is added here). Other sessions on a shared machine make every figure worse.
    """

    def __init__(self) -> None:
        self.busy = machine_busy_seconds()
        self.own = time.process_time()
        self.wall = time.monotonic()

    def stop(self, ours: float) -> float | None:
        busy = machine_busy_seconds()
        if busy is None or self.busy is None:
            return None
        wall = max(time.monotonic() - self.wall, 1e-9)
        own = time.process_time() - self.own
        return max(0.0, (busy - self.busy - own - ours) / wall)


def print_machine() -> None:
    info = machine()
    info["product code"] = code_fingerprint()
    load = load_average()
    info["load (1 min) at start"] = f"{load:.2f}"
    print_table(["machine", ""], [[k, v] for k, v in info.items()])


def gateway_env(data_dir: Path, *, workers: int | None = None) -> dict[str, str]:
    """The environment of a gateway child: default settings, fresh data dir, WARNING logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env[ENV_PREFIX + "DATA_DIR"] = str(data_dir)
    env[ENV_PREFIX + "LOG_LEVEL"] = "WARNING"
    env[ENV_PREFIX + "LOG_FORMAT"] = "json"
    # The embedded SFTP server on a free port: a `make run` on 2222 must not stop the bench.
    env[ENV_PREFIX + "SFTP_PORT"] = "0"
    env[ENV_PREFIX + "WEB_PORT"] = "0"
    # The benches rename whole files into in/: the default settle time (a wait for carriers
    # writing slowly in place) would only add a constant to every latency measured here.
    env[ENV_PREFIX + "SETTLE_SECONDS"] = "0.3"
    if workers is not None:
        env[ENV_PREFIX + "WORKERS"] = str(workers)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def cli_command() -> list[str]:
    """``pde-gateway`` from the same environment as this interpreter."""
    script = Path(sys.executable).parent / "pde-gateway"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "gateway.cli"]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |")
    print(line)
    for row in cells[1:]:
        print(
            "| "
            + " | ".join(
                c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
            + " |"
        )
    print(line)


def _numeric(text: str) -> bool:
    return bool(text) and text.lstrip("-").replace(".", "", 1).replace(",", "").isdigit()


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def top_functions(stats: pstats.Stats, *, sort: str, limit: int) -> str:
    """The ``limit`` first rows of ``stats`` sorted by ``sort``, paths shortened to the repo."""
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(limit)
    text = out.getvalue()
    for prefix in (str(REPO_ROOT) + "/", str(Path(sys.prefix)) + "/"):
        text = text.replace(prefix, "")
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:]).rstrip()


def utc_ns(value: str | None) -> int | None:
    """An ISO 8601 instant from the gateway's database as integer nanoseconds (naive = UTC)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e6) * 1000
