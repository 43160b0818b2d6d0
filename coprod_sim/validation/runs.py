"""The runs behind a check: a scenario's plan, executed on the sweep engine's executors.

A check needs more than a sweep's time series: surveys regress participation on citizens'
attributes (F2, F3), the virtuous cycle compares citizens with matched others (F4). So each
run here also returns, when asked, a table of citizens at the end of the run. Everything
else is the sweep's: the scenario's points come from the one loader, replication ``r`` of
every point runs on ``run_seed(scenario seed, r)`` (paired comparisons), and the runs go to
:func:`coprod_sim.sweep.engine.open_executor` (one process, or local workers), so the
numbers are the same whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim.params import Parameters
from coprod_sim.scenario.plan import Run, Scenario

MAX_WORKERS = 2
"""The machine is shared: never more than two worker processes."""


@dataclass(frozen=True)
class Settings:
    """How hard to look. ``None`` keeps what the scenario file says."""

    replications: int | None = None
    n_citizens: int | None = None
    workers: int = 2
    # Applied to every run as if the defaults were changed (to see a fact break, or for a control).
    base_overrides: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        reps = f"{self.replications} paired replications" if self.replications else \
            "the replications of each scenario file"
        town = f"{self.n_citizens:,} citizens" if self.n_citizens else "the towns of the scenario files"
        extra = f"; defaults changed: {dict(self.base_overrides)}" if self.base_overrides else ""
        return f"{reps}, {town}{extra}"


FULL = Settings()
"""The validation of record: the scenario files as written (20 replications, 3,000 citizens)."""

REDUCED = Settings(replications=8, n_citizens=2000)
"""What CI runs: fewer replications, smaller towns, the same checks."""


@dataclass(frozen=True)
class Task:
    """One run to execute, and whether the citizens' table is wanted back."""

    key: tuple[str, str, int]  # (scenario name, policy or design point label, replication)
    run: Run
    citizens: bool = False


def point_label(scenario: Scenario, index: int) -> str:
    """The policy's name, followed by the design point's index when the scenario sweeps."""
    p = scenario.point(index)
    return p.policy if scenario.n_design_points <= 1 else f"{p.policy}@{p.design_point}"


def plan(scenario: Scenario, settings: Settings, citizens: bool = False) -> list[Task]:
    """Every run of ``scenario``, with the settings' replications, town size and overrides."""
    reps = settings.replications or scenario.replications
    extra: dict[str, Any] = dict(settings.base_overrides)
    if settings.n_citizens:
        extra["population.n_citizens"] = settings.n_citizens
    tasks = []
    for p in scenario.points():
        params = Parameters({**p.overrides, **extra})
        for r in range(reps):
            run = Run(index=p.index * reps + r, point=p.index, policy=p.policy,
                      design_point=p.design_point, replication=r, seed=scenario.seed,
                      params=params, levers=p.levers)
            tasks.append(Task((scenario.name, point_label(scenario, p.index), r), run, citizens))
    return tasks


def simulate(task: Task) -> dict[str, Any]:
    """Run one task: last-quarter means, the time series and, if asked, the citizens.

    The citizens' table also holds, for the last ``year_window`` months, each citizen's
    self-efficacy at the window's start and the episodes, successes and rejections within it
    (for the matched comparison of F4).
    """
    from coprod_sim.model import CoproductionModel
    from coprod_sim.run import run_seed, summarise

    run = task.run
    params = run.params
    model = CoproductionModel(params, seed=run_seed(run.seed, run.replication),
                              record_neighbourhoods=False)
    steps, window = params.simulation.steps, params.simulation.year_window
    c = model.state.citizens
    start = None
    for _ in range(steps):
        if task.citizens and model.state.step == max(steps - window, 0):
            start = {"efficacy_start": c.self_efficacy.copy(), "episodes": c.episodes.copy(),
                     "successes": c.successes.copy(), "rejections": c.rejections.copy()}
        model.step()
    ts = model.timeseries()
    out: dict[str, Any] = {"summary": summarise(ts)["last_quarter_mean"], "timeseries": ts}
    if task.citizens:
        out["citizens"] = citizen_table(model, start)
    return out


def citizen_table(model: Any, start: Mapping[str, np.ndarray] | None) -> pd.DataFrame:
    """One row per citizen: fixed attributes, state now, participation over the past year.

    ``year_organised`` is the organised grouping of docs/facts.md: active in the group or the
    collective mode in the window (counted once).
    """
    from coprod_sim.names import NO_MODE

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
        "urban": s.neighbourhoods.urban[c.neighbourhood].astype(float),
        "ties": s.degree,
        "advantage": s.neighbourhoods.advantage[c.neighbourhood],
        "active_now": (c.mode != NO_MODE),
        "year": (c.activity & mask) != 0,
        "months_active": np.bitwise_count(c.activity & mask).astype(int),
        "year_individual": year_mode[0],
        "year_organised": year_mode[1] | year_mode[2],
    })
    if start is not None:
        df["efficacy_start"] = start["efficacy_start"]
        for key in ("episodes", "successes", "rejections"):
            df[f"window_{key}"] = getattr(c, key) - start[key]
    return df


def execute(tasks: Iterable[Task], workers: int = MAX_WORKERS,
            progress: Callable[[int, int], None] | None = None) -> dict[tuple[str, str, int], dict]:
    """Run every distinct task on the sweep engine's executor; results by task key.

    Tasks that differ only in whether citizens are wanted run once, with them.
    """
    from coprod_sim.sweep.executors import open_executor

    merged: dict[tuple[str, str, int], Task] = {}
    for t in tasks:
        old = merged.get(t.key)
        merged[t.key] = t if old is None or t.citizens else old
    todo = list(merged.values())
    workers = max(1, min(workers, MAX_WORKERS, len(todo)))
    results: dict[tuple[str, str, int], dict] = {}
    with open_executor(workers) as ex:
        futures = [(t.key, ex.executor.submit(simulate, t)) for t in todo]
        for i, (key, future) in enumerate(futures):
            results[key] = future.result()
            if progress:
                progress(i + 1, len(todo))
    return results


def run_many(specs: Iterable[tuple[Mapping[str, Any], int, int]], workers: int = MAX_WORKERS,
             progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Runs given as (parameter overrides, root seed, replication), in order; no citizens.

    For designs the loader does not express (the calibration's accepted points rerun on fresh
    seeds, the sensitivity analysis's Sobol' sample): the same task and executor as a scenario.
    """
    tasks = []
    for i, (overrides, seed, replication) in enumerate(specs):
        run = Run(index=i, point=i, policy="design", design_point=i, replication=int(replication),
                  seed=int(seed), params=Parameters(dict(overrides)))
        tasks.append(Task(("design", str(i), int(replication)), run))
    results = execute(tasks, workers, progress)
    return [results[t.key] for t in tasks]
