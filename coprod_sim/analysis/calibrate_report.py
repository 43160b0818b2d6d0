"""What ``coprod calibrate`` writes: the trials, the fit per neighbourhood, a figure, a summary,
and a scenario file with the fitted values that the other commands run as it is."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from coprod_sim.analysis.calibrate import CalibrationResult
from coprod_sim.scenario.plan import Scenario
from coprod_sim.scenario.reading import read_toml
from coprod_sim.town.table import town_table

SCENARIO_FILE = "calibrated.toml"


def write_outputs(scenario: Scenario, result: CalibrationResult) -> dict[str, Path]:
    """trials.csv, fit.csv, fit.png, calibrate.md and calibrated.toml (with a copy of the table)."""
    from coprod_sim.params import Parameters

    out = result.out
    table = town_table(Parameters(scenario.base))
    files = {"trials": out / "trials.csv", "fit": out / "fit.csv"}
    result.trials.to_csv(files["trials"], index=False)
    fit = fit_table(result, table)
    fit.to_csv(files["fit"], index=False)
    files["figure"] = fit_figure(fit, result, out / "fit.png")
    files["scenario"] = write_scenario(scenario.path, result.best, out, table.path,
                                       scenario.options.get("set", {}))
    files["summary"] = write_summary(scenario, result, fit, out / "calibrate.md")
    return files


def best_index(result: CalibrationResult) -> int:
    """The trial nearest the fit: lowest loss on the fitted surface (or lowest loss without one)."""
    fitted = result.trials["fitted_loss"].to_numpy()
    return int(np.nanargmin(fitted)) if np.isfinite(fitted).any() else int(np.argmin(result.trials["loss"]))


def best_row(result: CalibrationResult):
    return result.trials.iloc[best_index(result)]


def fit_table(result: CalibrationResult, table):
    """Per neighbourhood: observed, simulated at the best fit, and the ensemble's range."""
    import pandas as pd

    best = best_index(result)
    members = _members(result, result.simulated)
    return pd.DataFrame({"neighbourhood": np.arange(len(table)), "id": list(table.ids),
                         "name": list(table.names), "population": table.population,
                         "observed": result.observations.rate, "simulated": result.simulated[best],
                         "ensemble_low": members.min(axis=0), "ensemble_high": members.max(axis=0)})


def fit_figure(fit, result: CalibrationResult, path: Path) -> Path:
    """Observed against simulated participation per neighbourhood, with the ensemble's range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen = fit[np.isfinite(fit["observed"])]
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    if len(seen):
        size = 20 + 180 * seen["population"] / seen["population"].max()
        err = np.vstack([seen["simulated"] - seen["ensemble_low"],
                         seen["ensemble_high"] - seen["simulated"]])
        ax.errorbar(100 * seen["observed"], 100 * seen["simulated"], yerr=100 * np.maximum(err, 0),
                    fmt="none", ecolor="#888888", elinewidth=1, capsize=2, zorder=1,
                    label="range of the good fits")
        ax.scatter(100 * seen["observed"], 100 * seen["simulated"], s=size, color="#1f77b4", alpha=0.8,
                   edgecolor="white", zorder=2, label="trial nearest the fit (area: population)")
        if len(seen) <= 25:
            for _, row in seen.iterrows():
                ax.annotate(str(row["name"]), (100 * row["observed"], 100 * row["simulated"]), fontsize=8,
                            xytext=(4, 3), textcoords="offset points", color="#333333")
        values = 100 * np.concatenate([seen["observed"], seen["ensemble_low"], seen["ensemble_high"]])
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        pad = 0.08 * max(high - low, 1.0)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="#d62728", lw=1, ls="--",
                label="simulated = observed")
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        _targets_panel(ax, result)
    rmse = best_row(result)["rmse_points"]
    if len(seen):
        ax.set_xlabel("observed participation, past year (%)")
        ax.set_ylabel("simulated participation, past year (%)")
    ax.set_title(f"Observed and simulated {'by neighbourhood' if len(seen) else 'town-wide'}\n"
                 f"trial nearest the fit: root mean squared error {rmse:.2f} points", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _members(result: CalibrationResult, values: np.ndarray) -> np.ndarray:
    """The ensemble's rows of ``values`` (the trial nearest the fit if the ensemble is empty)."""
    inside = result.trials["in_ensemble"].to_numpy()
    return values[inside] if inside.any() else values[[best_index(result)]]


