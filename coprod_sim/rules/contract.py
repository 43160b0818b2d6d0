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

Hypothesis shrinks each failure to a minimal town, which the report describes (the towns
are drawn by :mod:`coprod_sim.rules.contract_towns`). From pytest:
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

from coprod_sim.names import STAGES
from coprod_sim.params import ParameterError, Parameters
from coprod_sim.rules.base import (
    OUTPUT_FIELDS,
    RuleError,
    RuleOutputError,
    State,
    check_output,
    expected_shape,
)
from coprod_sim.rules.contract_towns import Case, cases, describe
from coprod_sim.rules.registry import available, resolve, rule_label, what_went_wrong

Rule = Callable[..., Any]

CHECKS = ("loads", "output", "inputs unchanged", "deterministic")


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
