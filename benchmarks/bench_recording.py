"""CPU time of one month's recording: ``record()`` and its compiled counting pass alone.

    .venv/bin/python benchmarks/bench_recording.py                 # 1,000,000 citizens
    .venv/bin/python benchmarks/bench_recording.py --citizens 100000 --calls 20

Steps a town of the default model ``--months`` months on the compiled path, then times
``coprod_sim.outcomes.record.record`` and ``coprod_sim.outcomes.counting.year_summary`` on
that state ``--calls`` times each (``time.process_time``) and prints the median and the
fastest call in milliseconds as JSON. The recording is a small share of the month, so
whole-run timings on a loaded machine cannot see a change in it; to compare two versions, run
this script in a worktree of each, alternately.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def timed(fn, calls: int) -> dict[str, float]:
    """Median and fastest CPU milliseconds of ``calls`` calls of ``fn``."""
    times = []
    for _ in range(calls):
        start = time.process_time()
        fn()
        times.append(1000 * (time.process_time() - start))
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 2), "min_ms": round(times[0], 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--citizens", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=24, help="months stepped before timing")
    ap.add_argument("--calls", type=int, default=40)
    args = ap.parse_args(argv)

    from coprod_sim.month.kernel import Kernel
    from coprod_sim.outcomes import record as rec
    from coprod_sim.outcomes.counting import year_summary
    from coprod_sim.outcomes.levels import integer_ranks_of
    from coprod_sim.params import Parameters
    from coprod_sim.run import run_seed
    from coprod_sim.town.streams import Streams

    params = Parameters({"population.n_citizens": args.citizens})
    kernel = Kernel(params, Streams.from_seed(run_seed(0, 0)), accelerate=True)
    for _ in range(args.months):
        kernel.step()
    state = kernel.state
    c, k = state.citizens, len(state.neighbourhoods)
    mask = rec.window_mask(params)
    work = rec._work(c)

    def counting() -> None:
        year_summary(
            c.mode,
            c.activity,
            c.activity_by_mode,
            mask,
            c.quintile,
            c.neighbourhood,
            k,
            c.offered,
            c.result,
            c.level,
            c.activity_by_level,
            integer_ranks_of(c),
            c.self_efficacy,
            c.efficacy_baseline,
            c.ses_rank,
            rec._mean(c.ses_rank),
            work,
        )

    rec.record(state, params)  # compiled code loaded before timing
    counting()
    out = {
        "citizens": args.citizens,
        "record": timed(lambda: rec.record(state, params), args.calls),
        "counting": timed(counting, args.calls),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
