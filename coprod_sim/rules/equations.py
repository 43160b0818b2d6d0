"""The equations of the default rules, each written once, for one citizen at a time.

Every function here is the arithmetic of one default rule for one citizen (or one
administration, one neighbourhood), with the coefficients in named records built from the
parameter tree (:func:`coefficients`). They use only operations that mean the same on numbers
and on NumPy arrays, so the same definition runs two ways:

- the vectorised default rules (:mod:`coprod_sim.rules.defaults`, what researchers read and
  call) pass whole arrays: NumPy evaluates the equation element by element;
- the compiled month (:mod:`coprod_sim.month.compiled`) compiles these functions with Numba
  and calls them citizen by citizen, inside its loops.

Both evaluate the same operations in the same order, so they agree bit for bit. Branches are
written with :func:`where`, :func:`by_mode` and :func:`clip` (NumPy here; the compiled month
gives Numba their scalar forms). The two transcendental steps, ``exp`` of the utilities and
the logistic function of the success log-odds, stay in NumPy/SciPy on both paths (their
vectorised forms and the C library's can differ in the last bit).

Adding a parameter: declare it in the tree (:mod:`coprod_sim.params`) and use it here as
``k.<group>.<name>``; the records carry every numeric parameter of their group.
"""

from __future__ import annotations

import inspect
from collections import namedtuple
from typing import Any, NamedTuple

import numpy as np

from coprod_sim.params import TREE, Parameters

UTILITY_CAP = 50.0
"""Utilities are capped here before ``exp`` against overflow (a technical guard, not a
behavioural assumption: staying out then has a probability below e^-50)."""


def _record_type(group: str, typename: str) -> type:
    """A named tuple of every numeric parameter of ``group``, in tree order (values as floats)."""
    names = [name for name, p in TREE[group].items() if p.kind in (int, float, bool)]
    return namedtuple(typename, names, module=__name__)


PopulationRecord = _record_type("population", "PopulationRecord")
CitizensRecord = _record_type("citizens", "CitizensRecord")
AdministrationRecord = _record_type("administration", "AdministrationRecord")
PolicyRecord = _record_type("policy", "PolicyRecord")
LevelsRecord = _record_type("levels", "LevelsRecord")


class Coefficients(NamedTuple):
    """The coefficients the equations read, by group: ``k.citizens.efficacy_weight``."""

    population: Any
    citizens: Any
    administration: Any
    policy: Any
    levels: Any


_RECORDS = {"population": PopulationRecord, "citizens": CitizensRecord,
            "administration": AdministrationRecord, "policy": PolicyRecord,
            "levels": LevelsRecord}


def coefficients(params: Parameters) -> Coefficients:
    """The named records of ``params`` the equations read (by key, never by position)."""
    global _last
    last = _last  # one read: another thread may replace it meanwhile
    if last is not None and last[0] is params:  # Parameters are immutable: reuse
        return last[1]
    k = Coefficients(**{
        group: record(*(float(params[f"{group}.{name}"]) for name in record._fields))
        for group, record in _RECORDS.items()})
    _last = (params, k)
    return k


_last: tuple[Parameters, Coefficients] | None = None


# --- Branches that read the same on numbers and arrays (scalar forms: month/compiled.py) ---

