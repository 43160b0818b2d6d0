"""How good are `coprod validate`'s time estimates? Estimate, then run, a few small sweeps.

Prints, for each sweep, the estimated and the measured wall time, their ratio (the target:
within a factor of 1.5 either way on this machine), and the machine's load: the 1-minute load
average before and after the sweep, the competing processes the estimate assumed, and the
scenario's cost against the calibration (its points run briefly). The estimate reads the load
when it is made, so a busy machine is allowed for; a load that changes during the sweep is not:

    python benchmarks/bench_estimate.py [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep.engine import sweep
from coprod_sim.sweep.estimate import calibration, estimate_seconds, other_processes, scenario_factor
from coprod_sim.sweep.executors import default_workers

CASES = {
    "1,000 citizens x 60 months, 2 policies x 8 replications": (
        'name = "a"\nsteps = 60\nreplications = 8\n[parameters]\npopulation.n_citizens = 1000\n'
        '[policies.universal]\n"policy.outreach" = "universal"\n'),
    "3,000 citizens x 120 months, 3 points x 4 replications": (
        'name = "b"\nsteps = 120\nreplications = 4\n[parameters]\npopulation.n_citizens = 3000\n'
        '[sweep]\n"administration.staff_incentives" = [0.1, 0.5, 0.9]\n'),
    "500 citizens x 24 months, 40 runs": (
        'name = "c"\nsteps = 24\nreplications = 40\n[parameters]\npopulation.n_citizens = 500\n'),
    "20,000 citizens x 120 months, 6 runs": (
        'name = "d"\nsteps = 120\nreplications = 6\n[parameters]\npopulation.n_citizens = 20000\n'),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    calibration()  # measured once (and kept), not inside the first case's estimate
    print(f"{'sweep':58} {'estimate':>9} {'measured':>9} {'ratio':>6} {'others':>6} {'cost':>5}"
          f" {'load before':>11} {'after':>6}")
    with tempfile.TemporaryDirectory(prefix="coprod-estimate-") as tmp:
        for i, (label, text) in enumerate(CASES.items()):
            path = Path(tmp) / f"case{i}.toml"
            path.write_text(text)
            scenario = load_scenario(path)
            factor = scenario_factor(scenario)
            others = other_processes(default_workers())
            # sweep() called here, not the `coprod sweep` command: its start is not timed
            estimate = estimate_seconds(scenario, args.workers, others=others, factor=factor,
                                        command=False)
            before = os.getloadavg()[0]
            t = time.perf_counter()
            sweep(scenario, Path(tmp) / f"out{i}", workers=args.workers, progress=False)
            measured = time.perf_counter() - t
            print(f"{label:58} {estimate:8.1f}s {measured:8.1f}s {measured / estimate:6.2f} {others:6.1f}"
                  f" {factor:5.2f} {before:11.1f} {os.getloadavg()[0]:6.1f}", flush=True)


if __name__ == "__main__":
    main()
