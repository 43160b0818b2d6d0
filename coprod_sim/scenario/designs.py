"""Sweep designs: how swept parameters (levers) combine into design points.

``grid`` crosses every listed value of every lever; ``one_at_a_time`` varies one lever at a
time from the base values; ``latin_hypercube`` and ``sobol`` sample ranges (SciPy's Latin
hypercube; SALib's Saltelli/Sobol' sample, N x (levers + 2) points). Every design is counted
before it is built, so that a design too large to run is refused before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import product
from typing import Any

import numpy as np

from coprod_sim.params import Param, ParameterError, Parameters, spec
from coprod_sim.scenario.entries import FIXED_ONCE, coerce
from coprod_sim.scenario.errors import Problems, did_you_mean
from coprod_sim.scenario.plan import Design, Lever

DESIGNS: dict[str, str] = {
    "grid": "grid",
    "latin_hypercube": "latin_hypercube",
    "lhs": "latin_hypercube",
    "sobol": "sobol",
    "one_at_a_time": "one_at_a_time",
    "oat": "one_at_a_time",
}
"""Design names accepted in ``[sweep] design``, with their aliases."""

RANGE_KEYS = ("low", "high", "num", "step")
MAX_LEVER_VALUES = 10_000
MAX_DESIGN_POINTS = 100_000
"""Most design points a design may have (times the policies: the points of a sweep)."""

LeverValues = tuple[Any, ...]  # listed values, or (low, high) for a sampled design


def design_kind(problems: Problems, settings: Mapping[str, Any]) -> str:
    design = settings.get("design", "grid")
    if not isinstance(design, str) or design.lower() not in DESIGNS:
        hint = did_you_mean(str(design), list(DESIGNS))
        problems.fail("sweep.design", f"[sweep] design = {design!r} is not a design.{hint} Allowed:"
                                      " 'grid', 'latin_hypercube' ('lhs'), 'sobol',"
                                      " 'one_at_a_time' ('oat').")
        return "grid"
    return DESIGNS[design.lower()]


def levers(problems: Problems, kind: str, raw: Mapping[str, tuple[str, Any]]
           ) -> list[tuple[str, LeverValues]]:
    """Each swept key with its values (grid, one-at-a-time) or range (sampled designs)."""
    out: list[tuple[str, LeverValues]] = []
    for key, (_, value) in raw.items():
        try:
            s = spec(key)
        except ParameterError as exc:
            problems.fail(key, f"[sweep] {exc}")
            continue
        if key in FIXED_ONCE:
            problems.fail(key, f"[sweep] {key} cannot be swept: the seed and the number of steps are"
                               " set once per scenario (use replications for more seeds).")
            continue
        lever = _lever(problems, kind, key, s, value)
        if lever is not None:
            out.append((key, lever))
    return out


def _lever(problems: Problems, kind: str, key: str, s: Param, value: Any) -> LeverValues | None:
    if isinstance(value, list):
        return _listed(problems, kind, key, s, value)
    if isinstance(value, dict):
        return _ranged(problems, kind, key, s, value)
    problems.fail(key, f"[sweep] {key} = {value!r}: a swept parameter needs several values: a list"
                       f" [..] or a range {{ low = .., high = .. }}. A single value belongs under"
                       " [parameters].")
    return None


def _listed(problems: Problems, kind: str, key: str, s: Param, value: list) -> LeverValues | None:
    where = "[sweep]"
    if kind in ("latin_hypercube", "sobol"):
        problems.fail(key, f"{where} {key} = {value!r}: a {kind} design samples a range; write"
                           f" {key} = {{ low = ..., high = ... }}.")
        return None
    if len(value) < 1:
        problems.fail(key, f"{where} {key} = []: an empty list sweeps nothing; give the values to"
                           f" try, e.g. {key} = [{s.default!r}, ...].")
        return None
    if len(value) > MAX_LEVER_VALUES:
        problems.fail(key, f"{where} {key} lists {len(value):,} values, more than the"
                           f" {MAX_LEVER_VALUES:,} allowed for one swept parameter.")
        return None
    values = []
    for v in value:
        c = coerce(problems, key, key, v, f"{where} ")
        if c is not None:
            values.append(c)
    if len(values) != len(value):
        return None
    if len(set(map(repr, values))) != len(values):
        problems.fail(key, f"{where} {key} = {value!r} lists a value twice: each value once.")
        return None
    if kind == "grid" and len(values) == 1:
        problems.fail(key, f"{where} {key} = {value!r} has a single value: that is a base value;"
                           f" put it under [parameters], or give several values.")
        return None
    return tuple(values)


def _ranged(problems: Problems, kind: str, key: str, s: Param, value: dict) -> LeverValues | None:
    where = "[sweep]"
    unknown = [k for k in value if k not in RANGE_KEYS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), RANGE_KEYS)
        problems.fail(key, f"{where} {key}: unknown range entry {unknown[0]!r}.{hint} A range is"
                           " { low = ..., high = ... } plus num = N or step = S for grid and"
                           " one-at-a-time designs.")
        return None
    if s.kind not in (int, float):
        problems.fail(key, f"{where} {key} is {s.allowed()}: a range needs a numeric parameter;"
                           " list the values instead, e.g. [\"a\", \"b\"].")
        return None
    if "low" not in value or "high" not in value:
        problems.fail(key, f"{where} {key} = {value!r}: a range needs both low and high.")
        return None
    low = coerce(problems, key, key, value["low"], f"{where} {key}.low: ")
    high = coerce(problems, key, key, value["high"], f"{where} {key}.high: ")
    if low is None or high is None:
        return None
    if not low < high:
        problems.fail(key, f"{where} {key}: low = {low!r} must be below high = {high!r}.")
        return None
    if kind in ("latin_hypercube", "sobol"):
        extra = [k for k in ("num", "step") if k in value]
        if extra:
            problems.fail(key, f"{where} {key}: {extra[0]} applies to grid and one-at-a-time"
                               f" designs; a {kind} design draws [sweep] samples points.")
            return None
        return (float(low), float(high))
    return _range_values(problems, key, s, low, high, value)


def _range_values(problems: Problems, key: str, s: Param, low: Any, high: Any,
                  value: Mapping[str, Any]) -> LeverValues | None:
    where = "[sweep]"
    has_num, has_step = "num" in value, "step" in value
    if has_num == has_step:
        problems.fail(key, f"{where} {key}: a grid range needs exactly one of num = N (evenly spaced"
                           " values, ends included) or step = S.")
        return None
    if has_num:
        num = value["num"]
        if isinstance(num, bool) or not isinstance(num, int) or not 2 <= num <= MAX_LEVER_VALUES:
            problems.fail(key, f"{where} {key}: num = {num!r} must be an integer in"
                               f" [2, {MAX_LEVER_VALUES}].")
            return None
        raw = np.linspace(low, high, num)
    else:
        step = value["step"]
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 \
                or not math.isfinite(step):
            problems.fail(key, f"{where} {key}: step = {step!r} must be a positive number.")
            return None
        count = math.floor((high - low) / step + 1e-9) + 1
        if count > MAX_LEVER_VALUES:
            problems.fail(key, f"{where} {key}: step = {step!r} gives {count} values, more than"
                               f" {MAX_LEVER_VALUES}.")
            return None
        if count < 2:
            problems.fail(key, f"{where} {key}: step = {step!r} is larger than high - low: one value.")
            return None
        raw = low + step * np.arange(count)
    if s.kind is int:
        if not np.allclose(raw, np.round(raw)):
            problems.fail(key, f"{where} {key} is an integer parameter but the range gives"
                               f" {[round(float(v), 4) for v in raw[:4]]}...: choose num or step so"
                               " every value is whole.")
            return None
        values = tuple(round(v) for v in raw)
    else:
        values = tuple(float(f"{v:.12g}") for v in raw)  # 0.30000000000000004 -> 0.3
    return tuple(s.coerce(key, v) for v in values)


# ---------------------------------------------------------------------- building the design
def build(problems: Problems, kind: str, chosen: list[tuple[str, LeverValues]],
          settings: Mapping[str, Any], seed: int, base: Mapping[str, Any]) -> Design:
    """The design's points, counted first: a design over MAX_DESIGN_POINTS is refused unbuilt."""
    sampler_seed = settings.get("seed", seed)
    if isinstance(sampler_seed, bool) or not isinstance(sampler_seed, int) or sampler_seed < 0:
        problems.fail("sweep.seed", f"[sweep] seed = {sampler_seed!r} must be a non-negative integer.")
        sampler_seed = seed
    samples = settings.get("samples")
    if not chosen:
        if "samples" in settings:
            problems.fail("sweep.samples", "[sweep] samples is given but nothing is swept.")
        return Design("none", (), None, sampler_seed, ({},))
    if kind in ("grid", "one_at_a_time"):
        return _listed_design(problems, kind, chosen, samples, sampler_seed, base)
    return _sampled_design(problems, kind, chosen, samples, sampler_seed)


