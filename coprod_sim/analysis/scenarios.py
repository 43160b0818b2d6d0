"""The scenario an analysis starts from: a file, or the built-in default town."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coprod_sim.params import Parameters
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.scenario.plan import BASELINE, Design, Point, Policy, Scenario


def builtin_scenario(replications: int = 10) -> Scenario:
    """The default parameters as a scenario: one policy (the baseline), no sweep."""
    seed = int(Parameters().simulation.seed)
    return Scenario(path=Path("(built-in defaults)"), name="the default town",
                    description="The built-in default parameters.", seed=seed,
                    replications=replications, base={},
                    policies=(Policy(BASELINE, "The base values, with no policy change.", {}),),
                    design=Design("none", (), None, seed, ({},)),
                    _points=(Point(0, BASELINE, 0, {}, {}),))


def analysis_scenario(file: Path | None, replications: int | None = None,
                      overrides: Mapping[str, Any] | None = None, default_replications: int = 10) -> Scenario:
    """The scenario of ``file`` (or the defaults), with replications and base values changed.

    Only the base values and policies are used by the analyses; the changed base is validated.
    """
    scenario = load_scenario(file) if file is not None else builtin_scenario(default_replications)
    changes: dict[str, Any] = {}
    if replications is not None:
        changes["replications"] = replications
    if overrides:
        base = {**scenario.base, **overrides}
        Parameters(base)
        changes["base"] = base
        changes["seed"] = int(Parameters(base).simulation.seed)
    return dataclasses.replace(scenario, **changes) if changes else scenario
