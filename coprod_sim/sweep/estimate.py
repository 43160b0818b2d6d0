"""Time estimates of a sweep, measured on this machine, and the sweep throughput benchmark."""

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
START_SECONDS = 4.0  # starting the worker processes (imports, compiled code from its cache)
WRITE_SECONDS = 0.02  # writing one run's file
CACHE_DAYS = 7
"""A measured speed is reused this long on the same machine and code, then measured again."""


def calibration() -> tuple[float, float, float, float]:
    """Seconds to build a town (fixed, per citizen) and for a month (fixed, per citizen),
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
    """The measured time of one run of ``citizens`` x ``steps`` months on one core."""
    build, build_per, month, month_per = calibration()
    return build + build_per * citizens + steps * (month + month_per * citizens)


def _timed(params, seed: int) -> float:
    from coprod_sim.run import run as simulate

    t = time.perf_counter()
    simulate(params, seed, record_neighbourhoods=False)
    return time.perf_counter() - t


def _measure() -> tuple[float, float, float, float]:
    """Two town sizes and two run lengths separate what a run costs whatever its size from what
    each citizen costs, for building the town and for a month; each time is the faster of two,
    so that a moment of load on a shared machine counts less."""
    from coprod_sim.params import Parameters

    short, long = 4, 28
    sizes = (500, 3000)
    month, build = {}, {}
    _timed(Parameters({"population.n_citizens": 500, "simulation.steps": short}), 0)  # warm-up
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
                                    "measured": time.time()}))
    except OSError:  # a read-only home: measure again next time
        pass
    return result


def _cached() -> tuple[float, float, float, float] | None:
    try:
        data = json.loads(_cache_path().read_text())
        fresh = time.time() - float(data["measured"]) < CACHE_DAYS * 86400
        values = tuple(float(v) for v in data["calibration"])
        if data["key"] == _cache_key() and fresh and len(values) == 4:
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


def estimate_seconds(scenario: Scenario, workers: int = 1) -> float:
    """Wall time of the whole sweep on ``workers`` local processes, from a calibration here."""
    from coprod_sim.params import spec
    from coprod_sim.sweep.executors import default_workers

    n_default = spec("population.n_citizens").default
    steps_default = spec("simulation.steps").default
    work = 0.0
    for p in scenario.points():
        n = p.overrides.get("population.n_citizens", n_default)
        steps = p.overrides.get("simulation.steps", steps_default)
        work += run_seconds(n, steps) + WRITE_SECONDS
    work *= scenario.replications
    parallel = max(1, min(workers, default_workers(), scenario.n_runs))
    return work / parallel + START_SECONDS


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
