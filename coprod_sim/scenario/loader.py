"""Scenario files: a question, base parameter values, a sweep design and named policies.

A scenario is a TOML file whose keys follow the parameter tree's dotted paths
(``policy.outreach``, ``administration.risk_aversion``...). :func:`load_scenario` checks it
against the tree and expands it into runs (numbered as :mod:`coprod_sim.scenario.plan`
says). The format is documented, with a full example, in ``docs/scenarios.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coprod_sim.params import TREE, ParameterError, Parameters, select_rules
from coprod_sim.scenario import designs, town
from coprod_sim.scenario.entries import (
    FIXED_ONCE,
    SWEEP_CONTAINERS,
    base_entries,
    checked_values,
    coerce,
    policy_entries,
    sweep_entries,
)
from coprod_sim.scenario.errors import Problems, ScenarioError, did_you_mean
from coprod_sim.scenario.plan import BASELINE, Design, Point, Policy, Scenario
from coprod_sim.scenario.reading import read_toml

TOP_LEVEL = ("name", "description", "steps", "seed", "replications", "parameters", "sweep", "policies",
             "optimise",  # [optimise]: read by coprod_sim/scenario/optimise.py (coprod optimise)
             "calibrate")  # [calibrate]: read by coprod_sim/scenario/calibrate.py (coprod calibrate)
POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A policy name: 1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit (it
names rows, figures and files, so it never holds a path, a space or a control character)."""
MAX_RUNS = 1_000_000
MAX_REPLICATIONS = 100_000


