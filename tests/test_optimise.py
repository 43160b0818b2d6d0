"""coprod optimise: a planted optimum is found; an interrupted search resumes losing nothing."""

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from coprod_sim.analysis.optimise import Evaluation, OptimiseError, OptimiseInterrupted, optimise
from coprod_sim.analysis.scenarios import builtin_scenario
from coprod_sim.cli.app import app
from coprod_sim.scenario.errors import ScenarioError
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.scenario.optimise import OptimiseLever, OptimiseSpec, load_optimise

SPEC = OptimiseSpec(levers=(OptimiseLever("policy.outreach_rate", 0.0, 1.0, cost=1.0),
                            OptimiseLever("policy.resource_transfer", 0.0, 1.0, cost=1.0)),
                    budget=1.6, trials=60, population=12, fresh_replications=0)
OPTIMUM = np.array([0.3, 0.7])  # planted: best participation and least bias at once


def toy(calls=None, stop_after=None):
    """Participation and bias peak at OPTIMUM (cost x + y pulls the front towards 0)."""
    count = [0]

    def evaluator(plan, jobs, bias, done):
        for key, (levers, runs) in jobs.items():
            if stop_after is not None and count[0] >= stop_after:
                raise KeyboardInterrupt
            x = np.array([levers["policy.outreach_rate"], levers["policy.resource_transfer"]])
            d = float(((x - OPTIMUM) ** 2).sum())
            if calls is not None:
                calls.append(key)  # the candidate's number in the study
            count[0] += 1
            done(key, Evaluation(levers, np.full(len(runs), 1 - d), np.full(len(runs), 0.1 + d)))
    return evaluator


def test_a_planted_optimum_is_found(tmp_path):
    optuna = pytest.importorskip("optuna")
    result = optimise(builtin_scenario(2), SPEC, tmp_path, workers=1, progress=False, evaluator=toy())
    assert result.evaluated == SPEC.trials
    study = optuna.load_study(study_name=result.study_name, storage=result.storage)
    front = study.best_trials
    best = min(front, key=lambda t: t.values[1])  # least bias on the front
    x = np.array([best.params["policy.outreach_rate"], best.params["policy.resource_transfer"]])
    assert np.abs(x - OPTIMUM).max() < 0.1
    assert all(t.user_attrs["cost"] <= SPEC.budget for t in front)


def test_interrupt_and_resume_lose_no_evaluated_candidate(tmp_path):
    optuna = pytest.importorskip("optuna")
    spec = dataclasses.replace(SPEC, trials=30, population=8)
    scenario = builtin_scenario(2)
    calls: list = []
    with pytest.raises(OptimiseInterrupted) as info:
        optimise(scenario, spec, tmp_path, workers=1, progress=False, evaluator=toy(calls, stop_after=13))
    assert info.value.evaluated == 13
    storage = f"sqlite:///{(tmp_path / 'study.db').resolve()}"
    name = optuna.study.get_all_study_names(storage)[0]
    before = {t.number: (t.params, t.values) for t in optuna.load_study(study_name=name, storage=storage)
              .get_trials(states=[optuna.trial.TrialState.COMPLETE]) if "same_as" not in t.user_attrs}
    assert len(before) == 13
    with pytest.raises(OptimiseError, match="--resume"):
        optimise(scenario, spec, tmp_path, workers=1, progress=False, evaluator=toy())
    again: list = []
    result = optimise(scenario, spec, tmp_path, workers=1, resume=True, progress=False, evaluator=toy(again))
    study = optuna.load_study(study_name=name, storage=storage)
    complete = [t for t in study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
                if "same_as" not in t.user_attrs]
    after = {t.number: (t.params, t.values) for t in complete}
    assert result.evaluated == 30 and len(after) == 30
    assert all(after[n] == before[n] for n in before)  # kept as they were
    assert not set(before) & set(again)  # no evaluated candidate was run again
    interrupted = [t for t in study.trials if "asked_again_for" in t.user_attrs]
    assert len(interrupted) == 8 - 13 % 8  # the rest of the interrupted generation, asked again


def test_optimise_table_mistakes_are_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[optimise]\nbudjet = 3\ntrials = 0\n[optimise.levers]\n'
                    '"policy.outreach_rate" = { low = 0.5, high = 0.1, cost = 1 }\n'
                    '"policy.outreach" = { choices = ["universal", "everyone"] }\n'
                    '"policy.nonsense" = { low = 0, high = 1 }\n')
    with pytest.raises(ScenarioError) as info:
        load_optimise(path)
    text = str(info.value)
    for expected in ("budjet", "Did you mean 'budget'", "trials = 0", "low = 0.5 must be below",
                     "'everyone'", "policy.nonsense"):
        assert expected in text
    res = CliRunner().invoke(app, ["optimise", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bad.toml" in res.output


def test_the_example_scenario_loads_with_its_optimise_table():
    scenario = load_scenario("scenarios/optimise_budget.toml")
    spec = load_optimise("scenarios/optimise_budget.toml")
    assert scenario.name == "optimise_budget" and len(spec.levers) == 5 and spec.budget == 8.0
    assert spec.cost({"policy.outreach_rate": 0.1, "policy.outreach": "targeted_area",
                      "policy.resource_transfer": 0.0, "policy.community_organisers": 4.0,
                      "policy.capacity_scale": 1.0}) == pytest.approx(2.0 + 0.5 + 1.0 + 2.0)


def test_a_small_real_search_writes_its_front_re_evaluated(tmp_path):
    from coprod_sim.analysis.optimise_report import write_report
    from coprod_sim.analysis.scenarios import analysis_scenario

    scenario = analysis_scenario(None, 2, {"population.n_citizens": 200, "population.n_neighbourhoods": 4,
                                           "simulation.steps": 12})
    spec = dataclasses.replace(SPEC, trials=4, population=4, fresh_replications=2, budget=None)
    result = optimise(scenario, spec, tmp_path, workers=1, progress=False)
    files = write_report(scenario, spec, result, workers=1)
    import pandas as pd

    front = pd.read_csv(files["front"])
    assert len(front) >= 1 and (front["fresh_replications"] == 2).all()
    assert files["figure"].exists() and "fresh seeds" in files["report"].read_text()


def test_a_finished_search_goes_on_with_more_trials(tmp_path):
    pytest.importorskip("optuna")
    spec = dataclasses.replace(SPEC, trials=10, population=5)
    scenario = builtin_scenario(2)
    first = optimise(scenario, spec, tmp_path, workers=1, progress=False, evaluator=toy())
    calls: list = []
    more = optimise(scenario, dataclasses.replace(spec, trials=15), tmp_path, workers=1, resume=True,
                    progress=False, evaluator=toy(calls))
    assert first.study_name == more.study_name and more.evaluated == 15 and len(set(calls)) == 5
    changed = dataclasses.replace(spec, budget=1.0)
    with pytest.raises(OptimiseError, match="different plan"):
        optimise(scenario, changed, tmp_path, workers=1, resume=True, progress=False, evaluator=toy())
