"""Scenario discovery: the ranges of levers where the bias is high or participation low.

For a sweep over sampled designs (Latin hypercube, Sobol), the Patient Rule Induction Method
(PRIM; Friedman & Fisher 1999, *Statistics and Computing* 9(2), 123-143), as implemented by the
Exploratory Modelling and Analysis Workbench (Kwakkel 2017, *Environmental Modelling & Software*
96, 239-250), peels the lever space down to a box where the runs of interest (bias above a
threshold, participation below one) are dense. Along the way it traces a trade-off:

- coverage: share of all runs of interest that fall in the box;
- density: share of the box's runs that are of interest;
- mass: share of all runs in the box.

The box reported is the last one of the peeling trajectory with density >= 0.8 and coverage
>= 0.5 (the convention of Bryant & Lempert 2010, *Technological Forecasting & Social Change*
77(1), 34-49, who ask for both); failing that, the one with the largest weighted relative
accuracy, mass x (density - share of runs of interest overall) (Lavrač, Flach & Zupan 1999,
*Inductive Logic Programming*, LNAI 1634, 174-185). A box whose density's 95% interval does not
lie above the overall share is no finding: the runs of interest are spread over the levers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.names import OUTCOMES

MIN_RUNS = 30  # fewer runs than this: no discovery (PRIM peels 5% at a time)
MIN_DISTINCT = 10  # a lever with fewer distinct values is a grid's, not a sampled design's


@dataclass(frozen=True)
class Question:
    """Which runs are of interest: ``measure`` above (or below) a threshold."""

    name: str  # file-name friendly
    measure: str  # outcome name, e.g. concentration_index
    above: bool  # True: of interest when above the threshold
    quantile: float  # default threshold: this quantile of the runs, rounded to 2 significant digits

    def column(self) -> str:
        return f"{self.measure}_last_quarter"

    def words(self, threshold: float) -> str:
        verb = "exceeds" if self.above else "is below"
        return f"the {OUTCOMES[self.measure].label} {verb} {_fmt(threshold, self.measure)}"


QUESTIONS: tuple[Question, ...] = (
    Question("bias_high", "concentration_index", True, 0.75),
    Question("participation_low", "participation_year", False, 0.25),
)


@dataclass
class Box:
    """A chosen PRIM box: the restricted levers, its coverage, density and mass."""

    question: Question
    threshold: float
    limits: dict[str, tuple[float, float] | frozenset]  # restricted levers only
    coverage: float
    density: float
    mass: float
    n_in_box: int
    n_runs: int
    n_interest: int
    index: int  # position on the peeling trajectory
    trajectory: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    unit: str = "run"  # what a case is: a run, or a design point averaged over its replications
    replications: int = 1
    x: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # the cases' levers
    interest: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, bool))

    @property
    def base_rate(self) -> float:
        """Share of all runs that are of interest (the density of the whole lever space)."""
        return self.n_interest / self.n_runs

    @property
    def found(self) -> bool:
        """A box that restricts something and is denser than the sweep beyond doubt."""
        density = stats.proportion(round(self.density * self.n_in_box), self.n_in_box)
        return bool(self.limits) and density.low > self.base_rate

    def conditions(self) -> str:
        """The box as words: 'staff incentives below 0.2 and outreach one of ...'."""
        parts = [_condition(k, v) for k, v in self.limits.items()]
        if not parts:
            return "whatever the levers"
        return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]

    def sentence(self) -> str:
        if not self.found:
            return (f"No range of the levers stands out: {self.question.words(self.threshold)} in"
                    f" {100 * self.base_rate:.0f}% of all {self.n_runs} {self.unit}s, and no box PRIM finds"
                    " is denser than that beyond the 95% interval.")
        density = stats.proportion(round(self.density * self.n_in_box), self.n_in_box)
        each = (f", each the mean of its {self.replications} replications"
                if self.unit == "point" else "")
        return (f"With {self.conditions()}, {self.question.words(self.threshold)} in"
                f" {100 * self.density:.0f}% of the sweep's {self.unit}s (95% interval"
                f" {100 * density.low:.0f}-{100 * density.high:.0f}%; {self.n_in_box} {self.unit}s{each})."
                f" These conditions hold for {100 * self.mass:.0f}% of the {self.unit}s and contain"
                f" {100 * self.coverage:.0f}% of the {self.n_interest} {self.unit}s where"
                f" {self.question.words(self.threshold)}.")


def _fmt(value: float, measure: str) -> str:
    if OUTCOMES.get(measure) is not None and OUTCOMES[measure].unit == "share":
        return f"{100 * value:.3g}%"
    return f"{value:.3g}"


def lever_words(key: str) -> str:
    """A lever's name in words: administration.staff_incentives -> staff incentives."""
    return "policy" if key == "policy" else key.rpartition(".")[2].replace("_", " ")