def _too_many(problems: Problems, kind: str, count: int) -> bool:
    if count > MAX_DESIGN_POINTS:
        problems.fail("sweep", f"the {kind.replace('_', ' ')} design has {count:,} points, more than"
                               f" the {MAX_DESIGN_POINTS:,} allowed: sweep fewer values or samples.")
        return True
    return False


def _listed_design(problems: Problems, kind: str, chosen: list[tuple[str, LeverValues]],
                   samples: Any, sampler_seed: int, base: Mapping[str, Any]) -> Design:
    if samples is not None:
        problems.fail("sweep.samples", f"[sweep] samples applies to latin_hypercube and sobol"
                                       f" designs; a {kind} design uses the listed values.")
        return Design(kind, (), None, sampler_seed, ({},))
    lv = tuple(Lever(k, values=v) for k, v in chosen)
    if kind == "grid":
        if _too_many(problems, kind, math.prod(len(v) for _, v in chosen)):
            return Design(kind, lv, None, sampler_seed, ({},))
        points = tuple(dict(zip([k for k, _ in chosen], combo, strict=True))
                       for combo in product(*[v for _, v in chosen]))
        return Design(kind, lv, None, sampler_seed, points)
    defaults = Parameters(base)
    varied = [(k, [v for v in values if v != defaults[k]]) for k, values in chosen]
    if _too_many(problems, kind, 1 + sum(len(v) for _, v in varied)):
        return Design(kind, lv, None, sampler_seed, ({},))
    points_list: list[dict[str, Any]] = [{}]
    for k, values in varied:
        points_list.extend({k: v} for v in values)
    return Design(kind, lv, None, sampler_seed, tuple(points_list))


