"""coprod calibrate: the [calibrate] table, recovering known parameters, resuming, the outputs."""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pandas as pd
import pytest

from coprod_sim.analysis import calibrate as cal
from coprod_sim.analysis.calibrate_report import to_toml, write_outputs
from coprod_sim.scenario.calibrate import load_calibrate
from coprod_sim.scenario.errors import ScenarioError
from coprod_sim.scenario.loader import load_scenario

HOODS = pd.DataFrame({"id": list("ABCDEF"), "name": ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Phi"],
                      "population": [300, 250, 200, 300, 150, 200],
                      "median_income": [21000, 35000, 28000, 52000, 18000, 41000],
                      "urban": [1, 1, 0, 1, 0, 0]})
SCENARIO = """name = "fit"
steps = 36
[town]
table = "data/hoods.csv"
advantage = "median_income"
[calibrate]
trials = {trials}
replications = 2
[calibrate.parameters]
"citizens.base_individual" = {{ low = -7.0, high = -4.0 }}
"""
TRUTH = {"citizens.base_individual": -5.0, "citizens.base_group": -7.5}
GROUP = '"citizens.base_group" = { low = -9.5, high = -6.0 }\n'


def make_study(folder, trials=30, truth=TRUTH, seed=101, extra=""):
    """A table whose observed participation (by neighbourhood, and in group mode town-wide) is
    one run of the model with known values."""
    from coprod_sim.run import neighbourhood_participation, run
    from coprod_sim.town.table import _cached

    (folder / "data").mkdir(exist_ok=True)
    HOODS.to_csv(folder / "data" / "hoods.csv", index=False)
    path = folder / "fit.toml"
    path.write_text(SCENARIO.format(trials=trials) + extra)
    params = load_scenario(path).run_at(0, 0).params.replace(truth)
    result = run(params, seed, replication=0)
    observed = HOODS.assign(
        participation=neighbourhood_participation(result.neighbourhoods, params.simulation.steps),
        participation_group=result.summary["last_quarter_mean"]["participation_year_group"])
    observed.to_csv(folder / "data" / "hoods.csv", index=False)
    _cached.cache_clear()
    return path


def test_recovers_known_parameters_within_their_reported_uncertainty(tmp_path):
    path = make_study(tmp_path, trials=40, extra=GROUP)
    result = cal.calibrate(load_scenario(path), load_calibrate(path), tmp_path / "out")
    assert result.method == "quadratic response surface"
    assert result.observations.targets == {"participation_year_group": pytest.approx(
        pd.read_csv(tmp_path / "data" / "hoods.csv")["participation_group"][0])}
    for key, (low, high) in load_calibrate(path).parameters.items():
        lo, hi = result.interval[key]
        assert lo <= TRUTH[key] <= hi, (key, lo, hi)
        assert hi - lo < 0.6 * (high - low), (key, lo, hi)  # informative: well inside the searched range
    assert len(result.trials) == 40 and result.ensemble.shape[0] >= 3


def interrupt_at(call: int):
    """simulate_trial, raising KeyboardInterrupt (Ctrl+C) at its ``call``-th call."""
    real, calls = cal.simulate_trial, []

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kw)

    return interrupted


def test_resumes_after_an_interrupt(tmp_path, monkeypatch):
    path = make_study(tmp_path, trials=8)
    scenario, spec = load_scenario(path), load_calibrate(path)
    real = cal.simulate_trial
    monkeypatch.setattr(cal, "simulate_trial", interrupt_at(5))  # noise runs, three trials, Ctrl+C
    with pytest.raises(cal.CalibrateInterrupted) as info:
        cal.calibrate(scenario, spec, tmp_path / "out")
    assert info.value.completed == 3
    monkeypatch.setattr(cal, "simulate_trial", real)
    first = cal.calibrate(scenario, dataclasses.replace(spec, trials=3), tmp_path / "out").trials
    result = cal.calibrate(scenario, spec, tmp_path / "out")
    assert result.resumed == 3 and len(result.trials) == 8
    kept = result.trials.set_index("trial").loc[first["trial"], "citizens.base_individual"]
    assert np.allclose(kept.to_numpy(), first["citizens.base_individual"].to_numpy())  # not redone