def _targets_panel(ax, result: CalibrationResult) -> None:
    """Without observations by neighbourhood: each town-wide target, observed and simulated."""
    names = list(result.observations.targets)
    observed = 100 * result.observations.target_values
    sims = 100 * result.simulated_targets
    best = sims[best_index(result)]
    members = _members(result, sims)
    y = np.arange(len(names))
    ax.hlines(y, members.min(axis=0), members.max(axis=0), color="#888888", lw=3,
              label="range of the good fits")
    ax.scatter(best, y, color="#1f77b4", s=60, zorder=3, label="simulated, trial nearest the fit")
    ax.scatter(observed, y, marker="x", color="#d62728", s=70, zorder=4, label="observed")
    ax.set_yticks(y, names)
    ax.set_ylim(-0.8, len(names) - 0.2)
    values = np.concatenate([observed, members.ravel()])
    ax.set_xlim(values.min() - 1.0, values.max() + 1.0)  # a point either side: differences to scale
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_xlabel("share (%)")
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.text(0.0, -0.16, "No participation was observed by neighbourhood: fitted to town-wide targets only.",
            transform=ax.transAxes, fontsize=8, color="#444444")


def write_scenario(source: Path, best: dict[str, float], out: Path, table: Path,
                   typed: dict[str, Any] | None = None) -> Path:
    """The scenario with the fitted values as base values, beside a copy of its table.

    The copy keeps the new file self-contained (its table is found beside it, as any
    scenario's must be); the [calibrate] table is left out, the rest is kept as written.
    Values typed on the command line (``typed``: the town's size, the months) are written
    too, since the fit holds for them.
    """
    data = read_toml(source)
    data.pop("calibrate", None)
    copy = out / table.name
    if copy.resolve() != table.resolve():
        shutil.copyfile(table, copy)
    data.setdefault("town", {})["table"] = table.name
    typed = dict(typed or {})
    if "population.n_citizens" in typed:
        data["town"].pop("scale", None)  # the number of citizens is given instead
    for short, key in (("steps", "simulation.steps"), ("seed", "simulation.seed")):
        if key in typed:
            data.pop(short, None)
    _remove_keys(data, set(best) | set(typed))
    data.setdefault("parameters", {}).update({**typed, **{k: round(v, 6) for k, v in best.items()}})
    if isinstance(data.get("name"), str):
        data["name"] = f"{data['name']} (calibrated)"
    head = (f"# Written by coprod calibrate from {source.name}: the fitted values are in [parameters];\n"
            "# the region of good fits is in calibrate.md, every trial in trials.csv.\n")
    path = out / SCENARIO_FILE
    path.write_text(head + to_toml(data))
    return path


def _remove_keys(data: dict[str, Any], keys: set[str]) -> None:
    """Drop base values the fit replaces, however the file wrote them."""
    params = data.get("parameters", {})
    for key in keys:
        group, _, name = key.partition(".")
        params.pop(key, None)
        if isinstance(params.get(group), dict):
            params[group].pop(name, None)
        if isinstance(data.get(group), dict):
            data[group].pop(name, None)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _value(k)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A TOML text of nested tables of scalars, lists and inline tables (what scenarios hold)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    text = "\n".join(lines) + ("\n" if lines else "")
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            text += f"\n[{name}]\n" + to_toml(v, name)
    return text


def write_summary(scenario: Scenario, result: CalibrationResult, fit, path: Path) -> Path:
    ens = result.ensemble
    lines = [f"# Calibration of {scenario.name}", "",
             f"{len(result.trials)} trials ({result.resumed} from an earlier session); the fit and the"
             f" region of good fits from the {result.method} (95%, {len(result.keys)}"
             f" degree{'s' if len(result.keys) > 1 else ''} of freedom); {len(ens)} trials inside it form"
             " the ensemble of good fits. Loss, fit and region: docs/your-town.md.",
             "", "| parameter | fit | region of good fits | ensemble's trials |", "|---|---|---|---|"]
    for k in result.keys:
        low, high = result.interval[k]
        spread = f"{ens[k].min():.4g} to {ens[k].max():.4g}" if len(ens) else "none"
        lines.append(f"| `{k}` | {result.best[k]:.4g} | {low:.4g} to {high:.4g} | {spread} |")
    best = best_row(result)
    lines += ["", f"Trial nearest the fit: loss {best['loss']:.3g}, root mean squared error per"
                  f" neighbourhood and target {best['rmse_points']:.2f} percentage points.", ""]
    targets = result.observations.targets
    if targets:
        lines += ["Town-wide targets: " + ", ".join(f"{k} = {v:.3g}" for k, v in targets.items()) + ".", ""]
    lines += ["Files: fit.png (observed against simulated), fit.csv (per neighbourhood), trials.csv (every"
              f" trial), {SCENARIO_FILE} (the scenario with the fitted values: `coprod run`, `coprod sweep`"
              " use it as it is), calibrate.db (the resumable study).", ""]
    path.write_text("\n".join(lines))
    return path
