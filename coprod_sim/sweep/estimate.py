"""Time estimates of a sweep, measured on this machine, and the sweep throughput benchmark.

An estimate has two parts. The *work* is measured once and kept: the CPU time of a run
(building the town, then each month) for a fixed and a per-citizen part, in CPU seconds, so a
busy moment while measuring does not stay in the estimate for a week. The *machine's load*
is read each time: a short probe (how much longer a fixed computation takes on the clock than
on the processor here, now) and the load average say how many other processes share the
cores, and the workers' share of them follows (each runnable process gets an equal share of
the cores, at most one core each).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from coprod_sim.scenario.plan import Scenario

_CALIBRATION: tuple[float, float, float, float] | None = None
START_SECONDS = 2.0  # starting the worker processes (imports, compiled code from its cache), idle core
COMMAND_SECONDS = 1.5  # `coprod sweep` itself: importing, loading the file, writing the tables
RUN_OVERHEAD_SECONDS = 0.03  # per run, besides simulating it: sending it, writing its file, the tables
PROBE_SECONDS = 0.2  # CPU time of the load probe
CACHE_DAYS = 7
"""A measured speed is reused this long on the same machine and code, then measured again."""
CALIBRATION_VERSION = 3  # 3: CPU seconds at 1,000 and 10,000 citizens (1: wall seconds, which
# kept the load of its moment; 2: 500 and 3,000 citizens, which overestimated large towns 2-fold)


def calibration() -> tuple[float, float, float, float]:
    """CPU seconds to build a town (fixed, per citizen) and for a month (fixed, per citizen),
    measured on this machine.

    The figures are kept in the user's cache folder, keyed by this machine and the source of
    the code that runs a month, so that ``coprod validate`` neither imports the simulation
    (Numba, pandas) nor runs it each time, and gives the same estimate for the same file.
    """
    global _CALIBRATION
    if _CALIBRATION is None:
        _CALIBRATION = _cached() or _measure()
    return _CALIBRATION


def seconds_per_citizen_month() -> float:
    """Measured on this machine (for time estimates)."""
    return calibration()[3]


def run_seconds(citizens: int, steps: int) -> float:
    """The measured CPU time of one run of ``citizens`` x ``steps`` months (one idle core)."""
    build, build_per, month, month_per = calibration()
    return build + build_per * citizens + steps * (month + month_per * citizens)


def _timed(params, seed: int) -> float:
    from coprod_sim.run import run as simulate

    t = time.process_time()  # CPU time: what the run costs, whatever else the machine does
    simulate(params, seed, record_neighbourhoods=False)
    return time.process_time() - t


def _measure() -> tuple[float, float, float, float]:
    """Two town sizes and two run lengths separate what a run costs whatever its size from what
    each citizen costs, for building the town and for a month; each time is the faster of two,
    so that a moment of load on a shared machine counts less."""
    from coprod_sim.params import Parameters

    short, long = 4, 28
    sizes = (1000, 10_000)  # the range of most sweeps; the cost per citizen falls in larger towns
    month, build = {}, {}
    _timed(Parameters({"population.n_citizens": 1000, "simulation.steps": short}), 0)  # warm-up
    for n in sizes:
        times = {}
        for steps in (short, long):
            p = Parameters({"population.n_citizens": n, "simulation.steps": steps})
            times[steps] = min(_timed(p, 1), _timed(p, 2))
        month[n] = max(times[long] - times[short], 1e-9) / (long - short)
        build[n] = max(times[short] - short * month[n], 0.0)
    (n1, n2), span = sizes, sizes[1] - sizes[0]
    month_per = max(month[n2] - month[n1], 0.0) / span
    build_per = max(build[n2] - build[n1], 0.0) / span
    result = (max(build[n1] - build_per * n1, 0.0), build_per,
              max(month[n1] - month_per * n1, 0.0), month_per)
    try:
        path = _cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": _cache_key(), "calibration": result,
                                    "version": CALIBRATION_VERSION,
                                    "measured": time.time()}))
    except OSError:  # a read-only home: measure again next time
        pass
    return result


def _cached() -> tuple[float, float, float, float] | None:
    try:
        data = json.loads(_cache_path().read_text())
        fresh = time.time() - float(data["measured"]) < CACHE_DAYS * 86400
        values = tuple(float(v) for v in data["calibration"])
        if (data["key"] == _cache_key() and fresh and len(values) == 4
                and data.get("version") == CALIBRATION_VERSION):
            return values  # type: ignore[return-value]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "coprod-sim" / "throughput.json"


def _cache_key() -> str:
    """This machine and the source of everything a month runs (an edit measures again)."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"{platform.node()} {platform.machine()} {os.cpu_count()}"
                       f" {platform.python_version()}".encode())
    for folder in ("month", "rules", "outcomes", "town"):
        for path in sorted((package / folder).glob("*.py")):
            h.update(path.read_bytes())
    h.update((package / "run.py").read_bytes())
    return h.hexdigest()


