"""The compiled path (coprod_sim.month.compiled) gives the NumPy path's results bit for bit.

The benchmark (benchmarks/run.py) makes the same comparison at 1,000,000 citizens.
"""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from coprod_sim.model import CoproductionModel
from coprod_sim.month.kernel import Kernel, tie_share
from coprod_sim.outcomes.record import observe, record
from coprod_sim.params import Parameters
from coprod_sim.rules import alternatives, defaults, jit
from coprod_sim.run import run_seed
from coprod_sim.town.streams import Streams
from tests.helpers import make_state
from tests.test_defaults import valid_params

pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed")


def state_arrays(kernel: Kernel) -> dict[str, np.ndarray]:
    """Every array of a kernel's state, by name."""
    s = kernel.state
    out = {f"citizens.{f.name}": getattr(s.citizens, f.name) for f in fields(s.citizens)}
    out.update({f"administrations.{f.name}": getattr(s.administrations, f.name)
                for f in fields(s.administrations)})
    out["service_quality"] = s.neighbourhoods.service_quality
    for name in ("peer_active_share", "coparticipant_share", "tie_success_share",
                 "output_per_resident", "seat_counts", "seats_opened"):
        out[name] = getattr(s, name)
    return out


def assert_same_months(params: Parameters, seed: int, months: int) -> tuple[Kernel, Kernel]:
    # A fresh seed sequence each: spawning streams from one advances it.
    numpy_path = Kernel(params, Streams.from_seed(run_seed(seed, 1)), accelerate=False)
    compiled = Kernel(params, Streams.from_seed(run_seed(seed, 1)), accelerate=True)
    assert compiled.accelerated and not numpy_path.accelerated
    for month in range(months):
        numpy_path.step()
        compiled.step()
        a, b = state_arrays(numpy_path), state_arrays(compiled)
        for name in a:
            assert a[name].dtype == b[name].dtype, name
            assert np.array_equal(a[name], b[name]), f"{name} differs after month {month + 1}"
    return numpy_path, compiled


@given(params=valid_params(), seed=st.integers(0, 2**20),
       n=st.integers(20, 600), hoods=st.integers(1, 12), admins=st.integers(1, 4))
def test_every_month_is_identical_for_any_valid_parameters(params, seed, n, hoods, admins):
    params = params.replace({"population.n_citizens": n, "population.n_neighbourhoods": min(hoods, n),
                             "population.n_administrations": admins})
    assert_same_months(params, seed, months=8)


@pytest.mark.parametrize("overrides", [
    {},  # the default town
    {"policy.capacity_scale": 0.2, "policy.outreach": "targeted_efficacy"},  # capacity binds
    {"citizens.base_individual": 2.0, "citizens.base_group": 1.0},  # most citizens offer
    {"policy.outreach": "universal", "policy.outreach_rate": 0.5, "policy.resource_transfer": 0.4,
     "policy.community_organisers": 30.0, "population.n_administrations": 5},
    # Levels: co-design opened, initiatives supported, seats by sortition, tasks online.
    {"policy.codesign_openness": 0.7, "policy.initiative_support": 1.0,
     "policy.codesign_seats": 10.0, "policy.seat_selection": "sortition",
     "policy.digital_share": 1.0, "levels.base_designer": 0.0, "levels.base_initiator": -1.0},
    {"policy.codesign_seats": 40.0, "policy.seat_selection": "open_call",
     "population.n_administrations": 3},
])
def test_a_town_of_twenty_thousand_is_identical_over_two_years(overrides):
    params = Parameters({"population.n_citizens": 20_000, "population.n_neighbourhoods": 24,
                         **overrides})
    numpy_path, _ = assert_same_months(params, 5, months=24)
    # The scenario did what it says: somebody took part, and a binding capacity turned some away.
    assert numpy_path.state.citizens.episodes.sum() > 0
    if overrides.get("policy.capacity_scale"):
        assert numpy_path.state.citizens.rejections.sum() > 0


