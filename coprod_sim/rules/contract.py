"""The contract every rule must keep, checked over hypothesis-generated states.

``check_rule(rule, stage)`` runs four checks and returns a :class:`ContractReport`:

- **loads**: the rule resolves (module, function, two-argument signature, declared stage);
- **output**: on many small random towns (1-30 citizens, isolated ones included, every
  score from 0 to 1, parameters anywhere within their declared bounds) the rule returns
  without raising, with its stage's structure, shape, real dtype, finite values and bounds
  (:func:`coprod_sim.rules.base.check_output`, the check the kernel makes every month);
- **inputs unchanged**: it leaves the state arrays, the network and the parameters as they
  were (given writable copies, so that the changed array can be named);
- **deterministic**: two calls with generators from the same seed give bit-identical
  output, even when the global ``numpy.random`` and ``random`` states differ between them.

Hypothesis shrinks each failure to a minimal town, which the report describes. From pytest:
``assert_contract(rule, stage)``; from the command line: ``coprod rules check``.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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
    STAGES,
    TOWN_GROUPS,
)
from coprod_sim.params import TREE, ParameterError, Parameters
from coprod_sim.rules.base import (
    OUTPUT_FIELDS,
    Administrations,
    RuleError,
    RuleOutputError,
    State,
    check_output,
    expected_shape,
)
from coprod_sim.rules.registry import available, resolve, rule_label, what_went_wrong
from coprod_sim.town.population import Citizens, Neighbourhoods

Rule = Callable[..., Any]

CHECKS = ("loads", "output", "inputs unchanged", "deterministic")
FIXED_GROUPS = (*TOWN_GROUPS, "simulation", "rules")
"""Groups not varied: they shape the town, which the strategy draws directly."""

MAX_CITIZENS = 30


@dataclass
class Failure:
    """One check that failed: which, what went wrong, and the minimal town it failed on."""

    check: str
    message: str
    example: str = ""


@dataclass
class ContractReport:
    """What ``check_rule`` found."""

    rule: str
    stage: str
    examples: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed(self, check: str) -> Failure | None:
        return next((f for f in self.failures if f.check == check), None)

    def format(self) -> str:
        """A plain-text report: one line per check, then what failed and where."""
        lines = [f"Contract of rule {self.rule!r} for stage {self.stage!r}"
                 f" ({self.examples} generated towns per check):"]
        unloaded = self.failed("loads") is not None
        for check in CHECKS:
            status = "FAIL" if self.failed(check) else "-   " if unloaded else "ok  "
            lines.append(f"  {status}  {check}{' (not run)' if status == '-   ' else ''}")
        for f in self.failures:
            lines.append("")
            lines.append(f"{f.check}: {f.message}")
            if f.example:
                lines.append(f"  minimal failing town: {f.example}")
        return "\n".join(lines)


class ContractViolation(AssertionError):
    """Raised by :func:`assert_contract`; its message is the report."""


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
            seat_counts=np.zeros((2, N_QUINTILES), np.int64),
        )
        how = draw(param_ways, label="parameters")
        overrides = _draw_params(base, ranges, how, rs)
        try:
            params = base.replace(overrides) if overrides else base
        except ParameterError:
            assume(False)  # two keys that constrain each other (e.g. min above max)
        return Case(state, params, int(rs.integers(0, 2**32)))

    return draw_case()


# ------------------------------------------------------------------------------ the checks
def _with_rng(state: State, seed: int) -> State:
    return dataclasses.replace(state, rng=np.random.default_rng(seed))


def _call(fn: Rule, stage: str, name: str, state: State, params: Parameters):
    """Call the rule as the kernel does; a RuleOutputError if it raises."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # the output check reports NaN and bounds
            return fn(state, params)
    except Exception as exc:
        raise RuleOutputError(stage, name, what_went_wrong(fn, exc)) from exc


def _check_output(fn: Rule, stage: str, name: str, case: Case) -> str | None:
    view = _with_rng(case.state, case.seed).read_only()
    try:
        out = _call(fn, stage, name, view, case.params)
        check_output(stage, name, out, expected_shape(stage, case.state))
    except RuleError as exc:
        return exc.problem
    return None


def _arrays(state: State) -> dict[str, np.ndarray]:
    """Every array a rule can reach, by dotted name."""
    out: dict[str, np.ndarray] = {}
    for part in ("citizens", "neighbourhoods", "administrations"):
        obj = getattr(state, part)
        for f in dataclasses.fields(obj):
            if getattr(obj, f.name) is not None:  # optional arrays (a town table's age, women)
                out[f"{part}.{f.name}"] = getattr(obj, f.name)
    for name in ("data", "indices", "indptr"):
        out[f"network.{name}"] = getattr(state.network, name)
    for name in ("degree", "peer_active_share", "coparticipant_share", "tie_success_share",
                 "output_per_resident"):
        out[name] = getattr(state, name)
    return out


def _check_unchanged(fn: Rule, stage: str, name: str, case: Case) -> str | None:
    writable = _with_rng(copy.deepcopy(case.state), case.seed)
    before = {k: v.copy() for k, v in _arrays(writable).items()}
    params_before = dict(case.params)
    step_before = writable.step
    try:
        _call(fn, stage, name, writable, case.params)
    except RuleError:
        pass  # reported by the output check; what it changed before raising still counts
    after = _arrays(writable)
    changed = [k for k, v in before.items()
               if after[k].shape != v.shape or not np.array_equal(after[k], v, equal_nan=True)]
    if writable.step != step_before:
        changed.append("step")
    if dict(case.params) != params_before:
        changed.append("the parameters")
    if changed:
        return (f"it modified its input: state.{', state.'.join(changed)}. A rule must return new"
                " arrays and leave what it is given unchanged (copy an array before changing it).")
    return None


