"""Sweep benchmark: many runs of a 10,000-citizen town, and the speed-up of more workers.

Targets (issue 3): 1,000 runs of 10,000 citizens x 120 months in under 10 minutes
with 2 workers on a 2-core machine; 2 workers at least 1.7 times as fast as 1.

    .venv/bin/python benchmarks/bench_sweep.py                          # the full benchmark
    .venv/bin/python benchmarks/bench_sweep.py --runs 40 --speedup-runs 16   # a quick check
    .venv/bin/python benchmarks/bench_sweep.py --json out/bench_sweep.json

Everything a real sweep does is timed (starting workers, writing each run to disk at once,
assembling the tables), through ``coprod_sim.sweep.estimate.measure_throughput``, which other
benchmarks can call. The machine's load average is printed beside the figures: on a shared
machine other work slows both timings and lowers the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from coprod_sim.sweep.estimate import measure_throughput

TARGET_SECONDS = 600.0
TARGET_SPEEDUP = 1.7


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="runs in the main measurement (1000)")
    ap.add_argument("--citizens", type=int, default=10_000, help="citizens per run (10000)")
    ap.add_argument("--steps", type=int, default=120, help="months per run (120)")
    ap.add_argument("--workers", type=int, default=2, help="workers of the main measurement (2)")
    ap.add_argument("--speedup-runs", type=int, default=60,
                    help="runs timed with 1 worker and with --workers for the speed-up (60; 0 skips)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    print(f"sweep benchmark: {args.citizens:,} citizens x {args.steps} months per run,"
          f" {os.cpu_count()} CPUs, load average {_load()}")
    main_run = measure_throughput(args.runs, args.citizens, args.steps, args.workers, progress=True)
    _show(f"{args.runs} runs, {args.workers} workers", main_run)
    verdict = "meets" if main_run["seconds"] < TARGET_SECONDS * args.runs / 1000 else "misses"
    projected = main_run["seconds"] * 1000 / args.runs
    print(f"  -> 1,000 runs would take {projected / 60:.1f} min: {verdict} the target of"
          f" {TARGET_SECONDS / 60:.0f} min (load average now {_load()})")
    result = {"main": main_run, "projected_seconds_for_1000": projected,
              "target_seconds_for_1000": TARGET_SECONDS}

    if args.speedup_runs > 0:
        one = measure_throughput(args.speedup_runs, args.citizens, args.steps, 1)
        _show(f"{args.speedup_runs} runs, 1 worker", one)
        many = measure_throughput(args.speedup_runs, args.citizens, args.steps, args.workers)
        _show(f"{args.speedup_runs} runs, {args.workers} workers", many)
        speedup = one["seconds"] / many["seconds"]
        verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
        print(f"  -> speed-up of {args.workers} workers over 1: {speedup:.2f}x: {verdict} the target"
              f" of {TARGET_SPEEDUP}x (load average now {_load()})")
        ceiling = machine_ceiling(args.workers)
        print(f"  -> for comparison, {args.workers} processes of plain arithmetic run {ceiling:.2f}x as"
              " fast as 1 on this machine right now (what other work leaves us)")
        result.update(speedup=speedup, one_worker=one, many_workers=many, target_speedup=TARGET_SPEEDUP,
                      machine_ceiling=ceiling)

    result["load_average"] = _load()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def machine_ceiling(workers: int, n: int = 10_000_000) -> float:
    """Speed-up of ``workers`` processes over 1 on embarrassingly parallel arithmetic, now."""
    one = _burn(n)
    with ProcessPoolExecutor(workers) as pool:
        pool.submit(_burn, 1).result()  # start the processes before timing
        start = time.perf_counter()
        list(pool.map(_burn, [n] * workers))
        wall = time.perf_counter() - start
    return workers * one / wall


def _show(label: str, r: dict) -> None:
    print(f"{label:>28}: {r['seconds']:8.1f} s   {r['runs_per_second']:6.2f} runs/s"
          f"   {r['citizen_months_per_second'] / 1e6:6.1f} M citizen-months/s"
          + (f"   ({r['failed']} failed)" if r["failed"] else ""))


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
