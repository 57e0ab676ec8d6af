"""An X12 309 with 10,000 bills: ``pde-gateway process`` side by side with pyx12 alone.

One run measures, on the same generated file (``bench/x12gen.py``):

(a) end to end: ``pde-gateway process FILE --partner DEMO --json`` as a child against a fresh
    data dir (wall time from spawn to exit, peak RSS from ``/usr/bin/time -v``); every
    transaction set must come back REGISTERED with a BC 1.1 number;
(b) pyx12 alone: a ``python -c`` child that only calls ``pyx12.x12n_document.x12n_document``
    against our maps (``schemas/x12``), the 997 going to a StringIO; the 997 must accept
    every set.

Both also run on a 1-bill 309 first: that is the fixed cost of each command (interpreter,
imports, map loading; for ours also migrations and reference data), so the ratio is shown raw
and net of it. Then our parser runs alone in this process (``X12Parser.parse``), with its
time split into pyx12's validation, the envelope pass and the mapping; ``--profile`` adds a
cProfile of that call.
"""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, print_table, top_functions, verdict
from bench.generate import write_file
from bench.manifest import ChildRun, _process_command, check_registered, child_in, phases
from bench.x12gen import count_bills, jakarta, manifest_309, set_sizes

TARGET_RATIO = 1.5  # ours / pyx12 alone, wall time
TARGET_RSS_MB = 500.0
MAP_PATH = REPO_ROOT / "schemas" / "x12"

# pyx12 alone, as our parser calls it (parsers/x12/validation.py): default params, our maps,
# pyx12's logger silenced. Prints one JSON line: its own timings and what the 997 says.
PYX12_SCRIPT = """\
import io, json, logging, sys, time
t0 = time.perf_counter()
import pyx12.params, pyx12.x12n_document
logging.getLogger("pyx12").setLevel(logging.CRITICAL)
t1 = time.perf_counter()
ack = io.StringIO()
pyx12.x12n_document.x12n_document(
    pyx12.params.params(), sys.argv[1], ack, None, map_path=sys.argv[2]
)
t2 = time.perf_counter()
text = ack.getvalue()
term = text[105] if len(text) > 105 else "~"
segments = [s.strip() for s in text.split(term) if s.strip()]
print(json.dumps({
    "import_seconds": t1 - t0,
    "validate_seconds": t2 - t1,
    "sets": sum(s.startswith("AK2*") for s in segments),
    "accepted": sum(s == "AK5*A" for s in segments),
    "detail": [s for s in segments if s.startswith(("AK3", "AK4", "AK5", "AK9"))][:12],
}))
"""


@dataclass
class Measure:
    wall_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_seconds: tuple[float, float] | None = None
    other_cores: float | None = None

    @classmethod
    def of(cls, child: ChildRun) -> Measure:
        return cls(child.wall_seconds, child.peak_rss_mb, child.cpu_seconds, child.other_cores)


@dataclass
class X12Result:
    bills: int
    sets: int = 0
    file_bytes: int = 0
    segments: int = 0
    ours: Measure = field(default_factory=Measure)
    ours_fixed: Measure = field(default_factory=Measure)
    pyx12: Measure = field(default_factory=Measure)
    pyx12_fixed: Measure = field(default_factory=Measure)
    pyx12_validate_seconds: float = 0.0  # inside the pyx12 child, imports excluded
    outcomes: list[str] = field(default_factory=list)  # "REGISTERED BC 1.1 000001" per set
    pos_rows: int = 0
    phases: list[tuple[str, float]] = field(default_factory=list)
    parser_parts: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ours.wall_seconds / self.pyx12.wall_seconds if self.pyx12.wall_seconds else 0

    @property
    def net_ratio(self) -> float:
        """The ratio with each command's fixed cost (its 1-bill run) taken off."""
        pyx12 = self.pyx12.wall_seconds - self.pyx12_fixed.wall_seconds
        ours = self.ours.wall_seconds - self.ours_fixed.wall_seconds
        return ours / pyx12 if pyx12 > 0 else 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and 0 < self.ratio <= TARGET_RATIO
            and self.ours.peak_rss_mb < TARGET_RSS_MB
        )


def _pyx12_command(file: Path) -> list[str]:
    return [sys.executable, "-c", PYX12_SCRIPT, str(file), str(MAP_PATH)]