def probe_slowdown(seconds: float = PROBE_SECONDS) -> float:
    """Clock time over CPU time of a fixed computation here, now: 1 on an idle core, about
    (runnable processes) / (cores) on a busy machine (at this process's priority)."""
    import numpy as np

    x = np.random.default_rng(0).random(50_000)
    wall, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < seconds:
        np.sort(x)
    return max(1.0, (time.perf_counter() - wall) / max(time.process_time() - cpu, 1e-9))


def other_processes(cores: int, slowdown: float | None = None) -> float:
    """How many other processes compete for the cores: from the probe (which sees their
    priorities) and, when the probe found a free core, the load average (capped below a core
    each: the probe says none of them kept it from running)."""
    slowdown = probe_slowdown() if slowdown is None else slowdown
    try:
        average = os.getloadavg()[0]
    except OSError:  # no load average on this system
        average = 0.0
    # slowdown s = (others + 1) / cores once the cores are all taken; s = 1 says only that a
    # core was free (fewer than one other process per remaining core)
    from_probe = slowdown * cores - 1.0 if slowdown > 1.05 else 0.0
    # a short probe is favoured by the scheduler (a process that has just woken runs first), so
    # on a busy machine it sees less contention than a worker running for minutes; measured
    # sweeps at load averages of 9 to 12 on 2 cores ran about halfway between the two readings
    return max(from_probe, min(average, cores - 1.0), (from_probe + average) / 2, 0.0)


def core_share(workers: int, cores: int, others: float) -> float:
    """Cores' worth the workers get: each runnable process an equal share, at most one core."""
    return workers * min(1.0, cores / (others + workers))


def scenario_factor(scenario: Scenario, points: int = 6, months: int = 12, citizens: int = 2000
                    ) -> float:
    """CPU time of the scenario's own points over what the calibration predicts for them.

    The calibration runs the default town; a scenario's policies may cost more (co-design
    seats drawn by sortition, levels opened) or less. Up to ``points`` of its points, evenly
    spread, are run briefly (``months`` months, at most ``citizens`` citizens, after a warm-up
    that loads the compiled code) and timed in CPU seconds; 1 if they cannot be run here. A
    scenario's factor is kept with the calibration (same code, same points): validating a file
    again does not run it again.
    """
    chosen = scenario.points()
    chosen = [chosen[round(i * (len(chosen) - 1) / max(points - 1, 1))]
              for i in range(min(points, len(chosen)))]
    if all(set(p.overrides) <= SIZE_KEYS for p in chosen):
        return 1.0  # the calibration's own town, at other sizes: nothing to correct
    key = hashlib.sha256(json.dumps([_cache_key(), points, months, citizens,
                                     [p.overrides for p in chosen]], sort_keys=True,
                                    default=str).encode()).hexdigest()
    known = _read_costs()
    if key in known:
        return known[key]
    factor = _probe_factor(chosen, months, citizens)
    known[key] = factor
    _write_costs(dict(list(known.items())[-200:]))  # the last 200 scenarios probed
    return factor


SIZE_KEYS = frozenset({"population.n_citizens", "simulation.steps", "simulation.seed"})
"""Keys that change a run's size or seed, not what a citizen-month costs."""