def load_scenario(path: str | Path, replications: int | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file; ScenarioError (exit 2) names the file and each key.

    ``replications`` and ``overrides`` (base values by dotted key) are changes given on the
    command line (``coprod sweep --replications --set``): they replace the file's and are
    recorded in the plan (``Scenario.options``), so that a resume with other ones is refused.
    """
    path = Path(path)
    data = read_toml(path)
    if not data:
        raise ScenarioError(path, [("file", "is empty (or holds only comments): a scenario needs at"
                                            " least a name, and usually [parameters], [policies.NAME]"
                                            " or [sweep] tables; see docs/scenarios.md.")])
    return _Loader(path).load(data, replications, dict(overrides or {}))


class _Loader:
    """Collects every problem it can find before giving up, so one fix round suffices."""

    def __init__(self, path: Path):
        self.path = path
        self.problems = Problems(path)

    def fail(self, key: str, message: str) -> None:
        self.problems.fail(key, message)

    def check(self) -> None:
        self.problems.check()

    # -------------------------------------------------------------- the whole file
    def load(self, data: dict[str, Any], replications_option: int | None = None,
             overrides: dict[str, Any] | None = None) -> Scenario:
        # Rules first: a custom rule may declare parameters (even a group of its own) that
        # other keys use, so every rule the file names is found (by name: nothing is imported)
        # before anything else is checked against the tree (params.select_rules).
        self._load_rules(data)
        self._top_level(data)
        name = data.get("name", self.path.stem)
        if not isinstance(name, str) or not name.strip():
            self.fail("name", f"name = {name!r} must be a non-empty string.")
            name = self.path.stem
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail("description", f"description = {description!r} must be a string (the question"
                                     " the scenario answers).")
            description = ""
        replications = self._integer(data, "replications", 1, 1, MAX_REPLICATIONS)
        options: dict[str, Any] = {}
        if replications_option is not None:
            replications = self._integer({"replications": replications_option}, "replications", 1,
                                         1, MAX_REPLICATIONS, "--replications")
            options["replications"] = replications

        raw_base = base_entries(self.problems, data)
        raw_policies = policy_entries(self.problems, data.get("policies"))
        raw_sweep, settings = sweep_entries(self.problems, data.get("sweep"))
        base = self._base(data, raw_base)
        policies = self._policies(raw_policies)
        kind = designs.design_kind(self.problems, settings)
        levers = designs.levers(self.problems, kind, raw_sweep)
        self.check()
        self._consistency(policies, levers)
        if overrides:
            options["set"] = self._overrides(base, overrides, policies, levers)
        self._town(base, set(raw_base), set(options.get("set", {})), policies, levers)
        self.check()

        seed = int(Parameters(base).simulation.seed) if not self._base_broken(base) else 0
        self.check()
        design = designs.build(self.problems, kind, levers, settings, seed, base)
        self.check()
        n_runs = len(policies) * len(design.points) * replications
        if n_runs > MAX_RUNS:  # counted before the points are built
            self.fail("replications", f"{len(policies)} policies x {len(design.points)} design points"
                                      f" x {replications} replications = {n_runs:,} runs, more than"
                                      f" the {MAX_RUNS:,} allowed.")
            self.check()
        points = self._points(base, policies, design)
        self.check()
        return Scenario(path=self.path, name=name.strip(), description=description.strip(),
                        seed=seed, replications=replications, base=base, policies=tuple(policies),
                        design=design, _points=tuple(points), options=options)

    def _town(self, base: dict[str, Any], written: set[str], typed: set[str], policies: list[Policy],
              levers: list[tuple[str, Any]]) -> None:
        """A town table: found beside the scenario, checked, and the town's size from it."""
        for pol in policies:
            town.check_fixed(self.problems, f"[policies.{pol.name}]", set(pol.changes))
        town.check_fixed(self.problems, "[sweep]", {k for k, _ in levers})
        town.apply_town(self.problems, self.path, base, written, typed)

    def _top_level(self, data: Mapping[str, Any]) -> None:
        groups = list(TREE)
        for key in data:
            if key not in TOP_LEVEL and key not in groups:
                hint = did_you_mean(key, [*TOP_LEVEL, *groups])
                self.fail(key, f"unknown top-level key {key!r}.{hint} Allowed: {', '.join(TOP_LEVEL)},"
                               f" or a parameter group table ({', '.join(groups)}).")

    def _base(self, data: Mapping[str, Any], raw: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
        """The base values, with the top-level ``steps`` and ``seed`` shorthands."""
        base = checked_values(self.problems, raw)
        for short, key in (("steps", "simulation.steps"), ("seed", "simulation.seed")):
            if short in data:
                value = coerce(self.problems, short, key, data[short], f"{short} ({key}): ")
                if value is not None:
                    if key in base and base[key] != value:
                        self.fail(short, f"{short} = {value!r} disagrees with {key} = {base[key]!r}:"
                                         " give it once.")
                    base[key] = value
        return base

    def _integer(self, data: Mapping[str, Any], key: str, default: int, low: int, high: int,
                 label: str | None = None) -> int:
        value = data.get(key, default)
        said = f"{label} {value!r}" if label else f"{key} = {value!r}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{said} has the wrong type: expected an integer in [{low}, {high}].")
            return default
        if not low <= value <= high:
            self.fail(key, f"{said} is out of bounds: allowed an integer in [{low}, {high}].")
            return default
        return value

    def _overrides(self, base: dict[str, Any], overrides: Mapping[str, Any], policies: list[Policy],
                   levers: list[tuple[str, Any]]) -> dict[str, Any]:
        """Apply command-line base values (``--set``, ``--citizens``, ``--steps``) over the file's."""
        swept = {k for k, _ in levers}
        applied: dict[str, Any] = {}
        for key, value in overrides.items():
            v = coerce(self.problems, key, key, value, "--set ")
            if v is None:
                continue
            if key in swept:
                self.fail(key, f"--set {key}: the scenario's [sweep] varies {key}; change its values"
                               " in the file instead.")
                continue
            setters = [p.name for p in policies if key in p.changes]
            if setters:
                self.fail(key, f"--set {key}: policy {setters[0]!r} sets {key}; a command-line value"
                               " would be overridden there. Change the file instead.")
                continue
            base[key] = applied[key] = v
        return applied

    def _load_rules(self, data: Mapping[str, Any]) -> None:
        """Find every rule the file selects anywhere (a loose scan: other checks come later)."""
        found: list[tuple[str, str, Any]] = []

        def scan(where: str, table: Any, prefix: tuple[str, ...] = ()) -> None:
            if not isinstance(table, dict):
                return
            for k, v in table.items():
                parts = (*prefix, *str(k).split("."))
                if len(parts) == 2 and parts[0] == "rules":
                    for value in v if isinstance(v, list) else [v]:
                        found.append((where, ".".join(parts), value))
                elif len(parts) < 2:
                    scan(where, v, parts)

        scan("[rules]", data.get("rules"), ("rules",))
        scan("[parameters]", data.get("parameters"))
        policies = data.get("policies")
        if isinstance(policies, dict):
            for name, body in policies.items():
                scan(f"[policies.{name}]", body)
        elif isinstance(policies, list):
            for body in policies:
                name = body.get("name", "?") if isinstance(body, dict) else "?"
                scan(f"[policies.{name}]", body)
        sweep = data.get("sweep")
        scan("[sweep]", sweep)
        if isinstance(sweep, dict):
            for container in SWEEP_CONTAINERS:
                scan("[sweep]", sweep.get(container))
        seen: set[tuple[str, str]] = set()
        for where, key, value in found:
            if not isinstance(value, str) or (key, value) in seen:
                continue
            seen.add((key, value))
            try:
                select_rules([(key, value)])  # finds the rule, declares a custom rule's parameters
            except ParameterError as exc:
                self.fail(key, f"{where} {key} = {value!r}: {exc}")
        self.check()

    # -------------------------------------------------------------- values
    def _base_broken(self, base: Mapping[str, Any]) -> bool:
        try:
            Parameters(base)
        except ParameterError as exc:
            self.fail(exc.key, f"[parameters] {exc}")
            return True
        return False

    def _policies(self, raw: Mapping[str, tuple[str, Any]]) -> list[Policy]:
        policies: list[Policy] = []
        seen_changes: dict[str, str] = {}
        for name, (description, entries) in raw.items():
            where = f"[policies.{name}]"
            if not POLICY_NAME.fullmatch(str(name)):
                self.fail(f"policies.{name!r}", f"[policies.{name!r}]: {name!r} is not a policy name:"
                                                " allowed 1 to 64 letters, digits, '_', '.' and '-',"
                                                " starting with a letter or digit (e.g. 'universal',"
                                                " 'cut_25').")
                continue
            changes = checked_values(self.problems, entries)
            for key in changes:
                if key in FIXED_ONCE:
                    self.fail(key, f"{where} {key}: the seed and the number of steps are set once for"
                                   " the whole scenario (top-level seed and steps), not per policy.")
            if not entries and name != BASELINE:
                self.fail(f"policies.{name}", f"{where} changes nothing, so it is the baseline: give it"
                                              " at least one parameter change.")
            signature = json.dumps(changes, sort_keys=True, default=str)
            if entries and signature in seen_changes and len(changes) == len(entries):
                self.fail(f"policies.{name}", f"{where} makes the same changes as policy"
                                              f" {seen_changes[signature]!r}: duplicate policy.")
            seen_changes.setdefault(signature, name)
            policies.append(Policy(str(name), description.strip(), changes))
        baseline = [p for p in policies if p.name == BASELINE]
        others = [p for p in policies if p.name != BASELINE]
        if not baseline:
            baseline = [Policy(BASELINE, "The base values, with no policy change.", {})]
        return baseline + others

    def _consistency(self, policies: list[Policy], levers: list[tuple[str, Any]]) -> None:
        swept = {k for k, _ in levers}
        for pol in policies:
            both = sorted(swept & set(pol.changes))
            if both:
                self.fail(both[0], f"[policies.{pol.name}] sets {both[0]}, which [sweep] varies:"
                                   " a key is either swept or set by a policy, not both.")

    def _points(self, base: Mapping[str, Any], policies: list[Policy], design: Design) -> list[Point]:
        points = []
        checked: set[str] = set()
        for pi, pol in enumerate(policies):
            for di, levers in enumerate(design.points):
                overrides = {**base, **pol.changes, **levers}
                signature = json.dumps(overrides, sort_keys=True, default=str)
                if signature not in checked:  # the cross-key checks (e.g. min <= max)
                    checked.add(signature)
                    try:
                        Parameters(overrides)
                    except ParameterError as exc:
                        at = f" at design point {di} ({levers})" if levers else ""
                        self.fail(exc.key, f"[policies.{pol.name}]{at}: {exc}")
                        return points
                points.append(Point(pi * len(design.points) + di, pol.name, di, dict(levers),
                                    overrides))
        return points
