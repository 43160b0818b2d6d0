"""``coprod optimise``: the affordable policy mixes that raise participation and lower the bias.

A many-objective search (participation up, bias down, cost down; candidates over the budget are
never simulated) by NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002, *IEEE Transactions on
Evolutionary Computation* 6(2), 182-197) as implemented by Optuna (Akiba et al. 2019, *KDD '19*,
2623-2631). The study lives in the driver only, stored in SQLite in the output folder (or any
database URL, for drivers on several machines), so an interrupted search resumes where it
stopped: every candidate told to the study is kept, candidates left half-run are asked again.

Each candidate runs the scenario's replications on the seeds a sweep uses (common random
numbers: candidates are compared on the same draws), through the sweep's executors (local
processes or a Dask cluster). A generation is asked in full before any of it is told, so the
proposals do not depend on the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coprod_sim.params import ParameterError, Parameters
from coprod_sim.scenario.optimise import PARTICIPATION, OptimiseSpec
from coprod_sim.scenario.plan import Run as SimRun
from coprod_sim.scenario.plan import Scenario

DIRECTIONS = ("maximize", "minimize", "minimize")  # participation, bias, cost
FRESH_OFFSET = 100_000
"""Replications of the re-evaluation start here: seeds the search (replications 0..R-1) never used."""


class OptimiseError(ParameterError):
    """An optimisation that cannot start as asked (output folder, storage, budget); exit code 2."""


class OptimiseInterrupted(Exception):
    def __init__(self, evaluated: int, out: Path):
        super().__init__(f"interrupted with {evaluated} candidates evaluated in {out}")
        self.evaluated, self.out = evaluated, out


@dataclass
class Evaluation:
    """The replications of one candidate: participation and bias per replication."""

    levers: dict[str, Any]
    participation: np.ndarray
    bias: np.ndarray
    error: str = ""


@dataclass
class OptimiseResult:
    out: Path
    storage: str
    study_name: str
    evaluated: int
    skipped_over_budget: int
    resumed: int
    files: dict[str, Path] = field(default_factory=dict)


# ============================================================================ the study
def study_name(scenario: Scenario, spec: OptimiseSpec) -> str:
    """Names the plan: an edited scenario or [optimise] table never resumes an older study.

    The number of candidates and of fresh replications are left out: a search resumed with a
    larger ``--trials`` goes on with the same study.
    """
    plan = {k: v for k, v in spec.to_dict().items() if k not in ("trials", "fresh_replications")}
    text = json.dumps([scenario.fingerprint(), plan], sort_keys=True, default=str)
    return f"optimise-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_study(scenario: Scenario, spec: OptimiseSpec, storage: str, resume: bool, overwrite: bool):
    """Create the study, or load it with ``resume``; refuse to mix plans."""
    optuna = _optuna()
    name = study_name(scenario, spec)
    try:
        names = optuna.study.get_all_study_names(storage)
    except Exception as exc:  # a bad URL or a file we cannot open
        raise OptimiseError("--storage", f"--storage {storage}: cannot open it ({type(exc).__name__}:"
                            f" {exc}).") from None
    if overwrite:
        for old in names:
            optuna.delete_study(study_name=old, storage=storage)
        names = []
    if names and not resume:
        raise OptimiseError("--out", f"{storage} already holds a search ({', '.join(names)}). Add --resume"
                            " to continue it (evaluated candidates are kept), --overwrite to discard"
                            " it, or choose another --out.")
    if resume and names and name not in names:
        raise OptimiseError("--resume", f"{storage} holds a search of a different plan ({', '.join(names)}):"
                            " the scenario or its [optimise] table changed since. Use another --out, or"
                            " --overwrite to discard it.")
    done = 0
    if name in names:
        done = len(optuna.load_study(study_name=name, storage=storage).trials)
    # Seeded by the scenario and the number of trials so far: a fresh search is reproducible,
    # and a resumed one does not replay the proposals already made.
    seed = int(np.random.SeedSequence([scenario.seed, done]).generate_state(1)[0])
    sampler = optuna.samplers.NSGAIISampler(population_size=spec.population, seed=seed)
    study = optuna.create_study(study_name=name, storage=storage, directions=list(DIRECTIONS),
                                sampler=sampler, load_if_exists=True)
    study.set_user_attr("scenario", scenario.name)
    study.set_user_attr("plan", spec.to_dict())
    return study


def recover(study) -> int:
    """Candidates left running by an interrupt: marked failed and asked again, same levers."""
    optuna = _optuna()
    running = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING])
    for t in running:
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(dict(t.params), user_attrs={"asked_again_for": t.number})
    return len(running)


def suggest(trial, spec: OptimiseSpec) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for lv in spec.levers:
        if lv.choices is not None:
            values[lv.key] = trial.suggest_categorical(lv.key, list(lv.choices))
        elif lv.integer:
            values[lv.key] = trial.suggest_int(lv.key, int(lv.low), int(lv.high), step=int(lv.step or 1))
        else:
            values[lv.key] = trial.suggest_float(lv.key, lv.low, lv.high, step=lv.step)
    return values


# ============================================================================ evaluating
def candidate_runs(scenario: Scenario, key: int, levers: Mapping[str, Any],
                   replications: Iterable[int]) -> list[SimRun]:
    """The runs of a candidate: the scenario's base values with the levers, one per replication."""
    from coprod_sim.rules.registry import rule_modules

    params = Parameters({**scenario.base, **levers})
    modules = rule_modules(params)  # a worker imports the custom rules the parent loaded
    return [SimRun(index=key, point=key, policy="candidate", design_point=key, replication=r,
                   seed=scenario.seed, params=params, levers=dict(levers), rule_modules=modules)
            for r in replications]