def test_recorded_outcomes_are_identical():
    settings = {"population.n_citizens": 3000, "population.n_neighbourhoods": 7,
                "simulation.steps": 30, "policy.outreach": "targeted_area"}
    runs = []
    for accelerate in (False, True):
        m = CoproductionModel(settings, seed=run_seed(9, 2), accelerate=accelerate)
        m.run_model()
        runs.append((m.timeseries(), m.neighbourhood_timeseries()))
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0], check_exact=True)
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1], check_exact=True)


@given(seed=st.integers(0, 2**16), n=st.integers(10, 400))
def test_compiled_counting_of_outcomes_matches_numpy_on_any_state(seed, n):
    state = make_state(seed=seed, n=n)  # dynamic state stirred at random, as if mid-run
    state.citizens.activity[:] = np.random.default_rng(seed).integers(0, 2**16, n)
    params = Parameters()
    a = record(state, params, accelerate=False)
    b = record(state, params, accelerate=True)
    assert a[0].keys() == b[0].keys()
    same = pd.Series(a[0]).equals  # NaN equals NaN here
    assert same(pd.Series(b[0])), {k: (a[0][k], b[0][k]) for k in a[0] if a[0][k] != b[0][k]}
    for key in a[1]:
        assert np.array_equal(a[1][key], b[1][key]), key
    assert same(pd.Series(observe(state, params, accelerate=True)))


@given(seed=st.integers(0, 2**16), density=st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]))
def test_tie_shares_gathered_from_the_flagged_equal_the_matrix_product(seed, density):
    state = make_state(seed=seed, n=500, stir=False)
    flags = np.random.default_rng(seed).random(500) < density
    full = tie_share(state.network, state.degree, flags)
    assert np.array_equal(tie_share(state.network, state.degree, flags, symmetric=True), full)
    from coprod_sim.month import compiled as fast

    out, counts = np.empty(500), np.zeros(500, np.int32)
    members = np.flatnonzero(flags)
    fast.tie_shares(state.network.indptr, state.network.indices, state.degree, members,
                    len(members), counts, out)
    assert np.array_equal(out, full) and not counts.any()


@given(seed=st.integers(0, 2**16), n=st.integers(1, 300), distinct=st.sampled_from([1, 2, 5, 0]),
       cap=st.integers(0, 40))
def test_compiled_capacity_admits_whom_within_capacity_admits(seed, n, distinct, cap):
    """Over-capacity groups are rationed by a selection, not a sort: the same offers get
    places, ties in priority (``distinct`` values; 0: continuous) to the lower index."""
    from coprod_sim.month.capacity import admit
    from coprod_sim.month.kernel import within_capacity

    rng = np.random.default_rng(seed)
    offered = rng.integers(-1, 3, n).astype(np.int8)
    admin = rng.integers(0, 3, n)
    priority = rng.random(n) if distinct == 0 else rng.integers(0, distinct, n) * 0.5
    passed = (offered >= 0) & (rng.random(n) < 0.8)
    capacity = rng.integers(0, cap + 1, (3, 3))
    expected = within_capacity(passed, admin, offered, priority, capacity)
    who = np.flatnonzero(passed).astype(np.int32)
    mode, admitted = np.empty(n, np.int8), np.empty(n, np.int32)
    count = admit(who, priority[who], admin[who] * 3 + offered[who], capacity, offered, mode,
                       admitted)
    assert np.array_equal(admitted[:count], np.flatnonzero(expected))
    assert np.array_equal(mode, np.where(expected, offered, -1))


@pytest.mark.parametrize("stage", ["participation", "screening", "outcome", "efficacy_feedback"])
@pytest.mark.parametrize("flaw", [None, "nan", "inf", "negative", "above_one", "sum", "sum_edge",
                                  "float32", "transposed"])
