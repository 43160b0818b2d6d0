"""Neighbourhood social networks, built vectorised and stored as a sparse adjacency (CSR).

Each neighbourhood is a Watts-Strogatz small world whose ring is ordered by status, so that
neighbours on the ring are of similar status (homophily). Tie density and clustering rise
with the neighbourhood's advantage (social capital; Putnam 2000). A few ties bridge
neighbourhoods. networkx is too slow for a city, so the generator is NumPy; networkx is what
a user gets back (``to_networkx``) and what the tests use to check the structure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from coprod_sim.params import Parameters
from coprod_sim.town.population import Citizens, Neighbourhoods

if TYPE_CHECKING:
    import networkx as nx


def build_network(params: Parameters, citizens: Citizens, hoods: Neighbourhoods,
                  rng: np.random.Generator, organiser_rng: np.random.Generator | None = None,
                  adjacent: tuple[np.ndarray, np.ndarray] | None = None) -> sp.csr_array:
    """Symmetric 0/1 adjacency of the town, no self-ties, as a float32 CSR array.

    ``organiser_rng`` draws the community organisers' ties on a stream of their own, so that
    the policy leaves every other tie as it is (paired comparisons). ``adjacent`` (CSR arrays
    of which neighbourhoods touch, from a town table's geometry) makes ``town.adjacent_bridging``
    of the bridging ties join neighbouring areas.
    """
    net = params.network
    n = citizens.n
    local_u, local_v = _local_ties(net, citizens, hoods, rng)
    n_local = len(local_u)
    share = net.bridging_share
    n_bridges = round(n_local * share / (1 - share)) if share > 0 else 0
    if adjacent is None:
        bridge_u, bridge_v = _random_cross_ties(citizens.neighbourhood, n_bridges, np.arange(n), rng)
    else:
        bridge_u, bridge_v = _geographic_cross_ties(params, citizens, hoods, n_bridges, adjacent, rng)
    org_u, org_v = _organiser_ties(params, citizens, hoods, organiser_rng or rng)
    u = np.concatenate([local_u, bridge_u, org_u])
    v = np.concatenate([local_v, bridge_v, org_v])
    return adjacency(u, v, n)


def adjacency(u: np.ndarray, v: np.ndarray, n: int) -> sp.csr_array:
    """Undirected simple graph from an edge list: symmetric, deduplicated, no loops."""
    keep = u != v
    u, v = u[keep], v[keep]
    rows = np.concatenate([u, v]).astype(np.int32)
    cols = np.concatenate([v, u]).astype(np.int32)
    a = sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0
    a.indices = a.indices.astype(np.int32, copy=False)
    a.indptr = a.indptr.astype(np.int32 if a.nnz < 2**31 else np.int64, copy=False)
    return a


def _local_ties(net, citizens: Citizens, hoods: Neighbourhoods, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Small-world ties inside each neighbourhood, on a ring sorted by status."""
    n = citizens.n
    hood = citizens.neighbourhood
    # Ring order: within each neighbourhood, by a mix of status and chance.
    key = net.homophily * citizens.ses + (1 - net.homophily) * rng.random(n)
    ring = np.lexsort((key, hood))  # ring[j] = citizen at ring position j
    start = np.concatenate([[0], np.cumsum(hoods.size)[:-1]])
    size = hoods.size
    pos = np.arange(n) - start[hood[ring]]  # position within the neighbourhood ring
    # Ties per citizen scale with advantage, normalised so the town's mean is as asked.
    weight = 1.0 + net.degree_advantage_effect * (hoods.advantage - 0.5)
    weight = weight / np.average(weight, weights=size)
    half = 0.5 * net.mean_degree * (1 - net.bridging_share) * weight[hood[ring]]
    half = np.minimum(half, (size[hood[ring]] - 1) / 2)
    forward = np.floor(half).astype(np.int64)
    forward += rng.random(n) < (half - forward)
    rewire_p = (net.rewiring * (1 - net.clustering_advantage_effect * hoods.advantage))[hood[ring]]
    us, vs = [], []
    for d in range(1, int(forward.max(initial=0)) + 1):
        src = np.flatnonzero(forward >= d)
        m = size[hood[ring[src]]]
        dst = src - pos[src] + (pos[src] + d) % m
        rewired = rng.random(len(src)) < rewire_p[src]
        dst[rewired] = (src - pos[src] + np.floor(rng.random(len(src)) * m).astype(np.int64))[rewired]
        us.append(ring[src])
        vs.append(ring[dst])
    if not us:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(us), np.concatenate(vs)


def _random_cross_ties(hood: np.ndarray, count: int, pool: np.ndarray, rng: np.random.Generator,
                       targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` ties between citizens of different neighbourhoods, one end drawn from pool."""
    if count == 0 or len(pool) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    targets = np.arange(len(hood)) if targets is None else targets
    # Draw with some slack and drop same-neighbourhood pairs.
    draw = int(count * 1.5) + 16
    u = pool[rng.integers(0, len(pool), draw)]
    v = targets[rng.integers(0, len(targets), draw)]
    ok = np.flatnonzero(hood[u] != hood[v])[:count]
    return u[ok], v[ok]


def _geographic_cross_ties(params: Parameters, citizens: Citizens, hoods: Neighbourhoods, count: int,
                           adjacent: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Bridging ties of which ``town.adjacent_bridging`` join adjacent neighbourhoods.

    Friendship becomes less likely with distance (Liben-Nowell et al. 2005, PNAS 102(33)):
    for a near tie, one end is a citizen drawn at random, the other a citizen drawn at random
    in one of the neighbourhoods touching theirs (each neighbour equally likely); citizens of
    an area with no neighbour, and the remaining ties, bridge any two neighbourhoods.
    """
    indptr, indices = adjacent
    hood = citizens.neighbourhood
    near = round(count * params.town.adjacent_bridging)
    u = rng.integers(0, citizens.n, near)
    lo, n_adj = indptr[hood[u]], np.diff(indptr)[hood[u]]
    has = n_adj > 0
    pick = lo + np.floor(rng.random(near) * n_adj).astype(np.int64)
    target = indices[np.where(has, pick, 0)] if len(indices) else np.zeros(near, np.int64)
    start = np.concatenate([[0], np.cumsum(hoods.size)[:-1]])  # citizens are stored by neighbourhood
    v = start[target] + np.floor(rng.random(near) * hoods.size[target]).astype(np.int64)
    u, v = u[has], v[has]
    far_u, far_v = _random_cross_ties(hood, count - len(u), np.arange(citizens.n), rng)
    return np.concatenate([u, far_u]), np.concatenate([v, far_v])


def _organiser_ties(params: Parameters, citizens: Citizens, hoods: Neighbourhoods,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Community organisers bridge the least advantaged half of neighbourhoods to the rest."""
    count = round(params.policy.community_organisers * citizens.n / 1000)
    low = hoods.advantage < np.median(hoods.advantage) if len(hoods) > 1 else np.ones(1, bool)
    pool = np.flatnonzero(low[citizens.neighbourhood])
    return _random_cross_ties(citizens.neighbourhood, count, pool, rng)


def degree(adjacency: sp.csr_array) -> np.ndarray:
    return np.diff(adjacency.indptr)


def to_networkx(adjacency: sp.csr_array, citizens: Citizens | None = None) -> nx.Graph:
    """The network as a networkx graph, with citizens' fixed attributes on the nodes."""
    import networkx as nx  # here: only the page and analyses need it, and it is slow to import

    g = nx.from_scipy_sparse_array(adjacency, edge_attribute=None)
    if citizens is not None:
        nx.set_node_attributes(g, dict(enumerate(citizens.neighbourhood.tolist())), "neighbourhood")
        nx.set_node_attributes(g, dict(enumerate(citizens.ses.tolist())), "ses")
    return g
