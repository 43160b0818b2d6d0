"""Builders shared by the tests: small states with varied dynamic state."""

from __future__ import annotations

import numpy as np

from coprod_sim.params import Parameters
from coprod_sim.rules.base import State
from coprod_sim.town.build import build_state
from coprod_sim.town.streams import Streams


def make_state(params: Parameters | None = None, seed: int = 0, n: int = 300, stir: bool = True) -> State:
    """A town of ``n`` citizens; with ``stir``, dynamic state is randomised as if mid-run."""
    params = (params or Parameters()).replace({"population.n_citizens": n,
                                               "population.n_neighbourhoods": 4})
    state = build_state(params, Streams.from_seed(seed))
    if stir:
        rng = np.random.default_rng(seed + 1)
        c = state.citizens
        c.self_efficacy[:] = rng.random(n)
        c.trust[:] = rng.random(n)
        c.invited[:] = rng.random(n) < 0.2
        c.offered[:] = rng.integers(-1, 3, n)
        c.mode[:] = np.where(rng.random(n) < 0.7, c.offered, -1)
        c.result[:] = np.where(c.mode >= 0, rng.integers(1, 3, n), np.where(c.offered >= 0, 3, 0))
        state.peer_active_share[:] = rng.random(n)
        state.coparticipant_share[:] = rng.random(n)
        state.tie_success_share[:] = rng.random(n)
        state.output_per_resident[:] = rng.random(len(state.neighbourhoods)) * 0.2
        a = state.administrations
        a.risk_aversion[:] = rng.random(len(a))
        a.successes[:] = rng.integers(0, 20, len(a))
        a.failures[:] = rng.integers(0, 20, len(a))
    return state
