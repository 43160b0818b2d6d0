"""The towns the rule contract is checked on: a hypothesis strategy of small random states.

:func:`cases` draws towns in every corner of the state space (1-30 citizens, isolated ones
included, every score from 0 to 1, parameters anywhere within their declared bounds), so
that :mod:`coprod_sim.rules.contract` can check a rule on them and report the minimal town a
failure shrinks to (:func:`describe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from coprod_sim.names import (
    LEVELS,
    N_MODES,
    N_QUINTILES,
    RESULT_FAILURE,
    RESULT_NONE,
    RESULT_REJECTED,
    RESULT_SUCCESS,
    TOWN_GROUPS,
)
from coprod_sim.params import TREE, ParameterError, Parameters
from coprod_sim.rules.base import Administrations, State
from coprod_sim.town.population import Citizens, Neighbourhoods

FIXED_GROUPS = (*TOWN_GROUPS, "simulation", "rules")
"""Groups not varied: they shape the town, which the strategy draws directly."""

MAX_CITIZENS = 30


@dataclass
class Case:
    """One generated input: a state, parameters and the seed of the rule's generator."""

    state: State
    params: Parameters
    seed: int

    def __repr__(self) -> str:
        return describe(self)


def describe(case: Case) -> str:
    """A short description of a generated town, for failure reports."""
    s = case.state
    changed = case.params.changed()
    shown = ", ".join(f"{k}={v!r}" for k, v in list(changed.items())[:8])
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return (f"{_count(s.n, 'citizen')}, {_count(len(s.neighbourhoods), 'neighbourhood')},"
            f" {_count(len(s.administrations), 'administration')},"
            f" {_count(int(s.network.nnz) // 2, 'tie')},"
            f" month {s.step}, rng seed {case.seed}; parameters"
            f" {'as default' if not changed else 'changed: ' + shown + more}")


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


# ------------------------------------------------------------------------ generated states
def _tie_share(network: sp.csr_array, degree: np.ndarray, indicator: np.ndarray) -> np.ndarray:
    count = network @ indicator.astype(np.float32)
    return np.divide(count, degree, out=np.zeros(len(degree)), where=degree > 0)


SCORE_KINDS = ("random", "extremes", "zeros", "ones")
"""How a generated array of scores is filled: uniform, a mix of 0, 1 and uniform, all 0, all 1."""


def _param_ranges(base: Parameters) -> dict[str, tuple]:
    """The keys a generated case varies, with (kind, low, high, choices) for each."""
    out = {}
    for key in base:
        group, _, name = key.partition(".")
        spec = TREE.get(group, {}).get(name)
        if group in FIXED_GROUPS or spec is None:
            continue
        if spec.choices is not None:
            out[key] = ("choice", None, None, spec.choices)
        elif spec.kind in (int, float):
            d = float(base[key])
            lo = d - 100.0 * (abs(d) + 1.0) if spec.low is None else float(spec.low)
            hi = d + 100.0 * (abs(d) + 1.0) if spec.high is None else float(spec.high)
            out[key] = (spec.kind.__name__, lo, hi, None)
        elif spec.kind is bool:
            out[key] = ("bool", None, None, None)
    return out


def _draw_params(base: Parameters, ranges: dict[str, tuple], how: str,
                 rs: np.random.Generator) -> dict[str, Any]:
    """Overrides: each key kept at its default, drawn within its bounds, or put at a bound."""
    overrides: dict[str, Any] = {}
    if how == "default":
        return overrides
    for key, (kind, lo, hi, choices) in ranges.items():
        pick = rs.integers(3) if how == "mixed" else 2
        if pick == 0:
            continue
        if kind == "choice":
            overrides[key] = choices[rs.integers(len(choices))]
        elif kind == "bool":
            overrides[key] = bool(rs.integers(2))
        else:
            value = rs.uniform(lo, hi) if pick == 1 else (lo, hi)[rs.integers(2)]
            overrides[key] = round(value) if kind == "int" else float(value)
    return overrides


