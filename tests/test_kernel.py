"""The vectorised month: capacity, streams, invariants over steps, checking of rule outputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.month.kernel import Kernel, RuleOutputError, within_capacity
from coprod_sim.names import NO_MODE
from coprod_sim.params import Parameters
from coprod_sim.rules.registry import selected
from coprod_sim.rules.seats import SEAT_MODE, seats_per_administration
from coprod_sim.town.streams import Streams
from tests.test_defaults import valid_params


@given(data=st.data(), n=st.integers(1, 200), admins=st.integers(1, 3))
def test_capacity_keeps_the_highest_priority_offers(data, n, admins):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    passed = rng.random(n) < 0.6
    admin = rng.integers(0, admins, n)
    mode = rng.integers(0, 3, n).astype(np.int8)
    priority = rng.random(n).round(1)  # ties on purpose
    capacity = rng.integers(0, 8, (admins, 3))
    accepted = within_capacity(passed, admin, mode, priority, capacity)
    assert not np.any(accepted & ~passed)
    for a in range(admins):
        for m in range(3):
            group = passed & (admin == a) & (mode == m)
            got = accepted & group
            assert got.sum() == min(group.sum(), capacity[a, m])
            if got.any() and (group & ~got).any():
                # Nobody turned away outranks anybody accepted (ties go to the lower index).
                worst_in = min((priority[i], -i) for i in np.flatnonzero(got))
                best_out = max((priority[i], -i) for i in np.flatnonzero(group & ~got))
                assert worst_in > best_out


def test_streams_are_independent_and_reproducible():
    a, b = Streams.from_seed(7), Streams.from_seed(7)
    assert a.decision.random() == b.decision.random()
    # A seed object seeds the same streams however often it is used, as spawn() would once.
    root = np.random.SeedSequence(7, spawn_key=(3,))
    first, again = Streams.from_seed(root), Streams.from_seed(root)
    spawned = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3,)).spawn(8)[4])
    assert first.decision.random() == again.decision.random() == spawned.random()
    draws = {name: getattr(Streams.from_seed(7), name).random() for name in vars(a)}
    assert len(set(draws.values())) == len(draws)


def small(params=None, **kw):
    return (params or Parameters()).replace({"population.n_citizens": 300,
                                             "population.n_neighbourhoods": 3, **kw})


@given(params=valid_params(), seed=st.integers(0, 2**20))
def test_state_stays_within_bounds_over_months(params, seed):
    kernel = Kernel(small(params), Streams.from_seed(seed))
    c, a, h = kernel.state.citizens, kernel.state.administrations, kernel.state.neighbourhoods
    for _ in range(6):
        kernel.step()
        for arr in (c.self_efficacy, c.trust, h.service_quality, a.risk_aversion,
                    kernel.state.peer_active_share, kernel.state.tie_success_share):
            assert np.all((arr >= 0) & (arr <= 1))
        active = c.mode != NO_MODE
        assert np.all(c.offered[active] == c.mode[active])
        assert np.all((c.result == 0) == (c.offered == NO_MODE))
        # Capacity is never exceeded (co-design seats are places of their own, in group mode).
        seats = seats_per_administration(a.residents, kernel.params.policy.codesign_seats)
        for admin in range(len(a)):
            for m in range(3):
                extra = seats[admin] if m == SEAT_MODE else 0
                assert ((c.administration == admin) & (c.mode == m)).sum() <= a.capacity[admin, m] + extra
    assert np.all(c.successes <= c.episodes)
    assert np.all(np.bitwise_count(c.activity) <= c.episodes)


def test_policy_leaves_the_town_and_other_draws_alone():
    """Paired comparisons: a policy changes what it touches, not the random town."""
    base = Kernel(small(), Streams.from_seed(3))
    policy = Kernel(small(**{"policy.outreach": "universal", "policy.community_organisers": 5.0}),
                    Streams.from_seed(3))
    assert np.array_equal(base.state.citizens.ses, policy.state.citizens.ses)
    base_ties = base.state.network
    assert (policy.state.network - base_ties).min() >= 0  # organisers only add ties


def bad_rule(result):
    def rule(state, params):
        return result(state)
    rule.rule_name = "bad"
    return rule


@pytest.mark.parametrize(
    ("stage", "make", "fragment"),
    [
        ("outreach", lambda s: np.zeros(3), "shape"),
        ("outreach", lambda s: np.full(s.n, 2.0), "outside [0, 1]"),
        ("outreach", lambda s: np.full(s.n, np.nan), "NaN"),
        ("outreach", lambda s: [0.0] * s.n, "NumPy array"),
        ("participation", lambda s: np.full((s.n, 3), 0.5), "sum to more than 1"),
        ("outcome", lambda s: 1 / 0, "ZeroDivisionError"),
        ("screening", lambda s: np.zeros(s.n), "Screening"),
    ],
)
def test_broken_rule_outputs_are_named(stage, make, fragment):
    params = small()
    rules = selected(params)
    rules[stage] = bad_rule(make)
    kernel = Kernel(params, Streams.from_seed(0), rules)
    with pytest.raises(RuleOutputError) as err:
        kernel.step()
    assert stage in str(err.value) and "'bad'" in str(err.value) and fragment in str(err.value)


def test_rules_cannot_write_into_the_state():
    params = small()
    rules = selected(params)

    def vandal(state, params):
        state.citizens.self_efficacy[:] = 1.0
        return np.zeros(state.n)

    rules["outreach"] = vandal
    with pytest.raises(RuleOutputError, match="read-only"):
        Kernel(params, Streams.from_seed(0), rules).step()
