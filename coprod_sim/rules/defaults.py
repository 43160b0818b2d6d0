"""The default rules: the calibration that reproduces facts F1-F11 (docs/facts.md).

Notation: e self-efficacy, c civic competence, r spare resources, t trust, s status (SES),
q local service quality, rho an administration's risk aversion, sigma its staff incentives,
m the mode (0 individual, 1 group, 2 collective), sigmoid(x) = 1 / (1 + exp(-x)).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from coprod_sim.names import MODES
from coprod_sim.params import Parameters
from coprod_sim.rules.base import Feedback, Screening, State
from coprod_sim.rules.registry import rule


def mode_values(params: Parameters, group: str, stem: str) -> np.ndarray:
    """Per-mode parameters ``group.stem_individual`` etc. as an array of length 3."""
    return np.array([params[f"{group}.{stem}_{m}"] for m in MODES])


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
    cp, pol = params.citizens, params.policy
    c, hoods, admins = state.citizens, state.neighbourhoods, state.administrations
    common = (
        cp.efficacy_weight * (c.self_efficacy - 0.5)
        + cp.competence_weight * (c.civic_competence - 0.5)
        + cp.peer_weight * state.peer_active_share
        + cp.trust_weight * (c.trust - 0.5)
        + cp.invitation_weight * c.invited
        + cp.incentive_weight * admins.staff_incentives[c.administration]
        + cp.information_weight * pol.information_campaign
        - cp.quality_weight * (hoods.service_quality[c.neighbourhood] - 0.5)
    )
    age = c.age - params.population.age_mean
    lack = 1.0 - c.spare_resources
    effort = mode_values(params, "policy", "effort")
    base = np.array([cp.base_individual, cp.base_group, cp.base_collective])
    v = np.empty((c.n, len(MODES)))
    v[:, 0] = common + base[0] - cp.effort_weight * effort[0] * lack \
        + cp.age_individual_effect * age + cp.female_individual_effect * c.female
    collective_demography = cp.age_collective_effect * age
    for m in (1, 2):
        v[:, m] = common + base[m] - cp.effort_weight * effort[m] * lack + collective_demography
    return v


@rule("participation")
def logistic_choice(state: State, params: Parameters) -> np.ndarray:
    """Multinomial-logit choice among the three modes and staying out.

    p_m = exp(v_m) / (1 + sum_j exp(v_j)), with
    v_m = beta_m + w_e (e - 1/2) + w_c (c - 1/2) + w_p a + w_t (t - 1/2) + w_i I + w_s sigma
          + w_info kappa - w_eff effort_m (1 - r) - w_q (q - 1/2) + demography_m,
    a the share of ties active last month, I an invitation, kappa the information campaign.
    demography_0 = b_age,ind (age - mean) + b_female; demography_{1,2} = b_age,coll (age - mean).
    Self-efficacy weighs most (Parrado et al. 2013; Bovaird et al. 2015); effort against
    resources (Jakobsen 2013); shortfall (Parrado et al. 2013); older people and women do
    more individual coproduction only (F3). Because w_e is common to all modes, every p_m
    rises with e, and so does the total propensity sum_m p_m. Utilities are capped at 50
    against overflow (staying out then has a probability below e^-50); where a cap binds,
    the total still rises with e but the split between modes may shift.
    """
    v = propensity_utilities(state, params)
    ev = np.exp(np.minimum(v, 50.0))
    return ev / (1.0 + ev.sum(axis=1, keepdims=True))


def reliability(state: State, params: Parameters) -> np.ndarray:
    """How reliable a citizen looks to staff: (1 - w) c + w s (status as a proxy)."""
    w = params.administration.reliability_ses_weight
    c = state.citizens
    return (1.0 - w) * c.civic_competence + w * c.ses


@rule("screening")
def risk_screening(state: State, params: Parameters) -> Screening:
    """Risk-averse administrations accept fewer offers and prefer reliable-looking citizens.

    rho_eff = rho (1 - sigma / 2)   (incentivised staff screen less)
    accept = 1 if invited, else 1 - rho_eff * k_m * (1 - reliability), k_m the mode's
    screening share; priority = invited + rho_eff * reliability + (1 - rho_eff) u, u ~ U(0, 1):
    when offers exceed capacity, the invited come first, then a cautious administration
    takes the reliable-looking. Source: staff scepticism of citizens' reliability, Voorberg, Bekkers
    & Tummers 2015.
    """
    c, admins = state.citizens, state.administrations
    rho = (admins.risk_aversion * (1.0 - 0.5 * admins.staff_incentives))[c.administration]
    k = mode_values(params, "administration", "screening")
    rel = reliability(state, params)
    mode_share = k[np.maximum(c.offered, 0)]
    accept = np.where(c.invited, 1.0, 1.0 - rho * mode_share * (1.0 - rel))
    priority = c.invited + rho * rel + (1.0 - rho) * state.rng.random(c.n)
    return Screening(accept, priority)


@rule("outcome")
def competence_collaboration(state: State, params: Parameters) -> np.ndarray:
    """Success chance rises with competence, collaboration quality and co-participants.

    p = sigmoid(beta + w_c (c - 1/2) + w_col (sigma - rho) + w_co x 1[m >= 1] - d_m),
    x the share of one's ties also active in group or collective mode this month,
    d_m the mode's difficulty. Sources: OECD 2011 (Together for Better Public Services) on staff
    incentives; Voorberg et al. 2015 on risk aversion; Bovaird et al. 2015 on collective modes.
    """
    cp = params.citizens
    c, admins = state.citizens, state.administrations
    mode = np.maximum(c.mode, 0)
    difficulty = np.array([0.0, cp.difficulty_group, cp.difficulty_collective])[mode]
    collaboration = (admins.staff_incentives - admins.risk_aversion)[c.administration]
    together = (mode >= 1) * state.coparticipant_share
    x = (cp.success_base + cp.success_competence_weight * (c.civic_competence - 0.5)
         + cp.success_collaboration_weight * collaboration
         + cp.success_coparticipant_weight * together - difficulty)
    return expit(x)


@rule("efficacy_feedback")
def mastery_vicarious(state: State, params: Parameters) -> Feedback:
    """Mastery, failure, rejection and vicarious experience move self-efficacy; it drifts back.

    e' = e + f [g_s S (1 - e) - g_f F e - g_r R e + g_v v (1 - e)] + d (e0 - e),
    t' = t + g_t S (1 - t) - l_t (F + R) t + d_t (t0 - t),
    S, F, R indicators of success, failure, rejection this month, v the share of ties that
    succeeded, f the feedback strength (0: no virtuous cycle), each f g capped at 1.
    Sources: Bandura 1977 (mastery and vicarious experience); Finkel 1985; Johnson,
    Carlson & Reynolds 2023 (participation raises later participation).
    """
    return efficacy_update(state, params)


def efficacy_update(state: State, params: Parameters, vicarious: bool = True,
                    failure_hurts: bool = True) -> Feedback:
    """The equation of :func:`mastery_vicarious`, optionally without its vicarious or failure term."""
    cp = params.citizens
    c = state.citizens
    f = cp.feedback_strength
    gain, loss, reject, vicarious_gain = (min(1.0, f * g) for g in (
        cp.mastery_gain, cp.failure_loss, cp.rejection_loss, cp.vicarious_gain))
    if not vicarious:
        vicarious_gain = 0.0
    e = c.self_efficacy
    success, rejected = c.result == 1, c.result == 3
    failure = (c.result == 2) if failure_hurts else np.zeros(c.n, dtype=bool)
    up = (gain * success + vicarious_gain * state.tie_success_share) * (1.0 - e)
    down = (loss * failure + reject * rejected) * e
    efficacy = e + up - down + cp.efficacy_drift * (c.efficacy_baseline - e)
    t = c.trust
    trust = (t + cp.trust_gain * success * (1.0 - t) - cp.trust_loss * (failure | rejected) * t
             + cp.trust_drift * (c.trust_baseline - t))
    return Feedback(np.clip(efficacy, 0.0, 1.0), np.clip(trust, 0.0, 1.0))


@rule("admin_learning")
def anchored_learning(state: State, params: Parameters) -> np.ndarray:
    """Risk aversion moves toward the failure rate observed, anchored to the culture.

    rho' = rho + eta 1[episodes > 0] (failures / episodes - rho) + kappa (rho0 - rho),
    clipped to [rho_min, rho_max]: it falls after a month of successes and rises after
    failures. Source: trust built from outcomes (Voorberg et al. 2015).
    """
    ap = params.administration
    a = state.administrations
    episodes = a.successes + a.failures
    failure_rate = np.where(episodes > 0, a.failures / np.maximum(episodes, 1), a.risk_aversion)
    rho = (a.risk_aversion + ap.learning_rate * (failure_rate - a.risk_aversion)
           + ap.culture_anchor * (a.culture - a.risk_aversion))
    return np.clip(rho, ap.risk_aversion_min, ap.risk_aversion_max)


@rule("service_quality")
def coproduced_output(state: State, params: Parameters) -> np.ndarray:
    """Local service quality moves toward its baseline plus what was coproduced.

    q' = q + r (min(1, q0 + g y) - q), y the coproduced output per resident this month
    (successful episodes weighted 1, 2, 4 by mode). Source: coproduction improves services
    (Loeffler & Bovaird 2016).
    """
    ap = params.administration
    h = state.neighbourhoods
    target = np.minimum(1.0, h.quality_baseline + ap.quality_gain * state.output_per_resident)
    return np.clip(h.service_quality + ap.quality_rate * (target - h.service_quality), 0.0, 1.0)
