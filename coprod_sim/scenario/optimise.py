"""The ``[optimise]`` table of a scenario: the levers ``coprod optimise`` searches, and their costs.

::

    [optimise]
    budget = 60.0                          # total cost allowed (optional), in budget_unit
    budget_unit = "thousand euros a year"
    trials = 80                            # candidates to evaluate
    population = 16                        # NSGA-II population (candidates per generation)
    bias = "concentration_index"           # or top_bottom_ratio, advantage_correlation
    fresh_replications = 10                # re-evaluation of the front on fresh seeds

    [optimise.levers]
    "policy.outreach_rate" = { low = 0.0, high = 0.1, cost = 400.0, unit = "invitations a resident" }
    "policy.outreach" = { choices = ["universal", "targeted_efficacy"], cost = { targeted_efficacy = 5.0 } }

A numeric lever costs ``cost`` per unit of its value (``unit`` says what one unit is, in the
scenario's words); a lever with ``choices`` costs what its ``cost`` table gives each choice
(0 if not listed). A candidate's cost is the sum over levers. Replications and seed are the
scenario's. Mistakes are collected and reported together, naming file, key and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coprod_sim.params import ParameterError, spec
from coprod_sim.scenario.entries import FIXED_ONCE
from coprod_sim.scenario.errors import Problems, did_you_mean, type_name
from coprod_sim.scenario.reading import read_toml

SETTINGS = ("budget", "budget_unit", "trials", "population", "bias", "fresh_replications", "levers")
LEVER_KEYS = ("low", "high", "step", "choices", "cost", "unit")
BIAS_MEASURES = ("concentration_index", "top_bottom_ratio", "advantage_correlation")
PARTICIPATION = "participation_year"


@dataclass(frozen=True)
class OptimiseLever:
    """A searched parameter: a range (or choices) and what each unit (or choice) costs."""

    key: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    cost: float | Mapping[str, float] = 0.0
    unit: str = ""
    integer: bool = False

    def cost_of(self, value: Any) -> float:
        if self.choices is not None:
            return float(dict(self.cost).get(str(value), 0.0))  # type: ignore[arg-type]
        return float(self.cost) * float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class OptimiseSpec:
    """What ``coprod optimise`` searches and how."""

    levers: tuple[OptimiseLever, ...]
    budget: float | None = None
    budget_unit: str = "cost units"
    trials: int = 80
    population: int = 16
    bias: str = "concentration_index"
    fresh_replications: int = 10

    def cost(self, values: Mapping[str, Any]) -> float:
        return float(sum(lv.cost_of(values[lv.key]) for lv in self.levers))

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "budget_unit": self.budget_unit, "trials": self.trials,
                "population": self.population, "bias": self.bias,
                "fresh_replications": self.fresh_replications,
                "levers": [{"key": lv.key, "low": lv.low, "high": lv.high, "step": lv.step,
                            "choices": list(lv.choices) if lv.choices else None,
                            "cost": dict(lv.cost) if isinstance(lv.cost, Mapping) else lv.cost,
                            "unit": lv.unit} for lv in self.levers]}


def load_optimise(path: str | Path) -> OptimiseSpec:
    """The ``[optimise]`` table of scenario ``path``; ScenarioError (exit 2) if absent or wrong."""
    path = Path(path)
    data = read_toml(path)
    problems = Problems(path)
    table = data.get("optimise")
    if not isinstance(table, dict):
        problems.fail("optimise", "has no [optimise] table: coprod optimise needs one, with"
                                  " [optimise.levers] naming each lever's range and cost (see"
                                  " docs/analysis.md).")
        problems.check()
    spec_ = _settings(problems, table)
    problems.check()
    return spec_


def _settings(problems: Problems, table: Mapping[str, Any]) -> OptimiseSpec:
    for key in table:
        if key not in SETTINGS:
            problems.fail(f"optimise.{key}", f"[optimise] unknown key {key!r}.{did_you_mean(key, SETTINGS)}"
                                             f" Allowed: {', '.join(SETTINGS)}.")
    budget = table.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                               or not math.isfinite(budget) or budget <= 0):
        problems.fail("optimise.budget", f"[optimise] budget = {budget!r}: allowed a positive number.")
        budget = None
    unit = table.get("budget_unit", "cost units")
    if not isinstance(unit, str):
        problems.fail("optimise.budget_unit", f"[optimise] budget_unit = {unit!r}: allowed a string.")
        unit = "cost units"
    trials = problems.integer(table, "optimise", "trials", 80, 1, 100_000)
    population = problems.integer(table, "optimise", "population", 16, 2, 10_000)
    fresh = problems.integer(table, "optimise", "fresh_replications", 10, 0, 10_000)
    bias = table.get("bias", "concentration_index")
    if bias not in BIAS_MEASURES:
        problems.fail("optimise.bias", f"[optimise] bias = {bias!r}: allowed one of"
                                       f" {', '.join(map(repr, BIAS_MEASURES))}.")
        bias = "concentration_index"
    levers = _levers(problems, table.get("levers"))
    return OptimiseSpec(tuple(levers), None if budget is None else float(budget), unit, trials,
                        population, bias, fresh)


def _levers(problems: Problems, table: Any) -> list[OptimiseLever]:
    if not isinstance(table, dict) or not table:
        problems.fail("optimise.levers", "[optimise.levers] is missing or empty: name each lever, e.g."
                                         ' "policy.outreach_rate" = { low = 0.0, high = 0.1, cost = 400 }.')
        return []
    flat: dict[str, Any] = {}
    for k, v in table.items():  # "policy.outreach_rate" quoted, or [optimise.levers.policy] tables
        if isinstance(v, dict) and not any(x in v for x in LEVER_KEYS) and "." not in k:
            flat.update({f"{k}.{name}": body for name, body in v.items()})
        else:
            flat[k] = v
    out = []
    for key, body in flat.items():
        where = f"[optimise.levers] {key}"
        try:
            s = spec(key)
        except ParameterError as exc:
            problems.fail(key, f"{where}: {exc}")
            continue
        if key in FIXED_ONCE or key.startswith("rules."):
            problems.fail(key, f"{where}: cannot be optimised (seed, steps and rules are fixed per"
                               " scenario).")
            continue
        if not isinstance(body, dict):
            problems.fail(key, f"{where} = {body!r}: allowed a table {{ low = .., high = .., cost = .. }}"
                               " or {{ choices = [..], cost = {{ choice = .. }} }}.")
            continue
        lever = _lever(problems, where, key, s, body)
        if lever is not None:
            out.append(lever)
    return out


def _lever(problems: Problems, where: str, key: str, s, body: Mapping[str, Any]) -> OptimiseLever | None:
    unknown = [k for k in body if k not in LEVER_KEYS]
    if unknown:
        problems.fail(key, f"{where}: unknown entry {unknown[0]!r}.{did_you_mean(unknown[0], LEVER_KEYS)}"
                           f" Allowed: {', '.join(LEVER_KEYS)}.")
        return None
    unit = body.get("unit", s.unit)
    if not isinstance(unit, str):
        problems.fail(key, f"{where}: unit = {unit!r}: allowed a string (what one unit is).")
        return None
    if s.choices is not None or s.kind is str:
        return _categorical(problems, where, key, s, body, unit)
    if s.kind not in (int, float):
        problems.fail(key, f"{where}: {key} is {s.allowed()}; only numbers and choices can be optimised.")
        return None
    if "low" not in body or "high" not in body:
        problems.fail(key, f"{where}: a numeric lever needs low and high ({s.allowed()}).")
        return None
    try:
        low, high = s.coerce(key, body["low"]), s.coerce(key, body["high"])
    except ParameterError as exc:
        problems.fail(key, f"{where}: {exc}")
        return None
    if not low < high:
        problems.fail(key, f"{where}: low = {low!r} must be below high = {high!r}.")
        return None
    cost = body.get("cost", 0.0)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        problems.fail(key, f"{where}: cost = {cost!r}: allowed a number >= 0 (cost per unit).")
        return None
    step = body.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0
                             or step > high - low):
        problems.fail(key, f"{where}: step = {step!r}: allowed a positive number no larger than high - low.")
        return None
    return OptimiseLever(key, float(low), float(high), None if step is None else float(step), None,
                         float(cost), unit, s.kind is int)


def _categorical(problems: Problems, where: str, key: str, s, body: Mapping[str, Any],
                 unit: str) -> OptimiseLever | None:
    choices = body.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        problems.fail(key, f"{where}: choices = {choices!r}: allowed a list of at least two of"
                           f" {s.allowed()}.")
        return None
    try:
        values = tuple(s.coerce(key, c) for c in choices)
    except ParameterError as exc:
        problems.fail(key, f"{where}: {exc}")
        return None
    cost = body.get("cost", {})
    if not isinstance(cost, dict):
        problems.fail(key, f"{where}: cost = {cost!r} ({type_name(cost)}): allowed a table of a cost per"
                           " choice, e.g. cost = { targeted_efficacy = 5.0 }.")
        return None
    for c, v in cost.items():
        if c not in values or isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            problems.fail(key, f"{where}: cost.{c} = {v!r}: allowed a number >= 0 for one of the choices"
                               f" {', '.join(values)}.")
            return None
    return OptimiseLever(key, choices=values, cost={k: float(v) for k, v in cost.items()}, unit=unit)
