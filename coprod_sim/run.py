"""A run is a pure function of (parameters, seed): same inputs, bit-identical results."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim.month.kernel import Kernel
from coprod_sim.names import OUTCOMES
from coprod_sim.outcomes.record import record
from coprod_sim.params import Parameters
from coprod_sim.town.streams import Streams

Seed = int | np.random.SeedSequence


def run_seed(root: int, replication: int | None = None) -> np.random.SeedSequence:
    """The seed sequence of a run: the root seed, plus the replication as spawn key.

    It depends on the replication and not on the policy or design point, so that policies
    are compared on the same random draws (paired comparisons).
    """
    if replication is None:
        return np.random.SeedSequence(root)
    return np.random.SeedSequence(root, spawn_key=(replication,))


@dataclass
class RunResult:
    """What a run returns: its inputs, the monthly outcomes and their summary."""

    params: Parameters
    seed: int
    replication: int | None
    timeseries: pd.DataFrame
    neighbourhoods: pd.DataFrame
    summary: dict[str, dict[str, float]] = field(default_factory=dict)

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write time series (Parquet and CSV) and summary JSON into folder ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "timeseries_parquet": out / "timeseries.parquet",
            "timeseries_csv": out / "timeseries.csv",
            "neighbourhoods_parquet": out / "neighbourhoods.parquet",
            "summary": out / "summary.json",
        }
        self.timeseries.to_parquet(paths["timeseries_parquet"], index=False)
        self.timeseries.to_csv(paths["timeseries_csv"], index=False)
        self.neighbourhoods.to_parquet(paths["neighbourhoods_parquet"], index=False)
        document = {
            "seed": self.seed,
            "replication": self.replication,
            "parameters_changed": self.params.changed(),
            "parameters": dict(self.params),
            **self.summary,
        }
        paths["summary"].write_text(json.dumps(_jsonable(document), indent=2) + "\n")
        return paths


def summarise(timeseries: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Outcomes at the end of the run and averaged over the last quarter of its months."""
    body = timeseries.drop(columns=["step"])
    steps = len(timeseries) - 1
    tail = body.iloc[-max(1, math.ceil(steps / 4)):]
    return {"final": body.iloc[-1].to_dict(), "last_quarter_mean": tail.mean().to_dict()}


def neighbourhood_participation(hoods: pd.DataFrame, steps: int) -> np.ndarray:
    """Each neighbourhood's past-year participation averaged over the run's last quarter
    (the months :func:`summarise` averages), from a run's per-neighbourhood rows."""
    last = hoods["step"] > steps - max(1, math.ceil(steps / 4))
    return hoods[last].groupby("neighbourhood")["participation_year"].mean().sort_index().to_numpy()


def run(params: Parameters | Mapping[str, Any] | None = None, seed: int | None = None, *,
        replication: int | None = None, rules: Mapping[str, Callable] | None = None,
        record_neighbourhoods: bool = True) -> RunResult:
    """Simulate ``simulation.steps`` months and return the outcomes.

    ``seed`` defaults to ``simulation.seed``; with ``replication`` the run uses the seed
    sequence a sweep gives that replication (see :func:`run_seed`).
    """
    params = params if isinstance(params, Parameters) else Parameters(params or {})
    root = params.simulation.seed if seed is None else int(seed)
    ts, hoods = simulate(params, run_seed(root, replication), rules, record_neighbourhoods)
    return RunResult(params, root, replication, ts, hoods, summarise(ts))


def simulate(params: Parameters, seed: Seed, rules: Mapping[str, Callable] | None = None,
             record_neighbourhoods: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The monthly outcomes and neighbourhood rows of ``simulation.steps`` months.

    The same kernel and the same recording as :class:`~coprod_sim.model.CoproductionModel`
    (whose DataCollector reads the same rows), without Mesa: importing Mesa takes longer than
    a default run, and a run needs nothing of it (the model is for the teaching page).
    """
    kernel = Kernel(params, Streams.from_seed(seed), rules)
    rows: list[dict[str, float]] = []
    hood_rows: list[dict[str, np.ndarray]] = []
    for month in range(params.simulation.steps + 1):  # month 0 is the initial state
        if month:
            kernel.step()
        row, hoods = record(kernel.state, params, accelerate=kernel.accelerate,
                            neighbourhoods=record_neighbourhoods)
        rows.append(row)
        if hoods is not None:
            hood_rows.append(hoods)
    ts = pd.DataFrame({col: [r[col] for r in rows] for col in OUTCOMES})
    ts["step"] = ts["step"].astype(int)
    hoods_df = (pd.DataFrame({c: np.concatenate([r[c] for r in hood_rows]) for c in hood_rows[0]})
                if hood_rows else pd.DataFrame())
    return ts, hoods_df


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
