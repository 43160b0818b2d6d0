"""Maps of a town built from a table with geometry: participation, bias and a policy's effect.

Each map is a choropleth of the neighbourhoods (geopandas over matplotlib). Participation is
the share of residents active at least once in the past year, averaged over the last quarter
of the run; bias is representation, a neighbourhood's participation over the town's (1: its
residents take part as often as the town's; 2: twice as often); a policy's effect is its
participation minus the baseline's on the same seeds (points).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coprod_sim.run import neighbourhood_participation

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


def representation(rate: np.ndarray, residents: np.ndarray) -> np.ndarray:
    """A neighbourhood's participation over the town's (population-weighted) participation."""
    town = float(np.average(rate, weights=residents))
    return rate / town if town > 0 else np.full_like(rate, np.nan)


def draw_maps(geometry: gpd.GeoDataFrame, panels: list[tuple[str, np.ndarray, str]],
              path: Path, title: str) -> Path:
    """One row of choropleths, one per ``(title, values, kind)``; kind 'share', 'ratio', 'points'.

    Shares use a sequential palette from 0; ratios a diverging one centred on 1 (log scale, so
    half and double are as far from parity); points a diverging one centred on 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.4), squeeze=False)
    for ax, (name, values, kind) in zip(axes[0], panels, strict=True):
        frame = geometry.assign(value=values)
        finite = values[np.isfinite(values)]
        # Colour limits leave out the 2% most extreme areas at each end (arrows on the bar):
        # a small area simulated with a handful of citizens would otherwise wash out the rest.
        if kind == "share":
            low, high = _robust(finite, 2), _robust(finite, 98)
            high = max(high, low + 1e-9)
            norm, cmap, label = Normalize(low, high), "viridis", "share of residents"
            ticks = np.linspace(low, high, 5)
        elif kind == "ratio":
            span = max(_robust(np.abs(np.log(finite[finite > 0])), 98), 0.05)
            norm, cmap, label = LogNorm(math.exp(-span), math.exp(span)), "PuOr", "x the town's rate"
            ticks = np.exp(np.linspace(-span, span, 5))
        else:
            span = max(_robust(np.abs(finite), 98), 1e-9)
            norm, cmap, label = TwoSlopeNorm(0, -span, span), "RdBu", "percentage points"
            ticks = np.linspace(-span, span, 5)
        frame.plot(column="value", ax=ax, cmap=cmap, norm=norm, edgecolor="#555555", linewidth=0.3,
                   missing_kwds={"color": "#dddddd", "label": "no data"})
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, ax=ax, shrink=0.7, orientation="horizontal", pad=0.02, extend="both")
        bar.set_label(label)
        bar.set_ticks(ticks, labels=[_tick(kind, t) for t in ticks])
        bar.minorticks_off()
        ax.set_title(name, fontsize=11)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _robust(values: np.ndarray, percent: float) -> float:
    return float(np.percentile(values, percent)) if len(values) else 0.0


def _tick(kind: str, x: float) -> str:
    if kind == "share":
        return f"{100 * x:.1f}%"
    if kind == "ratio":
        return f"x{x:.2f}"
    return "0" if abs(x) < 1e-12 else f"{100 * x:+.1f}"


def run_maps(geometry: gpd.GeoDataFrame, rate: np.ndarray, residents: np.ndarray, path: Path,
             baseline_rate: np.ndarray | None = None, policy: str = "") -> Path:
    """``coprod run``'s maps: participation, representation and, given the baseline's, the effect."""
    panels = [("Participation (past year)", rate, "share"),
              ("Representation (participation / town's)", representation(rate, residents), "ratio")]
    if baseline_rate is not None:
        panels.append((f"Effect of {policy!r} vs baseline (points)", rate - baseline_rate, "points"))
    return draw_maps(geometry, panels, path, "Neighbourhoods, averaged over the last quarter of the run")