def _condition(key: str, limit: tuple[float, float] | frozenset) -> str:
    name = lever_words(key)
    if isinstance(limit, frozenset):
        values = sorted(map(str, limit))
        return f"{name} {values[0]}" if len(values) == 1 else f"{name} one of {', '.join(values)}"
    low, high = limit
    if math.isinf(low):
        return f"{name} below {high:.3g}"
    if math.isinf(high):
        return f"{name} above {low:.3g}"
    return f"{name} between {low:.3g} and {high:.3g}"


# ============================================================================ the data
def sampled_levers(runs: pd.DataFrame) -> list[str]:
    """Parameter columns (dotted keys) that vary across runs, if the design sampled them."""
    keys = [c for c in runs.columns if "." in c and runs[c].nunique(dropna=True) >= 2]
    if not any(pd.api.types.is_numeric_dtype(runs[k]) and runs[k].nunique() >= MIN_DISTINCT for k in keys):
        return []
    return keys


def lever_table(runs: pd.DataFrame, levers: Sequence[str]) -> pd.DataFrame:
    """The levers of each run, with the policy as a category when there are several."""
    x = runs[list(levers)].copy()
    for k in levers:
        if not pd.api.types.is_numeric_dtype(x[k]):
            x[k] = x[k].astype(str).astype("category")
        else:
            x[k] = x[k].astype(float)
    if "policy" in runs and runs["policy"].nunique() > 1:
        x["policy"] = runs["policy"].astype(str).astype("category")
    return x.reset_index(drop=True)


def default_threshold(values: pd.Series, question: Question) -> float:
    q = float(np.nanquantile(values.to_numpy(float), question.quantile))
    if q == 0 or not math.isfinite(q):
        return q
    return float(f"{q:.2g}")


# ============================================================================ PRIM
def _prim():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ipyparallel missing; pandas deprecations inside
        from ema_workbench.analysis import prim
    return prim


def find_box(x: pd.DataFrame, interest: np.ndarray, question: Question, threshold: float,
             min_density: float = 0.8, min_coverage: float = 0.5, mass_min: float = 0.05) -> Box | None:
    """Run PRIM on levers ``x`` and cases of interest; the chosen box, or None if there are none."""
    interest = np.asarray(interest, dtype=bool)
    if interest.sum() == 0 or interest.all():
        return None
    prim = _prim()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = prim.Prim(x, interest, peel_alpha=0.05, paste_alpha=0.05, mass_min=mass_min).find_box()
    trajectory = box.peeling_trajectory.reset_index(drop=True)
    good = trajectory[(trajectory["density"] >= min_density) & (trajectory["coverage"] >= min_coverage)]
    if len(good):
        i = int(good.index[-1])
    else:
        base = interest.mean()
        i = int((trajectory["mass"] * (trajectory["density"] - base)).idxmax())
    limits = simplify(x, interest, _restricted(box.box_lims[0], box.box_lims[i], x))
    inside = within(x, limits)
    n_in = int(inside.sum())
    return Box(question, threshold, limits, float(interest[inside].sum() / interest.sum()),
               float(interest[inside].mean()) if n_in else 0.0, n_in / len(x), n_in, len(x),
               int(interest.sum()), i, trajectory, x=x, interest=interest)


