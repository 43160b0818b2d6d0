"""Shared machinery of the experiments: paired replications, on at most two processes.

A *job* is one simulation: parameter overrides, an optional intervention on the town, a root
seed and a replication index. Replication ``r`` of every arm uses the seed sequence
``run_seed(root, r)`` (coprod_sim.run), so arms are compared on the same random draws
(paired comparisons) and a job gives the same numbers whatever the number of workers.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from coprod_sim.model import CoproductionModel
from coprod_sim.names import NO_MODE
from coprod_sim.params import Parameters
from coprod_sim.run import run_seed, summarise

MAX_WORKERS = 2
"""The machine is shared: never more than two worker processes."""

INTERVENTIONS: dict[str, str] = {
    "service_quality_shift": "raise every neighbourhood's baseline and current service quality by this"
                             " amount (clipped to [0, 1]) before the first month",
}
"""Changes to the town that no parameter expresses, by name, with what they do."""


@dataclass(frozen=True)
class Job:
    """One simulation to run: everything that determines its results."""

    overrides: tuple[tuple[str, Any], ...]  # dotted keys, sorted
    root: int
    replication: int
    interventions: tuple[tuple[str, float], ...] = ()
    citizens: bool = False  # also return the citizen-level table at the end

    @property
    def params(self) -> Parameters:
        return Parameters(dict(self.overrides))


def make_job(overrides: Mapping[str, Any], root: int, replication: int,
             interventions: Mapping[str, float] | None = None, citizens: bool = False) -> Job:
    """A Job with validated overrides (ParameterError names a bad key or value)."""
    params = Parameters(dict(overrides))
    clean = tuple(sorted((k, params[k]) for k in overrides))
    for name in interventions or {}:
        if name not in INTERVENTIONS:
            raise KeyError(f"unknown intervention {name!r}; known: {', '.join(INTERVENTIONS)}")
    return Job(clean, int(root), int(replication), tuple(sorted((interventions or {}).items())),
               citizens)


def apply_interventions(model: CoproductionModel, interventions: Iterable[tuple[str, float]]) -> None:
    for name, amount in interventions:
        if name == "service_quality_shift":
            hoods = model.state.neighbourhoods
            np.clip(hoods.quality_baseline + amount, 0.0, 1.0, out=hoods.quality_baseline)
            np.clip(hoods.service_quality + amount, 0.0, 1.0, out=hoods.service_quality)


def simulate(job: Job) -> dict[str, Any]:
    """Run one job; return last-quarter means, the time series and, if asked, citizens.

    The citizen table also holds, for the last ``year_window`` months, each citizen's
    self-efficacy at the window's start and the episodes, successes and rejections within it
    (for the matched comparison of F4).
    """
    params = job.params
    model = CoproductionModel(params, seed=run_seed(job.root, job.replication),
                              record_neighbourhoods=False)
    apply_interventions(model, job.interventions)
    steps, window = params.simulation.steps, params.simulation.year_window
    c = model.state.citizens
    start = None
    for _ in range(steps):
        if job.citizens and model.state.step == max(steps - window, 0):
            start = {"efficacy_start": c.self_efficacy.copy(), "episodes": c.episodes.copy(),
                     "successes": c.successes.copy(), "rejections": c.rejections.copy()}
        model.step()
    ts = model.timeseries()
    out: dict[str, Any] = {"summary": summarise(ts)["last_quarter_mean"], "timeseries": ts}
    if job.citizens:
        out["citizens"] = citizen_table(model, start)
    return out


def citizen_table(model: CoproductionModel, start: Mapping[str, np.ndarray] | None) -> pd.DataFrame:
    """One row per citizen: fixed attributes, state now, participation over the past year."""
    s, p = model.state, model.params
    c = s.citizens
    mask = (1 << p.simulation.year_window) - 1
    year_mode = (c.activity_by_mode & mask) != 0
    df = pd.DataFrame({
        "self_efficacy": c.self_efficacy,
        "efficacy_baseline": c.efficacy_baseline,
        "civic_competence": c.civic_competence,
        "spare_resources": c.spare_resources,
        "trust": c.trust,
        "ses": c.ses,
        "quintile": c.quintile.astype(int),
        "age": c.age,
        "female": c.female.astype(float),
        "ties": s.degree,
        "advantage": s.neighbourhoods.advantage[c.neighbourhood],
        "active_now": (c.mode != NO_MODE),
        "year": (c.activity & mask) != 0,
        "months_active": np.bitwise_count(c.activity & mask).astype(int),
        "year_individual": year_mode[0],
        "year_group_collective": year_mode[1] | year_mode[2],
        "year_collective": year_mode[2],
    })
    if start is not None:
        df["efficacy_start"] = start["efficacy_start"]
        for key in ("episodes", "successes", "rejections"):
            df[f"window_{key}"] = getattr(c, key) - start[key]
    return df


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """A process pool kept for the session: workers import the model (and load compiled code)
    once, not once per experiment. forkserver: workers start clean whatever threads we have."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))
        if len(_POOLS) == 1:
            atexit.register(_shutdown_pools)
    return pool


