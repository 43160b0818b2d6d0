"""Synthetic town: neighbourhoods on an advantage gradient and the citizens who live there.

State is kept as a structure of arrays (one NumPy array per attribute) so that rules are
vectorised over all citizens. Advantage shapes every attribute through the citizen's
socio-economic status (SES); that is where the selection bias comes from, not from a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

from coprod_sim.names import LEVELS, N_QUINTILES, NO_LEVEL, NO_MODE
from coprod_sim.params import ParameterError, Parameters


@dataclass
class Neighbourhoods:
    """Arrays of length K, one entry per neighbourhood."""

    advantage: np.ndarray  # [0, 1], evenly spaced from least to most advantaged
    urban: np.ndarray  # bool
    size: np.ndarray  # citizens living there
    administration: np.ndarray  # index of the administration that serves it
    quality_baseline: np.ndarray  # [0, 1] service quality without coproduction
    service_quality: np.ndarray  # [0, 1] current local service quality
    age_mean: np.ndarray | None = None  # mean adult age, from a town table; None: population.age_mean
    female_share: np.ndarray | None = None  # share of women, from a town table; None: the population's

    def __len__(self) -> int:
        return len(self.advantage)


@dataclass
class Citizens:
    """Arrays of length n, one entry per citizen. The first block is fixed at birth."""

    neighbourhood: np.ndarray  # int32
    administration: np.ndarray  # int32, the administration serving the neighbourhood
    ses: np.ndarray  # socio-economic status on (0, 1), a population percentile in effect
    ses_rank: np.ndarray  # fractional rank of SES, (rank + 0.5) / n
    quintile: np.ndarray  # int8 SES quintile, 0 = poorest fifth
    efficacy_baseline: np.ndarray  # self-efficacy the citizen drifts back to
    civic_competence: np.ndarray
    spare_resources: np.ndarray  # time, skills and means to give, after any transfer
    trust_baseline: np.ndarray
    age: np.ndarray  # years
    female: np.ndarray  # bool
    disposition: np.ndarray  # standard normal idiosyncrasy, used by alternative rules
    digital_access: np.ndarray  # bool, uses the internet with basic skills (drawn at build)
    # Dynamic state, updated every month.
    self_efficacy: np.ndarray
    trust: np.ndarray  # trust in the administration
    invited: np.ndarray  # bool, invited by outreach this month
    offered: np.ndarray  # int8 mode offered this month, NO_MODE if none
    mode: np.ndarray  # int8 mode active this month (offer accepted), NO_MODE if none
    result: np.ndarray  # int8 RESULT_* code of this month (coprod_sim.names)
    episodes: np.ndarray  # int32, accepted episodes so far
    successes: np.ndarray  # int32
    rejections: np.ndarray  # int32
    activity: np.ndarray  # uint16 bit t set if active t months ago (bit 0: this month)
    activity_by_mode: np.ndarray  # uint16 (3, n), the same per mode
    level: np.ndarray  # int8 level of this month's offer, then of its episode; NO_LEVEL if none
    activity_by_level: np.ndarray  # uint16 (3, n), activity per level of involvement

    def __len__(self) -> int:
        return len(self.ses)

    @property
    def n(self) -> int:
        return len(self.ses)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def _attribute(rng: np.random.Generator, ses: np.ndarray, median: float, spread: float,
               ses_effect: float) -> np.ndarray:
    """Logit-normal score: logit(x) = logit(median) + ses_effect (ses - 1/2) + spread * N(0, 1)."""
    z = logit(median) + ses_effect * (ses - 0.5) + spread * rng.standard_normal(len(ses))
    return expit(z)


def neighbourhood_sizes(n: int, weights: np.ndarray) -> np.ndarray:
    """Split n citizens in proportion to weights, exactly (largest remainders)."""
    share = n * weights / weights.sum()
    size = np.floor(share).astype(np.int64)
    short = n - size.sum()
    size[np.argsort(-(share - size), kind="stable")[:short]] += 1
    return size


def build_neighbourhoods(params: Parameters, rng: np.random.Generator) -> Neighbourhoods:
    if params.town.table:
        return table_neighbourhoods(params, rng)
    pop = params.population
    k = pop.n_neighbourhoods
    if k > pop.n_citizens:
        raise ParameterError(
            "population.n_neighbourhoods",
            f"population.n_neighbourhoods = {k} exceeds population.n_citizens = {pop.n_citizens}:"
            " every neighbourhood needs at least one citizen.",
        )
    advantage = (np.arange(k) + 0.5) / k
    urban = np.zeros(k, dtype=bool)
    urban[rng.permutation(k)[: round(pop.urban_share * k)]] = True
    size = neighbourhood_sizes(pop.n_citizens, np.where(urban, pop.urban_size_factor, 1.0))
    if size.min() == 0:  # tiny towns: keep every neighbourhood inhabited
        size = neighbourhood_sizes(pop.n_citizens, np.ones(k))
    quality = np.clip(pop.quality_mean + pop.quality_advantage_effect * (advantage - 0.5), 0.0, 1.0)
    return Neighbourhoods(
        advantage=advantage,
        urban=urban,
        size=size,
        administration=(np.arange(k) % pop.n_administrations).astype(np.int32),
        quality_baseline=quality,
        service_quality=quality.copy(),
    )


def table_neighbourhoods(params: Parameters, rng: np.random.Generator) -> Neighbourhoods:
    """Neighbourhoods of the table ``town.table`` names (coprod_sim/town/table.py).

    ``population.n_citizens`` citizens are shared in proportion to the table's populations,
    each neighbourhood keeping at least one; urban flags the table lacks are drawn as in the
    synthetic town, and administrations the table does not name are assigned k mod A.
    """
    from coprod_sim.town.table import town_table

    pop = params.population
    t = town_table(params)
    k = len(t)
    if k > pop.n_citizens:
        raise ParameterError("population.n_citizens", f"{t.path} has {k} neighbourhoods but the town has"
                             f" {pop.n_citizens} citizens: every neighbourhood needs at least one;"
                             " raise town.scale or population.n_citizens.")
    urban = t.urban
    if urban is None:
        urban = np.zeros(k, dtype=bool)
        urban[rng.permutation(k)[: round(pop.urban_share * k)]] = True
    size = 1 + neighbourhood_sizes(pop.n_citizens - k, t.population)
    admin = (t.administration if t.administration is not None
             else (np.arange(k) % pop.n_administrations).astype(np.int32))
    advantage = t.advantage
    quality = np.clip(pop.quality_mean + pop.quality_advantage_effect * (advantage - 0.5), 0.0, 1.0)
    return Neighbourhoods(advantage=advantage.copy(), urban=urban.copy(), size=size,
                          administration=admin.copy(), quality_baseline=quality,
                          service_quality=quality.copy(), age_mean=_copy(t.age_mean),
                          female_share=_copy(t.female_share))


def _copy(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.copy()


def build_citizens(params: Parameters, hoods: Neighbourhoods, rng: np.random.Generator) -> Citizens:
    """Draw every citizen's attributes given where they live.

    SES is a latent Gaussian mixing the neighbourhood's advantage and individual luck,
    ``z = rho * Phi^-1(advantage) + sqrt(1 - rho^2) * eps``, mapped back by ``Phi`` so that it
    reads as a percentile. Other attributes are logit-normal with an SES slope.
    """
    pop = params.population
    n = pop.n_citizens
    hood = np.repeat(np.arange(len(hoods), dtype=np.int32), hoods.size)
    rho = pop.ses_segregation
    z = rho * ndtri(hoods.advantage)[hood] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    ses = ndtr(z)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(ses, kind="stable")] = np.arange(n)
    efficacy = _attribute(rng, ses, pop.efficacy_mean, pop.efficacy_spread, pop.efficacy_ses_effect)
    competence = _attribute(rng, ses, pop.competence_mean, pop.competence_spread, pop.competence_ses_effect)
    resources = _attribute(rng, ses, pop.resources_mean, pop.resources_spread, pop.resources_ses_effect)
    trust = _attribute(rng, ses, pop.trust_mean, pop.trust_spread, pop.trust_ses_effect)
    # a table may give each neighbourhood its own mean age and share of women
    age_mean = pop.age_mean if hoods.age_mean is None else hoods.age_mean[hood]
    female_share = pop.female_share if hoods.female_share is None else hoods.female_share[hood]
    age = np.clip(age_mean + pop.age_spread * rng.standard_normal(n), 18.0, 95.0)
    female = rng.random(n) < female_share
    disposition = rng.standard_normal(n)
    resources = np.clip(resources + resource_transfer(params, rank), 0.0, 1.0)
    return Citizens(
        neighbourhood=hood,
        administration=hoods.administration[hood],
        ses=ses,
        ses_rank=(rank + 0.5) / n,
        quintile=(rank * N_QUINTILES // n).astype(np.int8),
        efficacy_baseline=efficacy,
        civic_competence=competence,
        spare_resources=resources,
        trust_baseline=trust,
        age=age,
        female=female,
        disposition=disposition,
        digital_access=np.zeros(n, dtype=bool),  # drawn by build_state, from a stream of its own
        self_efficacy=efficacy.copy(),
        trust=trust.copy(),
        invited=np.zeros(n, dtype=bool),
        offered=np.full(n, NO_MODE, dtype=np.int8),
        mode=np.full(n, NO_MODE, dtype=np.int8),
        result=np.zeros(n, dtype=np.int8),
        episodes=np.zeros(n, dtype=np.int32),
        successes=np.zeros(n, dtype=np.int32),
        rejections=np.zeros(n, dtype=np.int32),
        activity=np.zeros(n, dtype=np.uint16),
        activity_by_mode=np.zeros((3, n), dtype=np.uint16),
        level=np.full(n, NO_LEVEL, dtype=np.int8),
        activity_by_level=np.zeros((len(LEVELS), n), dtype=np.uint16),
    )


def resource_transfer(params: Parameters, ses_rank_order: np.ndarray) -> np.ndarray:
    """Resources each citizen receives from a transfer policy (Jakobsen 2013).

    'disadvantaged' gives ``resource_transfer`` to the lowest-status ``transfer_share`` of
    citizens; 'universal' spreads the same budget evenly, ``resource_transfer * transfer_share``
    to everyone.
    """
    pol = params.policy
    n = len(ses_rank_order)
    if pol.resource_transfer == 0.0:
        return np.zeros(n)
    if pol.transfer_target == "universal":
        return np.full(n, pol.resource_transfer * pol.transfer_share)
    return np.where(ses_rank_order < round(pol.transfer_share * n), pol.resource_transfer, 0.0)


def digital_access_probability(age, ses, params: Parameters):
    """P(access) = sigmoid(b_0 + b_age (age - mean age) + b_ses (s - 1/2)).

    Digital access means using the internet with basic skills. It falls with age and rises
    with status (the digital divide): in France in 2019, 17% of people aged 15 or more lacked
    it, 64% of those aged 75 or more had not used the internet in the year, and the less
    educated and lower-income were more often offline (Legleye & Rolland 2019, Insee Premiere
    1780). The defaults give about 15% offline, most people aged 75 or more offline, almost
    nobody under 25, and a status gap.
    """
    pop = params.population
    z = (pop.digital_access_base + pop.digital_access_age_effect * (age - pop.age_mean)
         + pop.digital_access_ses_effect * (ses - 0.5))
    return expit(z)


def draw_digital_access(citizens: Citizens, params: Parameters, rng: np.random.Generator) -> np.ndarray:
    """Who has digital access (bool): one uniform per citizen from the ``digital`` stream."""
    return rng.random(citizens.n) < digital_access_probability(citizens.age, citizens.ses, params)
