"""The default rules written as an idiomatic Mesa model: the baseline the kernel is measured against.

One Python object per citizen, attributes as Python numbers, ``Citizen`` methods that loop
over the citizen's ties, stages run with ``model.agents_by_type[Citizen].shuffle_do(...)``,
a ``mesa.DataCollector``: what a Mesa user would write for coprod-sim's default rules
(coprod_sim/rules/defaults.py, the kernel's capacity and bookkeeping). The social network is
Mesa's ``Network`` space with citizens as ``FixedAgent``s reading
``self.cell.neighborhood.agents``, as in Mesa's own network example (virus_on_network).
``space="lists"`` keeps each citizen's ties in a plain list instead: a hand-tuned variant,
faster than idiomatic Mesa, with identical results (same draws, same order). Otherwise it is
written to be reasonable, not slow: parameters are read once, ``math.exp`` on floats.

Fairness: the town (citizens' attributes and ties) is built by coprod-sim's own generator from
the same seed, so only the months differ; the dynamics draw from Mesa's ``model.random``
instead of the kernel's streams, so runs differ draw by draw but not in distribution.
tests/test_comparator.py checks that outcomes (participation, bias, efficacy gap) have the
same distributions over replications. Kept in benchmarks/ only: not part of the package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mesa
import networkx as nx
from mesa.discrete_space import FixedAgent, Network

from coprod_sim.model import as_parameters
from coprod_sim.names import MODES
from coprod_sim.params import Parameters
from coprod_sim.rules.equations import UTILITY_CAP
from coprod_sim.run import run_seed
from coprod_sim.town.build import build_state
from coprod_sim.town.streams import Streams


class Neighbourhood:
    """A neighbourhood's service quality (not an agent: it does not act)."""

    def __init__(self, advantage: float, size: int, quality: float):
        self.advantage = advantage
        self.size = size
        self.quality_baseline = quality
        self.quality = quality
        self.output = 0.0  # coproduced output this month


class Administration(mesa.Agent):
    """Receives offers, screens them, keeps the best within capacity, learns from outcomes."""

    def __init__(self, model: ComparatorModel, risk_aversion: float, incentives: float,
                 capacity: list[int]):
        super().__init__(model)
        self.risk_aversion = risk_aversion
        self.culture = risk_aversion
        self.staff_incentives = incentives
        self.capacity = capacity
        self.offers: list[Citizen] = []
        self.successes = 0
        self.failures = 0

    def open(self) -> None:
        self.offers = []
        self.successes = 0
        self.failures = 0

    def screen(self) -> None:
        """Accept offers with a chance that falls with risk aversion; capacity to the best."""
        m = self.model
        rho = self.risk_aversion * (1.0 - m.incentive_screening_relief * self.staff_incentives)
        w = m.reliability_ses_weight
        passed: list[list[tuple[float, Citizen]]] = [[], [], []]
        for citizen in self.offers:
            reliability = (1.0 - w) * citizen.competence + w * citizen.ses
            if citizen.invited:
                accept = 1.0
            else:
                accept = 1.0 - rho * m.screening_share[citizen.offer] * (1.0 - reliability)
            priority = citizen.invited + rho * reliability + (1.0 - rho) * self.random.random()
            if self.random.random() < accept:
                passed[citizen.offer].append((priority, citizen))
            else:
                citizen.rejected = True
        for mode, queue in enumerate(passed):
            queue.sort(key=lambda item: -item[0])
            for rank, (_, citizen) in enumerate(queue):
                if rank < self.capacity[mode]:
                    citizen.mode = mode
                else:
                    citizen.rejected = True

    def learn(self) -> None:
        m = self.model
        episodes = self.successes + self.failures
        failure_rate = self.failures / episodes if episodes else self.risk_aversion
        rho = (self.risk_aversion + m.learning_rate * (failure_rate - self.risk_aversion)
               + m.culture_anchor * (self.culture - self.risk_aversion))
        self.risk_aversion = min(max(rho, m.risk_aversion_min), m.risk_aversion_max)


