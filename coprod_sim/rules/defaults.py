"""The default rules: the calibration that reproduces facts F1-F11 (docs/facts.md).

Notation: e self-efficacy, c civic competence, r spare resources, t trust, s status (SES),
q local service quality, rho an administration's risk aversion, sigma its staff incentives,
m the mode (0 individual, 1 group, 2 collective), sigmoid(x) = 1 / (1 + exp(-x)).

Each rule gathers the arrays its equation needs and evaluates the equation of
:mod:`coprod_sim.rules.equations` on them; the compiled month evaluates the same equations
citizen by citizen, so there is one definition of each.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from coprod_sim.names import N_MODES, RESULT_FAILURE, RESULT_REJECTED, RESULT_SUCCESS
from coprod_sim.params import Parameters
from coprod_sim.rules import equations as eq
from coprod_sim.rules import jit
from coprod_sim.rules.base import Feedback, Screening, State
from coprod_sim.rules.registry import rule


@rule("outreach")
def outreach_by_policy(state: State, params: Parameters) -> np.ndarray:
    """Invite citizens with probability proportional to a policy weight, at a fixed budget.

    p_i = min(1, rate * w_i / mean(w)); w_i = 1 (universal), (1 - e_i)^2 (targeted_efficacy)
    or (1 - advantage of i's neighbourhood)^2 (targeted_area). The budget (expected
    invitations) is the same whatever the targeting, so policies compare at equal cost.
    Source: targeting after Jakobsen & Andersen 2013.
    """
    pol = params.policy
    c = state.citizens
    if pol.outreach == "none" or pol.outreach_rate == 0.0:
        return np.zeros(c.n)
    if pol.outreach == "universal":
        weight = np.ones(c.n)
    elif pol.outreach == "targeted_efficacy":
        weight = (1.0 - c.self_efficacy) ** 2
    else:  # targeted_area
        weight = (1.0 - state.neighbourhoods.advantage[c.neighbourhood]) ** 2
    mean = weight.mean()
    if mean <= 0:
        return np.zeros(c.n)
    return np.minimum(1.0, pol.outreach_rate * weight / mean)


def propensity_utilities(state: State, params: Parameters) -> np.ndarray:
    """Utility v of each mode (n, 3) in the default participation rule (see its docstring)."""
    c, hoods, admins = state.citizens, state.neighbourhoods, state.administrations
    k = eq.coefficients(params)
    if jit.enabled_by_default():  # the same equation in a compiled loop: same bits, faster
        from coprod_sim.rules import vectorised

        v = np.empty((c.n, N_MODES))
        vectorised.mode_utilities(
            c.self_efficacy, c.civic_competence, state.peer_active_share, state.degree, c.activity, c.trust,
            c.invited, c.administration, c.neighbourhood, c.age, c.female, c.spare_resources,
            hoods.urban, c.digital_access, admins.staff_incentives, hoods.service_quality, k, v)
        return v
    return np.stack(eq.mode_utilities(
        c.self_efficacy, c.civic_competence, state.peer_active_share, state.degree, c.activity, c.trust,
        c.invited, admins.staff_incentives[c.administration], hoods.service_quality[c.neighbourhood],
        c.age, c.female, c.spare_resources, hoods.urban[c.neighbourhood], c.digital_access,
        k), axis=1)


@rule("participation")
def logistic_choice(state: State, params: Parameters) -> np.ndarray:
    """Multinomial-logit choice among the three modes and staying out.

    p_m = exp(v_m) / (1 + sum_j exp(v_j)), with
    v_m = beta_m + w_e (e - 1/2) + w_c (c - 1/2) + w_p a + w_ask Q + w_t (t - 1/2) + w_i I
          + w_s sigma + w_info kappa - w_eff effort_m (1 - r) - w_q (q - 1/2) + demography_m,
    a the share of ties active last month, Q = r_ask n / (1 + r_ask n) the chance of being
    asked by one of the n = a d active ties among one's d ties, for those not active last
    month (recruitment into participation through people one knows; Verba, Schlozman &
    Brady 1995), I an invitation, kappa the information campaign.
    demography_0 = b_age,ind (age - mean) + b_female + b_urban (1[urban] - 1/2)
    + w_eff effort_0 s_dig psi 1[digital access] (1 - r); demography_{1,2} = b_age,coll (age - mean).
    Self-efficacy weighs most (Parrado et al. 2013; Bovaird et al. 2015); effort against
    resources (Jakobsen 2013); shortfall (Parrado et al. 2013); older people and women do
    more individual coproduction only (F3), and so do urban residents (Parrado et al. 2013,
    F14); online individual tasks save effort for those with digital access (Clark, Brudney
    & Jang 2013 on Boston's Citizens Connect). Because w_e is common to all modes, every p_m
    rises with e, and so does the total propensity sum_m p_m. Utilities are capped at 50
    against overflow (staying out then has a probability below e^-50); where a cap binds,
    the total still rises with e but the split between modes may shift.
    """
    ev = np.exp(eq.capped(propensity_utilities(state, params)))
    if jit.enabled_by_default():
        from coprod_sim.rules import vectorised

        p = np.empty_like(ev)
        vectorised.offer_probabilities(ev, p)
        return p
    return np.stack(eq.offer_probabilities(ev[:, 0], ev[:, 1], ev[:, 2]), axis=1)


def reliability(state: State, params: Parameters) -> np.ndarray:
    """How reliable a citizen looks to staff: (1 - w) c + w s (status as a proxy)."""
    c = state.citizens
    return eq.reliability(c.civic_competence, c.ses, eq.coefficients(params))


@rule("screening")
def risk_screening(state: State, params: Parameters) -> Screening:
    """Risk-averse administrations accept fewer offers and prefer reliable-looking citizens.

    rho_eff = rho (1 - relief sigma)   (incentivised staff screen less; relief 1/2 by default)
    accept = 1 if invited, else 1 - rho_eff * k_m * (1 - reliability), k_m the mode's
    screening share; priority = invited + rho_eff * reliability + (1 - rho_eff) u, u ~ U(0, 1):
    when offers exceed capacity, the invited come first, then a cautious administration
    takes the reliable-looking. (Whether an offer keeps its level of involvement is the
    kernel's control screen, before this one: ``equations.control_acceptance``.) Source:
    staff scepticism of citizens' reliability (Voorberg, Bekkers & Tummers 2015).
    """
    c, admins = state.citizens, state.administrations
    k = eq.coefficients(params)
    rho = eq.effective_risk_aversion(admins.risk_aversion, admins.staff_incentives, k)
    rho = rho[c.administration]
    rel = eq.reliability(c.civic_competence, c.ses, k)
    accept = eq.acceptance(c.invited, rho, np.maximum(c.offered, 0), rel, k)
    return Screening(accept, eq.priority(c.invited, rho, rel, state.rng.random(c.n)))


@rule("outcome")
def competence_collaboration(state: State, params: Parameters) -> np.ndarray:
    """Success chance rises with competence, collaboration quality and co-participants.

    p = sigmoid(beta + w_c (c - 1/2) + w_col (sigma - rho) + w_co x 1[m >= 1] - d_m),
    x the share of one's ties also active in group or collective mode this month,
    d_m the mode's difficulty; designer and initiator episodes are harder (- d_l), an
    initiative counts co-participants in any mode, and support for initiatives helps them
    (+ w_sup sigma; Voorberg et al. 2015). Sources: OECD 2011 (Together for Better Public Services) on staff
    incentives; Voorberg et al. 2015
    on risk aversion; Bovaird et al. 2015 on collective modes.
    """
    c, admins = state.citizens, state.administrations
    collaboration = (admins.staff_incentives - admins.risk_aversion)[c.administration]
    return expit(eq.success_log_odds(c.civic_competence, np.maximum(c.mode, 0),
                                     state.coparticipant_share, collaboration,
                                     np.maximum(c.level, 0), eq.coefficients(params)))


@rule("efficacy_feedback")
def mastery_vicarious(state: State, params: Parameters) -> Feedback:
    """Mastery, failure, rejection and vicarious experience move self-efficacy; it drifts back.

    e' = e + f [g_s m_l S (1 - e) - g_f b F e - g_r R e + g_v v (1 - e)] + d (e0 - e),
    t' = t + g_t S (1 - t) - l_t (F + R) t + d_t (t0 - t),
    S, F, R indicators of success, failure, rejection this month, v the share of ties that
    succeeded, f the feedback strength (0: no virtuous cycle), each f g capped at 1, m_l the
    mastery multiplier of the episode's level (1 executor; more where one had more control),
    b = 1 - w + 2 w (1 - e) how much a failure weighs (w the buffering: an occasional failure
    matters little to those whose efficacy rests on repeated success).
    Sources: Bandura 1977 (mastery and vicarious experience; failures after repeated success
    matter less, p. 195); Finkel 1985; Johnson, Carlson & Reynolds 2023 (participation raises
    later participation).
    """
    return efficacy_update(state, params)


def efficacy_update(state: State, params: Parameters, vicarious: bool = True,
                    failure_hurts: bool = True) -> Feedback:
    """The equation of :func:`mastery_vicarious`, optionally without its vicarious or failure term."""
    c = state.citizens
    k = eq.coefficients(params)
    if not vicarious:
        k = k._replace(citizens=k.citizens._replace(vicarious_gain=0.0))
    success, rejected = c.result == RESULT_SUCCESS, c.result == RESULT_REJECTED
    failure = (c.result == RESULT_FAILURE) if failure_hurts else np.zeros(c.n, dtype=bool)
    return Feedback(
        eq.self_efficacy_after(c.self_efficacy, c.efficacy_baseline, success, failure, rejected,
                               state.tie_success_share, np.maximum(c.level, 0), k),
        eq.trust_after(c.trust, c.trust_baseline, success, failure, rejected, k))


@rule("admin_learning")
def anchored_learning(state: State, params: Parameters) -> np.ndarray:
    """Risk aversion moves toward the failure rate observed, anchored to the culture.

    rho' = rho + eta 1[episodes > 0] (failures / episodes - rho) + kappa (rho0 - rho),
    clipped to [rho_min, rho_max]: it falls after a month of successes and rises after
    failures. Source: trust built from outcomes (Voorberg et al. 2015).
    """
    a = state.administrations
    return eq.risk_aversion_after(a.risk_aversion, a.culture, a.successes, a.failures,
                                  eq.coefficients(params))


@rule("service_quality")
def coproduced_output(state: State, params: Parameters) -> np.ndarray:
    """Local service quality moves toward its baseline plus what was coproduced.

    q' = q + r (min(1, q0 + g y) - q), y the coproduced output per resident this month
    (successful episodes weighted by mode, 1, 2, 4 by default, times 1, 1.5, 2 by level).
    Source: coproduction
    improves services (Loeffler & Bovaird 2016).
    """
    h = state.neighbourhoods
    return eq.service_quality_after(h.service_quality, h.quality_baseline,
                                    state.output_per_resident, eq.coefficients(params))
