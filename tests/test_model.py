"""The Mesa model: agents as views, data collection, seeding."""

import multiprocessing

import mesa
import numpy as np
import pytest

from coprod_sim.agents import Administration, Citizen
from coprod_sim.model import CoproductionModel
from coprod_sim.names import OUTCOMES

SMALL = {"population.n_citizens": 300, "population.n_neighbourhoods": 3, "simulation.steps": 5}


def test_is_a_mesa_model_with_administration_agents():
    m = CoproductionModel(SMALL, seed=1)
    assert isinstance(m, mesa.Model)
    assert len(m.administrations) == m.params.population.n_administrations
    assert all(isinstance(a, Administration) for a in m.administrations)
    assert set(m.agents) == set(m.administrations)  # no citizen object made yet
    a = m.administrations[0]
    assert a.risk_aversion == m.state.administrations.risk_aversion[0]
    assert sum(a.capacity.values()) > 0 and len(a.neighbourhoods) >= 1


def test_citizens_are_thin_views_on_the_arrays():
    m = CoproductionModel(SMALL, seed=1)
    c = m.citizens[7]
    assert isinstance(c, Citizen) and c is m.citizens[7] and m.citizens[-1].index == 299
    assert c.self_efficacy == m.state.citizens.self_efficacy[7]
    c.self_efficacy = 0.99
    assert m.state.citizens.self_efficacy[7] == 0.99
    m.step()
    assert c.self_efficacy == m.state.citizens.self_efficacy[7]
    assert all(isinstance(t, Citizen) for t in c.neighbours())
    assert len(m.citizens) == 300 and len(m.citizens[:3]) == 3
    with pytest.raises(IndexError):
        m.citizens[300]


def test_records_every_outcome_each_month_and_stops():
    m = CoproductionModel(SMALL, seed=2)
    m.run_model()
    ts = m.timeseries()
    assert list(ts["step"]) == list(range(6))
    assert set(OUTCOMES) <= set(ts.columns)
    assert not m.running and m.steps == 5
    nts = m.neighbourhood_timeseries()
    assert len(nts) == 6 * 3 and nts["participation_year"].between(0, 1).all()


def test_keyword_overrides_use_double_underscores():
    m = CoproductionModel(seed=0, population__n_citizens=250, policy__outreach="universal")
    assert m.params["policy.outreach"] == "universal" and m.state.citizens.n == 250


def test_same_seed_same_run_different_seed_different_run():
    def series(seed):
        m = CoproductionModel(SMALL, seed=seed)
        for _ in range(5):
            m.step()
        return m.timeseries()

    a, b, c = series(4), series(4), series(5)
    assert a.equals(b)
    assert not a.equals(c)


def test_runs_under_mesa_batch_run():
    method = multiprocessing.get_start_method(allow_none=True)
    try:
        rows = mesa.batch_run(CoproductionModel, {"population__n_citizens": [200, 300],
                                                  "simulation__steps": 3},
                              max_steps=3, display_progress=False, rng=[7])
        again = mesa.batch_run(CoproductionModel, {"population__n_citizens": 200},
                               max_steps=3, display_progress=False, rng=[7])
    finally:  # batch_run forces the 'spawn' start method on the whole process
        multiprocessing.set_start_method(method, force=True)
    assert len(rows) == 2 and {r["population__n_citizens"] for r in rows} == {200, 300}
    assert all(0 <= r["participation"] <= 1 for r in rows)
    assert again[0]["participation_year"] == rows[0]["participation_year"]


def test_graph_is_the_network():
    m = CoproductionModel(SMALL, seed=0)
    g = m.graph()
    assert g.number_of_edges() == m.state.network.nnz // 2
    assert np.isclose(np.mean([d for _, d in g.degree()]), m.state.degree.mean())
