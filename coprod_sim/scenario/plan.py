"""A loaded scenario: its policies, its design, and the numbered plan of points and runs.

    points  = policies x design points     (point = policy_index * n_design + design_point)
    runs    = points x replications        (run = point * replications + replication)

Every run of replication ``r`` uses the seed sequence ``run_seed(seed, r)``, whatever its
policy or design point, so that policies and points are compared on the same random draws.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coprod_sim.params import ParameterError, Parameters
from coprod_sim.rules.registry import rule_modules

BASELINE = "baseline"
"""Name of the policy every other policy is compared with: the base values, unchanged."""


@dataclass(frozen=True)
class Policy:
    """A named bundle of parameter changes, applied on top of the base values."""

    name: str
    description: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class Lever:
    """A swept parameter: explicit values (grid, one-at-a-time) or a range (sampled designs)."""

    key: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.values is not None:
            return {"key": self.key, "values": list(self.values)}
        return {"key": self.key, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Design:
    """How the levers are combined into design points."""

    kind: str  # grid | latin_hypercube | sobol | one_at_a_time | none
    levers: tuple[Lever, ...]
    samples: int | None
    seed: int
    points: tuple[dict[str, Any], ...]  # lever values of each design point

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "levers": [lv.to_dict() for lv in self.levers],
                "samples": self.samples, "seed": self.seed, "n_points": len(self.points)}


@dataclass(frozen=True)
class Point:
    """A policy at a design point: what a run's parameters are, before the seed."""

    index: int
    policy: str
    design_point: int
    levers: dict[str, Any]  # the lever values at this design point
    overrides: dict[str, Any]  # every value that differs from the tree's defaults


@dataclass(frozen=True)
class Run:
    """One simulation of a sweep: a point, a replication, its parameters and seed."""

    index: int
    point: int
    policy: str
    design_point: int
    replication: int
    seed: int  # the scenario's root seed; the run uses run_seed(seed, replication)
    params: Parameters
    levers: dict[str, Any] = field(default_factory=dict)
    rule_modules: tuple[str, ...] = ()  # modules of its custom rules, for a worker to import


@dataclass
class Scenario:
    """A loaded, validated scenario file. See the module docstring for the run numbering."""

    path: Path
    name: str
    description: str
    seed: int
    replications: int
    base: dict[str, Any]  # base values by dotted key (steps and seed included)
    policies: tuple[Policy, ...]  # the baseline first
    design: Design
    _points: tuple[Point, ...] = field(default=(), repr=False)
    options: dict[str, Any] = field(default_factory=dict)  # command-line changes to the file

    # ------------------------------------------------------------------ the plan
    def base_parameters(self) -> Parameters:
        """The base values, with no policy and no sweep applied."""
        return Parameters(self.base)

    @property
    def steps(self) -> int:
        return int(self.base_parameters().simulation.steps)

    @property
    def n_design_points(self) -> int:
        return len(self.design.points)

    @property
    def n_points(self) -> int:
        return len(self._points)

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replications

    @property
    def lever_keys(self) -> list[str]:
        return [lv.key for lv in self.design.levers]

    def points(self) -> tuple[Point, ...]:
        return self._points

    def point(self, index: int) -> Point:
        if not 0 <= index < self.n_points:
            raise ParameterError("--point", f"{self.path}: point {index} does not exist: allowed"
                                 f" 0 to {self.n_points - 1} ({self.n_points} points).")
        return self._points[index]

    def run_at(self, point: int, replication: int) -> Run:
        """The run of ``point`` and ``replication`` (what ``coprod run FILE --point --replication`` runs)."""
        p = self.point(point)
        if not 0 <= replication < self.replications:
            raise ParameterError("--replication", f"{self.path}: replication {replication} does not"
                                 f" exist: allowed 0 to {self.replications - 1}.")
        params = Parameters(p.overrides)
        return Run(index=point * self.replications + replication, point=point, policy=p.policy,
                   design_point=p.design_point, replication=replication, seed=self.seed,
                   params=params, levers=p.levers, rule_modules=rule_modules(params))

    def runs(self) -> Iterator[Run]:
        """Every run, in run-index order (point-major), built lazily."""
        for p in self._points:
            for r in range(self.replications):
                yield self.run_at(p.index, r)

    def run_by_index(self, index: int) -> Run:
        return self.run_at(index // self.replications, index % self.replications)

    def parameter_keys(self) -> list[str]:
        """Every key the scenario sets anywhere (base, policies, levers), in a stable order."""
        keys = dict.fromkeys(["population.n_citizens", "simulation.steps", "simulation.seed"])
        keys.update(dict.fromkeys(self.base))
        for pol in self.policies:
            keys.update(dict.fromkeys(pol.changes))
        keys.update(dict.fromkeys(self.lever_keys))
        return list(keys)

    # ------------------------------------------------------------------ records
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for the sweep's manifest)."""
        return {
            "name": self.name,
            "description": self.description,
            "file": str(self.path),
            "seed": self.seed,
            "steps": self.steps,
            "replications": self.replications,
            "baseline": BASELINE,
            "base": self.base,
            "policies": [{"name": p.name, "description": p.description, "changes": p.changes}
                         for p in self.policies],
            "design": self.design.to_dict(),
            "n_points": self.n_points,
            "n_runs": self.n_runs,
            "options": self.options,
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """A hash of everything that decides the runs' results (not the name or the wording)."""
        plan = {
            "seed": self.seed,
            "replications": self.replications,
            "base": self.base,
            "policies": [[p.name, p.changes] for p in self.policies],
            "design": [self.design.kind, [lv.to_dict() for lv in self.design.levers],
                       self.design.samples, self.design.seed, list(self.design.points)],
        }
        if self.options:  # command-line changes are part of the plan (and old plans unchanged)
            plan["options"] = self.options
        text = json.dumps(plan, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

