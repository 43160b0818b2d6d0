"""A run as a pure function; its outputs; the fixed-seed baseline; the headline behaviours."""

import json

import numpy as np
import pandas as pd
import pytest

from coprod_sim.model import CoproductionModel
from coprod_sim.params import Parameters
from coprod_sim.run import run, run_seed, summarise
from tests.baselines.regenerate import BASELINE, baseline_run

SMALL = {"population.n_citizens": 400, "population.n_neighbourhoods": 4, "simulation.steps": 24}


def test_same_inputs_same_results_bit_for_bit():
    a, b = run(SMALL, seed=11), run(SMALL, seed=11)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)
    pd.testing.assert_frame_equal(a.neighbourhoods, b.neighbourhoods, check_exact=True)
    assert not a.timeseries.equals(run(SMALL, seed=12).timeseries)


def test_replications_have_their_own_draws_and_match_the_model():
    r0, r1 = run(SMALL, seed=11, replication=0), run(SMALL, seed=11, replication=1)
    assert not r0.timeseries.equals(r1.timeseries)
    m = CoproductionModel(SMALL, seed=run_seed(11, 1))
    for _ in range(24):
        m.step()
    pd.testing.assert_frame_equal(m.timeseries(), r1.timeseries, check_exact=True)


def test_summary_is_end_and_last_quarter_mean():
    r = run(SMALL, seed=1)
    ts = r.timeseries
    assert r.summary["final"]["participation"] == ts["participation"].iloc[-1]
    last_quarter = ts["participation"].iloc[-6:].mean()
    assert r.summary["last_quarter_mean"]["participation"] == pytest.approx(last_quarter)
    np.testing.assert_equal(summarise(ts), r.summary)  # NaN (e.g. no co-design seats) == NaN


def test_outputs_round_trip(tmp_path):
    r = run(SMALL, seed=1)
    paths = r.write(tmp_path / "out")
    pd.testing.assert_frame_equal(pd.read_parquet(paths["timeseries_parquet"]), r.timeseries)
    csv = pd.read_csv(paths["timeseries_csv"])
    assert np.allclose(csv["participation"], r.timeseries["participation"])
    doc = json.loads(paths["summary"].read_text())
    assert doc["seed"] == 1 and doc["parameters"]["population.n_citizens"] == 400
    assert doc["parameters_changed"]["simulation.steps"] == 24


def test_fixed_seed_regression_baseline():
    """The default model's time series is what it was (regenerate deliberately, see regenerate.py)."""
    expected = pd.read_csv(BASELINE)
    got = baseline_run()
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-12,
                                  check_dtype=False)


@pytest.fixture(scope="module")
def replications():
    params = Parameters({"population.n_citizens": 2000, "simulation.steps": 96})
    off = params.replace(citizens__feedback_strength=0.0)
    return ([run(params, seed=5, replication=r).summary["last_quarter_mean"] for r in range(6)],
            [run(off, seed=5, replication=r).summary["last_quarter_mean"] for r in range(6)])


def test_headline_selection_bias(replications):
    on, _ = replications
    gap = np.array([r["participation_q5"] - r["participation_q1"] for r in on])
    # Every replication, with margin: the richest fifth takes part more than the poorest.
    assert gap.min() > 0.05
    assert min(r["concentration_index"] for r in on) > 0.05


def test_headline_virtuous_cycle(replications):
    on, off = replications
    # Participants' efficacy rises above their own starting level and above non-participants'.
    rise = np.array([r["efficacy_participants"] - r["efficacy_participants_baseline"] for r in on])
    gap = np.array([r["efficacy_participants"] - r["efficacy_non_participants"] for r in on])
    assert rise.min() > 0.05 and gap.min() > 0.1
    # Turning the feedback off removes the rise and lowers participation (F4), paired by seed.
    rise_off = np.array([r["efficacy_participants"] - r["efficacy_participants_baseline"] for r in off])
    assert np.abs(rise_off).max() < 0.02
    drop = np.array([a["participation_year"] - b["participation_year"] for a, b in zip(on, off, strict=True)])
    assert drop.mean() > 5 * drop.std(ddof=1) / np.sqrt(len(drop)) and drop.mean() > 0.02