def run(bills: int, *, profile: bool = False, keep: bool = False) -> X12Result:
    result = X12Result(bills=bills)
    sizes = set_sizes(bills)
    result.sets = len(sizes)
    print(f"\n== x12: one 309 interchange with {bills} bills ==")
    work = Path(tempfile.mkdtemp(prefix="pde-bench-x12-"))
    try:
        t0 = time.perf_counter()
        data = manifest_309(bills)
        generated = time.perf_counter() - t0
        file = write_file(work / f"manifest-{bills}.x12", data)
        result.file_bytes = len(data)
        result.segments = data.count(b"~")
        print(
            f"generated {file.name}: {len(data) / 1e6:.2f} MB, {result.segments} segments, "
            f"{len(sizes)} transaction set(s) of {'/'.join(map(str, sizes))} bills "
            f"(masters each with one house bill), groups 1..3 ({generated:.1f} s)"
        )
        small = write_file(work / "manifest-1.x12", manifest_309(1))

        # Fixed costs first, then the big file: ours, then pyx12 right after it.
        fixed = child_in(_process_command(small), work / "ours-1")
        result.ours_fixed = Measure.of(fixed)
        if [r.get("status") for r in fixed.results] != ["REGISTERED"]:
            result.problems.append(
                f"the 1-bill 309 was not registered (exit {fixed.exit_code}): "
                + (fixed.stderr_tail.splitlines() or [""])[-1]
            )
        fixed = child_in(_pyx12_command(small), work / "pyx12-1")
        result.pyx12_fixed = Measure.of(fixed)
        _check_pyx12(result, fixed, sets=1, label="1-bill")

        ours = child_in(_process_command(file), work / "ours")
        result.ours = Measure.of(ours)
        check_registered(
            ours, expected=result.sets, outcomes=result.outcomes, problems=result.problems
        )
        if ours.exit_code == 0 or ours.results:
            try:
                database = work / "ours" / "data" / "gateway.db"
                result.phases, result.pos_rows = phases(
                    database,
                    ours,
                    parse="X12 parse: pyx12 + envelope + mapping; rules",
                    acks="numbering, inserts, 997/355, commit",
                )
            except Exception as exc:  # a diagnostic only
                result.problems.append(f"cannot read the gateway database: {exc}")
            if result.pos_rows != bills:
                result.problems.append(f"{result.pos_rows} pos rows stored, expected {bills}")

        checker = child_in(_pyx12_command(file), work / "pyx12")
        result.pyx12 = Measure.of(checker)
        _check_pyx12(result, checker, sets=len(sizes), label=f"{bills}-bill")
        if checker.results:
            result.pyx12_validate_seconds = float(checker.results[0].get("validate_seconds", 0))

        result.parser_parts = _parser_alone(data, bills, result)
        _print(result)
        if result.problems:
            print("child stderr tail:\n" + ours.stderr_tail)
        if profile:
            _profile(data)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def _check_pyx12(result: X12Result, child: ChildRun, *, sets: int, label: str) -> None:
    report = child.results[0] if child.results else {}
    if child.exit_code != 0 or report.get("sets") != sets or report.get("accepted") != sets:
        result.problems.append(
            f"pyx12 on the {label} file: exit {child.exit_code}, {report or child.stderr_tail}"
        )


# ---------------------------------------------------------------- our parser alone


