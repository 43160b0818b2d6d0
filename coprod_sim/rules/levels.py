"""Levels of involvement, the urban effect and the digital channel: the equations.

Each accepted episode has a *mode* (individual, group, collective: how many act together)
and a *level* (executor, designer, initiator: how much control the citizen has over the
service). The typology of levels is Voorberg, Bekkers & Tummers (2015, Public Management
Review 17(9)): citizens as co-implementers of a service, as co-designers of how it is
delivered, and as initiators whose idea the government then supports.

Notation (as in :mod:`coprod_sim.rules.defaults`): e self-efficacy, c civic competence,
r spare resources, a the share of one's ties active last month, x the share active this
month in group or collective mode, rho_eff an administration's effective risk aversion,
l the level (0 executor, 1 designer, 2 initiator), m the mode.

The functions are pure, over arrays (most also accept scalars), and take their constants
from :func:`level_constants`, so that the NumPy month and the compiled month compute the
same equations from the same numbers. The month draws the randomness (a ``level`` stream of
its own, so adding levels shifts no existing draw) and calls these functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit

from coprod_sim.names import LEVELS, NO_LEVEL
from coprod_sim.params import Parameters
from coprod_sim.rules.equations import UTILITY_CAP  # the mode choice's guard against overflow

EXECUTOR, DESIGNER, INITIATOR = (LEVELS.index(name) for name in ("executor", "designer", "initiator"))



class LevelConstants(NamedTuple):
    """The numbers the level equations use, computed once per parameter set."""

    base: np.ndarray  # (3,) beta_l, 0 for the executor level
    demand: np.ndarray  # (3,) delta_l, 0 for the executor level
    openness_term: float  # w_open * o, added to the designer utility
    organising_weight: float  # w_org, times a, added to the initiator utility
    support_term: float  # w_sup * sigma_init, initiator utility and success log-odds
    control: np.ndarray  # (3,) z_l (1 - o): share of risk aversion applied to control
    difficulty: np.ndarray  # (3,) d_l
    coparticipant_weight: float  # w_co, initiators' co-participants in individual mode
    mastery_gain: np.ndarray  # (3,) min(1, f g_s m_l)
    output: np.ndarray  # (3,) h_l
    individual_effort_saving: float  # w_eff * effort_0 * s_dig * psi
    urban_effect: float  # b_urban


def _by_level(params: Parameters, stem: str, executor: float) -> np.ndarray:
    lv = params.levels
    return np.array([executor, getattr(lv, f"{stem}_designer"), getattr(lv, f"{stem}_initiator")])


def level_constants(params: Parameters) -> LevelConstants:
    """The constants of every equation below, from the parameter tree."""
    lv, pol, cp = params.levels, params.policy, params.citizens
    openness = pol.codesign_openness
    gain = cp.feedback_strength * cp.mastery_gain
    return LevelConstants(
        base=_by_level(params, "base", 0.0),
        demand=_by_level(params, "demand", 0.0),
        openness_term=lv.openness_weight * openness,
        organising_weight=lv.organising_weight,
        support_term=lv.support_weight * pol.initiative_support,
        control=_by_level(params, "control", 0.0) * (1.0 - openness),
        difficulty=_by_level(params, "difficulty", 0.0),
        coparticipant_weight=cp.success_coparticipant_weight,
        mastery_gain=np.minimum(1.0, gain * _by_level(params, "gain", 1.0)),
        output=_by_level(params, "output", 1.0),
        individual_effort_saving=(cp.effort_weight * pol.effort_individual * pol.digital_share
                                  * pol.digital_effort_saving),
        urban_effect=cp.urban_individual_effect,
    )


def resource_index(efficacy, competence, resources):
    """D = (e - 1/2) + (c - 1/2) + (r - 1/2), the resources a demanding act draws on.

    Verba, Schlozman & Brady (1995, *Voice and Equality*, Harvard UP) name three resources
    of political and civic activity: psychological engagement (here self-efficacy), civic
    skills (civic competence) and time (spare resources). They give no weights; the three
    are weighted equally here, a stated assumption.
    """
    return (efficacy - 0.5) + (competence - 0.5) + (resources - 0.5)


def level_utilities(index, peer_share, k: LevelConstants):
    """Utilities of the designer and initiator levels relative to the executor level (0).

    u_1 = beta_1 + delta_1 D + w_open o,
    u_2 = beta_2 + delta_2 D + w_org a + w_sup sigma_init,
    each capped at 50. The demand slopes delta_l make the more demanding levels draw more
    on resources, so their status gradient is steeper (Verba, Schlozman & Brady 1995: the
    more demanding the act, the larger the socio-economic gap); initiatives need people to
    organise, so they rise with one's active ties a (Voorberg et al. 2015: citizen
    initiatives grow from community networks); an administration open to co-design invites
    it (o) and support for initiatives (sigma_init: grants, facilitators) makes them more
    appealing. Returns (u_1, u_2).
    """
    u1 = np.minimum(k.base[1] + k.demand[1] * index + k.openness_term, UTILITY_CAP)
    u2 = np.minimum(k.base[2] + k.demand[2] * index + k.organising_weight * peer_share
                    + k.support_term, UTILITY_CAP)
    return u1, u2


def choose_level(exp_u1, exp_u2, u):
    """The level chosen with a uniform u, given exp(u_1) and exp(u_2) (multinomial logit).

    p_0 = 1 / d, p_1 = exp(u_1) / d, p_2 = exp(u_2) / d, d = 1 + exp(u_1) + exp(u_2); the
    level is 0 if u < p_0, 1 if p_0 <= u < p_0 + p_1, else 2. The level is chosen
    conditional on the mode offered: what one does (mode) and how much say one seeks
    (level) are separate choices, the second made by those who take part.
    """
    d = 1.0 + (exp_u1 + exp_u2)
    c0 = 1.0 / d
    c1 = c0 + exp_u1 / d
    return (u >= c0) * 1 + (u >= c1) * 1


def level_probabilities(index, peer_share, k: LevelConstants) -> np.ndarray:
    """p_l of :func:`choose_level` for each citizen, (n, 3), rows summing to 1."""
    u1, u2 = level_utilities(np.asarray(index, float), np.asarray(peer_share, float), k)
    e1, e2 = np.exp(u1), np.exp(u2)
    d = 1.0 + (e1 + e2)
    return np.stack([1.0 / d, e1 / d, e2 / d], axis=-1)


def control_acceptance(level, rho_eff, k: LevelConstants):
    """Chance that an offer passes the control screen: 1 - rho_eff z_l (1 - o).

    Multiplies the mode screen of the screening rule. Sharing control is the risk a
    risk-averse administration avoids, so it keeps citizens as executors (Voorberg et al.
    2015: risk-averse administrative cultures are a main barrier to co-design and
    co-initiation). z_0 = 0: executing a service shares no control; openness o waives part
    of the screen. Applies to invited citizens too: outreach invites people to take part,
    not to control the service. ``level`` must be a level (0, 1 or 2).
    """
    return 1.0 - rho_eff * k.control[level]


def success_shift(level, mode, coparticipant_share, k: LevelConstants):
    """What the level adds to an episode's success log-odds.

    Delta = -d_l + 1[l = 2] (w_co x 1[m = 0] + w_sup sigma_init).
    More control is harder to exercise well (d_l); an initiative is a joint effort whatever
    its mode, so an initiator working individually also gains from co-participants among
    their ties (the group and collective modes already count them); support for initiatives
    (facilitators) raises their success. Sources: Voorberg et al. 2015 (initiation needs
    organising and government support); Bovaird et al. 2015 on collective coproduction.
    """
    initiator = (level == INITIATOR) * 1.0
    alone = (mode == 0) * 1.0
    return (initiator * (k.coparticipant_weight * coparticipant_share * alone + k.support_term)
            - k.difficulty[level])


def individual_mode_shift(urban, digital_access, resources, k: LevelConstants):
    """What urban living and the digital channel add to the utility of individual mode.

    Delta v_0 = b_urban 1[urban] + w_eff effort_0 s_dig psi 1[access] (1 - r).
    Urban residents do more individual coproduction, with no difference in group and
    collective modes (Parrado, Van Ryzin, Bovaird & Loeffler 2013, International Public
    Management Journal 16(1)); the size of b_urban is set near the female effect's, as the same survey
    reports both as small positive effects. Online individual tasks (Boston's Citizen Connect
    and StreetBump: reporting a pothole from a phone; Clark, Brudney & Jang 2013, Public
    Administration Review 73(5)) save a share psi of the effort of the share s_dig of
    individual tasks offered online, for those with digital access: the effort term of the
    mode choice, w_eff effort_0 (1 - r), shrinks by the factor (1 - s_dig psi).
    """
    return k.urban_effect * urban + k.individual_effort_saving * digital_access * (1.0 - resources)


def digital_access_probability(age, ses, params: Parameters):
    """P(access) = sigmoid(b_0 + b_age (age - mean age) + b_ses (s - 1/2)).

    Digital access means using the internet with basic skills. It falls with age and rises
    with status (the digital divide): in France in 2019, 17% of people aged 15 or more were
    without it, 64% of those aged 75 or more had not used the internet in the year, and the
    less educated and lower-income were more often offline (Legleye & Rolland 2019, Insee
    Premiere 1780).
    """
    pop = params.population
    z = (pop.digital_access_base + pop.digital_access_age_effect * (age - pop.age_mean)
         + pop.digital_access_ses_effect * (ses - 0.5))
    return expit(z)


def draw_digital_access(age: np.ndarray, ses: np.ndarray, params: Parameters,
                        rng: np.random.Generator) -> np.ndarray:
    """Who has digital access (bool, drawn once per citizen from the run's ``digital`` stream)."""
    return rng.random(len(age)) < digital_access_probability(age, ses, params)


__all__ = [
    "DESIGNER", "EXECUTOR", "INITIATOR", "LEVELS", "NO_LEVEL", "LevelConstants",
    "choose_level", "control_acceptance", "digital_access_probability", "draw_digital_access",
    "individual_mode_shift", "level_constants", "level_probabilities", "level_utilities",
    "resource_index", "success_shift",
]