class Citizen(FixedAgent):
    """A citizen who decides each month whether to coproduce, and learns from it.

    Its ties are the agents of the neighbouring cells of Mesa's network space.
    """

    def __init__(self, model: ComparatorModel, neighbourhood: Neighbourhood,
                 administration: Administration, **attributes: Any):
        super().__init__(model)
        self.neighbourhood = neighbourhood
        self.administration = administration
        self.ses = attributes["ses"]
        self.ses_rank = attributes["ses_rank"]
        self.quintile = attributes["quintile"]
        self.efficacy_baseline = attributes["efficacy"]
        self.self_efficacy = attributes["efficacy"]
        self.competence = attributes["competence"]
        self.resources = attributes["resources"]
        self.trust_baseline = attributes["trust"]
        self.trust = attributes["trust"]
        self.age = attributes["age"]
        self.female = attributes["female"]
        self.n_ties = 0
        self.was_active = False  # what the ties see this month: active last month
        self.invited = False
        self.offer: int | None = None
        self.mode: int | None = None
        self.rejected = False
        self.succeeded = False
        self.activity = 0  # bit t set if active t months ago
        self.activity_by_mode = [0, 0, 0]

    def ties(self):
        return self.cell.neighborhood.agents

    def decide(self) -> None:
        """Stages 1-2: outreach, then the multinomial-logit choice of a mode or none."""
        m = self.model
        self.offer = self.mode = None
        self.rejected = self.succeeded = False
        active_ties = 0
        for tie in self.ties():
            if tie.was_active:
                active_ties += 1
        peer = active_ties / self.n_ties if self.n_ties else 0.0
        asked = 0.0  # being asked by one of one's active ties, if not active last month
        if not self.was_active:
            x = m.recruitment_rate * active_ties
            asked = x / (1.0 + x)
        self.invited = self.random.random() < m.invitation_probability(self)
        common = (m.efficacy_weight * (self.self_efficacy - 0.5)
                  + m.competence_weight * (self.competence - 0.5)
                  + m.peer_weight * peer
                  + m.recruitment_weight * asked
                  + m.trust_weight * (self.trust - 0.5)
                  + m.invitation_weight * self.invited
                  + m.incentive_weight * self.administration.staff_incentives
                  + m.information
                  - m.quality_weight * (self.neighbourhood.quality - 0.5))
        age = self.age - m.age_mean
        lack = 1.0 - self.resources
        utilities = (
            common + m.base[0] - m.effort[0] * lack + m.age_individual * age
            + m.female_individual * self.female,
            common + m.base[1] - m.effort[1] * lack + m.age_collective * age,
            common + m.base[2] - m.effort[2] * lack + m.age_collective * age,
        )
        weights = [math.exp(min(v, UTILITY_CAP)) for v in utilities]
        total = 1.0 + sum(weights)
        u = self.random.random()
        cumulative = 0.0
        for mode, weight in enumerate(weights):
            cumulative += weight / total
            if u < cumulative:
                self.offer = mode
                self.administration.offers.append(self)
                break

    def act(self) -> None:
        """Stage 4: an accepted episode succeeds or fails."""
        if self.mode is None:
            return
        m = self.model
        together = 0.0
        if self.mode >= 1 and self.n_ties:
            together = sum(1 for tie in self.ties() if tie.mode is not None and tie.mode >= 1)
            together /= self.n_ties
        admin = self.administration
        x = (m.success_base + m.success_competence_weight * (self.competence - 0.5)
             + m.success_collaboration_weight * (admin.staff_incentives - admin.risk_aversion)
             + m.success_coparticipant_weight * together - m.difficulty[self.mode])
        if self.random.random() < 1.0 / (1.0 + math.exp(-x)):
            self.succeeded = True
            admin.successes += 1
            self.neighbourhood.output += m.output_weight[self.mode]
        else:
            admin.failures += 1

    def learn(self) -> None:
        """Stage 5: mastery, failure, rejection and vicarious experience; drift back."""
        m = self.model
        vicarious = 0.0
        if self.n_ties:
            vicarious = sum(1 for tie in self.ties() if tie.succeeded) / self.n_ties
        failed = self.mode is not None and not self.succeeded
        e = self.self_efficacy
        buffered = m.loss * (1.0 - m.buffering + 2.0 * m.buffering * (1.0 - e))
        e = (e + (m.gain * self.succeeded + m.vicarious * vicarious) * (1.0 - e)
             - (buffered * failed + m.reject * self.rejected) * e
             + m.efficacy_drift * (self.efficacy_baseline - e))
        self.self_efficacy = min(max(e, 0.0), 1.0)
        t = self.trust
        t = (t + m.trust_gain * self.succeeded * (1.0 - t)
             - m.trust_loss * (failed or self.rejected) * t
             + m.trust_drift * (self.trust_baseline - t))
        self.trust = min(max(t, 0.0), 1.0)
        self.was_active = self.mode is not None
        self.activity = ((self.activity << 1) | self.was_active) & 0xFFFF
        for mode in range(3):
            self.activity_by_mode[mode] = ((self.activity_by_mode[mode] << 1)
                                           | (self.mode == mode)) & 0xFFFF


