"""The idiomatic Mesa comparator (benchmarks/mesa_comparator.py) is the kernel's model.

The benchmark divides the comparator's time by the kernel's; that ratio means something only
if both simulate the same thing. The comparator draws its own random numbers, so runs differ
draw by draw: what must agree is the distribution of outcomes over replications. Each
replication is one town (built by coprod-sim from the replication's seed) run by both; the
outcomes are the last-quarter means of participation, participation over the year, the
concentration index of participation over SES and the self-efficacy gap of participants.
Pairing by town removes the town-to-town spread, so the tests see the rules, not the towns:
paired t and Wilcoxon signed-rank tests on the differences, Kolmogorov-Smirnov on the two
samples. A control with a weaker virtuous cycle shows the same tests tell a different model
apart. The tests run the comparator's plain-list variant (half the time); a last test shows
that it gives exactly the results of the idiomatic network-space variant the benchmark times.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmarks.mesa_comparator import REPORTED, Citizen, ComparatorModel, run_comparator
from coprod_sim.outcomes import bias as metrics
from coprod_sim.outcomes.record import observe
from coprod_sim.params import Parameters
from coprod_sim.run import run

SCENARIO = {"population.n_citizens": 400, "population.n_neighbourhoods": 4, "simulation.steps": 30}
SEED = 101
REPLICATIONS = 40
OUTCOMES = ["participation", "participation_year", "concentration_index", "efficacy_gap"]
ALPHA = 0.01 / (3 * len(OUTCOMES))  # family-wise 1% over the three tests of every outcome


def last_quarter(ts: pd.DataFrame) -> pd.Series:
    return ts[OUTCOMES].iloc[-math.ceil(SCENARIO["simulation.steps"] / 4):].mean()


@pytest.fixture(scope="module")
def kernel_outcomes() -> pd.DataFrame:
    return pd.DataFrame([last_quarter(run(SCENARIO, seed=SEED, replication=r,
                                          record_neighbourhoods=False).timeseries)
                         for r in range(REPLICATIONS)])


def comparator_outcomes(overrides: dict | None = None) -> pd.DataFrame:
    settings = {**SCENARIO, **(overrides or {})}
    return pd.DataFrame([last_quarter(run_comparator(settings, seed=SEED, replication=r,
                                                     space="lists"))
                         for r in range(REPLICATIONS)])


def p_values(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Paired t, Wilcoxon signed-rank and two-sample KS p-values per outcome."""
    return {col: {"paired_t": stats.ttest_rel(a[col], b[col]).pvalue,
                  "wilcoxon": stats.wilcoxon(a[col], b[col]).pvalue,
                  "ks": stats.ks_2samp(a[col], b[col]).pvalue} for col in OUTCOMES}


def test_comparator_and_kernel_give_the_same_distributions_of_outcomes(kernel_outcomes):
    mesa_outcomes = comparator_outcomes()
    p = p_values(kernel_outcomes, mesa_outcomes)
    assert all(min(tests.values()) > ALPHA for tests in p.values()), p
    # Not only undetected: the mean difference is small next to the spread between towns.
    for col in OUTCOMES:
        gap = abs((kernel_outcomes[col] - mesa_outcomes[col]).mean())
        assert gap < 0.25 * kernel_outcomes[col].std(), (col, gap)


def test_the_same_tests_tell_a_weaker_virtuous_cycle_apart(kernel_outcomes):
    """Control: the comparator with mastery gains cut by a third must be detected."""
    weaker = comparator_outcomes({"citizens.mastery_gain": Parameters().citizens.mastery_gain * 2 / 3})
    p = p_values(kernel_outcomes, weaker)
    assert any(min(tests.values()) < ALPHA for tests in p.values()), p


def test_comparator_measures_outcomes_as_the_kernel_does():
    """On one town and one state, the comparator's measures equal coprod_sim.outcomes.record'."""
    m = ComparatorModel(SCENARIO, seed=3, collect=False)  # the town of run_seed(3)
    for _ in range(14):
        m.step()
    m.observe()
    from coprod_sim.run import run_seed
    from coprod_sim.town.build import build_state
    from coprod_sim.town.streams import Streams

    params = Parameters(SCENARIO)
    state = build_state(params, Streams.from_seed(run_seed(3)))
    c = state.citizens
    citizens = list(m.agents_by_type[Citizen])
    assert np.allclose([x.ses_rank for x in citizens], c.ses_rank)  # the same town
    c.mode[:] = [-1 if x.mode is None else x.mode for x in citizens]
    c.activity[:] = [x.activity for x in citizens]
    c.self_efficacy[:] = [x.self_efficacy for x in citizens]
    expected = observe(state, params)
    for name in REPORTED:
        assert m.latest[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-12), name
    year = (c.activity & 0xFFF) != 0
    assert m.latest["concentration_index"] == pytest.approx(metrics.concentration_index(year, c.ses_rank))


def test_the_network_space_and_the_plain_lists_give_the_same_runs():
    """Mesa's network space (timed by the benchmark) changes how ties are read, nothing else."""
    settings = {**SCENARIO, "simulation.steps": 12}
    idiomatic = run_comparator(settings, seed=5, replication=2, space="network")
    lists = run_comparator(settings, seed=5, replication=2, space="lists")
    pd.testing.assert_frame_equal(idiomatic, lists, check_exact=True)
    assert idiomatic["participation_year"].iloc[-1] > 0
