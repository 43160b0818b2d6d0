"""``coprod calibrate``: fit behavioural parameters to observed participation by neighbourhood.

The search is Optuna's TPE sampler (Akiba et al. 2019, *KDD '19*, 2623-2631; Bergstra et al.
2011, *NeurIPS 24*) over the ranges of the scenario's ``[calibrate]`` table. Every trial runs
the same replications (the scenario seed's replications 0..R-1: common random numbers), so
two trials differ by their parameters, not their draws. The study is stored in SQLite in the
output folder: an interrupted calibration resumes where it stopped.

The loss a trial minimises (docs/your-town.md) is a chi-square of its errors given the
model's own noise:

    L = e' C^-1 e  +  sum_j (S_j - O_j)^2 / V_j

with e_h = s_h - o_h the error in neighbourhood h (o_h observed participation, the share of
residents active in the past year; s_h simulated, averaged over the last quarter of the run
and over the R replications), C the covariance of that error (a town-wide shock plus each
neighbourhood's own: :func:`one_factor_noise`), and O_j, S_j, V_j the town-wide targets
(``[calibrate.targets]`` and the table's participation by mode or level), their simulated
values and variances. C and V_j are measured once per study, from ``NOISE_RUNS`` runs at the
middle of the ranges, times (1 + 1/R): the observation is taken to be as noisy as one run of
the simulated town, the trial's mean as R runs. The root mean squared error per neighbourhood
(population-weighted, in percentage points) is reported beside it.

The first ``SEARCH_SHARE`` of the trials search (TPE); the rest are drawn uniformly in batches
around the good fits found so far (:func:`region_points`), so that the ensemble spans the
region of good fits rather than the few points a search happened to try there.

Uncertainty is a region of good fits, from a quadratic surface fitted to the trials' losses
(:mod:`coprod_sim.analysis.calibrate_region`): its centre is the fit, its 95% region the
reported range, and the trials inside it the ensemble of good fits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coprod_sim.names import LEVELS, MODES
from coprod_sim.params import ParameterError, Parameters
from coprod_sim.scenario.calibrate import CalibrateSpec
from coprod_sim.scenario.plan import Scenario

ENSEMBLE_LEVEL = 0.95
NOISE_RUNS = 8
"""Replications measuring the model's run-to-run noise, once per study."""
SEARCH_SHARE = 0.6
"""Share of the trials spent searching (TPE); the rest explore the region of the good fits."""
STUDY_FILE = "calibrate.db"


class CalibrateError(ParameterError):
    """A calibration that cannot start as asked (no observations, another study there); exit 2."""


class CalibrateInterrupted(Exception):
    def __init__(self, completed: int, out: Path):
        super().__init__(f"interrupted with {completed} trials completed in {out}")
        self.completed, self.out = completed, out


@dataclass
class Observations:
    """What the model is fitted to: rates per neighbourhood (NaN: none) and town-wide targets."""

    rate: np.ndarray  # (K,) observed participation, NaN where missing
    weight: np.ndarray  # (K,) population where observed, 0 elsewhere
    targets: dict[str, float]  # outcome column -> observed town-wide value

    @property
    def observed(self) -> np.ndarray:
        return self.weight > 0

    @property
    def target_values(self) -> np.ndarray:
        return np.array(list(self.targets.values()), dtype=float)


@dataclass
class CalibrationResult:
    out: Path
    study_name: str
    trials: Any  # pandas DataFrame: one row per completed trial (values, loss, chi2, in ensemble)
    observations: Observations
    keys: list[str]
    best: dict[str, float]
    simulated: np.ndarray  # (T, K) per trial, per neighbourhood
    simulated_targets: np.ndarray  # (T, J) per trial, per town-wide target
    resumed: int = 0
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)  # the region of good fits
    method: str = ""
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def ensemble(self):
        return self.trials[self.trials["in_ensemble"]]