def _costs_path() -> Path:
    return _cache_path().with_name("scenario-costs.json")


def _read_costs() -> dict[str, float]:
    try:
        data = json.loads(_costs_path().read_text())
        return {str(k): float(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _write_costs(costs: dict[str, float]) -> None:
    try:
        _costs_path().parent.mkdir(parents=True, exist_ok=True)
        _costs_path().write_text(json.dumps(costs))
    except OSError:  # a read-only home: probe again next time
        pass


def _probe_factor(chosen, months: int, citizens: int) -> float:
    """Run the chosen points briefly; their CPU time over the calibration's prediction."""
    from coprod_sim.params import Parameters
    from coprod_sim.run import run as simulate

    measured = predicted = 0.0
    try:
        simulate(Parameters({"population.n_citizens": 200, "simulation.steps": 2}), 0,
                 record_neighbourhoods=False)
        for p in chosen:
            n = min(int(p.overrides.get("population.n_citizens", citizens)), citizens)
            params = Parameters({**p.overrides, "population.n_citizens": n, "simulation.steps": months})
            cpu = time.process_time()
            simulate(params, 1, record_neighbourhoods=False)
            measured += time.process_time() - cpu
            predicted += run_seconds(n, months)
    except Exception:  # a custom rule not importable here, a town table elsewhere: no correction
        return 1.0
    return min(max(measured / predicted, 0.5), 3.0) if predicted > 0 else 1.0


def estimate_seconds(scenario: Scenario, workers: int = 1, *, others: float | None = None,
                     factor: float | None = None, command: bool = True) -> float:
    """Wall time of the whole sweep on ``workers`` local processes, from a calibration here, the
    scenario's own cost (``factor``, default :func:`scenario_factor`) and the machine's load now
    (``others``: the competing processes, default measured); ``command``: the time of
    ``coprod sweep`` as a command (its start and its tables), not only of the runs."""
    from coprod_sim.params import spec
    from coprod_sim.sweep.executors import default_workers

    n_default = spec("population.n_citizens").default
    steps_default = spec("simulation.steps").default
    work = 0.0
    for p in scenario.points():
        n = p.overrides.get("population.n_citizens", n_default)
        steps = p.overrides.get("simulation.steps", steps_default)
        work += run_seconds(n, steps)
    factor = scenario_factor(scenario) if factor is None else factor
    work = scenario.replications * (work * factor + scenario.n_points * RUN_OVERHEAD_SECONDS)
    cores = default_workers()
    parallel = max(1, min(workers, scenario.n_runs))
    others = other_processes(cores) if others is None else others
    # the workers start side by side, mostly loading code from disk: slowed by the others
    start = (START_SECONDS + COMMAND_SECONDS * command) * max(1.0, (others + 1.0) / cores)
    return work / core_share(parallel, cores, others) + start


def measure_throughput(runs: int = 100, citizens: int = 10_000, steps: int = 120, workers: int = 2,
                       scheduler: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Time a sweep of ``runs`` replications of the default town (the sweep benchmark).

    Everything a real sweep does is counted: starting workers, writing each run, assembling
    the tables. Returns runs, workers, seconds, runs_per_second, citizen_months_per_second.
    """
    from coprod_sim.scenario.loader import load_scenario
    from coprod_sim.sweep.engine import sweep

    with tempfile.TemporaryDirectory(prefix="coprod-bench-") as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(f'name = "bench"\nseed = 1\nsteps = {steps}\nreplications = {runs}\n'
                        f'[parameters]\n"population.n_citizens" = {citizens}\n')
        scenario = load_scenario(path)
        t = time.perf_counter()
        result = sweep(scenario, Path(tmp) / "out", workers=workers, scheduler=scheduler,
                       progress=progress)
        seconds = time.perf_counter() - t
    return {"runs": runs, "citizens": citizens, "steps": steps, "workers": workers,
            "executor": result.executor, "failed": len(result.failed), "seconds": seconds,
            "runs_per_second": runs / seconds,
            "citizen_months_per_second": runs * citizens * steps / seconds}
