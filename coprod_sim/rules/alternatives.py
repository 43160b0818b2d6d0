"""Alternative rules beside the defaults, for researchers to switch on by name.

- ``granovetter_threshold`` (participation): each citizen joins once the share of its ties
  active last month reaches its own threshold (Granovetter 1978); reproduces fact F12 (docs/facts.md).
- ``legitimacy_grievance`` (participation): Epstein's (2002) civil-violence decision, with
  trust in the administration in the role of legitimacy.
- ``mastery_only`` (efficacy_feedback): the default feedback without vicarious learning.
- ``failure_harmless`` (efficacy_feedback): the default feedback where a failed episode
  costs neither self-efficacy nor trust.

Select one with e.g. ``--set rules.participation=granovetter_threshold``; their parameters
(groups ``threshold`` and ``legitimacy``) are in the tree like any other.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import MODES
from coprod_sim.params import Parameters
from coprod_sim.rules.base import Feedback, State
from coprod_sim.rules.defaults import efficacy_update
from coprod_sim.rules.registry import rule


def _in_mode(join: np.ndarray, mode: str) -> np.ndarray:
    """Offer probabilities (n, 3): 1 in ``mode`` for citizens who join, 0 elsewhere."""
    p = np.zeros((len(join), len(MODES)))
    p[:, MODES.index(mode)] = join
    return p


@rule("participation", params="threshold")  # its parameters: the tree's group threshold
def granovetter_threshold(state: State, params: Parameters) -> np.ndarray:
    """Threshold decision: join when the share of one's active ties reaches one's threshold.

    theta_i = mu + s z_i, z_i the citizen's disposition (a fixed standard normal drawn at
    birth), so thresholds are normal with mean mu and spread s and keep their order as s
    varies. Citizen i offers in the chosen mode with probability 1[a_i >= theta_i], a_i the
    share of i's ties active last month (0 for the isolated); no offer otherwise. Citizens
    with theta_i <= 0 are the instigators who start a cascade from nobody active: with
    mu = 0.25 there are Phi(-mu/s) of them (0.6% at s = 0.1, 11% at s = 0.2).
    In a well-mixed crowd the active share follows r' = Phi((r - mu) / s), which jumps from
    near 0 to near 1 as s crosses about 0.12 (Granovetter 1978, AJS 83(6); fact F12 of docs/facts.md).
    Episodes must be accepted to count as active: give ample capacity and no screening to
    see the pure cascade (scenarios/threshold_spread.toml).
    """
    tp = params.threshold
    theta = tp.mean + tp.spread * state.citizens.disposition
    join = (state.peer_active_share >= theta).astype(np.float64)
    return _in_mode(join, tp.mode)


@rule("participation", params="legitimacy")  # its parameters: the tree's group legitimacy
def legitimacy_grievance(state: State, params: Parameters) -> np.ndarray:
    """Epstein's civil-violence decision: act when grievance exceeds the net risk by T.

    G_i = H_i (1 - L_i), hardship H_i = 1 - q (the shortfall of local service quality),
    legitimacy L_i = t_i (the citizen's trust in the administration);
    N_i = R_i P_i, risk aversion R_i = 1 - e_i (lack of self-efficacy), and the expected
    chance of being turned away P_i = 1 - exp(-k rho / (1 + A_i)), rho the administration's
    risk aversion (its vigilance, Epstein's cops) and A_i the number of ties active last
    month (safety in numbers, Epstein's actives in vision).
    Citizen i offers in the chosen mode with probability 1[G_i - N_i > T]. Source: Epstein
    2002, PNAS 99 suppl. 3 (k = 2.3, T = 0.1). Unlike the default rule, distrust here
    pushes citizens to step in: coproduction as voice against a failing service.
    """
    lp = params.legitimacy
    c = state.citizens
    hardship = 1.0 - state.neighbourhoods.service_quality[c.neighbourhood]
    grievance = hardship * (1.0 - c.trust)
    active_ties = state.peer_active_share * state.degree
    vigilance = state.administrations.risk_aversion[c.administration]
    turned_away = 1.0 - np.exp(-lp.deterrence * vigilance / (1.0 + active_ties))
    net_risk = (1.0 - c.self_efficacy) * turned_away
    join = (grievance - net_risk > lp.threshold).astype(np.float64)
    return _in_mode(join, lp.mode)


@rule("efficacy_feedback")
def mastery_only(state: State, params: Parameters) -> Feedback:
    """The default feedback without vicarious learning: only one's own episodes count.

    e' = e + f [g_s S (1 - e) - g_f F e - g_r R e] + d (e0 - e); trust as in the default.
    Equal to mastery_vicarious with citizens.vicarious_gain = 0. Tests whether seeing
    one's ties succeed (Bandura 1977) matters for the virtuous cycle and its spread.
    """
    return efficacy_update(state, params, vicarious=False)


@rule("efficacy_feedback")
def failure_harmless(state: State, params: Parameters) -> Feedback:
    """The default feedback where failure does not hurt: only success and rejection count.

    e' = e + f [g_s S (1 - e) - g_r R e + g_v v (1 - e)] + d (e0 - e),
    t' = t + g_t S (1 - t) - l_t R t + d_t (t0 - t): a failed episode leaves self-efficacy
    and trust as they were. Compares the virtuous cycle with and without a vicious side
    (Finkel 1985 found participation raises efficacy; whether failure lowers it is the doubt).
    """
    return efficacy_update(state, params, failure_hurts=False)