class _Clock:
    """Seconds spent in the wrapped callables (a generator's time is its ``next`` calls)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def call(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(name, time.perf_counter() - t0)

        return timed

    def generator(self, name: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            t0 = time.perf_counter()
            iterator = fn(*args, **kwargs)
            self._add(name, time.perf_counter() - t0)
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    self._add(name, time.perf_counter() - t0)
                    return
                self._add(name, time.perf_counter() - t0)
                yield item

        return timed

    def _add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def _parser_alone(data: bytes, bills: int, result: X12Result) -> list[tuple[str, float]]:
    """``X12Parser.parse`` in this process, its calls to pyx12's validation, the envelope
    pass and the mappers timed (wrapped where ``parsers.x12`` looks them up)."""
    import parsers.x12 as package
    import parsers.x12.documents as documents
    from parsers.x12 import X12Parser

    clock = _Clock()
    targets = [
        (package, "validate", "pyx12 validation (x12n_document, 997 read back)", clock.call),
        (package, "read", "envelope pass (pyx12 X12Reader -> Segment tuples)", clock.generator),
        (documents, "to_documents", "mapping to canonical records", clock.call),
    ]
    saved = []
    try:
        for module, name, label, wrap in targets:
            original = getattr(module, name, None)
            if original is None:  # the parser changed: that part is not timed
                continue
            saved.append((module, name, original))
            setattr(module, name, wrap(label, original))
        t0 = time.perf_counter()
        parsed = X12Parser(zone_for_office=jakarta).parse(data, max_bytes=10**9)
        total = time.perf_counter() - t0
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
    docs = [d.document if d.document is not None else list(d.findings) for d in parsed.documents]
    try:
        found = count_bills(docs)
        if found != bills:
            result.problems.append(f"the parser found {found} bills, expected {bills}")
    except ValueError as exc:
        result.problems.append(str(exc))
    parts = sorted(clock.seconds.items(), key=lambda item: -item[1])
    rest = total - sum(seconds for _name, seconds in parts)
    return [
        ("X12Parser.parse, total", total),
        *parts,
        ("the rest (decode, verdicts, assembling results)", rest),
    ]


# ---------------------------------------------------------------- report


def _print(result: X12Result) -> None:
    ours, pyx12 = result.ours, result.pyx12
    rows: list[list[Any]] = [
        [
            "file",
            f"{result.file_bytes / 1e6:.2f} MB, {result.segments} segments, "
            f"{result.sets} transaction set(s)",
            "",
        ],
        ["bills (LX loops)", result.bills, ""],
        ["ours: pde-gateway process", f"{ours.wall_seconds:.2f} s", ""],
        ["pyx12 alone (x12n_document)", f"{pyx12.wall_seconds:.2f} s", ""],
        [
            "ratio ours / pyx12",
            f"{result.ratio:.2f}",
            f"target <= {TARGET_RATIO}: {verdict(0 < result.ratio <= TARGET_RATIO)}",
        ],
        [
            "ratio net of fixed cost",
            f"{result.net_ratio:.2f}",
            f"({ours.wall_seconds - result.ours_fixed.wall_seconds:.2f} s / "
            f"{pyx12.wall_seconds - result.pyx12_fixed.wall_seconds:.2f} s)",
        ],
        [
            "ours: peak RSS",
            f"{ours.peak_rss_mb:.0f} MB",
            f"target < {TARGET_RSS_MB:.0f} MB: {verdict(ours.peak_rss_mb < TARGET_RSS_MB)}",
        ],
        ["pyx12 alone: peak RSS", f"{pyx12.peak_rss_mb:.0f} MB", ""],
        [
            "fixed cost (1-bill 309)",
            f"ours {result.ours_fixed.wall_seconds:.2f} s, "
            f"{result.ours_fixed.peak_rss_mb:.0f} MB; pyx12 "
            f"{result.pyx12_fixed.wall_seconds:.2f} s, {result.pyx12_fixed.peak_rss_mb:.0f} MB",
            "",
        ],
        ["pyx12 child: validation only", f"{result.pyx12_validate_seconds:.2f} s", "no imports"],
        *_cpu_rows("ours", ours),
        *_cpu_rows("pyx12", pyx12),
        [
            "status per set",
            "; ".join(result.outcomes) or "-",
            verdict(bool(result.outcomes) and not result.problems),
        ],
        ["pos rows stored", result.pos_rows, ""],
    ]
    print_table(["x12", "value", "check"], rows)
    if result.phases:
        print("where the wall time of `process` goes (instants from the child's database):")
        print_table(["phase", "seconds"], [[p, f"{s:.2f}"] for p, s in result.phases])
    if result.parser_parts:
        print("our parser alone, in this process (X12Parser.parse, no profiler):")
        print_table(["part", "seconds"], [[p, f"{s:.2f}"] for p, s in result.parser_parts])
    for problem in result.problems:
        print(f"PROBLEM: {problem}")


def _cpu_rows(name: str, measure: Measure) -> list[list[Any]]:
    rows: list[list[Any]] = []
    if measure.cpu_seconds is not None:
        user, system = measure.cpu_seconds
        rows.append([f"{name}: CPU", f"{user:.2f} s user + {system:.2f} s system", ""])
    if measure.other_cores is not None:
        note = "> 0.2: shared machine, figures pessimistic" if measure.other_cores > 0.2 else ""
        rows.append([f"{name}: other processes' CPU", f"{measure.other_cores:.2f} cores", note])
    return rows


def _profile(data: bytes) -> None:
    """``X12Parser.parse`` under cProfile in this process."""
    import cProfile
    import pstats

    from parsers.x12 import X12Parser

    parser = X12Parser(zone_for_office=jakarta)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    try:
        parser.parse(data, max_bytes=10**9)
    finally:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    print(f"\n-- cProfile of X12Parser.parse ({elapsed:.2f} s under the profiler) --")
    stats = pstats.Stats(profiler)
    print("top 40 by cumulative time")
    print(top_functions(stats, sort="cumulative", limit=40))
    print("\ntop 25 by own time")
    print(top_functions(stats, sort="tottime", limit=25))
