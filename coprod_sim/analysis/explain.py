"""``coprod explain``: where a scenario's selection bias comes from, channel by channel.

Every subset of channels (switched on; the others off through the overrides each channel
declares in :mod:`coprod_sim.rules.channels`) is a policy of a derived scenario, run by the one
sweep engine on the scenario's replications: the same seeds for every subset (common random
numbers), local processes or a Dask cluster, resumable. The bias measures of those runs are
combined into Shapley values (:mod:`coprod_sim.analysis.shapley`), one per replication, and
averaged with 95% t intervals over replications (:mod:`coprod_sim.stats`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim.analysis import shapley
from coprod_sim.params import ParameterError, Parameters, spec
from coprod_sim.rules.channels import CHANNELS, Channel
from coprod_sim.scenario.plan import BASELINE, Design, Point, Policy, Scenario

MEASURES: tuple[str, ...] = ("concentration_index", "top_bottom_ratio", "advantage_correlation",
                             "advantaged_high_level_share")
"""The bias measures a decomposition explains (last-quarter means of the run's monthly values):
who takes part, and who takes the designer and initiator roles (the levels of involvement's
bias, read from the same runs); labels, units and the value meaning "no bias" are in
:data:`coprod_sim.names.OUTCOMES`."""


class ExplainError(ParameterError):
    """A decomposition that cannot be set up as asked (channel, policy); exit code 2."""


@dataclass
class Decomposition:
    """One measure's decomposition: the values per subset and replication, and the contributions."""

    measure: str
    channels: list[Channel]
    values: dict[int, np.ndarray]  # subset bitmask -> value per replication
    phi: np.ndarray  # (channels, replications) Shapley values
    orders: np.ndarray | None = None  # sampled orders, or None for the exact value

    @property
    def full(self) -> np.ndarray:
        return self.values[shapley.full(len(self.channels))]

    @property
    def none(self) -> np.ndarray:
        return self.values[0]

    @property
    def usable(self) -> np.ndarray:
        """Replications where every needed subset gave a value (a measure can be undefined)."""
        return np.all(np.isfinite(self.phi), axis=0)


@dataclass
class ExplainResult:
    out: Path
    scenario: str
    policy: str
    channels: list[Channel]
    decompositions: dict[str, Decomposition]
    already_off: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    question: str = ""  # the scenario's description


# ============================================================================ channels
def choose_channels(values: Mapping[str, Any], names: Sequence[str] | None = None
                    ) -> tuple[list[Channel], list[str]]:
    """The channels to decompose over for runs with these parameter values.

    ``names``: only these (in this order); default every declared channel that applies. Returns
    the channels and the names of those already off in the scenario (their share is 0).
    """
    if names:
        unknown = [n for n in names if n not in CHANNELS]
        if unknown:
            raise ExplainError("--channels", f"--channels: no channel {unknown[0]!r}. Declared channels:"
                               f" {', '.join(CHANNELS)}.")
        chosen = [CHANNELS[n] for n in dict.fromkeys(names)]
    else:
        chosen = [c for c in CHANNELS.values() if c.applies(values)]
    owner: dict[str, tuple[str, Any]] = {}
    for c in chosen:
        for key, value in c.off.items():
            try:
                spec(key).coerce(key, value)
            except ParameterError as exc:
                raise ExplainError(key, f"channel {c.name!r} switches off with {exc}") from None
            if key in owner and owner[key][1] != value:
                raise ExplainError(key, f"channels {owner[key][0]!r} and {c.name!r} both set {key}"
                                   f" ({owner[key][1]!r} and {value!r}): a key belongs to one channel.")
            owner[key] = (c.name, value)
    if not chosen:
        raise ExplainError("--channels", "no channel to decompose over.")
    already = [c.name for c in chosen if all(values.get(k) == v for k, v in c.off.items())]
    return chosen, already


def off_overrides(channels: Sequence[Channel], subset: int) -> dict[str, Any]:
    """The overrides switching off every channel not in ``subset``."""
    out: dict[str, Any] = {}
    for i, c in enumerate(channels):
        if not subset >> i & 1:
            out.update(c.off)
    return out


def subset_name(channels: Sequence[Channel], subset: int) -> str:
    on = [c.name for i, c in enumerate(channels) if subset >> i & 1]
    return "on: " + (", ".join(on) if on else "none")


# ============================================================================ the runs
def starting_values(scenario: Scenario, policy: str = BASELINE, design_point: int | None = None
                    ) -> dict[str, Any]:
    """The values explained: the base, a policy's changes and, if given, a design point's levers."""
    chosen = {p.name: p for p in scenario.policies}
    if policy not in chosen:
        raise ExplainError("--policy", f"{scenario.path}: no policy {policy!r}; policies:"
                           f" {', '.join(chosen)}.")
    levers: dict[str, Any] = {}
    if design_point is not None:
        n = len(scenario.design.points)
        if not 0 <= design_point < n:
            raise ExplainError("--design-point", f"{scenario.path}: design point {design_point} does"
                               f" not exist: allowed 0 to {n - 1}.")
        levers = dict(scenario.design.points[design_point])
    return {**scenario.base, **chosen[policy].changes, **levers}


def counterfactual_scenario(scenario: Scenario, start: dict[str, Any], label: str,
                            channels: Sequence[Channel], subsets: Sequence[int]) -> Scenario:
    """A scenario whose policies are the channel subsets: one ordinary sweep runs them all."""
    policies, points = [], []
    for i, s in enumerate(subsets):
        changes = off_overrides(channels, s)
        name = subset_name(channels, s)
        overrides = {**start, **changes}
        Parameters(overrides)  # a clear error now rather than in every run
        policies.append(Policy(name, f"subset {s}", changes))
        points.append(Point(i, name, 0, {}, overrides))
    design = Design("none", (), None, scenario.seed, ({},))
    return Scenario(path=scenario.path, name=f"{scenario.name} (explain{label})",
                    description=f"Channel decomposition of {scenario.name}", seed=scenario.seed,
                    replications=scenario.replications, base=start, policies=tuple(policies),
                    design=design, _points=tuple(points))


def read_values(runs: pd.DataFrame, channels: Sequence[Channel], subsets: Sequence[int],
                replications: int, measure: str) -> dict[int, np.ndarray]:
    """value[subset] = the measure's last-quarter mean per replication (nan where not done)."""
    column = f"{measure}_last_quarter"
    values = {}
    for s in subsets:
        rows = runs[runs["policy"] == subset_name(channels, s)]
        v = np.full(replications, np.nan)
        if column in rows:
            done = rows[rows["status"] == "done"]
            v[done["replication"].to_numpy(int)] = done[column].to_numpy(float)
        values[s] = v
    return values


def explain(scenario: Scenario, out: str | Path, *, policy: str = BASELINE,
            channels: Sequence[str] | None = None, measures: Sequence[str] = MEASURES,
            max_exact: int = 7, permutations: int | None = None, workers: int | None = None,
            scheduler: str | None = None, resume: bool = False, overwrite: bool = False,
            progress: bool = True, note: Callable[[str], None] | None = None,
            design_point: int | None = None) -> ExplainResult:
    """Run the counterfactuals of ``scenario`` (through the sweep engine) and decompose its bias.

    What is explained: the scenario's base values with ``policy``'s changes and, with
    ``design_point``, that point of its sweep.
    """
    from coprod_sim.sweep.engine import sweep

    out = Path(out)
    for m in measures:
        if m not in MEASURES:
            raise ExplainError("--measure", f"--measure {m!r}: allowed {', '.join(MEASURES)}.")
    start = starting_values(scenario, policy, design_point)
    chosen, already = choose_channels(dict(Parameters(start)), channels)
    subsets, orders = shapley.plan_subsets(len(chosen), max_exact, permutations, scenario.seed)
    label = ("" if policy == BASELINE else f", policy {policy}") + (
        "" if design_point is None else f", design point {design_point}")
    derived = counterfactual_scenario(scenario, start, label, chosen, subsets)
    sweep(derived, out / "runs", workers=workers, scheduler=scheduler, resume=resume,
          overwrite=overwrite, progress=progress, note=note)
    runs = pd.read_parquet(out / "runs" / "runs.parquet")
    result = ExplainResult(out, scenario.name, policy + ("" if design_point is None else
                                                        f", design point {design_point}"),
                           chosen, {}, already, question=scenario.description)
    for m in measures:
        v = read_values(runs, chosen, subsets, scenario.replications, m)
        result.decompositions[m] = Decomposition(m, chosen, v, shapley.decompose(v, len(chosen), orders),
                                                 orders)
    return result