def cases(base: Parameters | None = None, vary_params: bool = True):
    """Hypothesis strategy of :class:`Case`: small towns in every corner of the state space.

    Hypothesis draws the structure (sizes, how each array is filled, how parameters vary)
    and a seed from which NumPy fills the arrays, so a failure shrinks to few citizens,
    simple fillings and default parameters.
    """
    from hypothesis import assume
    from hypothesis import strategies as st

    base = base or Parameters()
    ranges = _param_ranges(base)
    param_ways = st.sampled_from(("default", "mixed", "bounds") if vary_params else ("default",))
    # Strategies built once: building them inside draw_case dominates its cost.
    kinds, sizes_n, sizes_a = st.sampled_from(SCORE_KINDS), st.integers(1, MAX_CITIZENS), st.integers(1, 3)
    seeds, spreads = st.integers(0, 2**32 - 1), st.sampled_from([1.0, 0.0, 3.0])
    invitation, density, output = st.sampled_from([0.3, 0, 1]), st.sampled_from([0.2, 0.0, 1.0]), \
        st.sampled_from([1.0, 0.0])
    sizes_k = [st.integers(1, min(m, 5)) for m in range(MAX_CITIZENS + 1)]

    @st.composite
    def draw_case(draw) -> Case:
        n = draw(sizes_n, label="citizens")
        k = draw(sizes_k[n], label="neighbourhoods")
        a = draw(sizes_a, label="administrations")
        rs = np.random.default_rng(draw(seeds, label="array seed"))

        def scores(size) -> np.ndarray:
            kind = draw(kinds)
            if kind == "zeros":
                return np.zeros(size)
            if kind == "ones":
                return np.ones(size)
            x = rs.random(size)
            if kind == "extremes":
                x = np.where(rs.random(size) < 0.5, rs.integers(0, 2, size).astype(float), x)
            return x

        def flags(size, share=0.5) -> np.ndarray:
            return rs.random(size) < share

        hood = rs.integers(0, k, n).astype(np.int32)
        hood[:k] = np.arange(k)  # every neighbourhood inhabited, as in a built town
        hood_admin = (np.arange(k) % a).astype(np.int32)
        admin = hood_admin[hood]
        ses = scores(n)
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(ses, kind="stable")] = np.arange(n)
        offered = rs.integers(-1, N_MODES, n).astype(np.int8)
        mode = np.where(flags(n) & (offered >= 0), offered, -1).astype(np.int8)
        result = np.where(mode >= 0, np.where(flags(n), RESULT_SUCCESS, RESULT_FAILURE),
                          np.where(offered >= 0, RESULT_REJECTED, RESULT_NONE))
        episodes = rs.integers(0, 500, n).astype(np.int32)
        by_mode = rs.integers(0, 2**16, (N_MODES, n)).astype(np.uint16)
        citizens = Citizens(
            neighbourhood=hood, administration=admin, ses=ses, ses_rank=(rank + 0.5) / n,
            quintile=(rank * N_QUINTILES // n).astype(np.int8),
            efficacy_baseline=scores(n), civic_competence=scores(n), spare_resources=scores(n),
            trust_baseline=scores(n), age=rs.uniform(18.0, 95.0, n), female=flags(n),
            disposition=rs.standard_normal(n) * draw(spreads),
            self_efficacy=scores(n), trust=scores(n), invited=flags(n, draw(invitation)),
            offered=offered, mode=mode, result=result.astype(np.int8), episodes=episodes,
            successes=(episodes * rs.random(n)).astype(np.int32),
            rejections=rs.integers(0, 500, n).astype(np.int32),
            activity=by_mode[0] | by_mode[1] | by_mode[2], activity_by_mode=by_mode,
            digital_access=flags(n),
            level=np.where(offered >= 0, rs.integers(0, len(LEVELS), n), -1).astype(np.int8),
            activity_by_level=by_mode.copy(),  # a month's level bits, as many as its mode's
        )
        neighbourhoods = Neighbourhoods(
            advantage=np.sort(scores(k)), urban=flags(k),
            size=np.bincount(hood, minlength=k).astype(np.int64), administration=hood_admin,
            quality_baseline=scores(k), service_quality=scores(k),
        )
        administrations = Administrations(
            risk_aversion=scores(a), culture=scores(a), staff_incentives=scores(a),
            capacity=rs.integers(0, 50, (a, N_MODES)).astype(np.int64),
            residents=np.bincount(admin, minlength=a).astype(np.int64),
            successes=rs.integers(0, n + 1, a).astype(np.int64),
            failures=rs.integers(0, n + 1, a).astype(np.int64),
        )
        upper = np.triu(rs.random((n, n)) < draw(density, label="tie density"), k=1)
        network = sp.csr_array((upper | upper.T).astype(np.float32))
        network.sort_indices()
        degree = np.diff(network.indptr).astype(np.float64)
        state = State(
            citizens=citizens, neighbourhoods=neighbourhoods, administrations=administrations,
            network=network, degree=degree, step=int(rs.integers(0, 600)),
            peer_active_share=_tie_share(network, degree, mode >= 0),
            coparticipant_share=_tie_share(network, degree, mode >= 1),
            tie_success_share=_tie_share(network, degree, result == RESULT_SUCCESS),
            output_per_resident=rs.uniform(0.0, 4.0, k) * draw(output),
            seat_counts=np.zeros((base.simulation.year_window, 2, N_QUINTILES), np.int64),
            seats_opened=np.zeros(base.simulation.year_window, np.int64),
        )
        how = draw(param_ways, label="parameters")
        overrides = _draw_params(base, ranges, how, rs)
        try:
            params = base.replace(overrides) if overrides else base
        except ParameterError:
            assume(False)  # two keys that constrain each other (e.g. min above max)
        return Case(state, params, int(rs.integers(0, 2**32)))

    return draw_case()