@settings(max_examples=10)
@given(n=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_the_compiled_check_of_rule_output_never_passes_what_check_output_refuses(stage, n, seed,
                                                                                 flaw):
    """``valid_compiled`` says True only for outputs ``check_output`` accepts, and does say
    True for ordinary valid float64 outputs (else it would save nothing)."""
    from coprod_sim.month.kernel import valid_compiled
    from coprod_sim.rules.base import OUTPUT_FIELDS, RuleOutputError, check_output, output_shapes

    rng = np.random.default_rng(seed)
    shape = output_shapes(stage, n, 1, 1)
    arrays = [rng.random(shape) / (3.0 if stage == "participation" else 1.0)
              for _ in OUTPUT_FIELDS.get(stage) or ("output",)]
    a = arrays[0]
    i = (int(rng.integers(n)),) + ((int(rng.integers(3)),) if a.ndim == 2 else ())
    if flaw in ("nan", "inf", "negative", "above_one"):
        a[i] = {"nan": np.nan, "inf": np.inf, "negative": -1e-300, "above_one": 1.0 + 1e-15}[flaw]
    elif flaw in ("sum", "sum_edge") and stage == "participation":
        a[i[0]] = [0.5, 0.5, 1e-8 if flaw == "sum" else 1e-9]
    elif flaw == "float32":
        arrays[0] = a.astype(np.float32)
    elif flaw == "transposed" and a.ndim == 2:
        arrays[0] = np.asfortranarray(a)
    out = arrays[0] if stage in ("participation", "outcome") else tuple(arrays)
    try:
        check_output(stage, "rule", out, shape)
        accepted = True
    except RuleOutputError:
        accepted = False
    if valid_compiled(stage, out, shape):
        assert accepted
    elif flaw is None:
        raise AssertionError("a valid float64 output was not recognised as valid")


@given(rate=st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.25, 1.0])), min_size=1,
                     max_size=40),
       sizes=st.lists(st.integers(1, 10_000), min_size=40, max_size=40))
def test_lean_metrics_equal_numpys_own(rate, sizes):
    """The recorded correlation and weighted mean are NumPy's corrcoef and average, bit for bit."""
    from coprod_sim.outcomes import bias as metrics

    r = np.array(rate)
    k = len(r)
    advantage = (np.arange(k) + 0.5) / k
    if k < 3 or r.std() == 0 or advantage.std() == 0:
        assert np.isnan(metrics.rate_correlation(advantage, r))
    else:
        assert metrics.rate_correlation(advantage, r) == float(np.corrcoef(advantage, r)[0, 1])
    w = np.array(sizes[:k])
    assert metrics.weighted_mean(r, w) == np.average(r, weights=w)


def eager(state, params):
    """Everybody a little more likely to take part individually."""
    p = defaults.logistic_choice(state, params)
    p[:, 0] = np.minimum(p[:, 0] * 1.5, 1.0 - p[:, 1:].sum(axis=1))
    return p


def lenient(state, params):
    """The default screening, with every offer a little more likely to pass."""
    accept, priority = defaults.risk_screening(state, params)
    return defaults.Screening(np.sqrt(accept), priority.astype(np.float32))


def easy(state, params):
    """The default outcome with a higher chance of success."""
    return np.sqrt(defaults.competence_collaboration(state, params))


CUSTOM = {"participation": eager, "screening": lenient, "outcome": easy,
          "efficacy_feedback": alternatives.mastery_only}


@pytest.mark.parametrize("stages", [("participation",), ("screening",), ("outcome",),
                                    ("efficacy_feedback",), ("participation", "outcome"),
                                    tuple(CUSTOM)])
def test_custom_rules_leave_the_other_stages_compiled_with_identical_results(stages):
    params = Parameters({"population.n_citizens": 3000, "policy.capacity_scale": 0.3,
                         "policy.outreach": "universal"})
    rules = {**_default_rules(), **{stage: CUSTOM[stage] for stage in stages}}
    kernels = [Kernel(params, Streams.from_seed(run_seed(2, 1)), rules=rules, accelerate=flag)
               for flag in (False, True)]
    assert not kernels[0].accelerated and kernels[1].accelerated
    assert set(kernels[1].compiled_stages) == set(CUSTOM) - set(stages)
    for month in range(15):
        for k in kernels:
            k.step()
        a, b = (state_arrays(k) for k in kernels)
        for name in a:
            assert np.array_equal(a[name], b[name]), f"{name} differs after month {month + 1}"
    assert kernels[0].state.citizens.rejections.sum() > 0  # capacity bound: screening mattered


