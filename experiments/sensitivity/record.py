"""Results of record of the sensitivity analysis, from a finished sweep of scenarios/sensitivity_full.toml.

    coprod sweep scenarios/sensitivity_full.toml --out out/sensitivity_full
    python experiments/sensitivity/record.py out/sensitivity_full

Writes into experiments/sensitivity/results/: ``indices.csv`` (first-order and total Sobol'
indices with SALib's bootstrap half-widths, per outcome and parameter), ``directions.csv``
(Spearman correlation of each parameter with each outcome over the design, for the sign),
``ranking.csv`` (each parameter's total index and rank now and in the previous record),
``runs.csv.gz`` (every run's parameters and outcomes), ``settings.json`` and ``sobol.png``.
With ``--base-samples N`` only the first N base samples of the design are used (a run cut
short: the Saltelli design's blocks of factors + 2 rows stay whole).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PREVIOUS = RESULTS / "previous"  # the record before the current defaults, kept for the ranking

OUTCOMES = {
    "participation": ("participation_year", "share active in the past year"),
    "concentration_index": (
        "concentration_index",
        "concentration index of past-year participation over SES rank",
    ),
    "top_bottom_ratio": ("top_bottom_ratio", "richest over poorest SES quintile's past-year participation"),
    "efficacy_gap": ("efficacy_gap", "self-efficacy of the year's participants minus everyone else's"),
    "high_level_share": ("high_level_share", "share of episodes at the designer or initiator level"),
}
"""Outcome name in the results -> the sweep's recorded outcome (its last-quarter mean), reading."""


def design_table(folder: Path, base_samples: int | None) -> tuple[pd.DataFrame, dict, list[str]]:
    """The runs in design order (one row per design point), the manifest and the factor keys."""
    from coprod_sim.report.load import load_sweep

    sw = load_sweep(folder)
    keys = sw.levers
    runs = sw.runs.sort_values("design_point").set_index("design_point")
    n_points = sw.n_points
    if base_samples is not None:
        n_points = base_samples * (len(keys) + 2)
    runs = runs.reindex(range(n_points))
    table = runs[keys].copy()
    for name, (col, _) in OUTCOMES.items():
        table[name] = runs[f"{col}_last_quarter"].to_numpy(dtype=float)
    return table, sw.manifest, keys


def indices(table: pd.DataFrame, keys: list[str], bounds: list[list[float]]) -> pd.DataFrame:
    """S1 and ST (SALib, Jansen/Saltelli estimators, 200 bootstrap resamples) per outcome."""
    from SALib.analyze import sobol

    problem = {"num_vars": len(keys), "names": keys, "bounds": bounds}
    rows = []
    for name in OUTCOMES:
        y = table[name].to_numpy(dtype=float, copy=True)
        missing = ~np.isfinite(y)
        y[missing] = np.nanmean(y)  # an undefined run (e.g. nobody active): the mean, counted below
        si = sobol.analyze(problem, y, calc_second_order=False, num_resamples=200, seed=0)
        for j, key in enumerate(keys):
            rows.append(
                {
                    "outcome": name,
                    "parameter": key,
                    "S1": si["S1"][j],
                    "S1_conf": si["S1_conf"][j],
                    "ST": si["ST"][j],
                    "ST_conf": si["ST_conf"][j],
                    "filled": int(missing.sum()),
                }
            )
    return pd.DataFrame(rows)


def directions(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Spearman correlation of each parameter with each outcome, over the design's runs."""
    ranked = table.rank()
    return pd.DataFrame(
        {name: [ranked[key].corr(ranked[name]) for key in keys] for name in OUTCOMES}, index=keys
    )


def ranking(new: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Total index and its rank per outcome, now and in the previous record (where it had the outcome)."""
    now = new[["outcome", "parameter", "ST", "ST_conf"]].copy()
    now["rank"] = now.groupby("outcome")["ST"].rank(ascending=False, method="min").astype(int)
    if previous is None:
        return now
    before = previous[["outcome", "parameter", "ST"]].rename(columns={"ST": "ST_previous"})
    before["rank_previous"] = before.groupby("outcome")["ST_previous"].rank(ascending=False, method="min")
    out = now.merge(before, on=["outcome", "parameter"], how="left")
    return out.sort_values(["outcome", "rank"])


def figure(idx: pd.DataFrame, path: Path, top: int = 15) -> None:
    """Per outcome, the ``top`` parameters by total index: first-order and total with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(OUTCOMES)
    fig, grid = plt.subplots(2, 3, figsize=(14, 11), constrained_layout=True)
    axes = grid.ravel()
    axes[-1].axis("off")
    for ax, name in zip(axes, names, strict=False):
        d = idx[idx["outcome"] == name].nlargest(top, "ST")[::-1]
        y = np.arange(len(d))
        ax.barh(
            y + 0.2, d["ST"].clip(lower=0), 0.4, xerr=d["ST_conf"], color="#d73027", label="total", capsize=2
        )
        ax.barh(
            y - 0.2,
            d["S1"].clip(lower=0),
            0.4,
            xerr=d["S1_conf"],
            color="#4575b4",
            label="first order",
            capsize=2,
        )
        ax.set_yticks(y, [p.split(".", 1)[1] for p in d["parameter"]], fontsize=8)
        ax.set_title(OUTCOMES[name][1], fontsize=9, wrap=True)
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3, axis="x")
    axes[0].legend(frameon=False, fontsize=9, loc="lower right")
    fig.suptitle("Sobol' indices (95% bootstrap intervals): the 15 parameters with the largest total index")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the --out folder of the finished sweep")
    parser.add_argument("--base-samples", type=int, default=None, help="use only the first N base samples")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output folder (default: results/)")
    args = parser.parse_args()
    out = args.results
    out.mkdir(parents=True, exist_ok=True)
    table, manifest, keys = design_table(args.sweep, args.base_samples)
    levers = {lv["key"]: [lv["low"], lv["high"]] for lv in manifest["scenario"]["design"]["levers"]}
    idx = indices(table, keys, [levers[k] for k in keys])
    idx.to_csv(out / "indices.csv", index=False)
    directions(table, keys).to_csv(out / "directions.csv")
    previous = pd.read_csv(PREVIOUS / "indices.csv") if (PREVIOUS / "indices.csv").exists() else None
    ranking(idx, previous).to_csv(out / "ranking.csv", index=False)
    table.to_csv(out / "runs.csv.gz", index=False)
    scenario = manifest["scenario"]
    settings = {
        "scenario": "scenarios/sensitivity_full.toml",
        "n_runs": len(table),
        "base_samples": len(table) // (len(keys) + 2),
        "factors": levers,
        "outcomes": {k: v[1] for k, v in OUTCOMES.items()},
        "seed": scenario.get("seed"),
        "code": manifest.get("code"),
    }
    (out / "settings.json").write_text(json.dumps(settings, indent=2, default=str) + "\n")
    figure(idx, out / "sobol.png")
    print(f"{len(table)} runs, {len(keys)} factors: results in {out}")


if __name__ == "__main__":
    main()