# ============================================================================ observations
def observations(params: Parameters, spec: CalibrateSpec) -> Observations:
    """The town table's observed columns and the [calibrate.targets], checked for use."""
    from coprod_sim.town.table import town_table

    table = town_table(params)
    if table is None:
        raise CalibrateError("town.table", "coprod calibrate fits a town built from a table: the scenario"
                             " needs [town] table = \"...\" (docs/your-town.md).")
    k = len(table)
    rate = table.observed.get("participation", np.full(k, np.nan))
    weight = np.where(np.isfinite(rate), table.population, 0.0)
    targets = dict(spec.targets)
    for name in (*MODES, *LEVELS):  # by mode or level: the model records these town-wide
        col = table.observed.get(f"participation_{name}")
        if col is not None and np.isfinite(col).any():
            ok = np.isfinite(col)
            targets.setdefault(f"participation_year_{name}",
                               float(np.average(col[ok], weights=table.population[ok])))
    if not weight.any() and not targets:
        raise CalibrateError("calibrate.targets", f"{table.path} has no observed participation (columns"
                             " participation or participants) and [calibrate.targets] is empty: there"
                             " is nothing to fit to.")
    return Observations(rate, weight, targets)


# ============================================================================ one trial
def simulate_trial(params: Parameters, seed: int, replications: int, targets: list[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-neighbourhood participation (R, K) and town-wide targets (R, J) of R replications."""
    from coprod_sim.run import neighbourhood_participation, run

    hoods, town = [], []
    for r in range(replications):
        result = run(params, seed, replication=r)
        hoods.append(neighbourhood_participation(result.neighbourhoods, params.simulation.steps))
        town.append([result.summary["last_quarter_mean"][t] for t in targets])
    return np.array(hoods), np.array(town, dtype=float).reshape(replications, len(targets))


def loss(obs: Observations, noise: Noise, hood_mean: np.ndarray, town_mean: np.ndarray) -> float:
    """The stated loss (module docstring): a chi-square of the errors given the model's noise."""
    ok = obs.observed
    total = float(((town_mean - obs.target_values) ** 2 / noise.town).sum())
    if ok.any():
        error = (hood_mean[ok] - obs.rate[ok])[None, :]
        total += float(chi_square(error, noise.own[ok], noise.common)[0])
    return total


def squared_error(obs: Observations, hood_mean: np.ndarray, town_mean: np.ndarray) -> float:
    """Population-weighted mean squared error per neighbourhood plus the targets' squared errors."""
    total = 0.0
    if obs.weight.any():
        ok = obs.observed
        total += float(np.average((hood_mean[ok] - obs.rate[ok]) ** 2, weights=obs.weight[ok]))
    return total + float(((town_mean - obs.target_values) ** 2).sum())


@dataclass
class Noise:
    """The model's run-to-run noise: town-wide shock ``common``, each neighbourhood's ``own``
    (variances of a rate), and each town-wide target's ``town``; already times (1 + 1/R)."""

    common: float
    own: np.ndarray
    town: np.ndarray


def study_noise(study, base: Parameters, spec: CalibrateSpec, obs: Observations, seed: int) -> Noise:
    """The noise, measured once per study at the middle of the ranges (kept for a resume).

    ``NOISE_RUNS`` replications at the midpoint of every fitted range; the observation is
    taken to be as noisy as one run of the simulated town and the trial's mean as R runs,
    hence the factor (1 + 1/R).
    """
    saved = study.user_attrs.get("noise")
    if saved is None:
        middle = {k: (lo + hi) / 2 for k, (lo, hi) in spec.parameters.items()}
        hoods, town = simulate_trial(base.replace(middle), seed, NOISE_RUNS, list(obs.targets))
        weight = obs.weight if obs.weight.any() else np.ones(hoods.shape[1])
        common, own = one_factor_noise(hoods, weight)
        saved = {"common": common, "own": own.tolist(), "town": np.maximum(_var(town), 1e-8).tolist()}
        study.set_user_attr("noise", saved)
    inflate = 1 + 1 / spec.replications
    return Noise(saved["common"] * inflate, np.array(saved["own"]) * inflate,
                 np.array(saved["town"]) * inflate)


# ============================================================================ the study
def study_name(scenario: Scenario, spec: CalibrateSpec) -> str:
    """Names the plan; a larger ``trials`` goes on with the same study."""
    plan = {k: v for k, v in spec.to_dict().items() if k != "trials"}
    text = json.dumps([scenario.fingerprint(), plan], sort_keys=True, default=str)
    return f"calibrate-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _optuna():
    import optuna

    # ERROR, not WARNING: Optuna logs an interrupted trial as a warning with its traceback, and
    # Ctrl+C is the documented way to pause a calibration (the command says how to resume)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def open_study(out: Path, name: str, seed: int, overwrite: bool):
    """The study in ``out``: created, or loaded to resume; another plan's study is refused."""
    optuna = _optuna()
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / STUDY_FILE).resolve()}"
    names = optuna.study.get_all_study_names(storage)
    if overwrite:
        for old in names:
            optuna.delete_study(study_name=old, storage=storage)
        names = []
    if names and name not in names:
        raise CalibrateError("--out", f"{out / STUDY_FILE} holds a calibration of another plan"
                             f" ({', '.join(names)}): the scenario or its [calibrate] table changed."
                             " Choose another --out, or --overwrite to discard it.")
    done = 0
    if name in names:
        done = len(_complete(optuna.load_study(study_name=name, storage=storage)))
    # Seeded by the scenario and the trials so far: reproducible, and a resumed study does not
    # replay the proposals already made.
    sampler = optuna.samplers.TPESampler(seed=(seed * 7919 + done) % 2**31, n_startup_trials=10)
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                direction="minimize", load_if_exists=True)
    return study, done


