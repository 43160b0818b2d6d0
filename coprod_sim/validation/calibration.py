"""Calibration of the free parameters by approximate Bayesian computation (rejection ABC).

Only the calibration targets of docs/facts.md enter (F1: individual at least 3x organised;
F11: 17-40% active over a year, about three quarters of them regulars); the held-out patterns
(F4's aggregate cycle, F5, F12) never do, so they stay evidence (pattern-oriented modelling,
Grimm et al. 2005). The method (Beaumont, Zhang & Balding 2002, *Genetics* 162(4)):

1. draw ``points`` parameter sets from the prior, uniform over the ranges of FREE (a Latin
   hypercube, scipy.stats.qmc, fixed seed), one run each;
2. score each run by its distance to the targets (DISTANCE, below);
3. keep the ``accept`` share closest to the targets: the ensemble of good fits, an
   approximation of the posterior; rerun each kept set on ``replications`` fresh seeds to
   check that its fit is not a lucky draw.

Which parameters the targets identify: a parameter whose ensemble spread (interquartile
range) is much narrower than its prior's is pinned down by the targets; one whose ensemble
spans most of the prior is not, and any value in its range fits the targets as well.

    coprod calibrate-defaults                       # about 10 minutes on 2 shared cores
    coprod calibrate-defaults --points 64 --replications 1   # a quick look

Rerun it whenever a rule changes: tests/test_calibration.py compares the tree's defaults with
the ensemble it recorded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim.validation.facts import ROOT
from coprod_sim.validation.runs import MAX_WORKERS, Task, execute

RESULTS = ROOT / "experiments" / "calibration" / "results"
N_CITIZENS = 2000
"""Town size: the targets are shares and ratios, scale-free above about 1,000 citizens."""
SEED = 2026

FREE: dict[str, tuple[float, float, str]] = {
    "citizens.base_individual": (-7.0, -4.0, "baseline monthly log-odds of individual activity"),
    "citizens.base_group": (-9.0, -5.0, "baseline monthly log-odds of group activity"),
    "citizens.base_collective": (-9.0, -5.5, "baseline monthly log-odds of collective activity"),
    "citizens.efficacy_weight": (8.0, 16.0, "F2 says only 'strongest': its size is free"),
    "citizens.effort_weight": (1.0, 6.0, "effort against resources: no number in the sources"),
    "citizens.mastery_gain": (0.2, 0.8, "F4 gives a direction only"),
    "citizens.failure_loss": (0.05, 0.3, "F4: failure lowers efficacy, by how much is not reported"),
    "citizens.efficacy_drift": (0.01, 0.06, "how fast unused efficacy fades: no number in the sources"),
    "population.efficacy_spread": (0.6, 1.6, "spread of self-efficacy: no number in the sources"),
    "administration.capacity_individual": (60.0, 160.0, "budget for individual tasks: free"),
    "administration.capacity_group": (10.0, 45.0, "budget for group tasks: free"),
    "administration.capacity_collective": (8.0, 25.0, "budget for collective tasks: free"),
}
"""The prior: parameters the literature leaves free, with ranges and why they are free."""

DISTANCE = {
    "F11 share": "((participation_year - 0.285) / 0.115)^2: 1 at the edges of the 17-40% band",
    "F11 regulars": "((repeat_share - 0.75) / 0.05)^2: 'about three quarters'",
    "F1 gulf": "(max(0, ln(3 / gulf)) / ln(1.5))^2: 0 once individual >= 3x organised",
    "steady state": "((change of participation_year over the last 60 months, relative) / 0.05)^2",
}
"""Terms of the distance of a run to the calibration targets (their sum)."""


def distance_terms(summary: dict[str, float], gulf: float, ts: pd.DataFrame) -> dict[str, float]:
    terms = {
        "F11 share": ((summary["participation_year"] - 0.285) / 0.115) ** 2,
        "F11 regulars": ((summary["repeat_share"] - 0.75) / 0.05) ** 2,
        "F1 gulf": (max(0.0, math.log(3.0 / max(gulf, 1e-6))) / math.log(1.5)) ** 2,
    }
    steps = len(ts) - 1
    early = ts["participation_year"].iloc[steps - 59: steps - 29].mean()
    late = ts["participation_year"].iloc[steps - 29:].mean()
    terms["steady state"] = (abs(late / max(early, 1e-6) - 1) / 0.05) ** 2
    return {k: float(v) if math.isfinite(v) else 1e6 for k, v in terms.items()}


def prior_sample(n: int, seed: int = SEED) -> list[dict[str, float]]:
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(FREE), seed=seed).random(n)
    lows = np.array([v[0] for v in FREE.values()])
    highs = np.array([v[1] for v in FREE.values()])
    return [dict(zip(FREE, map(float, row), strict=True)) for row in qmc.scale(unit, lows, highs)]


def evaluate(points: list[dict[str, float]], seeds: list[tuple[int, int]], workers: int,
             progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per (point, seed): values, outcomes, distance terms and distance."""
    from coprod_sim.params import Parameters
    from coprod_sim.scenario.plan import Run

    tasks = {}
    for i, p in enumerate(points):
        params = Parameters({"population.n_citizens": N_CITIZENS, **p})
        for root, rep in seeds:
            run = Run(index=i, point=i, policy="calibration", design_point=i, replication=rep,
                      seed=root, params=params)
            tasks[i, root, rep] = Task(("calibration", f"{i}:{root}", rep), run, citizens=True)
    results = execute(tasks.values(), workers, progress)
    rows = []
    for (i, root, rep), task in tasks.items():
        res = results[task.key]
        df = res["citizens"]
        gulf = float(df["year_individual"].mean() / max(df["year_organised"].mean(), 1e-9))
        s = res["summary"]
        terms = distance_terms(s, gulf, res["timeseries"])
        rows.append({"point": i, "root": root, "replication": rep, **points[i],
                     "participation_year": s["participation_year"], "repeat_share": s["repeat_share"],
                     "gulf": gulf, **{f"d {k}": v for k, v in terms.items()},
                     "distance": sum(terms.values())})
    return pd.DataFrame(rows)