class ListCitizen(Citizen):
    """A citizen whose ties are a plain list of agents (the hand-tuned variant)."""

    def ties(self):
        return self.tie_list


class ComparatorModel(mesa.Model):
    """The town of ``CoproductionModel(params, seed)``, its months written agent by agent.

    ``space``: "network" (Mesa's network space, the idiomatic default) or "lists".
    """

    def __init__(self, params: Parameters | Mapping[str, Any] | None = None, seed: int = 0,
                 replication: int | None = None, collect: bool = True, space: str = "network"):
        super().__init__(rng=seed * 1_000_003 + (replication or 0))
        self.params = p = as_parameters(params)
        self._read_parameters(p)
        # The town as coprod-sim builds it (same seed, same attributes and ties).
        state = build_state(p, Streams.from_seed(run_seed(seed, replication)))
        c, h, a = state.citizens, state.neighbourhoods, state.administrations
        self.neighbourhoods = [Neighbourhood(float(h.advantage[k]), int(h.size[k]),
                                             float(h.quality_baseline[k])) for k in range(len(h))]
        self.administrations = [Administration(self, float(a.risk_aversion[i]),
                                               float(a.staff_incentives[i]),
                                               [int(x) for x in a.capacity[i]])
                                for i in range(len(a))]
        kind = {"network": Citizen, "lists": ListCitizen}[space]
        citizens = []
        for i in range(c.n):
            citizens.append(kind(
                self, self.neighbourhoods[int(c.neighbourhood[i])],
                self.administrations[int(c.administration[i])],
                ses=float(c.ses[i]), ses_rank=float(c.ses_rank[i]), quintile=int(c.quintile[i]),
                efficacy=float(c.efficacy_baseline[i]), competence=float(c.civic_competence[i]),
                resources=float(c.spare_resources[i]), trust=float(c.trust_baseline[i]),
                age=float(c.age[i]), female=bool(c.female[i])))
        net = state.network
        if space == "network":
            graph = nx.Graph()
            graph.add_nodes_from(range(c.n))
            graph.add_edges_from(zip(*sp_upper(net), strict=True))
            self.grid = Network(graph, capacity=1, random=self.random, layout=None)
            for citizen, cell in zip(citizens, self.grid.all_cells, strict=True):
                citizen.cell = cell
        for i, citizen in enumerate(citizens):
            citizen.n_ties = int(net.indptr[i + 1] - net.indptr[i])
            if space == "lists":
                citizen.tie_list = [citizens[j] for j in net.indices[net.indptr[i]:net.indptr[i + 1]]]
        self.citizens = self.agents_by_type[kind]
        self.mean_outreach_weight = 1.0
        self.latest: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(model_reporters={
            name: (lambda model, name=name: model.latest[name]) for name in REPORTED})
        if collect:
            self.observe()
            self.datacollector.collect(self)
        self.collect = collect

    def _read_parameters(self, p: Parameters) -> None:
        cp, ap, pol = p.citizens, p.administration, p.policy
        for name in ("efficacy_weight", "competence_weight", "peer_weight", "recruitment_weight",
                     "recruitment_rate", "trust_weight",
                     "invitation_weight", "incentive_weight", "quality_weight", "efficacy_drift",
                     "trust_gain", "trust_loss", "trust_drift", "success_base",
                     "success_competence_weight", "success_collaboration_weight",
                     "success_coparticipant_weight"):
            setattr(self, name, getattr(cp, name))
        self.information = cp.information_weight * pol.information_campaign
        self.age_mean = p.population.age_mean
        self.base = (cp.base_individual, cp.base_group, cp.base_collective)
        self.effort = tuple(cp.effort_weight * p[f"policy.effort_{m}"] for m in MODES)
        self.age_individual = cp.age_individual_effect
        self.female_individual = cp.female_individual_effect
        self.age_collective = cp.age_collective_effect
        self.difficulty = (0.0, cp.difficulty_group, cp.difficulty_collective)
        self.buffering = cp.failure_buffering
        f = cp.feedback_strength
        self.gain, self.loss, self.reject, self.vicarious = (
            min(1.0, f * g) for g in (cp.mastery_gain, cp.failure_loss, cp.rejection_loss,
                                      cp.vicarious_gain))
        self.screening_share = tuple(p[f"administration.screening_{m}"] for m in MODES)
        self.reliability_ses_weight = ap.reliability_ses_weight
        self.incentive_screening_relief = ap.incentive_screening_relief
        self.output_weight = (ap.output_individual, ap.output_group, ap.output_collective)
        self.learning_rate, self.culture_anchor = ap.learning_rate, ap.culture_anchor
        self.risk_aversion_min, self.risk_aversion_max = ap.risk_aversion_min, ap.risk_aversion_max
        self.quality_rate, self.quality_gain = ap.quality_rate, ap.quality_gain
        self.outreach, self.outreach_rate = pol.outreach, pol.outreach_rate
        self.window = (1 << p.simulation.year_window) - 1

    def outreach_weight(self, citizen: Citizen) -> float:
        if self.outreach == "targeted_efficacy":
            return (1.0 - citizen.self_efficacy) ** 2
        if self.outreach == "targeted_area":
            return (1.0 - citizen.neighbourhood.advantage) ** 2
        return 1.0

    def invitation_probability(self, citizen: Citizen) -> float:
        if self.outreach == "none" or self.outreach_rate == 0.0 or self.mean_outreach_weight <= 0:
            return 0.0
        return min(1.0, self.outreach_rate * self.outreach_weight(citizen) / self.mean_outreach_weight)

    def step(self) -> None:
        """One month, stage by stage, each citizen in a new random order."""
        if self.outreach.startswith("targeted"):
            weights = [self.outreach_weight(c) for c in self.citizens]
            self.mean_outreach_weight = sum(weights) / len(weights)
        admins = self.agents_by_type[Administration]
        admins.do("open")
        self.citizens.shuffle_do("decide")
        admins.shuffle_do("screen")
        for hood in self.neighbourhoods:
            hood.output = 0.0
        self.citizens.shuffle_do("act")
        self.citizens.shuffle_do("learn")
        admins.do("learn")
        for hood in self.neighbourhoods:
            target = min(1.0, hood.quality_baseline + self.quality_gain * hood.output / max(hood.size, 1))
            hood.quality = min(max(hood.quality + self.quality_rate * (target - hood.quality), 0.0), 1.0)
        if self.collect:
            self.observe()
            self.datacollector.collect(self)

    def observe(self) -> None:
        """The outcomes the comparison uses, in one pass over the citizens."""
        n = len(self.citizens)
        active = year = 0
        by_quintile = [0] * 5
        size_quintile = [0] * 5
        efficacy_in = efficacy_out = 0.0
        rank_sum = rank_year = 0.0
        for c in self.citizens:
            active += c.mode is not None
            size_quintile[c.quintile] += 1
            rank_sum += c.ses_rank
            if c.activity & self.window:
                year += 1
                by_quintile[c.quintile] += 1
                efficacy_in += c.self_efficacy
                rank_year += c.ses_rank
            else:
                efficacy_out += c.self_efficacy
        share = year / n
        # C = 2 cov(y, R) / mean(y) = 2 (mean(R | y = 1) - mean(R)) for a 0/1 y.
        concentration = 2.0 * (rank_year / year - rank_sum / n) if year else math.nan
        bottom = by_quintile[0] / max(size_quintile[0], 1)
        top = by_quintile[4] / max(size_quintile[4], 1)
        e_in = efficacy_in / year if year else math.nan
        e_out = efficacy_out / (n - year) if year < n else math.nan
        self.latest = {"participation": active / n, "participation_year": share,
                       "concentration_index": concentration,
                       "top_bottom_ratio": top / bottom if bottom else math.nan,
                       "efficacy_gap": e_in - e_out}

    def timeseries(self):
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)


def sp_upper(net) -> tuple[list[int], list[int]]:
    """Each tie of a symmetric CSR adjacency once, as (i, j) lists with i < j."""
    coo = net.tocoo()
    keep = coo.row < coo.col
    return coo.row[keep].tolist(), coo.col[keep].tolist()


REPORTED = ("participation", "participation_year", "concentration_index", "top_bottom_ratio",
            "efficacy_gap")
"""Outcomes the comparator records, named as in the kernel's time series."""


def run_comparator(params: Parameters | Mapping[str, Any] | None = None, seed: int = 0,
                   replication: int | None = None, space: str = "network"):
    """Run ``simulation.steps`` months and return the recorded time series (a DataFrame)."""
    model = ComparatorModel(params, seed, replication, space=space)
    for _ in range(model.params.simulation.steps):
        model.step()
    return model.timeseries()

