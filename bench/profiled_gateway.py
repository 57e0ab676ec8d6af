"""``python -m bench.profiled_gateway``: the gateway (``pde-gateway run``) under cProfile.

cProfile only sees the thread that enabled it, so every thread (file drop, workers, sweeper,
main) gets its own profiler; each dumps ``<thread name>.prof`` into ``$PDE_BENCH_PROFILE_DIR``
when it ends (the gateway stops its threads on SIGTERM).

``$PDE_BENCH_PROFILE_TIMER``: ``wall`` (default) counts blocking (fsync, SQLite lock waits,
the GIL) where it happens; ``cpu`` uses each thread's CPU time, so only work is counted.
"""

from __future__ import annotations

import cProfile
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROFILE_DIR = Path(os.environ.get("PDE_BENCH_PROFILE_DIR", "."))
TIMER = os.environ.get("PDE_BENCH_PROFILE_TIMER", "wall")
_original_run = threading.Thread.run


def _profiler() -> cProfile.Profile:
    timer: Callable[[], float] = time.thread_time if TIMER == "cpu" else time.perf_counter
    return cProfile.Profile(timer)


def _file_name(thread_name: str) -> Path:
    return PROFILE_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', thread_name)}.prof"


def _profiled_run(self: threading.Thread) -> None:
    profiler = _profiler()
    profiler.enable()
    try:
        _original_run(self)
    finally:
        profiler.disable()
        profiler.dump_stats(_file_name(self.name))


def main() -> None:
    from gateway.cli import main as cli_main

    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    profiler = _profiler()
    profiler.enable()
    try:
        cli_main(["run"])
    finally:
        profiler.disable()
        profiler.dump_stats(_file_name("main"))


if __name__ == "__main__":
    main()