def test_a_custom_outreach_rule_reading_peer_shares_sees_them_on_both_paths():
    """Outreach rules run on the compiled path too, after this month's peer shares are known."""
    def word_of_mouth(state, params):
        """Invite citizens in proportion to the share of their ties active last month."""
        return np.minimum(1.0, 0.5 * state.peer_active_share + 0.01)

    params = Parameters({"population.n_citizens": 2000})
    kernels = [Kernel(params, Streams.from_seed(7), accelerate=flag,
                      rules={**_default_rules(), "outreach": word_of_mouth}) for flag in (False, True)]
    assert kernels[1].accelerated
    for _ in range(12):
        for k in kernels:
            k.step()
    a, b = (state_arrays(k) for k in kernels)
    assert kernels[0].state.citizens.invited.sum() > 0
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_a_network_swapped_for_an_asymmetric_one_falls_back_to_numpy():
    params = Parameters({"population.n_citizens": 400})
    a = Kernel(params, Streams.from_seed(4), accelerate=False)
    b = Kernel(params, Streams.from_seed(4), accelerate=True)
    one_way = sp.triu(a.state.network, format="csr")  # ties only from lower to higher index
    for k in (a, b):
        k.state.network = one_way
        k.state.degree[:] = np.diff(one_way.indptr)
    for _ in range(5):
        a.step()
        b.step()
    assert not b._network_is_symmetric()
    assert np.array_equal(a.state.peer_active_share, b.state.peer_active_share)
    assert np.array_equal(a.state.citizens.self_efficacy, b.state.citizens.self_efficacy)


def test_environment_variable_switches_the_compiled_path_off(monkeypatch):
    monkeypatch.setenv("COPROD_ACCELERATE", "0")
    assert not Kernel(Parameters({"population.n_citizens": 50}), Streams.from_seed(0)).accelerated
    monkeypatch.setenv("COPROD_ACCELERATE", "1")
    assert Kernel(Parameters({"population.n_citizens": 50}), Streams.from_seed(0)).accelerated


def test_a_large_run_makes_no_citizen_objects():
    """Views are made on demand only: running and recording a town creates none."""
    m = CoproductionModel({"population.n_citizens": 50_000, "simulation.steps": 3}, seed=0)
    m.run_model()
    m.timeseries()
    assert set(m.agents) == set(m.administrations)
    assert len(m.citizens._views) == 0
    m.citizens[123]
    assert len(m.agents) == len(m.administrations) + 1


def _default_rules():
    from coprod_sim.rules.registry import selected

    return selected(Parameters())


@pytest.mark.parametrize("key, value", [
    ("citizens.efficacy_weight", 11.0),  # participation
    ("administration.incentive_screening_relief", 1.0),  # screening
    ("citizens.difficulty_collective", 0.0),  # outcome
    ("citizens.trust_loss", 0.4),  # efficacy feedback
    ("administration.output_group", 8.0),  # coproduced output, then service quality
])
def test_one_coefficient_changed_changes_both_paths_alike(key, value):
    """Each equation is written once: a coefficient changed in the parameters changes the
    NumPy month and the compiled month, and they still agree bit for bit."""
    base = Parameters({"population.n_citizens": 3000, "population.n_neighbourhoods": 6,
                       "policy.capacity_scale": 0.3, "policy.outreach": "universal"})
    before, _ = assert_same_months(base, 11, months=12)
    after, _ = assert_same_months(base.replace({key: value}), 11, months=12)
    a, b = state_arrays(before), state_arrays(after)
    assert any(not np.array_equal(a[name], b[name]) for name in a), f"{key} changed nothing"


@given(seed=st.integers(0, 2**16), n=st.integers(10, 300))
def test_the_participation_rule_is_the_same_with_and_without_compiled_loops(seed, n):
    """logistic_choice (what researchers call) evaluates its equation in a compiled loop when
    compiled code is on and with NumPy when it is off: the same bits."""
    state = make_state(seed=seed, n=n)
    params = Parameters({"citizens.efficacy_weight": 20.0, "citizens.base_individual": 9.0})
    results = []
    for flag in ("0", "1"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("COPROD_ACCELERATE", flag)
            results.append((defaults.propensity_utilities(state, params),
                             defaults.logistic_choice(state, params)))
    for a, b in zip(*results, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