def test_writes_a_scenario_the_other_commands_run_as_it_is(tmp_path):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    path = make_study(tmp_path, trials=4)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    for name in ("fit.png", "fit.csv", "trials.csv", "calibrate.md", "calibrated.toml", "hoods.csv"):
        assert (out / name).is_file()
    assert "good fits from the " in (out / "calibrate.md").read_text()  # the method named in a sentence
    fitted = load_scenario(out / "calibrated.toml").base["citizens.base_individual"]
    best = pd.read_csv(out / "trials.csv").sort_values("loss").iloc[0]["citizens.base_individual"]
    assert fitted == pytest.approx(best, abs=1e-5)
    run = CliRunner().invoke(app, ["run", str(out / "calibrated.toml"), "--steps", "2"])
    assert run.exit_code == 0, run.output
    again = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out), "--trials", "5",
                                     "--no-progress"])
    assert again.exit_code == 0 and "Resumed a study of 4 trials" in again.output


@pytest.mark.parametrize(("table", "expected"), [
    ("", "has no [calibrate] table"),
    ("[calibrate]\ntrails = 3\n", "Did you mean 'trials'"),
    ('[calibrate.parameters]\n"policy.outreach_rate" = { low = 0.0, high = 0.1 }\n', "behavioural"),
    ('[calibrate.parameters]\n"citizens.base_individual" = { low = -4.0, high = -7.0 }\n', "must be below"),
    ('[calibrate.parameters]\n"citizens.base_individual" = { low = -4.0, high = 30.0 }\n', "out of bounds"),
    ('[calibrate.parameters]\n"citizens.base_individual" = { low = -7.0, high = -4.0 }\n'
     "[calibrate.targets]\nparticipation_yr = 0.2\n", "Did you mean 'participation_year'"),
])
def test_bad_calibrate_tables_name_the_key(tmp_path, table, expected):
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n' + table)
    with pytest.raises(ScenarioError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        load_calibrate(path)


def test_no_observations_and_no_targets_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    HOODS.to_csv(tmp_path / "data" / "hoods.csv", index=False)
    path = tmp_path / "fit.toml"
    path.write_text(SCENARIO.format(trials=3))
    with pytest.raises(cal.CalibrateError, match="nothing to fit"):
        cal.calibrate(load_scenario(path), load_calibrate(path), tmp_path / "out")


def test_toml_writer_round_trips_a_scenario():
    data = {"name": 'a "quoted" name', "steps": 12, "seed": 3, "town": {"table": "x.csv", "scale": 0.01},
            "parameters": {"citizens.base_individual": -5.25, "policy.outreach": "universal"},
            "policies": {"more": {"policy.outreach_rate": 0.1, "description": "line\nbreak"}},
            "sweep": {"design": "grid", "administration.risk_aversion": [0.2, 0.8],
                      "parameters": {"x.y": {"low": 0.0, "high": 1.0}}}}
    assert tomllib.loads(to_toml(data)) == data


def test_write_outputs_is_importable():
    assert callable(write_outputs)


def test_ctrl_c_through_the_command_prints_no_traceback_and_its_hint_resumes(tmp_path, monkeypatch):
    # the hint must repeat --steps/--citizens (part of the plan), or the study is refused as
    # another plan's; Optuna's warning (with the KeyboardInterrupt's traceback) is not shown
    import logging
    import shlex

    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    path = make_study(tmp_path, trials=6)
    out = tmp_path / "out"
    real = cal.simulate_trial
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("optuna").addHandler(handler)
    monkeypatch.setattr(cal, "simulate_trial", interrupt_at(4))  # noise runs, two trials, Ctrl+C
    try:
        first = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out), "--steps", "12",
                                         "--no-progress"])
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    assert first.exit_code == 130, first.output
    assert "Traceback" not in first.output and first.output.count("Interrupted") == 1, first.output
    assert not [r for r in records if r.levelno >= logging.WARNING], [r.getMessage() for r in records]
    hint = " ".join(first.output.split()).split("To continue: coprod ")[1]
    assert "--steps 12" in hint
    monkeypatch.setattr(cal, "simulate_trial", real)
    again = CliRunner().invoke(app, [*shlex.split(hint), "--no-progress"])
    assert again.exit_code == 0 and "Resumed a study of 2 trials" in again.output, again.output
