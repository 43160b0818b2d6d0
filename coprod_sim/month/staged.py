"""The compiled month, stage by stage: a custom rule in one stage leaves the others compiled.

Each stage whose selected rule is the default one runs that rule's equations in the compiled
loops of :mod:`coprod_sim.month.compiled`; any other rule is called on the state and its
output (checked against the stage's contract) is handed to the same compiled bookkeeping.
The kernel's own work (draws, choice, capacity, results, shares of ties) is compiled always.
Outreach, administrations' learning and service quality call their rules on both paths
(they are cheap: one array of citizens or a few administrations and neighbourhoods).

Results are the NumPy month's (:meth:`coprod_sim.month.kernel.Kernel._step_numpy`) bit for
bit, for any rule set: the same draws from the same streams in the same amounts, rules
called in the same order, and the same operations.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from coprod_sim.month import compiled as fast
from coprod_sim.month.capacity import admit
from coprod_sim.month.jumps import stream
from coprod_sim.month.kernel import Kernel, choose
from coprod_sim.names import LEVELS, MODES, N_MODES, NO_MODE
from coprod_sim.rules import defaults
from coprod_sim.rules import equations as eq


class CompiledMonth:
    """The month of one kernel on the compiled path; keeps its work arrays between months."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.fused = set(kernel.compiled_stages)
        self.w: dict[str, np.ndarray] = {}

    def run(self) -> None:
        """Advance the kernel's town by one month."""
        kernel, s = self.kernel, self.kernel.state
        self.work_arrays()
        self.peers_and_outreach()
        kernel.lap("outreach")
        offerers = self.participation()
        self.levels(offerers)
        kernel.lap("participation")
        admitted = self.screening(offerers)
        admitted = self.seats(offerers, admitted)
        kernel.lap("screening")
        p_success = self.outcome(admitted)
        kernel.lap("outcome")
        self.settle(admitted, p_success)
        kernel.lap("feedback")
        s.administrations.risk_aversion[:] = kernel.call("admin_learning", trusted=True)
        s.neighbourhoods.service_quality[:] = kernel.call("service_quality", trusted=True)
        kernel.lap("administrations_quality")
        s.step += 1

    def work_arrays(self) -> None:
        """Work arrays, allocated once (and again only if the town's size changes)."""
        s, w = self.kernel.state, self.w
        n, n_hoods = s.n, len(s.neighbourhoods)
        if w and len(w["counts"]) == n and len(w["output"]) == n_hoods:
            return
        max_degree = int(np.diff(s.network.indptr).max(initial=0))
        w.update(
            # Tie counts never exceed a degree: 8 or 16 bits when they fit (less cache).
            counts=np.zeros(n, np.int8 if max_degree < 2**7 else (
                np.int16 if max_degree < 2**15 else np.int32)),
            members=np.empty(n, np.int32), who=np.empty(n, np.int32),
            offerers=np.empty(n, np.int32), passed=np.empty(n, np.int32), u_who=np.empty(n),
            priority=np.empty(n), group=np.empty(n, np.int64), v=np.empty((n, len(MODES))),
            admitted=np.empty(n, np.int32), logit=np.empty(n), success=np.zeros(n, bool),
            u_decision=np.empty(n),
            level_utilities=np.empty((n, len(LEVELS) - 1)),
            output=np.zeros(n_hoods))

    def peers_and_outreach(self) -> None:
        """Shares of ties active last month; this month's invitations."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c, pol = s.citizens, kernel.params.policy
        fast.peer_active_share(s.network.indptr, s.network.indices, s.degree, c.mode,
                               w["members"], w["counts"], s.peer_active_share)
        if kernel.rules["outreach"] is defaults.outreach_by_policy and (
                pol.outreach == "none" or pol.outreach_rate == 0.0):
            # The default rule invites nobody all run long: its draws could never matter.
            c.invited[:] = False
        else:
            invite = kernel.call("outreach", trusted=True)
            np.less(kernel.streams.outreach.random(out=w["u_decision"]), invite, out=c.invited)

    def participation(self) -> np.ndarray:
        """Sets ``offered`` for everyone; returns the citizens who offer, ascending."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c = s.citizens
        if "participation" not in self.fused:
            probs = kernel.call("participation")
            if probs.dtype == np.float64 and probs.shape[1:] == (N_MODES,):
                count = fast.choose_all(probs, kernel.streams.decision, c.offered, w["offerers"])
                return w["offerers"][:count]
            c.offered[:] = choose(probs, kernel.streams.decision.random(out=w["u_decision"]))
            return np.flatnonzero(c.offered != NO_MODE).astype(np.int32)
        # Utilities of those who might offer; exp in NumPy; then their choices.
        admins, hoods = s.administrations, s.neighbourhoods
        count = fast.utilities(
            c.self_efficacy, c.civic_competence, s.peer_active_share, s.degree, c.activity, c.trust,
            c.invited, c.administration, c.neighbourhood, c.age, c.female, c.spare_resources,
            hoods.urban, c.digital_access, admins.staff_incentives, hoods.service_quality,
            kernel.coefficients, kernel.streams.decision, c.offered, w["who"], w["u_who"], w["v"])
        ev = np.exp(w["v"][:count])
        count = fast.choose_offers(w["who"][:count], ev, w["u_who"], c.offered, w["offerers"])
        return w["offerers"][:count]

    def levels(self, offerers: np.ndarray) -> None:
        """The level of each offer (``level_utilities``, ``offered_level``); exp in NumPy."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c, admins, k = s.citizens, s.administrations, kernel.coefficients
        u = w["level_utilities"][:len(offerers)]
        fast.level_utilities(offerers, c.self_efficacy, c.civic_competence, c.spare_resources,
                             s.peer_active_share, k, u)
        rho = eq.effective_risk_aversion(admins.risk_aversion, admins.staff_incentives, k)
        fast.choose_levels(offerers, np.exp(u), stream(kernel.streams.level), c.administration,
                           rho, k, c.level)

    def seats(self, offerers: np.ndarray, admitted: np.ndarray) -> np.ndarray:
        """Offers without a place lose their level; co-design seats join the admitted."""
        kernel, c = self.kernel, self.kernel.state.citizens
        fast.clear_levels(offerers, c.mode, c.level)
        if kernel.params.policy.codesign_seats == 0.0:
            return admitted
        accepted = kernel.fill_seats(c.mode >= 0)
        return np.flatnonzero(accepted).astype(np.int32)

    def screening(self, offerers: np.ndarray) -> np.ndarray:
        """Screening and capacity; sets ``mode`` for everyone; returns the admitted, ascending."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c, admins = s.citizens, s.administrations
        n_modes = admins.capacity.shape[1]
        if "screening" in self.fused:
            # risk_screening's draws come from the rules' stream (s.rng), the kernel's from
            # the screening stream.
            rho = eq.effective_risk_aversion(admins.risk_aversion, admins.staff_incentives,
                                             kernel.coefficients)
            n_passed = fast.screen(
                offerers, c.offered, c.invited, c.administration, c.civic_competence, c.ses, rho,
                stream(s.rng), stream(kernel.streams.screening), kernel.coefficients, n_modes, w["passed"],
                w["priority"], w["group"])
        else:
            rule = kernel.call("screening")
            accept = np.asarray(rule.accept, dtype=np.float64)
            priority = np.asarray(rule.priority, dtype=np.float64)
            n_passed = fast.pass_offers(offerers, c.offered, c.administration, accept, priority,
                                        stream(kernel.streams.screening), n_modes, w["passed"],
                                        w["priority"], w["group"])
        count = admit(w["passed"][:n_passed], w["priority"][:n_passed],
                           w["group"][:n_passed], admins.capacity, c.offered, c.mode,
                           w["admitted"])
        return w["admitted"][:count]

    def outcome(self, admitted: np.ndarray) -> np.ndarray:
        """Co-participant shares; the success probability of each admitted episode."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c, admins = s.citizens, s.administrations
        fast.coparticipant_shares(admitted, c.mode, s.network.indptr, s.network.indices,
                                  s.degree, w["members"], w["counts"], s.coparticipant_share)
        if "outcome" not in self.fused:
            return np.asarray(kernel.call("outcome"), dtype=np.float64)[admitted]
        logit = w["logit"][:len(admitted)]
        fast.success_logits(admitted, c.mode, c.civic_competence, c.administration,
                            admins.staff_incentives - admins.risk_aversion,
                            s.coparticipant_share, c.level, kernel.coefficients, logit)
        return expit(logit)

    def settle(self, admitted: np.ndarray, p_success: np.ndarray) -> None:
        """Outcomes, bookkeeping and the feedback on citizens (fused when it is the default)."""
        kernel, s, w = self.kernel, self.kernel.state, self.w
        c, admins, hoods = s.citizens, s.administrations, s.neighbourhoods
        k = kernel.coefficients
        count = fast.draw_outcomes(admitted, p_success, stream(kernel.streams.outcome), c.mode, c.level,
                                   c.administration, c.neighbourhood, k, w["success"],
                                   w["members"], admins.successes, admins.failures, w["output"])
        s.output_per_resident[:] = w["output"] / np.maximum(hoods.size, 1)
        fused = "efficacy_feedback" in self.fused
        fast.settle(count, w["members"], w["success"], c.offered, c.mode, c.level,
                    s.network.indptr, s.network.indices, s.degree, w["counts"], c.result,
                    c.episodes, c.successes, c.rejections, c.activity, c.activity_by_mode,
                    c.activity_by_level, s.tie_success_share,
                    c.self_efficacy, c.efficacy_baseline, c.trust, c.trust_baseline, k, fused)
        if not fused:
            feedback = kernel.call("efficacy_feedback")
            c.self_efficacy[:] = feedback.self_efficacy
            c.trust[:] = feedback.trust
