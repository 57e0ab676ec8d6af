"""A CUSCAR with 10,000 consignments through ``pde-gateway process``, against the X12 budget.

The issue sets the budget as "the same as the 10,000-bill X12 manifest", so one run measures,
on two generated files carrying the same manifest (``bench/edifactgen.py``,
``bench/x12gen.py``: 10,000 consignments/bills in 2 messages/sets, masters each with one house
bill, three groups):

(a) ``pde-gateway process FILE --partner DEMO --json`` on the CUSCAR interchange as a child
    against a fresh data dir (wall time spawn to exit, peak RSS from ``/usr/bin/time -v``);
    every message must come back REGISTERED with a BC 1.1 and 10,000 pos rows stored;
(b) right after it, the same command on the X12 309: the budget. The CUSCAR must take no more
    wall time than the X12 file and stay under the X12 RSS target (500 MB).

Both also run on a 1-consignment file first (the fixed cost of the command). Then the EDIFACT
parser runs alone in this process, its time split into pydifact's tokenising plus our envelope
checks, the structure check against ``schemas/edifact`` and the mapping.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import print_table, verdict
from bench.generate import write_file
from bench.manifest import _process_command, check_registered, child_in, phases
from bench.x12 import TARGET_RSS_MB, Measure, _Clock, _cpu_rows
from bench.x12gen import count_bills, jakarta, manifest_309

TARGET_RATIO = 1.0  # CUSCAR wall time / X12 wall time for the same manifest, same run


@dataclass
class EdifactResult:
    consignments: int
    messages: int = 0
    file_bytes: int = 0
    segments: int = 0
    ours: Measure = field(default_factory=Measure)
    ours_fixed: Measure = field(default_factory=Measure)
    x12: Measure = field(default_factory=Measure)
    outcomes: list[str] = field(default_factory=list)
    pos_rows: int = 0
    phases: list[tuple[str, float]] = field(default_factory=list)
    parser_parts: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ours.wall_seconds / self.x12.wall_seconds if self.x12.wall_seconds else 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and 0 < self.ratio <= TARGET_RATIO
            and self.ours.peak_rss_mb < TARGET_RSS_MB
        )


def run(consignments: int, *, keep: bool = False) -> EdifactResult:
    from bench.edifactgen import manifest_cuscar, message_sizes

    result = EdifactResult(consignments=consignments)
    result.messages = len(message_sizes(consignments))
    print(f"\n== edifact: one CUSCAR interchange with {consignments} consignments ==")
    work = Path(tempfile.mkdtemp(prefix="pde-bench-edifact-"))
    try:
        t0 = time.perf_counter()
        data = manifest_cuscar(consignments)
        file = write_file(work / f"manifest-{consignments}.edi", data)
        result.file_bytes = len(data)
        result.segments = data.count(b"'\n")
        print(
            f"generated {file.name}: {len(data) / 1e6:.2f} MB, {result.segments} segments, "
            f"{result.messages} message(s) ({time.perf_counter() - t0:.1f} s)"
        )
        small = write_file(work / "manifest-1.edi", manifest_cuscar(1))
        x12_file = write_file(work / f"manifest-{consignments}.x12", manifest_309(consignments))

        fixed = child_in(_process_command(small), work / "ours-1")
        result.ours_fixed = Measure.of(fixed)
        if [r.get("status") for r in fixed.results] != ["REGISTERED"]:
            result.problems.append(f"the 1-consignment CUSCAR was not registered: {fixed.results}")

        ours = child_in(_process_command(file), work / "ours")
        result.ours = Measure.of(ours)
        check_registered(
            ours, expected=result.messages, outcomes=result.outcomes, problems=result.problems
        )
        try:
            result.phases, result.pos_rows = phases(
                work / "ours" / "data" / "gateway.db",
                ours,
                parse="EDIFACT: pydifact + envelope, structure, mapping; rules",
                acks="numbering, inserts, CONTRL/CUSRES, commit",
            )
        except Exception as exc:  # a diagnostic only
            result.problems.append(f"cannot read the gateway database: {exc}")
        if result.pos_rows != consignments:
            result.problems.append(f"{result.pos_rows} pos rows, expected {consignments}")

        budget = child_in(_process_command(x12_file), work / "x12")
        result.x12 = Measure.of(budget)
        if budget.exit_code != 0 or any(r.get("status") != "REGISTERED" for r in budget.results):
            result.problems.append(f"the X12 budget run failed (exit {budget.exit_code})")

        result.parser_parts = _parser_alone(data, result)
        _print(result)
        if result.problems:
            print("child stderr tail:\n" + ours.stderr_tail)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def _parser_alone(data: bytes, result: EdifactResult) -> list[tuple[str, float]]:
    """``EdifactParser.parse`` in this process, with its three parts timed where the package
    looks them up: the envelope pass (pydifact), the structure check and the mapping."""
    import parsers.edifact as package
    import parsers.edifact.documents as documents
    import parsers.edifact.structure as structure
    from parsers.edifact import EdifactParser

    clock = _Clock()
    targets = [
        (package, "read", "pydifact tokenising + envelope checks (envelope.read)"),
        (structure, "check", "structure check against schemas/edifact"),
        (documents, "to_documents", "mapping to canonical records"),
    ]
    saved = []
    try:
        for module, name, label in targets:
            original = getattr(module, name)
            saved.append((module, name, original))
            setattr(module, name, clock.call(label, original))
        t0 = time.perf_counter()
        parsed = EdifactParser(zone_for_office=jakarta).parse(data, max_bytes=10**9)
        total = time.perf_counter() - t0
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
    try:
        found = count_bills([d.document for d in parsed.documents])
        if found != result.consignments:
            result.problems.append(f"the parser found {found} pos, expected {result.consignments}")
    except ValueError as exc:
        result.problems.append(str(exc))
    parts = sorted(clock.seconds.items(), key=lambda item: -item[1])
    return [
        ("EdifactParser.parse, total", total),
        *parts,
        ("the rest (decode, charset, assembling)", total - sum(s for _n, s in parts)),
    ]


def _print(result: EdifactResult) -> None:
    ours, x12 = result.ours, result.x12
    rows: list[list[Any]] = [
        [
            "file",
            f"{result.file_bytes / 1e6:.2f} MB, {result.segments} segments, "
            f"{result.messages} message(s)",
            "",
        ],
        ["consignments (CNI groups)", result.consignments, ""],
        ["ours: pde-gateway process (CUSCAR)", f"{ours.wall_seconds:.2f} s", ""],
        ["budget: pde-gateway process (X12 309)", f"{x12.wall_seconds:.2f} s", ""],
        [
            "ratio CUSCAR / X12",
            f"{result.ratio:.2f}",
            f"target <= {TARGET_RATIO}: {verdict(0 < result.ratio <= TARGET_RATIO)}",
        ],
        [
            "ours: peak RSS",
            f"{ours.peak_rss_mb:.0f} MB (X12: {x12.peak_rss_mb:.0f} MB)",
            f"target < {TARGET_RSS_MB:.0f} MB: {verdict(ours.peak_rss_mb < TARGET_RSS_MB)}",
        ],
        [
            "fixed cost (1-consignment CUSCAR)",
            f"{result.ours_fixed.wall_seconds:.2f} s, {result.ours_fixed.peak_rss_mb:.0f} MB",
            "",
        ],
        *_cpu_rows("ours", ours),
        *_cpu_rows("x12", x12),
        [
            "status per message",
            "; ".join(result.outcomes) or "-",
            verdict(bool(result.outcomes) and not result.problems),
        ],
        ["pos rows stored", result.pos_rows, ""],
    ]
    print_table(["edifact", "value", "check"], rows)
    if result.phases:
        print("where the wall time of `process` goes (instants from the child's database):")
        print_table(["phase", "seconds"], [[p, f"{s:.2f}"] for p, s in result.phases])
    if result.parser_parts:
        print("our parser alone, in this process (EdifactParser.parse, no profiler):")
        print_table(["part", "seconds"], [[p, f"{s:.2f}"] for p, s in result.parser_parts])
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
