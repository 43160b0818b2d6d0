"""The Pareto front of ``coprod optimise``, re-evaluated on fresh seeds, as table, figure and words.

The front's values were picked as the best of many noisy estimates, so they flatter the
candidates (the winner's curse; Smith & Winkler 2006, *Management Science* 52(3), 311-322,
call it the optimiser's curse). Each front point is therefore run again on replications the
search never used, and its levers are judged on those fresh values with 95% intervals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from coprod_sim import stats
from coprod_sim.analysis.optimise import (
    FRESH_OFFSET,
    Evaluation,
    _optuna,
    candidate_runs,
    evaluate,
    from_reps,
)
from coprod_sim.names import OUTCOMES
from coprod_sim.scenario.optimise import PARTICIPATION, OptimiseSpec
from coprod_sim.scenario.plan import Scenario

SCALES = {"concentration_index": "mean", "top_bottom_ratio": "ratio", "advantage_correlation": "correlation"}


def trials_table(study, spec: OptimiseSpec) -> pd.DataFrame:
    """Every candidate: number, state, levers, cost, the search's participation and bias."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"candidate": t.number, "state": t.state.name,
                               "over_budget": bool(t.user_attrs.get("over_budget", False)),
                               "cost": t.user_attrs.get("cost", math.nan)}
        row.update({lv.key: t.params.get(lv.key) for lv in spec.levers})
        values = t.values or [math.nan] * 3
        row.update(participation=values[0], bias=values[1], error=t.user_attrs.get("error", ""))
        rows.append(row)
    return pd.DataFrame(rows)


def fresh_evaluations(scenario: Scenario, spec: OptimiseSpec, front: list, out: Path, *,
                      workers: int | None = None, scheduler: str | None = None) -> pd.DataFrame:
    """Each front candidate on ``spec.fresh_replications`` fresh seeds; kept in fresh.parquet for resumes."""
    from coprod_sim.sweep.executors import open_executor

    path = out / "fresh.parquet"
    table = pd.read_parquet(path) if path.exists() else pd.DataFrame(
        columns=["candidate", "replication", "participation", "bias"])
    have = set(table["candidate"].astype(int)) if len(table) else set()
    reps = range(FRESH_OFFSET, FRESH_OFFSET + spec.fresh_replications)
    jobs = {t.number: (dict(t.params), candidate_runs(scenario, t.number, t.params, reps))
            for t in front if t.number not in have}
    rows: list[dict[str, Any]] = []

    def done(key: int, ev: Evaluation) -> None:
        rows.extend({"candidate": key, "replication": r, "participation": p, "bias": b}
                    for r, p, b in zip(reps, ev.participation, ev.bias, strict=True))

    if jobs and spec.fresh_replications:
        with open_executor(workers, scheduler) as plan:
            evaluate(plan, jobs, spec.bias, done)
        new = pd.DataFrame(rows)
        table = pd.concat([table, new], ignore_index=True) if len(table) else new
        table.to_parquet(path, index=False)
    return table


def front_table(study, spec: OptimiseSpec, fresh: pd.DataFrame) -> pd.DataFrame:
    """One row per front candidate: levers, cost, search means, fresh means with intervals."""
    rows = []
    for t in sorted(_distinct(study.best_trials), key=lambda t: t.values[0]):
        f = fresh[fresh["candidate"] == t.number]
        part = stats.interval(f["participation"].to_numpy(float), "mean", bounds=(0.0, 1.0))
        bias = stats.interval(f["bias"].to_numpy(float), SCALES[spec.bias])
        row: dict[str, Any] = {"candidate": t.number, **{lv.key: t.params[lv.key] for lv in spec.levers},
                               "cost": t.values[2], "participation_search": t.values[0],
                               "bias_search": t.values[1], "participation_fresh": part.mean,
                               "participation_low": part.low, "participation_high": part.high,
                               "bias_fresh": bias.mean, "bias_low": bias.low, "bias_high": bias.high,
                               "fresh_replications": part.n}
        row["search_participation_reps"] = from_reps(t.user_attrs.get("participation_reps", []))
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table) > 1:
        table["distinct_from_next"] = _distinct_from_next(table, fresh)
    return table.drop(columns=["search_participation_reps"])


def _distinct(trials: list) -> list:
    """Each set of levers once (a candidate proposed again carries its twin's values)."""
    return [t for t in trials if "same_as" not in t.user_attrs]


def _distinct_from_next(table: pd.DataFrame, fresh: pd.DataFrame) -> list[str]:
    """Whether each point differs from the next (more participation) on fresh, paired seeds."""
    out = []
    for a, b in zip(table["candidate"], [*table["candidate"][1:], None], strict=True):
        if b is None:
            out.append("")
            continue
        fa = fresh[fresh["candidate"] == a].sort_values("replication")
        fb = fresh[fresh["candidate"] == b].sort_values("replication")
        dp = stats.paired_difference(fb["participation"], fa["participation"])
        db = stats.paired_difference(fb["bias"], fa["bias"])
        out.append("yes" if dp.distinguishable or db.distinguishable else "no")
    return out