def identification(ensemble: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range, ensemble median and 5-95% range, and the ratio of the
    ensemble's interquartile range to the prior's (small: the targets pin it down)."""
    rows = []
    for key, (low, high, why) in FREE.items():
        v = ensemble[key]
        iqr = float(v.quantile(0.75) - v.quantile(0.25))
        ratio = iqr / (0.5 * (high - low))
        rows.append({"parameter": key, "prior_low": low, "prior_high": high,
                     "median": float(v.median()), "q05": float(v.quantile(0.05)),
                     "q95": float(v.quantile(0.95)), "iqr_ratio": ratio,
                     "identified": bool(ratio < 0.5), "why_free": why})
    return pd.DataFrame(rows)


def calibrate(points: int, accept: float, replications: int, workers: int = MAX_WORKERS,
              out: Path = RESULTS, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the ABC, write prior.csv, ensemble.csv, identification.csv, calibration.json."""
    out.mkdir(parents=True, exist_ok=True)
    sample = prior_sample(points)
    prior = evaluate(sample, [(SEED, 0)], workers, progress)
    prior.to_csv(out / "prior.csv", index=False)
    keep = prior.nsmallest(max(2, round(accept * points)), "distance")["point"].tolist()
    kept = [sample[i] for i in keep]
    again = evaluate(kept, [(SEED + 1, r) for r in range(replications)], workers, progress)
    again["point"] = [keep[i] for i in again["point"]]
    again.to_csv(out / "ensemble_runs.csv", index=False)
    per_point = again.groupby("point").mean(numeric_only=True).sort_values("distance")
    ensemble = prior.set_index("point").loc[keep, list(FREE)].join(
        per_point[["participation_year", "repeat_share", "gulf", "distance"]])
    ensemble.to_csv(out / "ensemble.csv")
    ident = identification(ensemble)
    ident.to_csv(out / "identification.csv", index=False)
    best = int(per_point.index[0])
    summary = {
        "method": "rejection ABC (Beaumont et al. 2002) on a Latin hypercube over the prior",
        "settings": {"points": points, "accept": accept, "replications": replications,
                     "seed": SEED, "n_citizens": N_CITIZENS},
        "targets": DISTANCE,
        "accepted": len(keep),
        "acceptance_distance": float(prior.set_index("point").loc[keep, "distance"].max()),
        "best_point": best,
        "best_values": sample[best],
        "best_outcomes": {k: float(per_point.loc[best, k]) for k in ("participation_year", "repeat_share",
                                                                      "gulf", "distance")},
        "ensemble_range": {k: [float(ensemble[k].min()), float(ensemble[k].max())] for k in FREE},
        "identified": [r.parameter for r in ident.itertuples() if r.identified],
        "not_identified": [r.parameter for r in ident.itertuples() if not r.identified],
        "prior": {k: {"low": v[0], "high": v[1], "why": v[2]} for k, v in FREE.items()},
    }
    (out / "calibration.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def describe(summary: dict[str, Any]) -> str:
    lines = [f"{summary['method']}: {summary['accepted']} of {summary['settings']['points']} points kept"
             f" (distance <= {summary['acceptance_distance']:.2f}).",
             "Identified by the targets: " + (", ".join(summary["identified"]) or "none"),
             "Not identified (any prior value fits): " + (", ".join(summary["not_identified"]) or "none"),
             "Best point: " + ", ".join(f"{k}={v:.3g}" for k, v in summary["best_values"].items()),
             "  -> " + ", ".join(f"{k}={v:.3g}" for k, v in summary["best_outcomes"].items())]
    return "\n".join(lines)
