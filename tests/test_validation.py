"""Reduced validation against docs/facts.md: every check, on fewer replications and smaller towns.

The same experiments and checks as ``python -m experiments.validation`` (REDUCED settings),
reading the defaults from the parameter tree, so a default changed enough to break a fact
fails here. The negative controls show that each kind of check can fail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.harness import make_job, mean_ci, run_jobs
from experiments.validation.facts import (
    REDUCED,
    ScenarioError,
    load_all,
    load_scenario,
    matched_effect,
    validate,
)

FACTS = [s.id for s in load_all()]


@pytest.fixture(scope="module")
def reduced(tmp_path_factory) -> dict:
    rows = validate(REDUCED, out=tmp_path_factory.mktemp("validation"))
    return {r.id: r for r in rows}


def test_every_fact_has_a_scenario():
    assert [f"F{i}" for i in range(1, 13)] == FACTS


@pytest.mark.parametrize("fact", FACTS)
def test_fact_holds_with_the_defaults(reduced, fact):
    row = reduced[fact]
    if row.passed is None:
        pytest.skip(row.simulated)
    assert row.passed, f"{fact} ({row.expected}) fails: {row.simulated}"
    assert row.figure is not None and row.figure.stat().st_size > 10_000


CONTROLS = [
    # a default broken on purpose -> the fact whose check must then fail
    ("F1", {"citizens.base_collective": -1.0}),  # collective as common as individual
    ("F2", {"citizens.efficacy_weight": 0.0}),  # self-efficacy no longer matters
    ("F4", {"citizens.mastery_gain": 0.0}),  # no mastery: the cycle can only hurt
    ("F5", {"administration.reliability_ses_weight": 0.0, "population.competence_ses_effect": 0.0,
            "population.resources_ses_effect": 0.0, "population.efficacy_ses_effect": 0.0,
            "population.trust_ses_effect": 0.0}),  # no status gradient anywhere
    ("F11", {"citizens.base_individual": -9.0, "citizens.base_group": -9.0,
             "citizens.base_collective": -9.0}),  # almost nobody takes part
]


@pytest.mark.parametrize(("fact", "broken"), CONTROLS, ids=[c[0] for c in CONTROLS])
def test_a_broken_default_fails_its_fact(fact, broken):
    settings = dataclasses.replace(REDUCED, replications=4, base_overrides=broken)
    (row,) = validate(settings, facts=[fact])
    assert row.passed is False, f"{fact} still passes with {broken}: {row.simulated}"


def test_matched_effect_recovers_a_known_effect():
    rng = np.random.default_rng(0)
    n = 20_000
    start = rng.random(n)
    quintile = rng.integers(0, 5, n)
    # Treatment depends on the starting level (selection); its effect is +0.1.
    treated = rng.random(n) < start
    change = 0.3 * (0.5 - start) + 0.1 * treated + 0.01 * rng.standard_normal(n)
    df = pd.DataFrame({"efficacy_start": start, "self_efficacy": start + change, "quintile": quintile})
    assert matched_effect(df, treated, ~treated, bins=20) == pytest.approx(0.1, abs=0.01)
    naive = change[treated].mean() - change[~treated].mean()
    assert abs(naive - 0.1) > 0.05  # the matching is what removes the selection


def test_paired_replications_do_not_depend_on_workers():
    jobs = [make_job({"population.n_citizens": 300, "simulation.steps": 14}, 3, r) for r in range(3)]
    one, two = run_jobs(jobs, workers=1), run_jobs(jobs, workers=2)
    for j in jobs:
        pd.testing.assert_frame_equal(one[j]["timeseries"], two[j]["timeseries"], check_exact=True)


def test_mean_ci_covers_the_mean():
    e = mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert e.n == 3 and e.mean == 2.0 and e.low < 2.0 < e.high


def test_bad_scenario_names_file_and_key(tmp_path: Path):
    bad = tmp_path / "F99_bad.toml"
    bad.write_text('id = "F99"\nfact = "x"\nsource = "x"\nexpected = "x"\ncheck = "mode_ratio"\n'
                   '[arms.default]\n"citizens.efficacy_wieght" = 3\n')
    with pytest.raises(ScenarioError, match=r"F99_bad.toml.*citizens.efficacy_wieght"):
        load_scenario(bad)
    bad.write_text('id = "F99"\nfact = "x"\nsource = "x"\nexpected = "x"\ncheck = "nope"\n')
    with pytest.raises(ScenarioError, match="check = 'nope'"):
        load_scenario(bad)
