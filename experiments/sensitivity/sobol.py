"""Global sensitivity analysis (Sobol indices, SALib) of the headline outcomes.

Every policy lever (group ``policy``, plus the administration's risk aversion and staff
incentives) and every behavioural parameter (groups ``citizens`` and ``administration``)
varies at once over a plausible range around its default (RANGES below, or the generic
rule in ``factor_range``). A Sobol' sequence (SALib, Saltelli/Jansen estimators, no second
order) gives first-order (S1: the share of the outcome's variance due to the parameter
alone) and total indices (ST: including all its interactions).

    .venv/bin/python -m experiments.sensitivity.sobol            # N = 64: 64 x (D + 2) runs
    .venv/bin/python -m experiments.sensitivity.sobol --analyse  # redo indices and figure only

Settings (town size, months, N, seeds) are recorded in results/settings.json; inputs and
outputs of every run in results/runs.csv.gz, so the indices and figure can be recomputed
without simulating. Every run uses the same seed (common random numbers), so the indices
describe how parameters move outcomes in one town. Two checks say how far that carries:
results/noise.csv, the spread of each outcome over 20 towns (seeds) at the defaults, and
results/seed_check.csv, a random subset of the design rerun on another seed: the
correlation across design points of an outcome between the two seeds is the share of its
design variance that parameters, not the draw of the town, explain.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

from coprod_sim import params as P
from coprod_sim.validation.runs import run_many

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SETTINGS = {"n_citizens": 2000, "steps": 72, "N": 128, "seed": 7, "noise_replications": 20,
            "seed_check_points": 256}
"""Small towns and six years keep the ~7,800 runs to about half an hour on two cores."""

GROUPS = ("policy", "citizens", "administration")
EXTRA_LEVERS = ("administration.risk_aversion", "administration.staff_incentives")
"""Policy levers that live in the administration group (training, incentives)."""

RANGES: dict[str, tuple[float, float]] = {
    # policy levers: the range a policy could plausibly move them over
    "policy.outreach_rate": (0.0, 0.10),
    "policy.effort_individual": (0.05, 0.40),
    "policy.effort_group": (0.25, 0.70),
    "policy.effort_collective": (0.50, 1.00),
    "policy.capacity_scale": (0.5, 2.0),
    "policy.resource_transfer": (0.0, 0.5),
    "policy.transfer_share": (0.05, 0.5),
    "policy.information_campaign": (0.0, 1.0),
    "policy.community_organisers": (0.0, 50.0),
    "administration.risk_aversion": (0.1, 0.9),
    "administration.staff_incentives": (0.0, 0.9),
    "administration.risk_aversion_spread": (0.0, 0.4),
    "administration.risk_aversion_min": (0.0, 0.1),
    "administration.risk_aversion_max": (0.9, 1.0),
}
"""Explicit ranges; other numeric parameters follow ``factor_range``."""

OUTCOMES = {
    "participation": "share active in the past year (participation_year)",
    "concentration_index": "concentration index of past-year participation over SES rank",
    "top_bottom_ratio": "richest over poorest SES quintile's past-year participation",
    "efficacy_gap": "self-efficacy of the year's participants minus everyone else's",
}
"""Headline outcomes, each a mean over the last quarter of the run."""


def factors() -> list[str]:
    """Every policy lever and behavioural parameter, in tree order."""
    keys = [f"{g}.{n}" for g in GROUPS for n in P.TREE[g]]
    return keys


def factor_range(key: str) -> tuple[float, float]:
    """The sampled range: explicit, or the categories, or half to one and a half times the
    default (a logit baseline: plus or minus one), kept inside the tree's bounds."""
    spec = P.spec(key)
    if key in RANGES:
        return RANGES[key]
    if spec.choices is not None:
        return (0.0, float(len(spec.choices)))  # floor() picks the category
    d = float(spec.default)
    if d < 0 and spec.unit == "logit":
        lo, hi = d - 1.0, d + 1.0
    elif d == 0:
        raise ValueError(f"{key} defaults to 0: give it an explicit range in RANGES")
    else:
        lo, hi = sorted((0.5 * d, 1.5 * d))
    lo = lo if spec.low is None else max(lo, spec.low)
    hi = hi if spec.high is None else min(hi, spec.high)
    return (lo, hi)


def problem() -> dict[str, Any]:
    keys = factors()
    return {"num_vars": len(keys), "names": keys, "bounds": [list(factor_range(k)) for k in keys]}