def pareto_figure(trials: pd.DataFrame, front: pd.DataFrame, spec: OptimiseSpec, path: Path) -> Path:
    """Participation against bias: every candidate, the front as found and as re-evaluated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.6, 6.0))
    ok = trials[trials["state"] == "COMPLETE"]
    ax.scatter(100 * ok["participation"], ok["bias"], s=10, c="#c8c8c8", label="candidates (search)")
    ax.scatter(100 * front["participation_search"], front["bias_search"], s=40, facecolors="none",
               edgecolors="#555555", label="front, as found by the search")
    for row in front.itertuples():
        ax.plot([100 * row.participation_search, 100 * row.participation_fresh],
                [row.bias_search, row.bias_fresh], color="#999999", lw=0.7)
    sc = ax.scatter(100 * front["participation_fresh"], front["bias_fresh"], c=front["cost"], cmap="viridis",
                    s=46, zorder=3, label="front, re-evaluated on fresh seeds (95% intervals)")
    ax.errorbar(100 * front["participation_fresh"], front["bias_fresh"],
                xerr=[100 * (front["participation_fresh"] - front["participation_low"]),
                      100 * (front["participation_high"] - front["participation_fresh"])],
                yerr=[front["bias_fresh"] - front["bias_low"], front["bias_high"] - front["bias_fresh"]],
                fmt="none", ecolor="#444444", lw=0.6, alpha=0.35, zorder=2)
    for row in front.itertuples():
        ax.annotate(str(row.candidate), (100 * row.participation_fresh, row.bias_fresh), xytext=(4, 3),
                    textcoords="offset points", fontsize=7)
    fig.colorbar(sc, ax=ax).set_label(f"cost ({spec.budget_unit})")
    ax.set_xlabel(f"{OUTCOMES[PARTICIPATION].label} (%), higher is better")
    ax.set_ylabel(f"{OUTCOMES[spec.bias].label}, lower is better")
    ax.set_title("Pareto front: participation up, bias down, cost down", fontsize=10, loc="left")
    fig.text(0.01, 0.015, "Bars: 95% intervals of each level over fresh seeds. They include the variation"
             " all candidates share,\nso paired comparisons between candidates (front.csv, 'differs"
             " from next') are tighter.", fontsize=7, color="#555555", va="bottom")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.11, right=0.98, top=0.93, bottom=0.27)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _fmt_levers(row, spec: OptimiseSpec) -> str:
    parts = []
    for lv in spec.levers:
        v, name = row[lv.key], lv.key.rpartition(".")[2].replace("_", " ")
        parts.append(f"{name} {v}" if lv.choices else f"{name} {v:.3g}")
    return "; ".join(parts)


def write_report(scenario: Scenario, spec: OptimiseSpec, result, *, workers: int | None = None,
                 scheduler: str | None = None) -> dict[str, Path]:
    """trials.csv, front.csv, pareto.png and optimise.md in the output folder."""
    optuna = _optuna()
    out = result.out
    study = optuna.load_study(study_name=result.study_name, storage=result.storage)
    trials = trials_table(study, spec)
    fresh = fresh_evaluations(scenario, spec, _distinct(study.best_trials), out, workers=workers,
                              scheduler=scheduler)
    front = front_table(study, spec, fresh)
    files = {"trials": out / "trials.csv", "front": out / "front.csv"}
    trials.to_csv(files["trials"], index=False)
    front.to_csv(files["front"], index=False)
    files["figure"] = pareto_figure(trials, front, spec, out / "pareto.png")
    files["report"] = out / "optimise.md"
    files["report"].write_text(_markdown(scenario, spec, result, trials, front))
    return files


def _markdown(scenario: Scenario, spec: OptimiseSpec, result, trials: pd.DataFrame,
              front: pd.DataFrame) -> str:
    bias = OUTCOMES[spec.bias].label
    budget = f"a budget of {spec.budget:g} {spec.budget_unit}" if spec.budget else "no budget cap"
    n_over = int(trials["over_budget"].sum())
    lines = [f"# Affordable policy mixes for {scenario.name}", "",
             f"Search: NSGA-II over {len(spec.levers)} levers with {budget}; {result.evaluated}"
             f" candidates evaluated on {scenario.replications} replications each (the same seeds for"
             f" every candidate), {n_over} proposals over budget not simulated. Objectives:"
             f" participation up, {bias} down, cost down. The {len(front)} candidates of the Pareto"
             f" front were run again on {spec.fresh_replications} fresh seeds: the values below are"
             " those fresh values with 95% intervals (the search's own values flatter the winners).", "",
             "![Pareto front](pareto.png)", "",
             "| candidate | levers | cost | participation (fresh) | " + bias + " (fresh) | search said |"
             " differs from next |", "|---:|---|---:|---:|---:|---:|:---:|"]
    for _, row in front.iterrows():
        lines.append(
            f"| {row['candidate']} | {_fmt_levers(row, spec)} | {row['cost']:.3g} |"
            f" {100 * row['participation_fresh']:.1f}% [{100 * row['participation_low']:.1f},"
            f" {100 * row['participation_high']:.1f}] | {row['bias_fresh']:.3f} [{row['bias_low']:.3f},"
            f" {row['bias_high']:.3f}] | {100 * row['participation_search']:.1f}%, {row['bias_search']:.3f}"
            f" | {row.get('distinct_from_next', '')} |")
    if len(front):
        best = front.loc[front["bias_fresh"].idxmin()]
        lines += ["", f"Lowest {bias} on fresh seeds: candidate {best['candidate']}"
                  f" ({_fmt_levers(best, spec)}),"
                  f" {best['bias_fresh']:.3f} [{best['bias_low']:.3f}, {best['bias_high']:.3f}] with"
                  f" participation {100 * best['participation_fresh']:.1f}% at a cost of {best['cost']:.3g}"
                  f" {spec.budget_unit}. 'differs from next' says whether a point is distinguishable,"
                  " on paired fresh seeds, from the next one with more participation."]
        said = front.get("distinct_from_next", pd.Series(dtype=str))
        if (said == "no").sum() > (said == "yes").sum():
            lines += ["", "Most neighbouring points of the front are not distinguishable from each"
                      " other on these replications: more replications per candidate"
                      " (`--replications`, or `replications` in the scenario) would tell them apart."]
    return "\n".join(lines) + "\n"