def _complete(study) -> list:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def calibrate(scenario: Scenario, spec: CalibrateSpec, out: Path, *, overwrite: bool = False,
              progress: Callable[[int, int, float], None] | None = None) -> CalibrationResult:
    """Run (or resume) the study until ``spec.trials`` trials are complete; the result."""
    base = Parameters(scenario.base)
    obs = observations(base, spec)
    name = study_name(scenario, spec)
    study, done = open_study(out, name, scenario.seed, overwrite)
    targets = list(obs.targets)
    noise = study_noise(study, base, spec, obs, scenario.seed)

    def objective(trial) -> float:
        values = {k: trial.suggest_float(k, lo, hi) for k, (lo, hi) in spec.parameters.items()}
        hoods, town = simulate_trial(base.replace(values), scenario.seed, spec.replications, targets)
        hood_mean, town_mean = hoods.mean(axis=0), town.mean(axis=0)
        trial.set_user_attr("hood_mean", hood_mean.tolist())
        trial.set_user_attr("town_mean", town_mean.tolist())
        trial.set_user_attr("rmse", math.sqrt(squared_error(obs, hood_mean, town_mean)))
        return loss(obs, noise, hood_mean, town_mean)

    def report(study, trial) -> None:
        if progress is not None:
            progress(len(_complete(study)), spec.trials, study.best_value)

    search = max(2, math.ceil(SEARCH_SHARE * spec.trials))
    try:
        if done < search:  # the search: TPE's proposals
            study.optimize(objective, n_trials=search - done, callbacks=[report], catch=())
        while (left := spec.trials - len(_complete(study))) > 0:  # the ensemble's region
            batch = min(left, max(3, math.ceil((spec.trials - search) / 4)))
            if not _waiting(study):
                for point in region_points(study, spec, batch, scenario.seed):
                    study.enqueue_trial(point)
            study.optimize(objective, n_trials=len(_waiting(study)), callbacks=[report], catch=())
    except KeyboardInterrupt:
        raise CalibrateInterrupted(len(_complete(study)), out) from None
    return summarise(study, obs, spec, out, name, done)


def _waiting(study) -> list:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))