def to_overrides(keys: list[str], row: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, x in zip(keys, row, strict=True):
        spec = P.spec(key)
        if spec.choices is not None:
            out[key] = spec.choices[min(math.floor(x), len(spec.choices) - 1)]
        elif spec.kind is int:
            out[key] = round(x)
        else:
            out[key] = float(x)
    return out


def outcomes(summary: Mapping[str, float], n_citizens: int) -> dict[str, float]:
    """Headline outcomes of one run. The top/bottom ratio is taken of the quintiles' mean
    rates with half a citizen added to each (so a quiet poorest fifth gives a large finite
    ratio rather than an undefined one); an undefined concentration index (nobody active)
    counts as 0, an undefined efficacy gap as 0."""
    half = 0.5 / (n_citizens / 5)
    ratio = (summary["participation_q5"] + half) / (summary["participation_q1"] + half)
    ci, gap = summary["concentration_index"], summary["efficacy_gap"]
    return {"participation": summary["participation_year"],
            "concentration_index": ci if ci == ci else 0.0,
            "top_bottom_ratio": ratio,
            "efficacy_gap": gap if gap == gap else 0.0}


def base_overrides() -> dict[str, Any]:
    return {"population.n_citizens": SETTINGS["n_citizens"], "simulation.steps": SETTINGS["steps"]}


def simulate(out: Path, workers: int) -> pd.DataFrame:
    prob = problem()
    x = sobol_sample.sample(prob, SETTINGS["N"], calc_second_order=False, seed=SETTINGS["seed"])
    keys = prob["names"]
    rows = [to_overrides(keys, r) for r in x]
    jobs = [({**base_overrides(), **ov}, SETTINGS["seed"], 0) for ov in rows]
    started = time.time()

    def progress(done: int, total: int) -> None:
        if done % 200 == 0 or done == total:
            print(f"  {done}/{total} runs, {time.time() - started:.0f} s", flush=True)

    print(f"Sobol design: {len(keys)} factors, N = {SETTINGS['N']}, {len(jobs)} runs of "
          f"{SETTINGS['n_citizens']} citizens x {SETTINGS['steps']} months.")
    results = run_many(jobs, workers, progress)
    table = pd.DataFrame(x, columns=keys)
    ys = pd.DataFrame([outcomes(r["summary"], SETTINGS["n_citizens"]) for r in results])
    runs = pd.concat([table, ys], axis=1)
    runs.to_csv(out / "runs.csv.gz", index=False)
    # Seed noise at the defaults, for scale.
    noise_jobs = [(base_overrides(), SETTINGS["seed"] + 1, r)
                  for r in range(SETTINGS["noise_replications"])]
    noise = run_many(noise_jobs, workers)
    pd.DataFrame([outcomes(r["summary"], SETTINGS["n_citizens"]) for r in noise]).to_csv(
        out / "noise.csv", index=False)
    # The same design points on another seed: how much of the design variance is the parameters'.
    pick = np.random.default_rng(SETTINGS["seed"]).choice(len(rows), SETTINGS["seed_check_points"],
                                                           replace=False)
    again = [({**base_overrides(), **rows[i]}, SETTINGS["seed"] + 2, 0) for i in pick]
    redo = run_many(again, workers)
    check = pd.DataFrame([outcomes(r["summary"], SETTINGS["n_citizens"]) for r in redo])
    check.insert(0, "row", pick)
    check.to_csv(out / "seed_check.csv", index=False)
    outreach_policies(out, workers)
    (out / "settings.json").write_text(json.dumps(
        {**SETTINGS, "factors": {k: list(factor_range(k)) for k in keys}, "outcomes": OUTCOMES,
         "seconds": round(time.time() - started)}, indent=2) + "\n")
    return runs


def outreach_policies(out: Path, workers: int, rate: float = 0.05, replications: int = 8) -> pd.DataFrame:
    """The outreach policies side by side at the defaults, paired by seed (results/outreach_policies.csv):
    Sobol indices say outreach matters for bias, this says which policy does what."""
    spec = P.spec("policy.outreach")
    jobs = {(o, r): ({**base_overrides(), "policy.outreach": o, "policy.outreach_rate": rate},
                     SETTINGS["seed"], r) for o in spec.choices for r in range(replications)}
    res = dict(zip(jobs, run_many(jobs.values(), workers), strict=True))
    n = SETTINGS["n_citizens"]
    table = pd.DataFrame([{"outreach": o, "replication": r, **outcomes(res[o, r]["summary"], n)}
                          for (o, r) in jobs])
    table.to_csv(out / "outreach_policies.csv", index=False)
    return table


def analyse(out: Path) -> pd.DataFrame:
    """Sobol indices of every outcome from results/runs.csv.gz; writes indices.csv and the figure."""
    prob = problem()
    runs = pd.read_csv(out / "runs.csv.gz")
    missing = set(prob["names"]) - set(runs.columns)
    if missing:
        raise SystemExit(f"{out / 'runs.csv.gz'} lacks factors {sorted(missing)}: the parameter tree changed"
                         " since it was simulated; rerun without --analyse.")
    rows = []
    for name in OUTCOMES:
        y = runs[name].to_numpy(dtype=float)
        si = sobol_analyze.analyze(prob, y, calc_second_order=False, num_resamples=200,
                                   seed=SETTINGS["seed"])
        for i, key in enumerate(prob["names"]):
            rows.append({"outcome": name, "parameter": key, "S1": si["S1"][i], "S1_conf": si["S1_conf"][i],
                         "ST": si["ST"][i], "ST_conf": si["ST_conf"][i]})
    indices = pd.DataFrame(rows)
    indices.to_csv(out / "indices.csv", index=False)
    directions(prob, runs).to_csv(out / "directions.csv")
    agreement = seed_agreement(out) if (out / "seed_check.csv").exists() else None
    figure(indices, runs, out / "sobol.png", agreement=agreement)
    return indices


def directions(prob: dict[str, Any], runs: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of each factor with each outcome over the independent points of
    the design (the A and B matrices; the AB rows share all but one value with their A row).
    Sobol indices say how much a factor matters; this says which way, where it is monotone."""
    block = prob["num_vars"] + 2
    rows = np.r_[np.arange(0, len(runs), block), np.arange(block - 1, len(runs), block)]
    independent = runs.iloc[rows]
    return pd.DataFrame({name: [independent[k].corr(independent[name], method="spearman")
                                for k in prob["names"]] for name in OUTCOMES}, index=prob["names"])


def seed_agreement(out: Path) -> pd.Series:
    """Per outcome: correlation, across the re-seeded design points, of the two seeds' values."""
    runs, check = pd.read_csv(out / "runs.csv.gz"), pd.read_csv(out / "seed_check.csv")
    first = runs.loc[check["row"]].reset_index(drop=True)
    return pd.Series({name: float(np.corrcoef(first[name], check[name])[0, 1]) for name in OUTCOMES})


def figure(indices: pd.DataFrame, runs: pd.DataFrame, path: Path, top: int = 12,
           agreement: pd.Series | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 10), constrained_layout=True)
    for ax, name in zip(axes.ravel(), OUTCOMES, strict=True):
        d = indices[indices.outcome == name].nlargest(top, "ST")[::-1]
        y = np.arange(len(d))
        ax.barh(y + 0.2, d["ST"], height=0.4, xerr=d["ST_conf"], color="#4575b4", label="total (ST)",
                capsize=2)
        ax.barh(y - 0.2, d["S1"].clip(lower=0), height=0.4, xerr=d["S1_conf"], color="#fdae61",
                label="first order (S1)", capsize=2)
        ax.set_yticks(y, list(d["parameter"]), fontsize=8)
        ax.set_xlim(0, 1.0)
        spread = runs[name]
        seeds = "" if agreement is None else f"; r between seeds {agreement[name]:.2f}"
        ax.set_title(f"{name.replace('_', ' ')}\n(design 5-95%: {spread.quantile(0.05):.2f}"
                     f" to {spread.quantile(0.95):.2f}{seeds})", fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    axes[0, 0].legend(frameon=False, loc="lower right", fontsize=9)
    fig.suptitle(f"Sobol indices of the headline outcomes: the {top} most influential of "
                 f"{indices.parameter.nunique()} levers and behavioural parameters (95% bootstrap CI)\n"
                 f"{SETTINGS['n_citizens']:,} citizens, {SETTINGS['steps']} months, N = {SETTINGS['N']}, "
                 f"{len(runs):,} runs")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.sensitivity.sobol", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--analyse", action="store_true", help="recompute indices and figure from runs.csv.gz")
    ap.add_argument("--outreach", action="store_true", help="only rerun the paired outreach comparison")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.outreach:
        table = outreach_policies(args.out, args.workers).drop(columns="replication")
        print(table.groupby("outreach").mean().round(4).to_string())
        return 0
    if not args.analyse:
        simulate(args.out, args.workers)
    indices = analyse(args.out)
    for name in OUTCOMES:
        d = indices[indices.outcome == name].nlargest(6, "ST")
        print(f"{name}: " + ", ".join(f"{r.parameter} ST={r.ST:.2f} S1={r.S1:.2f}" for r in d.itertuples()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
