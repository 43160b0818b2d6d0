"""The town's state as the month and the rules see it: arrays of citizens, neighbourhoods,
administrations, the social network and the shares of ties derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import scipy.sparse as sp

from coprod_sim.town.population import Citizens, Neighbourhoods


@dataclass
class Administrations:
    """Arrays of length A, one entry per administration."""

    risk_aversion: np.ndarray  # [0, 1], learned
    culture: np.ndarray  # initial risk aversion, what learning is anchored to
    staff_incentives: np.ndarray  # [0, 1]
    capacity: np.ndarray  # int (A, M): collaborations supported per month and mode
    residents: np.ndarray  # int (A,): citizens served
    successes: np.ndarray  # int (A,): successful episodes this month
    failures: np.ndarray  # int (A,): failed episodes this month

    def __len__(self) -> int:
        return len(self.risk_aversion)


@dataclass
class State:
    """Everything a rule may read. Arrays are views a rule must not write to."""

    citizens: Citizens
    neighbourhoods: Neighbourhoods
    administrations: Administrations
    network: sp.csr_array  # symmetric 0/1 adjacency, float32
    degree: np.ndarray  # ties per citizen
    step: int = 0  # months completed before this one
    # Derived each month by the kernel before the stages that use them.
    peer_active_share: np.ndarray = field(default=None)  # share of ties active last month
    # share of ties active this month in group or collective mode
    coparticipant_share: np.ndarray = field(default=None)
    tie_success_share: np.ndarray = field(default=None)  # share of ties that succeeded this month
    output_per_resident: np.ndarray = field(default=None)  # (K,) coproduced output this month
    # (W, 2, 5): residents asked for a co-design seat, and those who accepted, by quintile, in
    # each of the last W = year_window months (slot: month mod W); outcomes are ratios of the
    # window's sums, since a month's ratio is biased where asking stops at the first acceptance
    seat_counts: np.ndarray = field(default=None)
    seats_opened: np.ndarray = field(default=None)  # (W,): seats opened in each of those months
    rng: np.random.Generator = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.citizens.n

    def read_only(self) -> State:
        """A copy of this state whose arrays are read-only views (for handing to rules)."""
        return State(
            citizens=_frozen_copy(self.citizens),
            neighbourhoods=_frozen_copy(self.neighbourhoods),
            administrations=_frozen_copy(self.administrations),
            network=_frozen_network(self.network),
            degree=_frozen(self.degree),
            step=self.step,
            peer_active_share=_frozen(self.peer_active_share),
            coparticipant_share=_frozen(self.coparticipant_share),
            tie_success_share=_frozen(self.tie_success_share),
            output_per_resident=_frozen(self.output_per_resident),
            seat_counts=_frozen(self.seat_counts),
            seats_opened=_frozen(self.seats_opened),
            rng=self.rng,
        )


def _frozen(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    v = a.view()
    v.flags.writeable = False
    return v


def _frozen_copy(obj):
    return type(obj)(**{f.name: _frozen(getattr(obj, f.name)) for f in fields(obj)})


def _frozen_network(network: sp.csr_array | None) -> sp.csr_array | None:
    """The same adjacency, sharing memory, whose data and index arrays are read-only."""
    if network is None:
        return None
    view = sp.csr_array((network.data.view(), network.indices.view(), network.indptr.view()),
                        shape=network.shape, copy=False)
    for a in (view.data, view.indices, view.indptr):
        a.flags.writeable = False
    return view
