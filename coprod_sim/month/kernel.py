"""The month, vectorised over all citizens: the six stages of docs/ODD.md around the rules.

The kernel owns what is common to every rule set: random draws (one stream per purpose, so
that a policy that changes one stage leaves the others' draws alone), sampling of choices,
capacity limits, bookkeeping and the checking of rule outputs. Rules decide; the kernel acts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

import numpy as np
import scipy.sparse as sp

from coprod_sim.names import (
    LEVELS,
    MODES,
    NO_LEVEL,
    NO_MODE,
    RESULT_FAILURE,
    RESULT_NONE,
    RESULT_REJECTED,
    RESULT_SUCCESS,
)
from coprod_sim.params import ParameterError, Parameters
from coprod_sim.rules import defaults, jit
from coprod_sim.rules import equations as eq
from coprod_sim.rules.base import (
    OUTPUT_FIELDS,
    RuleOutputError,
    State,
    check_output,
    output_shapes,
)
from coprod_sim.rules.levels import offer_levels
from coprod_sim.rules.registry import rule_label, selected, what_went_wrong
from coprod_sim.rules.seats import (
    SEAT_LEVEL,
    SEAT_MODE,
    fill_seats,
    seat_acceptance,
    seats_per_administration,
)
from coprod_sim.town.build import build_state
from coprod_sim.town.streams import Streams


def tie_share(network: sp.csr_array, degree: np.ndarray, indicator: np.ndarray,
              symmetric: bool = False) -> np.ndarray:
    """Share of each citizen's ties for whom ``indicator`` holds (0 for the isolated).

    With ``symmetric`` (the adjacency equals its transpose, as the kernel's does) and few
    citizens flagged, the count gathers the flagged citizens' rows instead of multiplying
    the whole matrix: same integer counts, a fraction of the work.
    """
    n = len(degree)
    flagged = np.flatnonzero(indicator) if symmetric else None
    if flagged is not None and 8 * len(flagged) < n:
        rows = network[flagged]
        count = np.bincount(rows.indices, weights=rows.data, minlength=n)
    else:
        count = network @ indicator.astype(np.float32)
    return np.divide(count, degree, out=np.zeros(n), where=degree > 0)


def is_symmetric_unit(network: sp.csr_array) -> bool:
    """Whether ``network`` is a symmetric 0/1 adjacency (what the fast tie counts assume)."""
    if network.shape[0] != network.shape[1] or not np.all(network.data == 1):
        return False
    return (abs(network - network.T) > 0).nnz == 0


COMPILED_RULES = {
    "participation": defaults.logistic_choice,
    "screening": defaults.risk_screening,
    "outcome": defaults.competence_collaboration,
    "efficacy_feedback": defaults.mastery_vicarious,
}
"""Rules whose equations the compiled month evaluates in its own loops when selected; any
other rule in these stages is called, and the other stages stay compiled."""

TRUSTED_RULES = frozenset({defaults.outreach_by_policy, defaults.anchored_learning,
                           defaults.coproduced_output, *COMPILED_RULES.values()})
"""Built-in default rules, tested to keep their contracts: on the compiled path their
outputs are not re-checked every month."""


class Kernel:
    """Runs months on a State with a chosen set of rules."""

    def __init__(self, params: Parameters, streams: Streams,
                 rules: Mapping[str, Callable] | None = None, check: bool = True,
                 accelerate: bool | None = None):
        self.params = params
        self.streams = streams
        self.rules = dict(selected(params)) if rules is None else dict(rules)
        # Errors name a rule as the user selected it (a registered name or module:function).
        self.rule_names = {stage: params[f"rules.{stage}"] if rules is None else rule_label(fn)
                           for stage, fn in self.rules.items()}
        self.check = check
        self.state = build_state(params, streams)
        self.view = self.state.read_only()
        # build_network makes a symmetric 0/1 adjacency; a network swapped in later is checked.
        self._symmetric_network: sp.csr_array | None = self.state.network
        wanted = jit.enabled_by_default() if accelerate is None else bool(accelerate)
        self.accelerate = wanted and jit.AVAILABLE
        """True when compiled code may be used (also for recording outcomes)."""
        self.accelerated = self.accelerate
        """True when months run on the compiled path (:mod:`coprod_sim.month.staged`), whatever
        the rules: the stages of default rules run compiled, other rules are called."""
        self.compiled_stages = tuple(stage for stage, fn in COMPILED_RULES.items()
                                     if self.accelerated and self.rules.get(stage) is fn)
        """Stages whose default rule the compiled month evaluates in its own loops."""
        self.coefficients = eq.coefficients(params)
        """The parameters as the equations read them (named records)."""
        self._compiled = None
        self.timings: dict[str, float] | None = None
        """Set to a dict to accumulate seconds spent per stage of the month (benchmarks)."""
        self._clock = 0.0

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage`` (when ``timings`` is set)."""
        if self.timings is not None:
            now = perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self._clock
            self._clock = now

    def _network_is_symmetric(self) -> bool:
        net = self.state.network
        if net is not self._symmetric_network:
            self._symmetric_network = net if is_symmetric_unit(net) else None
        return self._symmetric_network is not None

    def step(self) -> None:
        """Advance the town by one month."""
        self._clock = perf_counter()
        if self.accelerated and self._network_is_symmetric():
            if self._compiled is None:
                from coprod_sim.month.staged import CompiledMonth

                self._compiled = CompiledMonth(self)
            self._compiled.run()
        else:
            self._step_numpy()
        self.view.step = self.state.step

    def _step_numpy(self) -> None:
        """The month, rule by rule in NumPy: any rule set, every rule output checked."""
        s, rs = self.state, self.streams
        c, admins = s.citizens, s.administrations
        n = c.n
        symmetric = self._network_is_symmetric()
        # 1. Opportunities and outreach; peer influence from last month's activity.
        s.peer_active_share[:] = tie_share(s.network, s.degree, c.mode != NO_MODE, symmetric)
        invite = self.call("outreach")
        np.less(rs.outreach.random(n), invite, out=c.invited)
        self.lap("outreach")
        # 2. Propensity and choice: one uniform per citizen picks a mode or none.
        probs = self.call("participation")
        c.offered[:] = choose(probs, rs.decision.random(n))
        # The level of each offer, after its mode, and whether the administration shares that
        # much control: one uniform per citizen from a stream of its own.
        rho = eq.effective_risk_aversion(admins.risk_aversion, admins.staff_incentives,
                                         self.coefficients)
        c.level[:] = offer_levels(c.self_efficacy, c.civic_competence, c.spare_resources,
                                  s.peer_active_share, c.offered, rho[c.administration],
                                  rs.level.random(n), self.coefficients)
        self.lap("participation")
        # 3. Screening, then capacity: the highest priority offers get the places.
        screening = self.call("screening")
        offering = c.offered != NO_MODE
        passed = offering & (rs.screening.random(n) < screening.accept)
        accepted = within_capacity(passed, c.administration, c.offered, screening.priority,
                                   admins.capacity)
        c.mode[:] = np.where(accepted, c.offered, NO_MODE)
        c.level[~accepted] = NO_LEVEL
        accepted = self.fill_seats(accepted)
        self.lap("screening")
        # 4. Outcome of each accepted episode.
        s.coparticipant_share[:] = tie_share(s.network, s.degree, c.mode >= 1, symmetric)
        p_success = self.call("outcome")
        success = accepted & (rs.outcome.random(n) < p_success)
        self._settle(accepted, success, offering & ~accepted, symmetric)
        self.lap("outcome")
        # 5. Feedback on citizens and administrations.
        feedback = self.call("efficacy_feedback")
        c.self_efficacy[:] = feedback.self_efficacy
        c.trust[:] = feedback.trust
        self.lap("feedback")
        admins.risk_aversion[:] = self.call("admin_learning")
        # 6. Local service quality.
        s.neighbourhoods.service_quality[:] = self.call("service_quality")
        self.lap("administrations_quality")
        s.step += 1

    def _settle(self, accepted: np.ndarray, success: np.ndarray, rejected: np.ndarray,
                symmetric: bool) -> None:
        """Results, counts, activity histories, shares of ties that succeeded and output."""
        s = self.state
        c, admins, hoods = s.citizens, s.administrations, s.neighbourhoods
        failure = accepted & ~success
        c.result[:] = RESULT_NONE
        c.result[success] = RESULT_SUCCESS
        c.result[failure] = RESULT_FAILURE
        c.result[rejected] = RESULT_REJECTED
        c.episodes += accepted
        c.successes += success
        c.rejections += rejected
        c.activity <<= 1
        c.activity |= accepted
        c.activity_by_mode <<= 1
        for m in range(len(MODES)):
            c.activity_by_mode[m] |= c.mode == m
        c.activity_by_level <<= 1
        for level in range(len(LEVELS)):
            c.activity_by_level[level] |= c.level == level
        s.tie_success_share[:] = tie_share(s.network, s.degree, success, symmetric)
        admins.successes[:] = np.bincount(c.administration[success], minlength=len(admins))
        admins.failures[:] = np.bincount(c.administration[failure], minlength=len(admins))
        output = np.bincount(c.neighbourhood[success], minlength=len(hoods),
                             weights=eq.episode_output(c.mode[success], c.level[success],
                                                       self.coefficients))
        s.output_per_resident[:] = output / np.maximum(hoods.size, 1)

    def fill_seats(self, accepted: np.ndarray) -> np.ndarray:
        """Co-design seats (``policy.codesign_seats``), after capacity: ``accepted`` plus the
        seat holders, who sit this month in group mode at the designer level.

        The same NumPy code on both paths, drawing from the ``sortition`` stream only when
        seats are open (:mod:`coprod_sim.rules.seats`).
        """
        s, pol = self.state, self.params.policy
        slot = s.step % len(s.seats_opened)
        s.seat_counts[slot] = 0
        s.seats_opened[slot] = 0
        if pol.codesign_seats == 0.0:
            return accepted
        c = s.citizens
        n = c.n
        seats = seats_per_administration(s.administrations.residents, pol.codesign_seats)
        index = eq.resource_index(c.self_efficacy, c.civic_competence, c.spare_resources)
        p_accept = seat_acceptance(index, self.params, personal=pol.seat_selection == "sortition")
        keys = self.streams.sortition.random(n)
        fill = fill_seats(~accepted, c.administration, c.quintile, seats, pol.seat_selection,
                          p_accept, keys, self.streams.sortition.random(n), pol.seat_redraws)
        # A resident who takes a seat offers to sit (whatever they offered before, if anything).
        c.offered[fill.holders] = SEAT_MODE
        c.mode[fill.holders] = SEAT_MODE
        c.level[fill.holders] = SEAT_LEVEL
        s.seat_counts[slot] = (fill.asked, fill.accepted)
        s.seats_opened[slot] = seats.sum()
        return accepted | fill.holders

    def call(self, stage: str, trusted: bool = False):
        """The output of ``stage``'s rule on the current state, checked against its contract
        unless the rule is a trusted default (``trusted``) or checking is off."""
        fn = self.rules[stage]
        try:
            out = fn(self.view, self.params)
        except (ParameterError, RuleOutputError):
            raise
        except Exception as exc:
            raise RuleOutputError(stage, self.rule_names[stage], what_went_wrong(fn, exc)) from exc
        if self.check and not (trusted and fn in TRUSTED_RULES):
            s = self.state
            shape = output_shapes(stage, s.n, len(s.neighbourhoods), len(s.administrations))
            if not (self.accelerate and valid_compiled(stage, out, shape)):
                check_output(stage, self.rule_names[stage], out, shape)  # decides and words it
        return out


PROBABILITY_MARGIN = 1e-12
"""Row sums within this of check_output's limit are left to it (its order of summation)."""
BIG = float(np.finfo(np.float64).max)


def valid_compiled(stage: str, out: Any, shape: tuple[int, ...]) -> bool:
    """True when ``out`` certainly passes :func:`check_output` (float64 arrays of the right
    shape, checked in one compiled pass each); False leaves the verdict, and the wording of
    any error, to ``check_output``. A participation rule's check took as long as the rule's
    own arithmetic in NumPy (min, max, row sums: four passes over n x 3 values)."""
    from coprod_sim.month import checks

    names = OUTPUT_FIELDS.get(stage)
    if names is None:
        names, out = ("output",), (out,)
    elif not isinstance(out, tuple) or len(out) != len(names):
        return False
    for what, a in zip(names, out, strict=True):
        if not (isinstance(a, np.ndarray) and a.shape == shape and a.dtype == np.float64
                and a.flags.c_contiguous):
            return False
        if stage == "participation":
            if not checks.probabilities_within(a, 1.0 + 1e-9 - PROBABILITY_MARGIN):
                return False
        elif not checks.all_within(a.reshape(-1), *((-BIG, BIG) if what == "priority" else (0.0, 1.0))):
            return False
    return True



def max_degree(state: State) -> int:
    """The largest number of ties of any citizen."""
    return int(np.diff(state.network.indptr).max(initial=0))


def choose(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The mode each citizen offers (int8, NO_MODE for none) given uniforms ``u``.

    Citizen i offers mode m when cum_{m-1} <= u_i < cum_m, cum the cumulative sum of its row
    of ``probs``; u_i beyond the last sum means no offer.
    """
    if probs.dtype == np.float64:  # a running sum, column by column: no (n, 3) temporaries
        choice = np.zeros(len(u), np.int8)
        cum = probs[:, 0]
        for m in range(probs.shape[1]):
            if m:
                cum = cum + probs[:, m]
            choice += u >= cum
    else:
        choice = (u[:, None] >= np.cumsum(probs, axis=1)).sum(axis=1).astype(np.int8)
    choice[choice == probs.shape[1]] = NO_MODE
    return choice


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
    # Order by group, then priority (high first), then index: two stable sorts, the same
    # order as np.lexsort((idx, -priority[idx], group)) at a fraction of its cost.
    order = np.argsort(-priority[idx], kind="stable")
    order = order[np.argsort(group[order], kind="stable")]
    sorted_group = group[order]
    per_group = np.bincount(group, minlength=capacity.size)
    first = (np.cumsum(per_group) - per_group)[sorted_group]  # where each group starts
    rank = np.arange(len(order)) - first
    keep = rank < capacity.ravel()[sorted_group]
    accepted = np.zeros_like(passed)
    accepted[idx[order[keep]]] = True
    return accepted


__all__ = ["Kernel", "RuleOutputError", "Streams", "choose", "tie_share", "within_capacity"]
