"""Speed of the month with default and with custom rules: CPU seconds on one core.

    .venv/bin/python benchmarks/bench_kernel.py                  # 1,000,000 x 100, 3 repeats
    .venv/bin/python benchmarks/bench_kernel.py --citizens 100000 --repeats 1 --numpy

Prints, for 1,000,000 citizens x 100 months (building excluded, recording included, as
``CoproductionModel.step()`` runs them):

- **default**: the default rules, every stage compiled;
- **custom participation**: a researcher's participation rule in plain NumPy
  (:func:`eager_participation`), the other stages still compiled, and its ratio to default;
- **threshold**: the shipped NumPy rule ``granovetter_threshold`` in the same place;
- with ``--numpy``, the NumPy month (``accelerate=False``) for reference.

Each run is a fresh process (``measure.py``); variants alternate within each repeat, so a
burst of load on the shared machine hits all of them; medians of the repeats. CPU time
(``time.process_time``) is the figure: wall time on a loaded machine includes waiting for a
core. A JSON summary goes to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import log, machine, measure
from coprod_sim.rules.registry import rule

# The measuring processes load this module, so that its rule can be selected by name.
os.environ.setdefault("COPROD_RULES_MODULES", "benchmarks.bench_kernel")


@rule("participation")
def eager_participation(state, params) -> np.ndarray:
    """A custom participation rule in plain NumPy: the default choice, everybody a little
    more likely to take part individually (what a researcher might try)."""
    from coprod_sim.rules.defaults import logistic_choice

    p = logistic_choice(state, params)
    p[:, 0] = np.minimum(p[:, 0] * 1.5, 1.0 - p[:, 1:].sum(axis=1))
    return p


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "custom participation": {"overrides": {
        "rules.participation": "eager_participation"}},
    "threshold": {"overrides": {"rules.participation": "granovetter_threshold"}},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--citizens", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--numpy", action="store_true", help="also time the NumPy month")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    variants = dict(VARIANTS)
    if args.numpy:
        variants["numpy month"] = {"accelerate": False}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name, extra in variants.items():
            log(f"{name}: {args.citizens:,} x {args.steps}, repeat {r + 1}/{args.repeats}")
            runs[name].append(measure({"task": "kernel", "citizens": args.citizens,
                                       "steps": args.steps, **extra}))
    summary = {"citizens": args.citizens, "steps": args.steps, "repeats": args.repeats,
               "machine": machine(), "variants": {}}
    default_cpu = statistics.median(r["run_cpu_s"] for r in runs["default"])
    print(f"{args.citizens:,} citizens x {args.steps} months, one core, median of {args.repeats}")
    print(f"{'variant':<22} {'CPU s':>8} {'wall s':>8} {'x default':>10}  CPU s of each run")
    for name, rs in runs.items():
        cpu = statistics.median(r["run_cpu_s"] for r in rs)
        wall = statistics.median(r["run_s"] for r in rs)
        each = ", ".join(f"{r['run_cpu_s']:.1f}" for r in rs)
        print(f"{name:<22} {cpu:8.2f} {wall:8.2f} {cpu / default_cpu:10.2f}  {each}")
        summary["variants"][name] = {
            "run_cpu_s": cpu, "run_s": wall, "ratio_to_default": cpu / default_cpu,
            "run_cpu_s_each": [r["run_cpu_s"] for r in rs],
            "stage_ms_per_step": rs[0]["stage_ms_per_step"],
            "load_average": [r["load_average"] for r in rs]}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
