"""The town at month 0: neighbourhoods, citizens, their network and the administrations."""

from __future__ import annotations

import numpy as np

from coprod_sim.names import MODES, N_QUINTILES
from coprod_sim.params import Parameters
from coprod_sim.town.network import build_network
from coprod_sim.town.population import build_citizens, build_neighbourhoods, draw_digital_access
from coprod_sim.town.state import Administrations, State
from coprod_sim.town.streams import Streams
from coprod_sim.town.table import town_table


def town_adjacency(params: Parameters) -> tuple[np.ndarray, np.ndarray] | None:
    """Which neighbourhoods touch (CSR arrays), for a town table with geometry; else None."""
    t = town_table(params)
    return None if t is None else t.adjacency


def mode_values(params: Parameters, group: str, stem: str) -> np.ndarray:
    """Per-mode parameters ``group.stem_individual`` etc. as an array of length 3."""
    return np.array([params[f"{group}.{stem}_{m}"] for m in MODES])


def build_administrations(params: Parameters, residents: np.ndarray) -> Administrations:
    """Administrations spread evenly around the mean risk aversion; capacity from residents."""
    ap, pol = params.administration, params.policy
    count = len(residents)
    offsets = np.linspace(-0.5, 0.5, count) if count > 1 else np.zeros(1)
    rho = np.clip(ap.risk_aversion + ap.risk_aversion_spread * offsets, 0.0, 1.0)
    per_thousand = mode_values(params, "administration", "capacity")
    capacity = np.rint(np.outer(residents, per_thousand) / 1000.0 * pol.capacity_scale)
    return Administrations(
        risk_aversion=rho,
        culture=rho.copy(),
        staff_incentives=np.full(count, ap.staff_incentives),
        capacity=capacity.astype(np.int64),
        residents=residents.astype(np.int64),
        successes=np.zeros(count, dtype=np.int64),
        failures=np.zeros(count, dtype=np.int64),
    )


def build_state(params: Parameters, streams: Streams) -> State:
    """The town at month 0."""
    hoods = build_neighbourhoods(params, streams.population)
    citizens = build_citizens(params, hoods, streams.population)
    citizens.digital_access[:] = draw_digital_access(citizens, params, streams.digital)
    network = build_network(params, citizens, hoods, streams.network, streams.organisers,
                            adjacent=town_adjacency(params))
    residents = np.bincount(citizens.administration, minlength=params.population.n_administrations)
    n = citizens.n
    return State(
        citizens=citizens,
        neighbourhoods=hoods,
        administrations=build_administrations(params, residents),
        network=network,
        degree=np.diff(network.indptr).astype(np.float64),
        peer_active_share=np.zeros(n),
        coparticipant_share=np.zeros(n),
        tie_success_share=np.zeros(n),
        output_per_resident=np.zeros(len(hoods)),
        seat_counts=np.zeros((params.simulation.year_window, 2, N_QUINTILES), dtype=np.int64),
        seats_opened=np.zeros(params.simulation.year_window, dtype=np.int64),
        rng=streams.rules,
    )
