"""Levels of involvement, urban effect, digital channel and co-design seats: the equations.

Each test states a property the rule's docstring promises (bounds, directions, no-op
defaults), checked over hypothesis-generated inputs.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.params import Parameters
from coprod_sim.rules import equations as eq
from coprod_sim.rules import levels as L
from coprod_sim.rules import seats as S
from coprod_sim.town.population import digital_access_probability

unit = st.floats(0.0, 1.0, allow_nan=False)
scores = st.lists(unit, min_size=1, max_size=50)


def constants(**overrides) -> eq.Coefficients:
    return eq.coefficients(Parameters(overrides))


@given(e=unit, c=unit, r=unit, a=unit, openness=unit, support=unit,
       base1=st.floats(-20, 10), base2=st.floats(-20, 10))
def test_level_probabilities_are_a_distribution(e, c, r, a, openness, support, base1, base2):
    k = constants(**{"policy.codesign_openness": openness, "policy.initiative_support": support,
                     "levels.base_designer": base1, "levels.base_initiator": base2})
    p = L.level_probabilities(eq.resource_index(np.array([e]), c, r), np.array([a]), k)
    assert p.shape == (1, 3)
    assert np.all(p >= 0) and np.all(p <= 1)
    assert p.sum() == pytest.approx(1.0)


@given(index=st.floats(-1.5, 1.5), step=st.floats(0.01, 1.0), a=unit)
def test_more_resources_tilt_choices_toward_the_demanding_levels(index, step, a):
    k = constants()
    lo, hi = (L.level_probabilities(np.array([x]), np.array([a]), k)[0] for x in (index, index + step))
    # Odds of each higher level against executing rise with the resource index (demand > 0),
    # and the initiator level rises more than the designer level (it asks more).
    assert hi[1] / hi[0] > lo[1] / lo[0]
    assert hi[2] / hi[0] > lo[2] / lo[0]
    assert (hi[2] / hi[0]) / (lo[2] / lo[0]) > (hi[1] / hi[0]) / (lo[1] / lo[0])


@given(a=st.floats(0.0, 0.9), step=st.floats(0.05, 0.1))
def test_initiatives_rise_with_active_ties_and_support_and_designs_with_openness(a, step):
    base = L.level_probabilities(np.array([0.0]), np.array([a]), constants())[0]
    more_ties = L.level_probabilities(np.array([0.0]), np.array([a + step]), constants())[0]
    assert more_ties[2] > base[2] and more_ties[1] < base[1]
    supported = L.level_probabilities(np.array([0.0]), np.array([a]),
                                      constants(**{"policy.initiative_support": 1.0}))[0]
    assert supported[2] > base[2]
    opened = L.level_probabilities(np.array([0.0]), np.array([a]),
                                   constants(**{"policy.codesign_openness": 1.0}))[0]
    assert opened[1] > base[1]


@given(e1=st.floats(0.0, 1e6), e2=st.floats(0.0, 1e6), u=unit)
def test_choose_level_follows_the_cumulative_probabilities(e1, e2, u):
    level = eq.chosen_level(e1, e2, u)
    d = 1.0 + e1 + e2
    assert level in (0, 1, 2)
    expected = 0 if u < 1 / d else (1 if u < 1 / d + e1 / d else 2)
    # Rounding of the cumulative sums may move a u lying on a boundary by one level.
    if min(abs(u - 1 / d), abs(u - (1 + e1) / d)) > 1e-12:
        assert level == expected


def test_choose_level_gives_the_same_answer_for_arrays_and_scalars():
    rng = np.random.default_rng(3)
    e1, e2, u = rng.exponential(size=200), rng.exponential(size=200), rng.random(200)
    vector = eq.chosen_level(e1, e2, u)
    assert [eq.chosen_level(a, b, c) for a, b, c in zip(e1, e2, u, strict=True)] == list(vector)
    frequencies = np.bincount(eq.chosen_level(np.full(200_000, 1.0), np.full(200_000, 2.0),
                                             rng.random(200_000)), minlength=3) / 200_000
    assert frequencies == pytest.approx([0.25, 0.25, 0.5], abs=0.005)


@given(rho=unit, openness=unit)
def test_control_screen_spares_executors_and_openness_waives_it(rho, openness):
    k = constants(**{"policy.codesign_openness": openness})
    levels = np.array([0, 1, 2])
    accept = eq.control_acceptance(levels, np.full(3, rho), k)
    assert accept[0] == 1.0
    assert np.all((accept >= 0) & (accept <= 1))
    assert accept[2] <= accept[1] <= accept[0]  # backing an initiative risks the most control
    closed = eq.control_acceptance(levels, np.full(3, rho), constants())
    assert np.all(accept >= closed - 1e-15)
    if openness == 1.0:
        assert np.all(accept == 1.0)


@given(rho=st.floats(0.0, 0.99), step=st.floats(0.01, 0.01))
def test_more_risk_aversion_screens_the_higher_levels_harder(rho, step):
    k = constants()
    lo, hi = (eq.control_acceptance(np.array([1, 2]), np.full(2, x), k) for x in (rho, rho + step))
    assert np.all(hi < lo)


@given(x=unit, support=unit)
def test_success_shift_by_level(x, support):
    k = constants(**{"policy.initiative_support": support})
    lv = k.levels
    levels, modes = np.array([0, 1, 2, 2, 2]), np.array([0, 0, 0, 1, 2])
    shift = eq.level_success_shift(levels, modes, np.full(5, x), k)
    support_term = lv.support_weight * support
    assert shift[0] == 0.0  # executor: the mode's own terms decide
    assert shift[1] == -lv.difficulty_designer < 0
    # An initiator alone counts co-participants as group modes do; in group modes they are
    # counted by the outcome equation already, not twice.
    assert shift[2] == pytest.approx(k.citizens.success_coparticipant_weight * x + support_term
                                     - lv.difficulty_initiator)
    assert shift[3] == shift[4] == pytest.approx(support_term - lv.difficulty_initiator)


def test_more_control_is_harder_teaches_more_and_changes_the_service_more():
    k = constants()
    levels = np.array([0, 1, 2])
    shift = eq.level_success_shift(levels, np.full(3, 1), np.zeros(3), k)
    assert shift[0] == 0 and np.all(np.diff(shift) < 0)
    gain = eq.mastery_gain_at(levels, k)
    assert gain[0] == min(1.0, k.citizens.mastery_gain) and np.all(np.diff(gain) >= 0)
    output = eq.episode_output(np.zeros(3, int), levels, k)
    assert output[0] == k.administration.output_individual and np.all(np.diff(output) > 0)
    capped = constants(**{"citizens.feedback_strength": 3.0})
    assert np.all(eq.mastery_gain_at(levels, capped) <= 1.0)


def test_levels_raise_success_efficacy_and_output_only_through_their_terms():
    """Level 0 (executor) leaves the default equations as they were without levels."""
    k = constants()
    c, mode, x, col = 0.6, np.array([0, 1, 2]), 0.3, 0.1
    executor = eq.success_log_odds(c, mode, x, col, np.zeros(3, int), k)
    cp = k.citizens
    expected = (cp.success_base + cp.success_competence_weight * (c - 0.5)
                + cp.success_collaboration_weight * col + cp.success_coparticipant_weight * x * (mode >= 1)
                - np.array([0.0, cp.difficulty_group, cp.difficulty_collective]))
    np.testing.assert_allclose(executor, expected)


@given(urban=st.lists(st.booleans(), min_size=1, max_size=30), data=st.data())
def test_individual_mode_shift_is_zero_without_urban_effect_and_digital_channel(urban, data):
    n = len(urban)
    access = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    r = np.array(data.draw(st.lists(unit, min_size=n, max_size=n)))
    urban = np.array(urban)
    off = constants(**{"citizens.urban_individual_effect": 0.0})
    assert np.all(eq.individual_mode_shift(urban, access, r, off) == 0.0)
    k = constants(**{"policy.digital_share": 1.0})
    b = k.citizens.urban_individual_effect
    shift = eq.individual_mode_shift(urban, access, r, k)
    offline = ~access
    # The urban-rural contrast is b, centred: +b/2 urban, -b/2 rural, for those offline.
    assert np.all(shift[offline & urban] == pytest.approx(b / 2))
    assert np.all(shift[offline & ~urban] == pytest.approx(-b / 2))
    # Online tasks help those with access, most where spare resources are lacking.
    assert np.all(shift[access & urban] >= b / 2 - 1e-12)
    assert np.all(shift[access & ~urban] >= -b / 2 - 1e-12)


def test_digital_effort_saving_is_the_effort_term_shrunk():
    p = Parameters({"policy.digital_share": 0.4, "policy.digital_effort_saving": 0.5,
                    "citizens.urban_individual_effect": 0.0})
    r = np.array([0.2])
    before = p.citizens.effort_weight * p.policy.effort_individual * (1 - r)
    after = before * (1 - 0.4 * 0.5)
    shift = eq.individual_mode_shift(np.array([False]), np.array([True]), r, eq.coefficients(p))
    assert shift == pytest.approx(before - after)


@given(age=st.floats(18, 95), ses=st.floats(0.01, 0.99), d=st.floats(1, 20), s=st.floats(0.01, 0.3))
def test_digital_access_falls_with_age_and_rises_with_status(age, ses, d, s):
    p = Parameters()
    base = digital_access_probability(age, ses, p)
    assert digital_access_probability(age + d, ses, p) < base
    assert digital_access_probability(age, min(ses + s, 0.999), p) > base


def test_digital_access_matches_the_documented_divide():
    """About 15% offline overall, most people aged 75 or more offline, the young online."""
    rng = np.random.default_rng(0)
    p = Parameters()
    age = np.clip(p.population.age_mean + p.population.age_spread * rng.standard_normal(200_000), 18, 95)
    ses = rng.random(200_000)
    access = rng.random(len(age)) < digital_access_probability(age, ses, p)
    assert 0.10 < 1 - access.mean() < 0.22
    assert 1 - access[age >= 75].mean() > 0.5
    assert 1 - access[age < 25].mean() < 0.05
    assert access[ses > 0.8].mean() > access[ses < 0.2].mean() + 0.05


# ---------------------------------------------------------------------------------------
# Co-design seats
# ---------------------------------------------------------------------------------------

@given(seats=st.lists(st.integers(0, 40), min_size=1, max_size=4), data=st.data())
def test_stratum_quotas_add_up_and_follow_residents(seats, data):
    rows = [data.draw(st.lists(st.integers(0, 500), min_size=5, max_size=5)) for _ in seats]
    residents = np.array(rows)
    quota = S.stratum_quotas(np.array(seats), residents)
    for a, row in enumerate(residents):
        if row.sum() == 0:
            assert quota[a].sum() == 0
            continue
        assert quota[a].sum() == seats[a]
        exact = seats[a] * row / row.sum()
        assert np.all(np.abs(quota[a] - exact) < 1.0 + 1e-9)
        assert np.all(quota[a][row == 0] == 0)


def town(n: int, seed: int):
    rng = np.random.default_rng(seed)
    admin = rng.integers(0, 2, n).astype(np.int32)
    quintile = rng.integers(0, 5, n).astype(np.int8)
    return rng, admin, quintile


@given(n=st.integers(5, 400), seed=st.integers(0, 10_000), seats=st.integers(0, 30),
       method=st.sampled_from(["open_call", "sortition"]), redraws=st.integers(0, 6),
       p=st.floats(0.0, 1.0))
def test_seats_go_to_eligible_residents_within_quotas(n, seed, seats, method, redraws, p):
    rng, admin, quintile = town(n, seed)
    eligible = rng.random(n) < 0.8
    seat_count = np.array([seats, seats // 2])
    fill = S.fill_seats(eligible, admin, quintile, seat_count, method, np.full(n, p),
                        rng.random(n), rng.random(n), redraws)
    assert not np.any(fill.holders & ~eligible)
    assert np.all(np.bincount(admin[fill.holders], minlength=2) <= seat_count)
    assert np.all(fill.accepted <= fill.asked)
    assert fill.accepted.sum() == fill.holders.sum()
    if method == "sortition":
        residents = np.bincount(admin * 5 + quintile, minlength=10).reshape(2, 5)
        quota = S.stratum_quotas(seat_count, residents)
        got = np.bincount(admin[fill.holders] * 5 + quintile[fill.holders], minlength=10)
        assert np.all(got.reshape(2, 5) <= quota)
        assert fill.asked.sum() <= quota.sum() * (1 + redraws)
    if p == 1.0:  # nobody declines: every seat that has an eligible resident is filled
        if method == "open_call":
            expected = [min(seat_count[a], (eligible & (admin == a)).sum()) for a in (0, 1)]
            assert list(np.bincount(admin[fill.holders], minlength=2)) == expected
    if p == 0.0:
        assert not fill.holders.any()


def test_sortition_balances_strata_an_open_call_does_not():
    """With acceptance rising with status, an open call seats mostly the top; sortition
    seats each fifth in proportion, and records that the bottom declines more."""
    n = 20_000
    rng, admin, quintile = town(n, 1)
    p_accept = 0.05 + 0.15 * quintile  # 5% at the bottom, 65% at the top
    seats = np.array([200, 200])
    kw = dict(p_accept=p_accept, keys=rng.random(n), u_accept=rng.random(n))
    call = S.fill_seats(np.ones(n, bool), admin, quintile, seats, "open_call", redraws=5, **kw)
    draw = S.fill_seats(np.ones(n, bool), admin, quintile, seats, "sortition", redraws=50, **kw)
    top_share = lambda f: f.accepted[4] / f.accepted.sum()  # noqa: E731
    assert top_share(call) > 0.35
    assert abs(top_share(draw) - 0.2) < 0.03
    decline = 1 - draw.accepted / draw.asked
    assert decline[0] > decline[4] + 0.4


def test_sortition_with_few_redraws_leaves_seats_empty_where_people_decline():
    n = 20_000
    rng, admin, quintile = town(n, 2)
    p_accept = np.where(quintile == 0, 0.05, 0.9)
    fill = S.fill_seats(np.ones(n, bool), admin, quintile, np.array([100, 100]), "sortition",
                        p_accept, rng.random(n), rng.random(n), redraws=1)
    assert fill.accepted[0] < 0.5 * fill.accepted[1:].mean()


@given(index=st.floats(-1.5, 1.5), step=st.floats(0.05, 1.0))
def test_seat_acceptance_rises_with_resources_and_a_personal_invitation(index, step):
    p = Parameters()
    asked = S.seat_acceptance(index, p, personal=True)
    assert S.seat_acceptance(index + step, p, personal=True) > asked
    assert S.seat_acceptance(index, p, personal=False) < asked


def test_seats_per_administration_scale_with_residents():
    assert list(S.seats_per_administration(np.array([1000, 2500, 0]), 2.0)) == [2, 5, 0]
