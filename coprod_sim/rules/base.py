"""The rule interface: what every stage's rule receives, returns and must respect.

A rule is a function ``rule(state, params) -> output``. ``state`` is a :class:`State` whose
arrays are read-only views (a rule that writes into them raises ``ValueError``); ``params``
is the run's :class:`~coprod_sim.params.Parameters`. The kernel owns the randomness of
choices (common random numbers, so policies are compared on the same draws); a rule that
needs its own randomness draws from ``state.rng`` and stays deterministic given it.

Stages, in the order of a month, and their outputs (n citizens, K neighbourhoods,
A administrations, M = 3 modes):

================== ========================================= ==================================
stage              returns                                   invariants
================== ========================================= ==================================
outreach           invitation probability, float (n,)        in [0, 1]
participation      offer probability per mode, float (n, M)  in [0, 1], each row sums to <= 1
screening          Screening(accept (n,), priority (n,))     accept in [0, 1]; priority finite
outcome            success probability, float (n,)           in [0, 1]
efficacy_feedback  Feedback(self_efficacy (n,), trust (n,))  in [0, 1]
admin_learning     new risk aversion, float (A,)             in [0, 1]
service_quality    new local service quality, float (K,)     in [0, 1]
================== ========================================= ==================================

Entries for citizens a stage does not concern (e.g. ``accept`` of a citizen who made no
offer) are ignored by the kernel but must still respect the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from coprod_sim.population import Citizens, Neighbourhoods


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
            network=self.network,
            degree=_frozen(self.degree),
            step=self.step,
            peer_active_share=_frozen(self.peer_active_share),
            coparticipant_share=_frozen(self.coparticipant_share),
            tie_success_share=_frozen(self.tie_success_share),
            output_per_resident=_frozen(self.output_per_resident),
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


class Screening(NamedTuple):
    """Output of the screening stage."""

    accept: np.ndarray  # probability that an offer passes screening
    priority: np.ndarray  # order in which passed offers get the limited capacity (high first)


class Feedback(NamedTuple):
    """Output of the efficacy-feedback stage."""

    self_efficacy: np.ndarray
    trust: np.ndarray


STAGES: dict[str, str] = {
    "outreach": "whom administrations invite: invitation probability per citizen, (n,)",
    "participation": "each citizen's probability of offering to take part in each mode, (n, 3)",
    "screening": "administrations accept offers (probability) and rank them for capacity",
    "outcome": "the chance that an accepted episode succeeds, (n,)",
    "efficacy_feedback": "new self-efficacy and trust after the month's outcomes",
    "admin_learning": "administrations' new risk aversion after the month's outcomes, (A,)",
    "service_quality": "new local service quality per neighbourhood, (K,)",
}
"""The stages of a month, in order, with what their rules return."""
