"""``python -m bench [--only filedrop|manifest|x12|edifact|sftp|workers|memory] [--files N] ...``.

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime

from bench import edifact, filedrop, manifest, memory, sftp, workers, x12
from bench.common import print_machine, print_table, verdict


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=("filedrop", "manifest", "x12", "edifact", "sftp", "workers", "memory"),
        help="run one benchmark",
    )
    parser.add_argument("--files", type=int, default=2000, help="RKSP files to drop (2000)")
    parser.add_argument("--pos", type=int, default=10000, help="pos in the manifest (10000)")
    parser.add_argument(
        "--bills", type=int, default=10000, help="bills (LX loops) in the X12 309 (10000)"
    )
    parser.add_argument(
        "--sftp-files", type=int, default=1000, help="RKSP files uploaded over SFTP (1000)"
    )
    parser.add_argument(
        "--consignments",
        type=int,
        default=10000,
        help="consignments (CNI groups) in the CUSCAR (10000)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="gateway worker threads (default: config)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run under cProfile and print the top functions (slower; figures differ)",
    )
    parser.add_argument(
        "--profile-timer",
        choices=("wall", "cpu"),
        default="wall",
        help="filedrop profile: wall-clock (waits included) or per-thread CPU time",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each benchmark this many times (1)"
    )
    parser.add_argument(
        "--worker-files",
        type=int,
        default=2000,
        help="RKSP files per run of the worker-process benchmark on PostgreSQL (2000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    args = parser.parse_args(argv)
    if min(args.files, args.pos, args.bills, args.consignments, args.sftp_files, args.repeat) < 1:
        parser.error("--files, --pos, --bills, --consignments and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    print(f"PDE Gateway benchmarks, {started:%Y-%m-%d %H:%M} UTC")
    print_machine()
    t0 = time.monotonic()
    summary: list[list[object]] = []
    ok = True
    runs = range(1, args.repeat + 1)
    if args.only in (None, "filedrop"):
        rates = []
        for n in runs:
            fd = filedrop.run(
                args.files,
                workers=args.workers,
                profile=args.profile and n == args.repeat,
                profile_timer=args.profile_timer,
                keep=args.keep,
            )
            ok &= fd.ok
            rates.append(fd.files_per_second)
            summary.append(
                [
                    _label("filedrop", n, args.repeat),
                    f"{fd.files_per_second:.1f} files/s, "
                    f"p50 {fd.latency_ms.get('p50', 0):.0f} ms, "
                    f"p99 {fd.latency_ms.get('p99', 0):.0f} ms, "
                    f"{fd.registered}/{fd.files} REGISTERED",
                    f">= {filedrop.TARGET_FILES_PER_SECOND:.0f} files/s, all registered",
                    verdict(fd.ok),
                ]
            )
        if args.repeat > 1:
            summary.append(["filedrop median", f"{statistics.median(rates):.1f} files/s", "", ""])
    if args.only in (None, "manifest"):
        walls, rss = [], []
        for n in runs:
            mf = manifest.run(args.pos, profile=args.profile and n == args.repeat, keep=args.keep)
            ok &= mf.ok
            walls.append(mf.wall_seconds)
            rss.append(mf.peak_rss_mb)
            summary.append(
                [
                    _label("manifest", n, args.repeat),
                    f"{mf.wall_seconds:.2f} s, {mf.peak_rss_mb:.0f} MB peak RSS, "
                    f"{mf.status} {mf.registration or ''}".rstrip(),
                    f"< {manifest.TARGET_SECONDS:.0f} s, < {manifest.TARGET_RSS_MB:.0f} MB, BC 1.1",
                    verdict(mf.ok),
                ]
            )
        if args.repeat > 1:
            summary.append(
                [
                    "manifest median",
                    f"{statistics.median(walls):.2f} s, {statistics.median(rss):.0f} MB",
                    "",
                    "",
                ]
            )
    if args.only in (None, "x12"):
        ratios, nets, x12_rss = [], [], []
        for n in runs:
            xr = x12.run(args.bills, profile=args.profile and n == args.repeat, keep=args.keep)
            ok &= xr.ok
            ratios.append(xr.ratio)
            nets.append(xr.net_ratio)
            x12_rss.append(xr.ours.peak_rss_mb)
            summary.append(
                [
                    _label("x12", n, args.repeat),
                    f"{xr.ours.wall_seconds:.2f} s vs pyx12 {xr.pyx12.wall_seconds:.2f} s: "
                    f"ratio {xr.ratio:.2f} (net {xr.net_ratio:.2f}), "
                    f"{xr.ours.peak_rss_mb:.0f} MB, {xr.bills} bills, "
                    f"{sum(o.startswith('REGISTERED BC 1.1') for o in xr.outcomes)}/{xr.sets} "
                    "sets REGISTERED",
                    f"ratio <= {x12.TARGET_RATIO}, < {x12.TARGET_RSS_MB:.0f} MB, BC 1.1",
                    verdict(xr.ok),
                ]
            )
        if args.repeat > 1:
            summary.append(
                [
                    "x12 median",
                    f"ratio {statistics.median(ratios):.2f} (net {statistics.median(nets):.2f}), "
                    f"{statistics.median(x12_rss):.0f} MB",
                    "",
                    "",
                ]
            )
    if args.only in (None, "edifact"):
        edifact_ratios = []
        for n in runs:
            er = edifact.run(args.consignments, keep=args.keep)
            ok &= er.ok
            edifact_ratios.append(er.ratio)
            summary.append(
                [
                    _label("edifact", n, args.repeat),
                    f"{er.ours.wall_seconds:.2f} s vs X12 {er.x12.wall_seconds:.2f} s: "
                    f"ratio {er.ratio:.2f}, {er.ours.peak_rss_mb:.0f} MB, "
                    f"{er.consignments} consignments, "
                    f"{sum(o.startswith('REGISTERED BC 1.1') for o in er.outcomes)}/"
                    f"{er.messages} messages REGISTERED",
                    f"ratio <= {edifact.TARGET_RATIO}, < {x12.TARGET_RSS_MB:.0f} MB, BC 1.1",
                    verdict(er.ok),
                ]
            )
        if args.repeat > 1:
            summary.append(
                ["edifact median", f"ratio {statistics.median(edifact_ratios):.2f}", "", ""]
            )
    if args.only in (None, "sftp"):
        for n in runs:
            sr = sftp.run(args.sftp_files, keep=args.keep)
            ok &= sr.ok
            summary.append(
                [
                    _label("sftp", n, args.repeat),
                    f"{sr.files_per_second:.1f} files/s, "
                    f"p50 {sr.latency_ms.get('p50', 0):.0f} ms, "
                    f"p99 {sr.latency_ms.get('p99', 0):.0f} ms, "
                    f"{sr.responses}/{sr.files} answered",
                    "every upload answered in outbox/",
                    verdict(sr.ok),
                ]
            )
    if args.only in (None, "workers"):
        # 1, 2 and 4 worker processes on PostgreSQL (no target: the figures go to
        # docs/performance.md with the core count).
        for wr in workers.run_all(args.worker_files):
            ok &= wr.ok
            summary.append(
                [
                    f"workers x{wr.processes} (PostgreSQL)",
                    f"{wr.files_per_second:.1f} files/s, "
                    f"p50 {wr.latency_ms.get('p50', 0):.0f} ms, "
                    f"p99 {wr.latency_ms.get('p99', 0):.0f} ms, "
                    f"{wr.processed}/{wr.files} processed",
                    "every file processed",
                    verdict(wr.ok),
                ]
            )
    if args.only in (None, "memory"):
        for n in runs:
            mr = memory.run(keep=args.keep)
            ok &= mr.ok
            summary.append(
                [
                    _label("memory", n, args.repeat),
                    f"peak RSS {mr.peak_rss_mb:.0f} MB with {memory.DOWNLOADERS} downloads of "
                    f"{mr.raw_bytes / 2**20:.0f} MiB + a {mr.sets}-set report "
                    f"({mr.wall_seconds:.1f} s)",
                    f"< {memory.TARGET_RSS_MB:.0f} MB",
                    verdict(mr.ok),
                ]
            )
    print(f"\n== summary ({time.monotonic() - t0:.0f} s) ==")
    print_table(["benchmark", "measured", "target", "verdict"], summary)
    return 0 if ok else 1


def _label(name: str, n: int, repeat: int) -> str:
    return name if repeat == 1 else f"{name} #{n}"


if __name__ == "__main__":
    sys.exit(main())
