"""Neighbourhood networks: the structure the parameters ask for, checked with networkx."""

import networkx as nx
import numpy as np
import pytest

from coprod_sim.params import Parameters
from coprod_sim.town.network import adjacency, build_network, degree, to_networkx
from coprod_sim.town.population import build_citizens, build_neighbourhoods


def build(n=4000, seed=1, **overrides):
    p = Parameters({"population.n_citizens": n, **overrides})
    rng = np.random.default_rng(seed)
    hoods = build_neighbourhoods(p, rng)
    c = build_citizens(p, hoods, rng)
    return p, hoods, c, build_network(p, c, hoods, rng, np.random.default_rng(seed + 100))


def test_adjacency_is_a_simple_undirected_graph():
    _, _, c, a = build()
    assert a.shape == (c.n, c.n)
    assert (a != a.T).nnz == 0
    assert a.diagonal().sum() == 0
    assert set(np.unique(a.data)) == {1.0}


def test_adjacency_removes_loops_and_duplicates():
    a = adjacency(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 2]), 3)
    assert a.nnz == 2 and a[0, 1] == 1 and a[2, 2] == 0


@pytest.mark.parametrize("mean_degree", [4.0, 8.0, 12.0])
def test_mean_degree_is_as_asked(mean_degree):
    _, _, _, a = build(**{"network.mean_degree": mean_degree})
    assert abs(degree(a).mean() - mean_degree) / mean_degree < 0.06


def test_bridging_share_is_as_asked():
    for share in (0.0, 0.05, 0.2):
        _, _, c, a = build(**{"network.bridging_share": share})
        rows = np.repeat(np.arange(c.n), degree(a))
        cross = (c.neighbourhood[rows] != c.neighbourhood[a.indices]).mean()
        assert abs(cross - share) < 0.015, (share, cross)


def test_clustering_is_small_world_and_falls_with_rewiring():
    lo = nx.average_clustering(to_networkx(build(**{"network.rewiring": 0.05})[3]))
    hi = nx.average_clustering(to_networkx(build(**{"network.rewiring": 0.6})[3]))
    random_graph = 8.0 / 4000
    assert lo > 0.3 and lo > hi > 10 * random_graph


def test_social_capital_rises_with_advantage():
    _, _, c, a = build(n=8000, **{"population.n_neighbourhoods": 4, "network.bridging_share": 0.0})
    g = to_networkx(a)
    deg = degree(a)
    poor, rich = c.neighbourhood == 0, c.neighbourhood == 3
    assert deg[rich].mean() > deg[poor].mean() * 1.2
    clust = nx.clustering(g)
    c_rich = np.mean([clust[i] for i in np.flatnonzero(rich)])
    c_poor = np.mean([clust[i] for i in np.flatnonzero(poor)])
    assert c_rich > c_poor + 0.05


def test_ties_are_homophilous_by_status():
    def tie_correlation(h):
        _, _, c, a = build(**{"network.homophily": h, "population.ses_segregation": 0.3})
        rows = np.repeat(np.arange(c.n), degree(a))
        return np.corrcoef(c.ses[rows], c.ses[a.indices])[0, 1]

    none, strong = tie_correlation(0.0), tie_correlation(0.9)
    assert strong > none + 0.3


def test_community_organisers_add_bridges_from_the_least_advantaged_without_moving_other_ties():
    _, hoods, c, base = build(**{"policy.community_organisers": 0.0})
    _, _, _, more = build(**{"policy.community_organisers": 20.0})
    assert more.nnz > base.nnz
    extra = (more - base)
    assert extra.min() >= 0  # every base tie is kept
    extra = extra.tocoo()
    low = hoods.advantage < np.median(hoods.advantage)
    ends = np.stack([extra.row, extra.col])
    assert np.all(low[c.neighbourhood[ends]].any(axis=0))
    assert np.all(c.neighbourhood[extra.row] != c.neighbourhood[extra.col])


def test_networkx_view_carries_attributes():
    _, _, c, a = build(n=300)
    g = to_networkx(a, c)
    assert g.number_of_nodes() == 300 and g.number_of_edges() == a.nnz // 2
    assert g.nodes[5]["neighbourhood"] == c.neighbourhood[5]


def test_builds_a_large_town(benchmark_size=100_000):
    # Structure at scale (speed is measured in benchmarks/, not asserted here).
    a = build(n=benchmark_size)[3]
    assert a.shape[0] == benchmark_size and abs(degree(a).mean() - 8) < 0.5
