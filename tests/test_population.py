"""The synthetic town: neighbourhoods on an advantage gradient and their citizens."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.params import ParameterError, Parameters
from coprod_sim.town.population import build_citizens, build_neighbourhoods, neighbourhood_sizes


def town(seed=0, **overrides):
    p = Parameters({"population.n_citizens": 20_000, **overrides})
    rng = np.random.default_rng(seed)
    hoods = build_neighbourhoods(p, rng)
    return p, hoods, build_citizens(p, hoods, rng)


@given(n=st.integers(1, 10_000), w=st.lists(st.floats(0.1, 10), min_size=1, max_size=50))
def test_sizes_split_exactly(n, w):
    size = neighbourhood_sizes(n, np.array(w))
    assert size.sum() == n
    assert np.all(np.abs(size - n * np.array(w) / sum(w)) < 1 + 1e-9)


def test_neighbourhoods_lie_on_an_advantage_gradient():
    p, hoods, c = town()
    assert np.all(np.diff(hoods.advantage) > 0)
    assert hoods.size.sum() == c.n
    assert hoods.urban.sum() == round(p.population.urban_share * len(hoods))
    assert hoods.size[hoods.urban].min() > hoods.size[~hoods.urban].max()
    assert np.array_equal(hoods.administration, np.arange(len(hoods)) % p.population.n_administrations)


def test_advantage_shapes_status_and_status_shapes_attributes():
    _, hoods, c = town()
    adv = hoods.advantage[c.neighbourhood]
    assert np.corrcoef(adv, c.ses)[0, 1] > 0.4
    for attribute in (c.efficacy_baseline, c.civic_competence, c.spare_resources, c.trust_baseline):
        assert np.all((attribute > 0) & (attribute < 1))
        top, bottom = attribute[c.quintile == 4].mean(), attribute[c.quintile == 0].mean()
        assert top > bottom + 0.02
    # Advantaged neighbourhoods start with more efficacy and competence (docs/ODD.md, initialisation).
    rich, poor = c.neighbourhood == len(hoods) - 1, c.neighbourhood == 0
    assert c.self_efficacy[rich].mean() > c.self_efficacy[poor].mean()
    assert c.civic_competence[rich].mean() > c.civic_competence[poor].mean()


def test_segregation_parameter_controls_the_link():
    corr = []
    for rho in (0.0, 0.5, 0.9):
        _, hoods, c = town(**{"population.ses_segregation": rho})
        corr.append(np.corrcoef(hoods.advantage[c.neighbourhood], c.ses)[0, 1])
    assert abs(corr[0]) < 0.05 and corr[0] < corr[1] < corr[2]


def test_quintiles_and_ranks_are_consistent():
    _, _, c = town()
    assert np.bincount(c.quintile).tolist() == [c.n // 5] * 5
    order = np.argsort(c.ses)
    assert np.all(np.diff(c.ses_rank[order]) > 0)
    assert np.all(np.diff(c.quintile[order]) >= 0)


def test_demography():
    p, _, c = town()
    assert abs(c.female.mean() - p.population.female_share) < 0.02
    assert abs(c.age.mean() - p.population.age_mean) < 1.0
    assert c.age.min() >= 18


def test_targeted_and_universal_transfers_spend_the_same_budget():
    base = town()[2]
    targeted = town(**{"policy.resource_transfer": 0.3})[2]
    universal = town(**{"policy.resource_transfer": 0.3, "policy.transfer_target": "universal"})[2]
    gain_t = targeted.spare_resources - base.spare_resources
    gain_u = universal.spare_resources - base.spare_resources
    # Same draws: only the transfer differs. Clipping at 1 can only lose a little budget.
    assert np.array_equal(targeted.civic_competence, base.civic_competence)
    assert abs(gain_t.sum() - gain_u.sum()) / gain_u.sum() < 0.02
    poorest = base.ses_rank < 0.2
    assert np.median(gain_t[poorest]) == pytest.approx(0.3) and gain_t[poorest].min() > 0
    assert gain_t[~poorest].max() == 0


def test_same_generator_same_town():
    a, b = town(seed=5)[2], town(seed=5)[2]
    assert np.array_equal(a.self_efficacy, b.self_efficacy)
    assert not np.array_equal(a.self_efficacy, town(seed=6)[2].self_efficacy)


def test_more_neighbourhoods_than_citizens_is_a_user_error():
    with pytest.raises(ParameterError, match="n_neighbourhoods"):
        town(**{"population.n_citizens": 10, "population.n_neighbourhoods": 20})