def _sampled_design(problems: Problems, kind: str, chosen: list[tuple[str, LeverValues]],
                    samples: Any, sampler_seed: int) -> Design:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        problems.fail("sweep.samples", f"[sweep] samples = {samples!r}: a {kind} design needs"
                                       " samples = N, a positive integer (the number of points"
                                       + (", a power of two; points = N x (levers + 2))."
                                          if kind == "sobol" else ")."))
        return Design(kind, (), None, sampler_seed, ({},))
    lv = tuple(Lever(k, low=lo, high=hi) for k, (lo, hi) in chosen)
    if kind == "sobol":
        if samples < 2 or samples & (samples - 1):
            up = 1 << max(1, (samples - 1).bit_length())
            problems.fail("sweep.samples", f"[sweep] samples = {samples}: a sobol design needs a power"
                                           f" of two (e.g. {up // 2 if up > 2 else 2} or {up}).")
            return Design(kind, (), None, sampler_seed, ({},))
        if _too_many(problems, kind, samples * (len(lv) + 2)):
            return Design(kind, (), None, sampler_seed, ({},))
        unit = _sobol_unit(len(lv), samples, sampler_seed)
    else:
        if _too_many(problems, kind, samples):
            return Design(kind, (), None, sampler_seed, ({},))
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(lv), rng=np.random.default_rng(sampler_seed)).random(samples)
    points = []
    for row in unit:
        point = {}
        for lever, u in zip(lv, row, strict=True):
            s = spec(lever.key)
            v = lever.low + float(u) * (lever.high - lever.low)
            point[lever.key] = s.coerce(lever.key, round(v) if s.kind is int else v)
        points.append(point)
    return Design(kind, lv, samples, sampler_seed, tuple(points))


def _sobol_unit(d: int, n: int, seed: int) -> np.ndarray:
    """SALib's Saltelli/Sobol' sample on the unit cube: n x (d + 2) rows, first order and total."""
    from SALib.sample import sobol

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


def sobol_problem(levers: list[dict[str, Any]]) -> dict[str, Any]:
    """The SALib problem of a Sobol design's levers (for the analysis in the report)."""
    return {"num_vars": len(levers), "names": [lv["key"] for lv in levers],
            "bounds": [[lv["low"], lv["high"]] for lv in levers]}