def region_points(study, spec: CalibrateSpec, count: int, seed: int) -> list[dict[str, float]]:
    """Points drawn uniformly around the good fits so far, so that the ensemble spans its region.

    The box spans the trials within the ensemble's threshold of the best, widened by half its
    width on each side (at least a twentieth of the range): where the good fits reach the box's
    edge, the next batch reaches further. Drawn from a generator seeded by the scenario and the
    number of trials, so a resumed study draws the same points.
    """
    from scipy.stats import chi2

    trials = _complete(study)
    losses = np.array([t.value for t in trials])
    good = [t for t in trials if t.value <= losses.min() + chi2.ppf(ENSEMBLE_LEVEL, len(spec.parameters))]
    rng = np.random.default_rng([seed, len(trials)])
    points = [{} for _ in range(count)]
    for key, (low, high) in spec.parameters.items():
        values = np.array([t.params[key] for t in good])
        pad = max(0.5 * np.ptp(values), 0.05 * (high - low))
        lo, hi = max(low, values.min() - pad), min(high, values.max() + pad)
        for point, x in zip(points, rng.uniform(lo, hi, count), strict=True):
            point[key] = float(x)
    return points


def _var(x: np.ndarray) -> np.ndarray:
    return x.var(axis=0, ddof=1) if len(x) > 1 else np.full(x.shape[1], np.nan)


# ============================================================================ the ensemble
def summarise(study, obs: Observations, spec: CalibrateSpec, out: Path, name: str,
              resumed: int) -> CalibrationResult:
    """Every completed trial with its loss, error and whether it is in the ensemble; the fit
    and the region of good fits (:mod:`coprod_sim.analysis.calibrate_region`)."""
    import pandas as pd

    from coprod_sim.analysis.calibrate_region import region

    keys = list(spec.parameters)
    trials = _complete(study)
    hood = np.array([t.user_attrs["hood_mean"] for t in trials])
    town = np.array([t.user_attrs["town_mean"] for t in trials]).reshape(len(trials), len(obs.targets))
    frame = pd.DataFrame({"trial": [t.number for t in trials],
                          **{k: [t.params[k] for t in trials] for k in keys},
                          "loss": [t.value for t in trials],
                          "rmse_points": [100 * t.user_attrs["rmse"] for t in trials]})
    lows, highs = (np.array([spec.parameters[k][i] for k in keys]) for i in (0, 1))
    good = region(frame[keys].to_numpy(), frame["loss"].to_numpy(), lows, highs)
    frame["fitted_loss"] = good.fitted
    frame["in_ensemble"] = good.inside
    return CalibrationResult(out, name, frame, obs, keys, dict(zip(keys, good.centre.tolist(), strict=True)),
                             hood, town, resumed,
                             interval={k: (float(lo), float(hi))
                                       for k, lo, hi in zip(keys, good.low, good.high, strict=True)},
                             method=good.method)


def one_factor_noise(runs: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """Run-to-run noise (R, K) as a town-wide shock plus each neighbourhood's own.

    A run's deviation from the mean in neighbourhood h is split into the town's
    (population-weighted) deviation c and the rest u_h; the variances of c and of each u_h
    give the covariance D + a 11' of the neighbourhoods' simulated rates (a one-factor model:
    a whole town's participation drifts together from run to run, which independent errors
    would mistake for evidence).
    """
    d = runs - runs.mean(axis=0)
    c = d @ weight / weight.sum()
    dof = len(runs) - 1
    common = float((c**2).sum() / dof)
    own = np.maximum(((d - c[:, None]) ** 2).sum(axis=0) / dof, 1e-8)
    return common, own


def chi_square(error: np.ndarray, own: np.ndarray, common: float) -> np.ndarray:
    """e' (D + a 11')^-1 e for each row e, by the Sherman-Morrison formula."""
    inv = 1.0 / own
    return (error**2 * inv).sum(axis=1) - common * (error @ inv) ** 2 / (1 + common * inv.sum())