def _shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(cancel_futures=True)
    _POOLS.clear()


def run_jobs(jobs: Iterable[Job], workers: int = MAX_WORKERS,
             progress: Callable[[int, int], None] | None = None) -> dict[Job, dict[str, Any]]:
    """Run every distinct job, on ``min(workers, MAX_WORKERS)`` processes; results by job."""
    todo = list(dict.fromkeys(merge_citizen_requests(jobs)))
    workers = max(1, min(workers, MAX_WORKERS, len(todo), os.cpu_count() or 1))
    results: dict[Job, dict[str, Any]] = {}
    if workers == 1:
        for i, job in enumerate(todo):
            results[job] = simulate(job)
            if progress:
                progress(i + 1, len(todo))
        return results
    pool = _pool(workers)
    try:
        for i, (job, res) in enumerate(zip(todo, pool.map(simulate, todo, chunksize=1), strict=True)):
            results[job] = res
            if progress:
                progress(i + 1, len(todo))
    except BrokenProcessPool:
        _POOLS.pop(workers, None)  # a worker died (killed, out of memory): start afresh next time
        raise
    return results


def merge_citizen_requests(jobs: Iterable[Job]) -> list[Job]:
    """Jobs that differ only in whether citizens are returned are run once, with them."""
    jobs = list(jobs)
    want = {(j.overrides, j.root, j.replication, j.interventions) for j in jobs if j.citizens}
    return [Job(j.overrides, j.root, j.replication, j.interventions,
                (j.overrides, j.root, j.replication, j.interventions) in want) for j in jobs]


def lookup(results: Mapping[Job, dict[str, Any]], job: Job) -> dict[str, Any]:
    """The result of ``job``, whether it was run with or without the citizen table."""
    for citizens in (job.citizens, True):
        key = Job(job.overrides, job.root, job.replication, job.interventions, citizens)
        if key in results:
            return results[key]
    raise KeyError(job)


# ----------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Estimate:
    """Mean over replications with a two-sided t confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return format_estimate(self)


def mean_ci(values: Iterable[float], level: float = 0.95) -> Estimate:
    """Mean and t-interval of independent replications' values (NaNs dropped)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n == 1:
        return Estimate(m, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Estimate(m, m - half, m + half, n)


def format_estimate(e: Estimate, unit: str = "", digits: int = 2) -> str:
    """``mean [low, high]``; unit '%' (a share) or 'pp' (a difference of shares) scales by 100."""
    if unit in ("%", "pp"):
        d = max(digits - 1, 1)
        sep = "" if unit == "%" else " "
        return f"{100 * e.mean:.{d}f}{sep}{unit} [{100 * e.low:.{d}f}, {100 * e.high:.{d}f}]"
    return f"{e.mean:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"