def within(x: pd.DataFrame, limits: dict[str, tuple[float, float] | frozenset]) -> np.ndarray:
    """Which cases lie in the box."""
    inside = np.ones(len(x), dtype=bool)
    for k, v in limits.items():
        col = x[k]
        if isinstance(v, frozenset):
            inside &= col.astype(str).isin(v).to_numpy()
        else:
            inside &= ((col >= v[0]) & (col <= v[1])).to_numpy()
    return inside


def simplify(x: pd.DataFrame, interest: np.ndarray, limits: dict, tolerance: float = 0.02) -> dict:
    """Drop restrictions whose removal lowers the box's density by less than ``tolerance``.

    PRIM's later peels often shave a sliver off a lever that barely matters; a box said in
    fewer conditions is easier to act on (Bryant & Lempert 2010 ask for interpretable boxes).
    """
    limits = dict(limits)
    while limits:
        inside = within(x, limits)
        density = interest[inside].mean() if inside.any() else 0.0
        best, best_density = None, -1.0
        for k in limits:
            rest = {j: v for j, v in limits.items() if j != k}
            d = interest[within(x, rest)].mean()
            if d >= density - tolerance and d > best_density:
                best, best_density = k, d
        if best is None:
            return limits
        limits.pop(best)
    return limits


def _restricted(initial: pd.DataFrame, lims: pd.DataFrame, x: pd.DataFrame
                ) -> dict[str, tuple[float, float] | frozenset]:
    out: dict[str, tuple[float, float] | frozenset] = {}
    for k in x.columns:
        a, b = initial[k], lims[k]
        if isinstance(a.iloc[0], set):
            if set(b.iloc[0]) != set(a.iloc[0]):
                out[k] = frozenset(b.iloc[0])
            continue
        low = float(b.iloc[0]) if float(b.iloc[0]) > float(a.iloc[0]) else -math.inf
        high = float(b.iloc[1]) if float(b.iloc[1]) < float(a.iloc[1]) else math.inf
        if math.isfinite(low) or math.isfinite(high):
            out[k] = (low, high)
    return out


def design_points(runs: pd.DataFrame, column: str, levers: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """One row per policy and design point: the levers and the mean of ``column`` over replications."""
    if "design_point" not in runs:
        return runs, 1
    keys = [k for k in ("policy", "design_point") if k in runs]
    reps = int(runs.groupby(keys).size().min())
    if reps < 2:
        return runs, 1
    first = runs.groupby(keys, sort=True)[list(levers)].first()
    mean = runs.groupby(keys, sort=True)[column].mean()
    return first.join(mean).reset_index(), reps


def discover(runs: pd.DataFrame, question: Question, threshold: float | None = None,
             levers: Sequence[str] | None = None) -> Box | None:
    """The box for one question over the finished runs of a sweep (None: nothing to find).

    With replications, a case is a design point (per policy) and its value the mean over its
    replications: the noise of single runs would blur the boxes.
    """
    done = runs[runs["status"] == "done"] if "status" in runs else runs
    done = done[np.isfinite(done[question.column()].to_numpy(float))]
    levers = list(levers) if levers is not None else sampled_levers(done)
    if not levers:
        return None
    cases, reps = design_points(done, question.column(), levers)
    if len(cases) < MIN_RUNS:
        return None
    values = cases[question.column()]
    threshold = default_threshold(values, question) if threshold is None else threshold
    interest = (values > threshold) if question.above else (values < threshold)
    box = find_box(lever_table(cases, levers), interest.to_numpy(), question, threshold)
    if box is not None:
        box.unit, box.replications = ("point", reps) if reps > 1 else ("run", 1)
    return box