def evaluate(plan, jobs: Mapping[int, tuple[dict[str, Any], list[SimRun]]], bias: str,
             done: Callable[[int, Evaluation], None]) -> None:
    """Run every candidate's runs on ``plan``'s executor; ``done(key, evaluation)`` as each finishes."""
    from coprod_sim.run import summarise
    from coprod_sim.sweep.task import run_task

    queue = [(key, i, run) for key, (_, runs) in jobs.items() for i, run in enumerate(runs)]
    results = {key: (np.full(len(runs), np.nan), np.full(len(runs), np.nan), [len(runs)], [""])
               for key, (_, runs) in jobs.items()}
    in_flight: dict[Any, tuple[int, int]] = {}
    position = 0
    while position < len(queue) or in_flight:
        while position < len(queue) and len(in_flight) < plan.capacity:
            key, i, run = queue[position]
            in_flight[plan.executor.submit(run_task, run)] = (key, i)
            position += 1
        finished, _ = wait(list(in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
        for future in finished:
            key, i = in_flight.pop(future)
            part, b, left, error = results[key]
            outcome = future.result()
            if outcome.table is not None:
                ts = outcome.timeseries
                summary = summarise(ts[["step", PARTICIPATION, bias]])["last_quarter_mean"]
                part[i], b[i] = summary[PARTICIPATION], summary[bias]
            else:
                error[0] = outcome.error or "failed"
            left[0] -= 1
            if left[0] == 0:
                done(key, Evaluation(jobs[key][0], part, b, error[0]))


def _reps(values: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values]


def from_reps(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# ============================================================================ the search
class Progress:
    """Candidates evaluated: a rich bar on a terminal, plain lines otherwise (logs, CI)."""

    def __init__(self, enabled: bool, total: int, already: int):
        self.enabled, self.total, self.count = enabled, total, already
        self.bar = None
        self.last = 0.0

    def __enter__(self) -> Progress:
        if self.enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]optimise"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("candidates"), TimeElapsedColumn(),
                                console=Console(stderr=True))
            self.bar.__enter__()
            self.task = self.bar.add_task("optimise", total=self.total, completed=self.count)
        return self

    def advance(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.count)
        elif self.enabled and (time.monotonic() - self.last > 10 or self.count == self.total):
            self.last = time.monotonic()
            print(f"optimise: {self.count} of {self.total} candidates evaluated", file=sys.stderr,
                  flush=True)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _ask_generation(study, spec: OptimiseSpec, want: int) -> tuple[list, int]:
    """Up to ``want`` new candidates within budget.

    Those over budget are told failed, never simulated. A candidate the search proposes again
    (genetic operators can) is told the values it already had, without running it again: its
    runs would be the same, seed for seed.
    """
    optuna = _optuna()
    seen = {_key(t.params): t for t in study.get_trials(
        deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])}
    batch, skipped = [], 0
    for _ in range(200 * want):
        if len(batch) == want:
            break
        trial = study.ask()
        levers = suggest(trial, spec)
        cost = spec.cost(levers)
        trial.set_user_attr("cost", cost)
        if spec.budget is not None and cost > spec.budget:
            trial.set_user_attr("over_budget", True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            skipped += 1
            continue
        twin = seen.get(_key(levers)) or next((t for t, lv, _ in batch if _key(lv) == _key(levers)), None)
        if twin is not None and getattr(twin, "values", None) is not None:
            trial.set_user_attr("same_as", twin.number)
            for name in ("participation_reps", "bias_reps"):
                trial.set_user_attr(name, twin.user_attrs.get(name))
            study.tell(trial, list(twin.values))
            continue
        if twin is not None:  # proposed twice in this generation: keep one
            trial.set_user_attr("same_as", twin.number)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        batch.append((trial, levers, cost))
    return batch, skipped


def _key(levers: Mapping[str, Any]) -> str:
    return json.dumps(levers, sort_keys=True, default=str)


def optimise(scenario: Scenario, spec: OptimiseSpec, out: str | Path, *, storage: str | None = None,
             workers: int | None = None, scheduler: str | None = None, resume: bool = False,
             overwrite: bool = False, progress: bool = True,
             evaluator: Callable[..., None] = evaluate) -> OptimiseResult:
    """Evaluate candidates until ``spec.trials`` are done (counting those of earlier runs).

    ``evaluator(plan, jobs, bias, done)`` runs the candidates (default: simulations through
    :func:`evaluate`; tests pass a toy objective).
    """
    # SIGTERM handled like Ctrl-C, as a sweep does (what was told to the study is kept)
    from coprod_sim.sweep.engine import sigterm_as_interrupt
    from coprod_sim.sweep.executors import open_executor, terminate_workers

    optuna = _optuna()
    out = Path(out)
    if storage is None:  # the default: SQLite in the output folder
        out.mkdir(parents=True, exist_ok=True)
        storage = default_storage(out)
    study = open_study(scenario, spec, storage, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    resumed = recover(study)
    complete = [optuna.trial.TrialState.COMPLETE]
    n_done = sum("same_as" not in t.user_attrs for t in study.get_trials(deepcopy=False, states=complete))
    skipped = 0
    reps = range(scenario.replications)
    with open_executor(workers, scheduler) as plan, Progress(progress, spec.trials, n_done) as bar, \
            sigterm_as_interrupt():
        try:
            while n_done < spec.trials:
                batch, over = _ask_generation(study, spec, min(spec.population, spec.trials - n_done))
                skipped += over
                if not batch:
                    raise OptimiseError("optimise.budget", f"{scenario.path}: [optimise] budget ="
                                        f" {spec.budget:g} {spec.budget_unit}: hardly any candidate fits"
                                        " (none in the last tries); raise the budget or narrow the levers.")
                trials = {t.number: t for t, _, _ in batch}
                jobs = {t.number: (levers, candidate_runs(scenario, t.number, levers, reps))
                        for t, levers, _ in batch}

                def done(key: int, ev: Evaluation, trials=trials) -> None:
                    nonlocal n_done
                    trial = trials[key]
                    trial.set_user_attr("participation_reps", _reps(ev.participation))
                    trial.set_user_attr("bias_reps", _reps(ev.bias))
                    if ev.error or not np.isfinite(ev.bias).any():
                        trial.set_user_attr("error", ev.error or f"{spec.bias} undefined in every run")
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        return
                    study.tell(trial, [float(np.nanmean(ev.participation)), float(np.nanmean(ev.bias)),
                                       trial.user_attrs["cost"]])
                    n_done += 1
                    bar.advance()

                evaluator(plan, jobs, spec.bias, done)
        except KeyboardInterrupt:
            terminate_workers(plan.executor)
            raise OptimiseInterrupted(n_done, out) from None
    return OptimiseResult(out, storage, study.study_name, n_done, skipped, resumed)