def _check_deterministic(fn: Rule, stage: str, name: str, case: Case) -> str | None:
    outputs = []
    saved = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        for global_seed in (1, 2):
            np.random.seed(global_seed)  # noqa: NPY002  (a rule must not depend on these)
            random.seed(global_seed)
            view = _with_rng(case.state, case.seed).read_only()
            try:
                outputs.append(_call(fn, stage, name, view, case.params))
            except RuleError:
                return None  # reported by the output check
    finally:
        np.random.set_state(saved[0])  # noqa: NPY002
        random.setstate(saved[1])
    first, second = outputs
    if OUTPUT_FIELDS.get(stage) is None:
        first, second = (first,), (second,)
    try:
        same = len(first) == len(second) and all(
            np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
            for x, y in zip(first, second, strict=True))
    except (TypeError, ValueError):
        return None  # malformed output: reported by the output check
    if not same:
        return ("two calls on the same state with generators from the same seed gave different"
                " outputs. Draw random numbers only from state.rng, never from np.random or random.")
    return None


PROPERTIES = {
    "output": _check_output,
    "inputs unchanged": _check_unchanged,
    "deterministic": _check_deterministic,
}


def _fewer_changes(prop: Callable, fn: Rule, stage: str, name: str, case: Case,
                   base: Parameters) -> Case:
    """The failing case with as many parameters back at their base values as still fails."""
    current, again = case, True
    while again:  # until no key can go back: one key may be held by another (min <= max)
        again = False
        for key in list(current.params.changed()):
            if current.params[key] == base[key]:
                continue
            try:
                trial = Case(current.state, current.params.replace({key: base[key]}), current.seed)
            except ParameterError:
                continue
            if prop(fn, stage, name, trial) is not None:
                current, again = trial, True
    return current


def _run_property(check: str, fn: Rule, stage: str, name: str, strategy, examples: int,
                  seed: int, base: Parameters) -> Failure | None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Flaky

    prop = PROPERTIES[check]
    found: list[tuple[Failure, Case]] = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
              phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))
    @given(strategy)
    def prop_holds(case: Case) -> None:
        problem = prop(fn, stage, name, case)
        if problem is not None:
            found.append((Failure(check, problem), case))  # the last one is the minimal one
            raise ContractViolation(problem)

    try:
        prop_holds()
    except ContractViolation:
        failure, case = found[-1]
        case = _fewer_changes(prop, fn, stage, name, case, base)
        failure.message = prop(fn, stage, name, case) or failure.message
        failure.example = describe(case)
        return failure
    except Flaky:
        if found:
            failure, case = found[-1]
            return Failure(check, f"{failure.message} It did not fail again on the same input:"
                           " the rule is not deterministic.", describe(case))
        raise
    return None


def check_rule(rule: Rule | str, stage: str | None = None, *, examples: int = 60, seed: int = 0,
               params: Parameters | None = None, vary_params: bool = True) -> ContractReport:
    """Check a rule (a function, a registered name or ``package.module:function``) against
    its stage's contract; ``stage`` defaults to the one the rule declares with ``@rule``.

    ``examples`` generated towns per check; ``seed`` fixes which (same seed, same report).
    ``params`` is the base parameter set (defaults if None); with ``vary_params`` every key
    outside population, network, simulation and rules is also drawn within its bounds.
    """
    label = rule if isinstance(rule, str) else rule_label(rule)
    if stage is None:
        try:
            stage = _infer_stage(rule)
        except RuleError as exc:
            return ContractReport(label, "?", examples, [Failure("loads", exc.problem)])
        if stage is None:
            raise RuleError("?", label, "cannot tell which stage it is for (it is not declared"
                            f" with @rule): give the stage (--stage), one of {', '.join(STAGES)}.")
    if stage not in STAGES:
        raise RuleError(str(stage), label, f"there is no such stage; stages are {', '.join(STAGES)}.")
    report = ContractReport(label, stage, examples)
    try:
        fn = resolve(stage, rule, trusted=True, unregistered=True) if isinstance(rule, str) else rule
        declared = getattr(fn, "stage", None)
        if declared is not None and declared != stage:
            raise RuleError(stage, label, f"it is declared with @rule({declared!r}), a rule for"
                            f" stage {declared!r}.")
    except RuleError as exc:
        report.failures.append(Failure("loads", exc.problem))
        return report
    base = params or Parameters()
    strategy = cases(base, vary_params=vary_params)
    for check in PROPERTIES:
        failure = _run_property(check, fn, stage, label, strategy, examples, seed, base)
        if failure is not None:
            report.failures.append(failure)
    return report


def _infer_stage(rule: Rule | str) -> str | None:
    """The stage a rule declares with ``@rule`` (a registered name's stage); None if none.

    For ``package.module:function`` this imports the module; a RuleError if that fails.
    """
    if not isinstance(rule, str):
        return getattr(rule, "stage", None)
    if ":" not in rule:
        for stage in STAGES:
            if rule in available(stage):
                return stage
        raise RuleError("?", rule, "no rule of that name in any stage (see `coprod rules`);"
                        " or give a custom rule as 'package.module:function'.")
    for stage in STAGES:
        try:
            fn = resolve(stage, rule, trusted=True, unregistered=True)
        except RuleError as exc:
            if "declared with @rule" in exc.problem:
                continue
            raise
        return getattr(fn, "stage", None)
    return None


def assert_contract(rule: Rule | str, stage: str | None = None, **kwargs: Any) -> None:
    """For pytest: raise :class:`ContractViolation` with the report if any check fails."""
    report = check_rule(rule, stage, **kwargs)
    if not report.ok:
        raise ContractViolation(report.format())