def where(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false`` (element by element)."""
    return np.where(condition, if_true, if_false)


def by_mode(mode, individual, group, collective):
    """The value of the mode ``mode`` (0 individual, 1 group, 2 collective) among three."""
    return np.asarray((individual, group, collective))[mode]


def clip(x, low, high):
    """``x`` limited to [low, high]."""
    return np.clip(x, low, high)


# --- participation: logistic_choice -------------------------------------------------------

def mode_utilities(efficacy, competence, peer_share, degree, activity, trust, invited, staff_incentives,
                   service_quality, age, female, resources, urban, digital_access, k):
    """Utilities (v_individual, v_group, v_collective) of taking part in each mode.

    v_m = beta_m + w_e (e - 1/2) + w_c (c - 1/2) + w_p a + w_ask Q(a d) + w_t (t - 1/2) + w_i I
          + w_s sigma + w_info kappa - w_q (q - 1/2) - w_eff effort_m (1 - r) + demography_m,
    a the share of one's d ties active last month, Q the chance of being asked by one of them
    if one was not active last month (:func:`asked_by_ties`); the individual mode also
    + :func:`individual_mode_shift` (urban residents, digital channel).
    """
    cp, pol = k.citizens, k.policy
    common = cp.efficacy_weight * (efficacy - 0.5)
    common = common + cp.competence_weight * (competence - 0.5)
    common = common + cp.peer_weight * peer_share
    common = common + cp.recruitment_weight * asked_by_ties(peer_share * degree, activity, k)
    common = common + cp.trust_weight * (trust - 0.5)
    common = common + cp.invitation_weight * invited
    common = common + cp.incentive_weight * staff_incentives
    common = common + cp.information_weight * pol.information_campaign
    common = common - cp.quality_weight * (service_quality - 0.5)
    years = age - k.population.age_mean
    lack = 1.0 - resources
    individual = (common + cp.base_individual - cp.effort_weight * pol.effort_individual * lack
                  + cp.age_individual_effect * years + cp.female_individual_effect * female)
    individual = individual + individual_mode_shift(urban, digital_access, resources, k)
    collective_demography = cp.age_collective_effect * years
    group = (common + cp.base_group - cp.effort_weight * pol.effort_group * lack
             + collective_demography)
    collective = (common + cp.base_collective - cp.effort_weight * pol.effort_collective * lack
                  + collective_demography)
    return individual, group, collective


def asked_by_ties(active_ties, activity, k):
    """Q = (1 - a_0) r n / (1 + r n): the chance of being asked to take part by one of one's
    n active ties, for those not active last month (a_0 = 1 if active last month).

    Being asked by someone one knows is a main path into participation (Verba, Schlozman &
    Brady 1995, Voice and Equality, Harvard University Press: recruitment networks), so the
    request matters to those not already taking part; and who gets asked depends on whom
    one knows: the more active people among one's ties, the likelier a request. Each active
    tie asks with a small chance r a month; Q equals 1 - (1 - r)^n to first order in r n and
    saturates at 1 like it, in a rational form (the same bits compiled and in NumPy).
    Unlike the share of active ties (peer influence, w_p a), Q rises with the *number* of
    active ties, so more ties, and clusters of active people, mean more requests.
    ``activity`` is the citizen's activity bit field (bit 0: active last month).
    """
    x = k.citizens.recruitment_rate * active_ties
    return (x / (1.0 + x)) * (1 - (activity & 1))


def capped(utility):
    """A utility capped at UTILITY_CAP before ``exp``."""
    return np.minimum(utility, UTILITY_CAP)


def offer_probabilities(exp_individual, exp_group, exp_collective):
    """Multinomial logit with staying out as the reference: p_m = exp(v_m) / (1 + sum_j exp(v_j))."""
    total = 1.0 + (exp_individual + exp_group + exp_collective)
    return exp_individual / total, exp_group / total, exp_collective / total


# --- screening: risk_screening ------------------------------------------------------------

def effective_risk_aversion(risk_aversion, staff_incentives, k):
    """rho_eff = rho (1 - relief sigma): incentivised staff screen less."""
    return risk_aversion * (1.0 - k.administration.incentive_screening_relief * staff_incentives)


def reliability(competence, ses, k):
    """How reliable a citizen looks to staff: (1 - w) c + w s (status as a proxy)."""
    w = k.administration.reliability_ses_weight
    return (1.0 - w) * competence + w * ses


def acceptance(invited, rho_eff, mode, reliability_, k):
    """Chance an offer passes: 1 if invited, else 1 - rho_eff k_mode (1 - reliability)."""
    ap = k.administration
    share = by_mode(mode, ap.screening_individual, ap.screening_group, ap.screening_collective)
    return where(invited, 1.0, 1.0 - rho_eff * share * (1.0 - reliability_))


def priority(invited, rho_eff, reliability_, uniform):
    """Order of passed offers for the places: invited + rho_eff reliability + (1 - rho_eff) u."""
    return invited + rho_eff * reliability_ + (1.0 - rho_eff) * uniform


# --- outcome: competence_collaboration ----------------------------------------------------

def success_log_odds(competence, mode, coparticipant_share, collaboration, level, k):
    """beta + w_c (c - 1/2) + w_col (sigma - rho) + w_co x 1[m >= 1] - d_m + Delta_l,
    Delta_l the level's :func:`level_success_shift`."""
    cp = k.citizens
    together = (mode >= 1) * coparticipant_share
    x = cp.success_base + cp.success_competence_weight * (competence - 0.5)
    x = x + cp.success_collaboration_weight * collaboration
    x = x + cp.success_coparticipant_weight * together
    # Difficulty relative to an individual episode (which has none).
    x = x - by_mode(mode, 0.0, cp.difficulty_group, cp.difficulty_collective)
    return x + level_success_shift(level, mode, coparticipant_share, k)


# --- efficacy_feedback: mastery_vicarious -------------------------------------------------

def self_efficacy_after(efficacy, baseline, success, failure, rejected, vicarious_share, level,
                        k):
    """e + f [g_s m_l S (1 - e) - g_f b F e - g_r R e + g_v v (1 - e)] + d (e0 - e), in [0, 1].

    Each f g is capped at 1; m_l the mastery multiplier of the episode's level
    (:func:`mastery_gain_at`); b how much a failure weighs at self-efficacy e
    (:func:`failure_weight`).
    """
    cp = k.citizens
    f = cp.feedback_strength
    gain = mastery_gain_at(level, k)
    loss = min(1.0, f * cp.failure_loss) * failure_weight(efficacy, k)
    reject = min(1.0, f * cp.rejection_loss)
    vicarious = min(1.0, f * cp.vicarious_gain)
    up = (gain * success + vicarious * vicarious_share) * (1.0 - efficacy)
    down = (loss * failure + reject * rejected) * efficacy
    return clip(efficacy + up - down + cp.efficacy_drift * (baseline - efficacy), 0.0, 1.0)


def failure_weight(efficacy, k):
    """b = 1 - w + 2 w (1 - e): a failure weighs less the stronger one's self-efficacy.

    "After strong efficacy expectations are developed through repeated success, the negative
    impact of occasional failures is likely to be reduced" (Bandura 1977, Psychological
    Review 84(2), p. 195; Bandura 1997). Self-efficacy is the model's record of experience
    (an expectation of success formed from past episodes), so the buffering reads it: b = 1
    at e = 1/2 (a failure costs g_f e, as without buffering), less above (those who usually
    succeed shrug off an occasional failure), more below (a failure confirms the doubts of
    those who expected it). w = ``citizens.failure_buffering`` (0: no buffering).
    """
    w = k.citizens.failure_buffering
    return 1.0 - w + 2.0 * w * (1.0 - efficacy)


def trust_after(trust, baseline, success, failure, rejected, k):
    """t + g_t S (1 - t) - l_t (F or R) t + d_t (t0 - t), in [0, 1]."""
    cp = k.citizens
    x = (trust + cp.trust_gain * success * (1.0 - trust) - cp.trust_loss * (failure | rejected) * trust
         + cp.trust_drift * (baseline - trust))
    return clip(x, 0.0, 1.0)


def episode_output(mode, level, k):
    """Coproduced output of a successful episode in ``mode`` at ``level``: w_m h_l."""
    ap, lv = k.administration, k.levels
    weight = by_mode(mode, ap.output_individual, ap.output_group, ap.output_collective)
    # Design changes what the service is: designer and initiator episodes weigh more.
    return weight * by_mode(level, 1.0, lv.output_designer, lv.output_initiator)


# --- admin_learning: anchored_learning ----------------------------------------------------

def risk_aversion_after(risk_aversion, culture, successes, failures, k):
    """rho + eta 1[episodes > 0] (failures / episodes - rho) + kappa (rho0 - rho), clipped."""
    ap = k.administration
    episodes = successes + failures
    failure_rate = where(episodes > 0, failures / np.maximum(episodes, 1), risk_aversion)
    x = (risk_aversion + ap.learning_rate * (failure_rate - risk_aversion)
         + ap.culture_anchor * (culture - risk_aversion))
    return clip(x, ap.risk_aversion_min, ap.risk_aversion_max)


# --- service_quality: coproduced_output ---------------------------------------------------

def service_quality_after(quality, baseline, output_per_resident, k):
    """q + r (min(1, q0 + g y) - q), in [0, 1]."""
    ap = k.administration
    target = np.minimum(1.0, baseline + ap.quality_gain * output_per_resident)
    return clip(quality + ap.quality_rate * (target - quality), 0.0, 1.0)


# --- levels of involvement, urban residents, the digital channel ------------------------
# Each accepted episode has a level as well as a mode: executor (0: co-implementing a
# service), designer (1: co-designing it) or initiator (2: the idea comes from citizens and
# the administration backs it) -- the typology of Voorberg, Bekkers & Tummers (2015, Public
# Management Review 17(9)). Level indices are those of coprod_sim.names.LEVELS.

def individual_mode_shift(urban, digital_access, resources, k):
    """What urban living and the digital channel add to the individual mode's utility.

    Delta v_0 = b_urban (1[urban] - 1/2) + w_eff effort_0 s_dig psi 1[access] (1 - r).
    Urban residents do more individual coproduction, with no difference in group and
    collective modes (Parrado, Van Ryzin, Bovaird & Loeffler 2013, International Public
    Management Journal 16(1)); b_urban is the urban-rural contrast, centred like the other
    attributes (at 1/2) so that the calibrated base rate stays the town's. The source gives a
    direction, not a size: b_urban is set at about a third of the female effect, the least a
    survey of 1,000 residents detects; larger values flatten the town's status gradient (any
    heterogeneity unrelated to status does, in a logit) below what fact F5 asks.
    Online individual tasks (Boston's Citizens Connect and StreetBump: reporting a problem
    from a phone; Clark, Brudney & Jang 2013,
    Public Administration Review 73(5)) save a share psi of the effort of the share s_dig of
    individual tasks offered online, for those with digital access: the effort term
    w_eff effort_0 (1 - r) of the mode choice shrinks by the factor (1 - s_dig psi).
    """
    cp, pol = k.citizens, k.policy
    saving = cp.effort_weight * pol.effort_individual * pol.digital_share * pol.digital_effort_saving
    return cp.urban_individual_effect * (urban - 0.5) + saving * digital_access * (1.0 - resources)


def resource_index(efficacy, competence, resources):
    """D = (e - 1/2) + (c - 1/2) + (r - 1/2): the resources a demanding act draws on.

    Verba, Schlozman & Brady (1995, Voice and Equality, Harvard University Press) name three
    resources of civic activity: psychological engagement (here self-efficacy), civic skills
    (civic competence) and time (spare resources). They give no weights; the three are
    weighted equally here, a stated assumption.
    """
    return (efficacy - 0.5) + (competence - 0.5) + (resources - 0.5)


def level_utilities(index, peer_share, k):
    """Utilities of the designer and initiator levels against the executor level (0), capped.

    u_1 = beta_1 + delta_1 D + w_open o,   u_2 = beta_2 + delta_2 D + w_org a + w_sup sigma.
    The demand slopes delta_l make the more demanding levels draw more on resources, so their
    status gradient is steeper (Verba, Schlozman & Brady 1995: the more demanding the act,
    the larger the socio-economic gap); an initiative needs people to organise, so it rises
    with the share a of one's ties active last month (Voorberg et al. 2015: citizen
    initiatives grow out of community networks); an administration open to co-design
    (o = policy.codesign_openness) invites it, and support for initiatives (sigma =
    policy.initiative_support: grants, facilitators) makes them more appealing.
    """
    lv, pol = k.levels, k.policy
    designer = lv.base_designer + lv.demand_designer * index
    designer = designer + lv.openness_weight * pol.codesign_openness
    initiator = lv.base_initiator + lv.demand_initiator * index
    initiator = initiator + lv.organising_weight * peer_share
    initiator = initiator + lv.support_weight * pol.initiative_support
    return capped(designer), capped(initiator)


def chosen_level(exp_designer, exp_initiator, uniform):
    """The level a uniform picks from p = (1, exp u_1, exp u_2) / (1 + exp u_1 + exp u_2).

    Level 0 if u < p_0, 1 if p_0 <= u < p_0 + p_1, else 2: a multinomial logit with the
    executor level as reference, chosen by those who offer, after their mode.
    """
    d = 1.0 + (exp_designer + exp_initiator)
    executor = 1.0 / d
    designer = executor + exp_designer / d
    return (uniform >= executor) * 1 + (uniform >= designer) * 1


def control_acceptance(level, rho_eff, k):
    """The control screen: the chance an offer keeps its level, 1 - rho_eff z_l (1 - o), z_0 = 0.

    Sharing control is the risk a risk-averse administration avoids, so it keeps citizens as
    executors (Voorberg et al. 2015: risk-averse administrative cultures are a main barrier
    to co-design and co-initiation): an offer that fails this screen is taken on at the
    executor level (see :func:`screened_level`), not turned away. Openness o waives part of
    the screen. It applies to the invited too: outreach invites people to take part, not to
    control the service.
    """
    lv = k.levels
    share = by_mode(level, 0.0, lv.control_designer, lv.control_initiator)
    return 1.0 - rho_eff * share * (1.0 - k.policy.codesign_openness)


def screened_level(level, uniform, rho_eff, k):
    """The level an offer is taken on at: its own if uniform < :func:`control_acceptance`,
    else the executor level (0)."""
    return where(uniform < control_acceptance(level, rho_eff, k), level, 0)


def offered_level(exp_designer, exp_initiator, uniform, rho_eff, k):
    """The level chosen with ``uniform`` (:func:`chosen_level`), then screened
    (:func:`screened_level`) with where ``uniform`` fell inside the chosen level's interval,
    rescaled to [0, 1): a second uniform, independent of the choice, from the same draw."""
    d = 1.0 + (exp_designer + exp_initiator)
    executor = 1.0 / d
    designer = executor + exp_designer / d
    level = (uniform >= executor) * 1 + (uniform >= designer) * 1
    low = where(level == 2, designer, where(level == 1, executor, 0.0))
    high = where(level == 2, 1.0, where(level == 1, designer, 1.0))
    return screened_level(level, (uniform - low) / (high - low), rho_eff, k)


def level_success_shift(level, mode, coparticipant_share, k):
    """What the level adds to the success log-odds: -d_l + 1[l = 2] (w_co x 1[m = 0] + w_sup sigma).

    More control is harder to exercise well (d_l); an initiative is a joint effort whatever
    its mode, so an initiator working individually also counts co-participants among their
    ties (group and collective modes count them already); support (facilitators) helps an
    initiative succeed (Voorberg et al. 2015).
    """
    lv, cp = k.levels, k.citizens
    organising = where(mode == 0, cp.success_coparticipant_weight * coparticipant_share, 0.0)
    support = lv.support_weight * k.policy.initiative_support
    difficulty = by_mode(level, 0.0, lv.difficulty_designer, lv.difficulty_initiator)
    return where(level == 2, organising + support, 0.0) - difficulty


def mastery_gain_at(level, k):
    """min(1, f g_s m_l): a success teaches more where the citizen had more control (Bandura
    1997: mastery experiences are the strongest source of efficacy, the more so the more the
    success is one's own); m_0 = 1."""
    cp, lv = k.citizens, k.levels
    g = cp.feedback_strength * cp.mastery_gain
    return by_mode(level, min(1.0, g), min(1.0, g * lv.gain_designer),
                   min(1.0, g * lv.gain_initiator))


EQUATIONS = tuple(fn for name, fn in list(globals().items())
                  if inspect.isfunction(fn) and fn.__module__ == __name__
                  and not name.startswith("_") and fn not in (where, by_mode, clip, coefficients))
"""Every equation of this module, for the compiled month to compile (a new one is found here)."""