def town_run_maps(result, out: Path, file: Path | None = None, point: int = 0,
                  overrides: dict | None = None) -> Path | None:
    """Write ``maps.png`` for a run whose town has geometry; None for other towns.

    A run of a scenario's policy point is compared with the baseline point of the same design
    point and replication, simulated here on the same seed (common random numbers).
    """
    from coprod_sim.run import run as simulate
    from coprod_sim.scenario.plan import BASELINE
    from coprod_sim.town.table import town_geometry

    geometry = town_geometry(result.params)
    if geometry is None or result.neighbourhoods.empty:
        return None
    steps = result.params.simulation.steps
    rate = neighbourhood_participation(result.neighbourhoods, steps)
    baseline_rate, policy = None, ""
    if file is not None:
        from coprod_sim.scenario.loader import load_scenario

        scenario = load_scenario(file)
        chosen = scenario.run_at(point, result.replication or 0)
        if chosen.policy != BASELINE:
            base = scenario.run_at(chosen.design_point, chosen.replication).params
            base = base.replace(overrides) if overrides else base
            other = simulate(base, replication=chosen.replication)
            baseline_rate, policy = neighbourhood_participation(other.neighbourhoods, steps), chosen.policy
    residents = geometry["population"].to_numpy()
    return run_maps(geometry, rate, residents, Path(out) / "maps.png", baseline_rate, policy)


# ============================================================================ the sweep report
def sweep_rates(folder: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Participation per run (rows: run index) and neighbourhood (columns), from the sweep's files."""
    import pandas as pd

    from coprod_sim.sweep.store import Store

    store, rows = Store(folder), {}
    for index in runs["run"]:
        table = store.read_hoods(int(index))
        if table is not None:
            rows[int(index)] = table.column("participation_year").to_numpy()
    return pd.DataFrame.from_dict(rows, orient="index")


def add_maps(sweep, figures_dir: Path, text: str) -> str:
    """The report's markdown with a map section, when the sweep's town has geometry.

    The baseline's participation and representation are averaged over its runs; each
    policy's effect is the mean over replications of its difference from the baseline on the
    same design point and seed (paired). Up to three policies are mapped.
    """
    import pandas as pd

    from coprod_sim.params import ParameterError, Parameters
    from coprod_sim.town.table import town_geometry

    try:
        geometry = town_geometry(Parameters(sweep.scenario.get("base", {})))
    except (ParameterError, OSError):  # the table moved or a custom rule's key: no map
        return text
    if geometry is None:
        return text
    runs = sweep.runs
    rates = sweep_rates(sweep.folder, runs)
    if rates.empty or rates.shape[1] != len(geometry):
        return text
    labels = runs.set_index("run").loc[rates.index]
    by_pair = rates.set_index(pd.MultiIndex.from_frame(labels[["design_point", "replication"]]))
    policy = labels["policy"].to_numpy()
    baseline = by_pair[policy == sweep.baseline]
    if baseline.empty:
        return text
    mean = baseline.mean().to_numpy()
    panels = [(f"Participation, {sweep.baseline}", mean, "share"),
              (f"Representation, {sweep.baseline}", representation(mean, geometry["population"].to_numpy()),
               "ratio")]
    for name in sweep.others[:3]:
        paired = by_pair[policy == name].sub(baseline).dropna()  # same design point and seed
        if not paired.empty:
            panels.append((f"Effect of {name!r} (points)", paired.mean().to_numpy(), "points"))
    draw_maps(geometry, panels, figures_dir / "maps.png",
              "Neighbourhoods, averaged over the last quarter of each run and over replications")
    section = ("## Map of the town\n\n![Maps of participation, representation and the policies' effects]"
               "(figures/maps.png)\n\nParticipation is the share of residents active in the past year;"
               " representation is a neighbourhood's participation over the town's (x1: as often as the"
               " town); a policy's effect is its participation minus the baseline's on the same seeds,"
               " in percentage points, averaged over replications. Colour limits leave out the 2% most"
               " extreme areas.\n")
    return text.rstrip("\n") + "\n\n" + section

