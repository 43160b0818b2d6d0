"""The month, vectorised over all citizens: the six stages of DESIGN.md around the rules.

The kernel owns what is common to every rule set: random draws (one stream per purpose, so
that a policy that changes one stage leaves the others' draws alone), sampling of choices,
capacity limits, bookkeeping and the checking of rule outputs. Rules decide; the kernel acts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from coprod_sim.network import build_network
from coprod_sim.params import MODES, ParameterError, Parameters
from coprod_sim.population import (
    NO_MODE,
    RESULT_FAILURE,
    RESULT_NONE,
    RESULT_REJECTED,
    RESULT_SUCCESS,
    build_citizens,
    build_neighbourhoods,
)
from coprod_sim.rules.base import (
    Administrations,
    Feedback,
    RuleOutputError,
    Screening,
    State,
    check_output,
)
from coprod_sim.rules.defaults import mode_values
from coprod_sim.rules.registry import rule_label, selected, what_went_wrong

OUTPUT_WEIGHT = np.array([1.0, 2.0, 4.0])
"""Coproduced output of a successful episode by mode: collective work benefits more people."""

STREAMS = ("population", "network", "organisers", "outreach", "decision", "screening",
           "outcome", "rules")


@dataclass
class Streams:
    """One independent random generator per purpose, all derived from one seed."""

    population: np.random.Generator
    network: np.random.Generator
    organisers: np.random.Generator
    outreach: np.random.Generator
    decision: np.random.Generator
    screening: np.random.Generator
    outcome: np.random.Generator
    rules: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int | np.random.SeedSequence) -> Streams:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        return cls(*(np.random.default_rng(s) for s in root.spawn(len(STREAMS))))


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
    network = build_network(params, citizens, hoods, streams.network, streams.organisers)
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
        rng=streams.rules,
    )


def tie_share(network: sp.csr_array, degree: np.ndarray, indicator: np.ndarray) -> np.ndarray:
    """Share of each citizen's ties for whom ``indicator`` holds (0 for the isolated)."""
    count = network @ indicator.astype(np.float32)
    return np.divide(count, degree, out=np.zeros(len(degree)), where=degree > 0)


class Kernel:
    """Runs months on a State with a chosen set of rules."""

    def __init__(self, params: Parameters, streams: Streams,
                 rules: Mapping[str, Callable] | None = None, check: bool = True):
        self.params = params
        self.streams = streams
        self.rules = dict(selected(params)) if rules is None else dict(rules)
        # Errors name a rule as the user selected it (a registered name or module:function).
        self.rule_names = {stage: params[f"rules.{stage}"] if rules is None else rule_label(fn)
                           for stage, fn in self.rules.items()}
        self.check = check
        self.state = build_state(params, streams)
        self.view = self.state.read_only()

    def step(self) -> None:
        """Advance the town by one month."""
        s, rs = self.state, self.streams
        c, admins = s.citizens, s.administrations
        n = c.n
        # 1. Opportunities and outreach; peer influence from last month's activity.
        s.peer_active_share[:] = tie_share(s.network, s.degree, c.mode != NO_MODE)
        invite = self._call("outreach", (n,))
        np.less(rs.outreach.random(n), invite, out=c.invited)
        # 2. Propensity and choice: one uniform per citizen picks a mode or none.
        probs = self._call("participation", (n, len(MODES)))
        cum = np.cumsum(probs, axis=1)
        u = rs.decision.random(n)
        choice = (u[:, None] >= cum).sum(axis=1)  # 0..2 a mode, 3 none
        c.offered[:] = np.where(choice < len(MODES), choice, NO_MODE)
        # 3. Screening, then capacity: the highest priority offers get the places.
        screening = self._call("screening", (n,))
        offering = c.offered != NO_MODE
        passed = offering & (rs.screening.random(n) < screening.accept)
        accepted = within_capacity(passed, c.administration, c.offered, screening.priority,
                                   admins.capacity)
        c.mode[:] = np.where(accepted, c.offered, NO_MODE)
        # 4. Outcome of each accepted episode.
        s.coparticipant_share[:] = tie_share(s.network, s.degree, c.mode >= 1)
        p_success = self._call("outcome", (n,))
        success = accepted & (rs.outcome.random(n) < p_success)
        failure = accepted & ~success
        c.result[:] = RESULT_NONE
        c.result[success] = RESULT_SUCCESS
        c.result[failure] = RESULT_FAILURE
        c.result[offering & ~accepted] = RESULT_REJECTED
        c.episodes += accepted
        c.successes += success
        c.rejections += offering & ~accepted
        c.activity <<= 1
        c.activity |= accepted
        c.activity_by_mode <<= 1
        for m in range(len(MODES)):
            c.activity_by_mode[m] |= c.mode == m
        s.tie_success_share[:] = tie_share(s.network, s.degree, success)
        a_count = len(admins)
        admins.successes[:] = np.bincount(c.administration[success], minlength=a_count)
        admins.failures[:] = np.bincount(c.administration[failure], minlength=a_count)
        hoods = s.neighbourhoods
        output = np.bincount(c.neighbourhood[success], weights=OUTPUT_WEIGHT[c.mode[success]],
                             minlength=len(hoods))
        s.output_per_resident[:] = output / np.maximum(hoods.size, 1)
        # 5. Feedback on citizens and administrations.
        feedback = self._call("efficacy_feedback", (n,))
        c.self_efficacy[:] = feedback.self_efficacy
        c.trust[:] = feedback.trust
        admins.risk_aversion[:] = self._call("admin_learning", (a_count,))
        # 6. Local service quality.
        hoods.service_quality[:] = self._call("service_quality", (len(hoods),))
        s.step += 1
        self.view.step = s.step

    def _call(self, stage: str, shape: tuple[int, ...]):
        fn = self.rules[stage]
        try:
            out = fn(self.view, self.params)
        except (ParameterError, RuleOutputError):
            raise
        except Exception as exc:
            raise RuleOutputError(stage, self.rule_names[stage], what_went_wrong(fn, exc)) from exc
        if self.check:
            check_output(stage, self.rule_names[stage], out, shape)
        return out


def within_capacity(passed: np.ndarray, admin: np.ndarray, mode: np.ndarray,
                    priority: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Offers that get a place: per administration and mode, the ``capacity`` highest priority.

    Ties in priority go to the lower citizen index, so the result is deterministic.
    """
    idx = np.flatnonzero(passed)
    if len(idx) == 0:
        return passed.copy()
    n_modes = capacity.shape[1]
    group = admin[idx].astype(np.int64) * n_modes + mode[idx]
    order = np.lexsort((idx, -priority[idx], group))
    sorted_group = group[order]
    first = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.arange(len(order)) - first
    keep = rank < capacity.ravel()[sorted_group]
    accepted = np.zeros_like(passed)
    accepted[idx[order[keep]]] = True
    return accepted


__all__ = [
    "Feedback",
    "Kernel",
    "RuleOutputError",
    "Screening",
    "Streams",
    "build_state",
    "tie_share",
    "within_capacity",
]
