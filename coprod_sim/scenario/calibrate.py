"""The ``[calibrate]`` table of a scenario: what ``coprod calibrate`` fits, to what, and how hard.

::

    [calibrate]
    trials = 60            # parameter sets tried in all (a resumed study goes on to this count)
    replications = 3       # runs per trial, on the same seeds for every trial (common random numbers)

    [calibrate.parameters]  # the behavioural parameters fitted, each within a range
    "citizens.base_individual" = { low = -7.0, high = -4.0 }
    "citizens.efficacy_weight" = { low = 8.0, high = 18.0 }

    [calibrate.targets]     # optional town-wide observed values (outcome columns, e.g. published)
    participation_year = 0.25

The per-neighbourhood targets are the observed participation columns of the scenario's
town table (docs/your-town.md); a table without them needs ``[calibrate.targets]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coprod_sim.names import OUTCOMES
from coprod_sim.params import ParameterError, spec
from coprod_sim.scenario.errors import Problems, did_you_mean, type_name
from coprod_sim.scenario.reading import read_toml

SETTINGS = ("trials", "replications", "parameters", "targets")
MAX_TRIALS = 100_000
FITTABLE = ("citizens", "administration", "levels", "network")
"""Groups whose numeric parameters may be fitted: behaviour, not the town's make-up or a policy."""


@dataclass(frozen=True)
class CalibrateSpec:
    """What ``coprod calibrate`` fits (key -> (low, high)), to which town-wide targets, how long."""

    parameters: dict[str, tuple[float, float]]
    targets: dict[str, float]
    trials: int = 60
    replications: int = 3

    def to_dict(self) -> dict[str, Any]:
        return {"parameters": {k: list(v) for k, v in self.parameters.items()},
                "targets": dict(self.targets), "trials": self.trials, "replications": self.replications}


def load_calibrate(path: str | Path) -> CalibrateSpec:
    """The scenario file's ``[calibrate]`` table, checked; ScenarioError (exit 2) names each key."""
    path = Path(path)
    problems = Problems(path)
    table = read_toml(path).get("calibrate")
    if not isinstance(table, dict):
        problems.fail("calibrate", "has no [calibrate] table: add one with [calibrate.parameters], the"
                                   " behavioural parameters to fit and their ranges (docs/your-town.md).")
        problems.check()
    for key in table:
        if key not in SETTINGS:
            hint = did_you_mean(key, SETTINGS)
            problems.fail(f"calibrate.{key}", f"[calibrate] {key}: unknown setting.{hint}"
                                              f" Allowed: {', '.join(SETTINGS)}.")
    trials = problems.integer(table, "calibrate", "trials", 60, 2, MAX_TRIALS)
    replications = problems.integer(table, "calibrate", "replications", 3, 1, MAX_TRIALS)
    parameters = _parameters(problems, table.get("parameters"))
    targets = _targets(problems, table.get("targets", {}))
    problems.check()
    return CalibrateSpec(parameters, targets, trials, replications)


def _parameters(problems: Problems, table: Any) -> dict[str, tuple[float, float]]:
    where = "[calibrate.parameters]"
    if not isinstance(table, dict) or not table:
        problems.fail("calibrate.parameters", f"{where} is missing or empty: name at least one parameter"
                                              " to fit, e.g. \"citizens.base_individual\" ="
                                              " { low = -7.0, high = -4.0 }.")
        return {}
    out = {}
    for key, value in table.items():
        try:
            s = spec(key)
        except ParameterError as exc:
            problems.fail(key, f"{where} {exc}")
            continue
        if key.split(".")[0] not in FITTABLE or s.kind not in (int, float):
            problems.fail(key, f"{where} {key}: only numeric behavioural parameters are fitted (groups"
                               f" {', '.join(FITTABLE)}); the town comes from its table and a policy is"
                               " what you compare, not what you fit.")
            continue
        if not isinstance(value, dict) or set(value) != {"low", "high"}:
            problems.fail(key, f"{where} {key} = {value!r}: write {{ low = .., high = .. }}.")
            continue
        try:
            low, high = (float(s.coerce(key, value[b])) for b in ("low", "high"))
        except (ParameterError, TypeError, ValueError) as exc:
            problems.fail(key, f"{where} {key}: {exc}")
            continue
        if not low < high:
            problems.fail(key, f"{where} {key}: low = {low:g} must be below high = {high:g}.")
            continue
        out[key] = (low, high)
    return out


def _targets(problems: Problems, table: Any) -> dict[str, float]:
    where = "[calibrate.targets]"
    if not isinstance(table, dict):
        problems.fail("calibrate.targets", f"{where} must be a table of outcome = observed value.")
        return {}
    out = {}
    for key, value in table.items():
        if key not in OUTCOMES or key == "step":
            hint = did_you_mean(key, list(OUTCOMES))
            problems.fail(f"calibrate.targets.{key}", f"{where} {key}: not an outcome column.{hint}"
                                                      " Outcome columns are listed in docs/ODD.md"
                                                      " (e.g. participation_year).")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.fail(f"calibrate.targets.{key}", f"{where} {key} = {value!r} has the wrong type"
                                                      f" ({type_name(value)}): expected a number.")
            continue
        out[key] = float(value)
    return out
