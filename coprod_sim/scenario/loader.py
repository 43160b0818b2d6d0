"""Scenario files: a question, base parameter values, a sweep design and named policies.

A scenario is a TOML file whose keys follow the parameter tree's dotted paths
(``policy.outreach``, ``administration.risk_aversion``...). :func:`load_scenario` checks it
against the tree and expands it into runs::

    points  = policies x design points     (point = policy_index * n_design + design_point)
    runs    = points x replications        (run = point * replications + replication)

Every run of replication ``r`` uses the seed sequence ``run_seed(seed, r)``, whatever its
policy or design point, so that policies and points are compared on the same random draws.
The format is documented, with a full example, in ``docs/scenarios.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

import coprod_sim.rules  # noqa: F401  (registers the built-in rules and the rule-loading hook)
from coprod_sim.params import TREE, ParameterError, Parameters, select_rules, spec

BASELINE = "baseline"
"""Name of the policy every other policy is compared with: the base values, unchanged."""

DESIGNS: dict[str, str] = {
    "grid": "grid",
    "latin_hypercube": "latin_hypercube",
    "lhs": "latin_hypercube",
    "sobol": "sobol",
    "one_at_a_time": "one_at_a_time",
    "oat": "one_at_a_time",
}
"""Design names accepted in ``[sweep] design``, with their aliases."""

TOP_LEVEL = ("name", "description", "steps", "seed", "replications", "parameters", "sweep", "policies")
SWEEP_SETTINGS = ("design", "samples", "seed")
SWEEP_CONTAINERS = ("parameters", "levers")  # optional sub-tables holding the swept keys
RANGE_KEYS = ("low", "high", "num", "step")
FIXED_ONCE = ("simulation.seed", "simulation.steps")  # set once per scenario, never swept
MAX_RUNS = 1_000_000
MAX_REPLICATIONS = 100_000


class ScenarioError(ParameterError):
    """One or more mistakes in a scenario file; the message names the file and each key."""

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = list(problems)
        if len(problems) == 1:
            text = f"{path}: {problems[0][1]}"
        else:
            lines = "\n".join(f"  - {msg}" for _, msg in problems)
            text = f"{path}: {len(problems)} problems:\n{lines}"
        super().__init__(problems[0][0] if problems else "", text)


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
        return Run(index=point * self.replications + replication, point=point, policy=p.policy,
                   design_point=p.design_point, replication=replication, seed=self.seed,
                   params=Parameters(p.overrides), levers=p.levers)

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
        text = json.dumps(plan, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ====================================================================== loading
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError (exit 2) names the file and each key."""
    path = Path(path)
    data = _read_toml(path)
    return _Loader(path).load(data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(path, [("file", "no such scenario file.")]) from None
    except IsADirectoryError:
        raise ScenarioError(path, [("file", "is a folder, not a scenario file (.toml).")]) from None
    except OSError as exc:
        raise ScenarioError(path, [("file", f"cannot be read: {exc.strerror or exc}.")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, [("file", f"is not UTF-8 text (byte {exc.start}): a scenario is"
                                            " a TOML text file.")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [_toml_problem(text, str(exc))]) from None


def _toml_problem(text: str, message: str) -> tuple[str, str]:
    """A TOML syntax error as (key, message), naming the line and, if we can, the key."""
    m = re.search(r"at line (\d+), column (\d+)", message)
    if not m:
        return "file", f"is not valid TOML: {message}."
    lineno = int(m.group(1))
    lines = text.splitlines()
    line = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    key = line.split("=", 1)[0].strip() if "=" in line else line.strip()
    key = key or f"line {lineno}"
    if "Cannot overwrite" in message or "Cannot declare" in message or "twice" in message:
        return key, (f"line {lineno}: {key!r} is given twice. Every key, policy name and table"
                     " may appear once; give each policy its own name under [policies.NAME].")
    detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
    return key, (f"line {lineno}: not valid TOML ({detail}) in {line!r}. Values look like"
                 " key = 0.5, key = \"text\", key = [1, 2], key = {{ low = 0, high = 1 }}.")


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


class _Loader:
    """Collects every problem it can find before giving up, so one fix round suffices."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[tuple[str, str]] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def check(self) -> None:
        if self.problems:
            raise ScenarioError(self.path, self.problems)

    # -------------------------------------------------------------- the whole file
    def load(self, data: dict[str, Any]) -> Scenario:
        # Rules first: a custom rule 'package.module:function' may declare parameters (even a
        # group of its own) that other keys use, so it is imported before anything else is
        # checked against the tree (params.select_rules).
        self._load_rules(data)
        groups = list(TREE)
        for key in data:
            if key not in TOP_LEVEL and key not in groups:
                hint = _did_you_mean(key, [*TOP_LEVEL, *groups])
                self.fail(key, f"unknown top-level key {key!r}.{hint} Allowed: {', '.join(TOP_LEVEL)},"
                               f" or a parameter group table ({', '.join(groups)}).")

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

        raw_base = self._base_entries(data)
        raw_policies = self._policy_entries(data.get("policies"))
        raw_sweep, settings = self._sweep_entries(data.get("sweep"))

        base = self._values("[parameters]", raw_base)
        for short, key in (("steps", "simulation.steps"), ("seed", "simulation.seed")):
            if short in data:
                value = self._coerce(short, key, data[short], f"{short} ({key}): ")
                if value is not None:
                    if key in base and base[key] != value:
                        self.fail(short, f"{short} = {value!r} disagrees with {key} = {base[key]!r}:"
                                         " give it once.")
                    base[key] = value
        policies = self._policies(raw_policies)
        levers = self._levers(raw_sweep, settings)
        self.check()
        self._consistency(policies, levers)
        self.check()

        seed = int(Parameters(base).simulation.seed) if not self._base_broken(base) else 0
        self.check()
        design = self._design(levers, settings, seed, base)
        self.check()
        points = self._points(base, policies, design)
        self.check()
        if len(points) * replications > MAX_RUNS:
            self.fail("replications", f"{len(points)} points x {replications} replications ="
                      f" {len(points) * replications:,} runs, more than the {MAX_RUNS:,} allowed.")
            self.check()
        return Scenario(path=self.path, name=name.strip(), description=description.strip(),
                        seed=seed, replications=replications, base=base, policies=tuple(policies),
                        design=design, _points=tuple(points))

    def _integer(self, data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"{key} = {value!r} has the wrong type: expected an integer in"
                           f" [{low}, {high}].")
            return default
        if not low <= value <= high:
            self.fail(key, f"{key} = {value!r} is out of bounds: allowed an integer in [{low}, {high}].")
            return default
        return value

    # -------------------------------------------------------------- flattening
    def _flatten(self, where: str, table: Mapping[str, Any], prefix: tuple[str, ...] = (),
                 out: dict[str, tuple[str, Any]] | None = None,
                 stop_at_two: bool = True) -> dict[str, tuple[str, Any]]:
        """Dotted keys (quoted or as nested tables) -> (where, value); duplicates reported.

        Parameter keys are exactly ``group.name``, so descending stops at two parts; deeper
        tables are values (a lever's range) and shallower scalars are not parameters.
        """
        out = {} if out is None else out
        for raw_key, value in table.items():
            parts = (*prefix, *[p.strip() for p in str(raw_key).split(".")])
            if len(parts) >= 2 and stop_at_two:
                key = ".".join(parts)
                if key in out:
                    self.fail(key, f"{where} {key} is given twice (also in {out[key][0]}): give it once.")
                else:
                    out[key] = (where, value)
            elif isinstance(value, dict):
                self._flatten(where, value, parts, out, stop_at_two)
            else:
                key = ".".join(parts)
                hint = _did_you_mean(key, list(_all_keys()))
                self.fail(key, f"{where} {key} = {value!r}: {key!r} is not a parameter.{hint}"
                               " Parameter keys are 'group.name', e.g. policy.outreach.")
        return out

    def _base_entries(self, data: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
        out: dict[str, tuple[str, Any]] = {}
        table = data.get("parameters", {})
        if not isinstance(table, dict):
            self.fail("parameters", f"parameters = {table!r} must be a table: [parameters] with"
                                    " lines like policy.outreach = \"universal\".")
        else:
            self._flatten("[parameters]", table, (), out)
        for group in TREE:
            if group in data:
                if isinstance(data[group], dict):
                    self._flatten(f"[{group}]", data[group], (group,), out)
                else:
                    self.fail(group, f"{group} = {data[group]!r}: {group!r} is a parameter group;"
                                     f" write [{group}] then name = value lines, or {group}.name = value.")
        return out

    def _policy_entries(self, table: Any) -> dict[str, tuple[str, dict[str, tuple[str, Any]]]]:
        """name -> (description, dotted entries)."""
        out: dict[str, tuple[str, dict[str, tuple[str, Any]]]] = {}
        if table is None:
            return out
        if isinstance(table, list):  # [[policies]] with name = "..."
            items = []
            for i, entry in enumerate(table):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    self.fail(f"policies[{i}]", f"[[policies]] entry {i + 1} needs name = \"...\""
                                                " and the parameter changes it makes.")
                    continue
                body = {k: v for k, v in entry.items() if k != "name"}
                items.append((entry["name"], body))
        elif isinstance(table, dict):
            items = list(table.items())
        else:
            self.fail("policies", f"policies = {table!r} must be tables: [policies.NAME] with the"
                                  " parameter changes each policy makes.")
            return out
        for name, body in items:
            where = f"[policies.{name}]"
            if not str(name).strip():
                self.fail("policies", "a policy has an empty name.")
                continue
            if name in out:
                self.fail(f"policies.{name}", f"[policies.{name}]: policy name {name!r} is used twice:"
                                              " give each policy its own name.")
                continue
            if not isinstance(body, dict):
                self.fail(f"policies.{name}", f"{where} must be a table of parameter changes, e.g."
                                              f" [policies.{name}] then policy.outreach = \"universal\".")
                continue
            description = body.get("description", "")
            if not isinstance(description, str):
                self.fail(f"policies.{name}.description", f"{where} description = {description!r}"
                                                          " must be a string.")
                description = ""
            changes = {k: v for k, v in body.items() if k != "description"}
            out[name] = (description, self._flatten(where, changes))
        return out

    def _sweep_entries(self, table: Any) -> tuple[dict[str, tuple[str, Any]], dict[str, Any]]:
        if table is None:
            return {}, {}
        if not isinstance(table, dict):
            self.fail("sweep", f"sweep = {table!r} must be a table: [sweep] with design = \"grid\""
                               " and the swept parameters.")
            return {}, {}
        settings = {k: v for k, v in table.items() if k in SWEEP_SETTINGS}
        entries = {k: v for k, v in table.items() if k not in SWEEP_SETTINGS}
        for container in SWEEP_CONTAINERS:  # [sweep.parameters] reads like [parameters]
            if isinstance(entries.get(container), dict):
                inner = entries.pop(container)
                for k, v in inner.items():
                    if k in entries:
                        self.fail(f"sweep.{k}", f"[sweep] {k} is given twice: give it once.")
                    entries[k] = v
        if not entries:
            self.fail("sweep", "[sweep] sweeps nothing: add swept parameters such as"
                               " administration.risk_aversion = [0.2, 0.5, 0.8], or remove [sweep].")
        for k, v in list(entries.items()):
            # A bare word that is not a setting is a misspelt setting, not a parameter group.
            if "." not in k and k not in TREE and not isinstance(v, dict):
                hint = _did_you_mean(k, SWEEP_SETTINGS)
                self.fail(f"sweep.{k}", f"[sweep] {k} is not a sweep setting.{hint} Settings are"
                                        f" {', '.join(SWEEP_SETTINGS)}; swept parameters are"
                                        " dotted keys like administration.risk_aversion.")
                del entries[k]
        return self._flatten("[sweep]", entries), settings

    def _load_rules(self, data: Mapping[str, Any]) -> None:
        """Import every rule the file selects anywhere (a loose scan: other checks come later)."""
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
                select_rules([(key, value)])  # imports a custom rule and declares its parameters
            except ParameterError as exc:
                self.fail(key, f"{where} {key} = {value!r}: {exc}")
        self.check()

    # -------------------------------------------------------------- values
    def _coerce(self, where_key: str, key: str, value: Any, where: str) -> Any:
        """A checked value for ``key``, or None after recording the problem."""
        try:
            s = spec(key)
        except ParameterError as exc:
            self.fail(where_key, f"{where}{exc}")
            return None
        if (isinstance(value, str) and s.kind is not str) or isinstance(value, (dict, list)):
            unit = "" if s.unit == "-" else f" ({s.unit})"
            self.fail(where_key, f"{where}{key} = {value!r} has the wrong type ({_type_name(value)}):"
                                 f" expected {s.allowed()}{unit}.")
            return None
        try:
            return s.coerce(key, value)
        except ParameterError as exc:
            self.fail(where_key, f"{where}{exc}")
            return None

    def _values(self, where: str, entries: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
        out = {}
        for key, (w, value) in entries.items():
            v = self._coerce(key, key, value, f"{w} ")
            if v is not None:
                out[key] = v
        return out

    def _base_broken(self, base: Mapping[str, Any]) -> bool:
        try:
            Parameters(base)
        except ParameterError as exc:
            self.fail(exc.key, f"[parameters] {exc}")
            return True
        return False

    def _policies(self, raw) -> list[Policy]:
        policies: list[Policy] = []
        seen_changes: dict[str, str] = {}
        for name, (description, entries) in raw.items():
            where = f"[policies.{name}]"
            changes = self._values(where, entries)
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

    # -------------------------------------------------------------- the sweep
    def _levers(self, raw: Mapping[str, tuple[str, Any]], settings: Mapping[str, Any]
                ) -> list[tuple[str, Any]]:
        kind = self._design_kind(settings, bool(raw))
        levers: list[tuple[str, Any]] = []
        for key, (_, value) in raw.items():
            try:
                s = spec(key)
            except ParameterError as exc:
                self.fail(key, f"[sweep] {exc}")
                continue
            if key in FIXED_ONCE:
                self.fail(key, f"[sweep] {key} cannot be swept: the seed and the number of steps are"
                               " set once per scenario (use replications for more seeds).")
                continue
            lever = self._lever(kind, key, s, value)
            if lever is not None:
                levers.append((key, lever))
        return levers

    def _design_kind(self, settings: Mapping[str, Any], has_levers: bool) -> str:
        design = settings.get("design", "grid")
        if not isinstance(design, str) or design.lower() not in DESIGNS:
            hint = _did_you_mean(str(design), list(DESIGNS))
            self.fail("sweep.design", f"[sweep] design = {design!r} is not a design.{hint} Allowed:"
                                      " 'grid', 'latin_hypercube' ('lhs'), 'sobol',"
                                      " 'one_at_a_time' ('oat').")
            return "grid"
        return DESIGNS[design.lower()]

    def _lever(self, kind: str, key: str, s, value: Any) -> Any:
        where = "[sweep]"
        sampled = kind in ("latin_hypercube", "sobol")
        numeric = s.kind in (int, float)
        if isinstance(value, list):
            if sampled:
                self.fail(key, f"{where} {key} = {value!r}: a {kind} design samples a range; write"
                               f" {key} = {{ low = ..., high = ... }}.")
                return None
            if len(value) < 1:
                self.fail(key, f"{where} {key} = []: an empty list sweeps nothing; give the values to"
                               f" try, e.g. {key} = [{s.default!r}, ...].")
                return None
            values = []
            for v in value:
                c = self._coerce(key, key, v, f"{where} ")
                if c is not None:
                    values.append(c)
            if len(values) != len(value):
                return None
            if len(set(map(repr, values))) != len(values):
                self.fail(key, f"{where} {key} = {value!r} lists a value twice: each value once.")
                return None
            if kind == "grid" and len(values) == 1:
                self.fail(key, f"{where} {key} = {value!r} has a single value: that is a base value;"
                               f" put it under [parameters], or give several values.")
                return None
            return tuple(values)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in RANGE_KEYS]
            if unknown:
                hint = _did_you_mean(unknown[0], RANGE_KEYS)
                self.fail(key, f"{where} {key}: unknown range entry {unknown[0]!r}.{hint} A range is"
                               " { low = ..., high = ... } plus num = N or step = S for grid and"
                               " one-at-a-time designs.")
                return None
            if not numeric:
                self.fail(key, f"{where} {key} is {s.allowed()}: a range needs a numeric parameter;"
                               " list the values instead, e.g. [\"a\", \"b\"].")
                return None
            if "low" not in value or "high" not in value:
                self.fail(key, f"{where} {key} = {value!r}: a range needs both low and high.")
                return None
            low = self._coerce(key, key, value["low"], f"{where} {key}.low: ")
            high = self._coerce(key, key, value["high"], f"{where} {key}.high: ")
            if low is None or high is None:
                return None
            if not low < high:
                self.fail(key, f"{where} {key}: low = {low!r} must be below high = {high!r}.")
                return None
            if sampled:
                extra = [k for k in ("num", "step") if k in value]
                if extra:
                    self.fail(key, f"{where} {key}: {extra[0]} applies to grid and one-at-a-time"
                                   f" designs; a {kind} design draws [sweep] samples points.")
                    return None
                return (float(low), float(high))
            return self._range_values(key, s, low, high, value)
        self.fail(key, f"{where} {key} = {value!r}: a swept parameter needs several values: a list"
                       f" [..] or a range {{ low = .., high = .. }}. A single value belongs under"
                       " [parameters].")
        return None

    def _range_values(self, key, s, low, high, value) -> tuple[Any, ...] | None:
        where = "[sweep]"
        has_num, has_step = "num" in value, "step" in value
        if has_num == has_step:
            self.fail(key, f"{where} {key}: a grid range needs exactly one of num = N (evenly spaced"
                           " values, ends included) or step = S.")
            return None
        if has_num:
            num = value["num"]
            if isinstance(num, bool) or not isinstance(num, int) or not 2 <= num <= 10_000:
                self.fail(key, f"{where} {key}: num = {num!r} must be an integer in [2, 10000].")
                return None
            raw = np.linspace(low, high, num)
        else:
            step = value["step"]
            if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 \
                    or not math.isfinite(step):
                self.fail(key, f"{where} {key}: step = {step!r} must be a positive number.")
                return None
            count = math.floor((high - low) / step + 1e-9) + 1
            if count > 10_000:
                self.fail(key, f"{where} {key}: step = {step!r} gives {count} values, more than 10000.")
                return None
            if count < 2:
                self.fail(key, f"{where} {key}: step = {step!r} is larger than high - low: one value.")
                return None
            raw = low + step * np.arange(count)
        if s.kind is int:
            if not np.allclose(raw, np.round(raw)):
                self.fail(key, f"{where} {key} is an integer parameter but the range gives"
                               f" {[round(float(v), 4) for v in raw[:4]]}...: choose num or step so"
                               " every value is whole.")
                return None
            values = tuple(round(v) for v in raw)
        else:
            values = tuple(float(f"{v:.12g}") for v in raw)  # 0.30000000000000004 -> 0.3
        return tuple(s.coerce(key, v) for v in values)

    def _consistency(self, policies: list[Policy], levers: list[tuple[str, Any]]) -> None:
        swept = {k for k, _ in levers}
        for pol in policies:
            both = sorted(swept & set(pol.changes))
            if both:
                self.fail(both[0], f"[policies.{pol.name}] sets {both[0]}, which [sweep] varies:"
                                   " a key is either swept or set by a policy, not both.")

    def _design(self, levers: list[tuple[str, Any]], settings: Mapping[str, Any], seed: int,
                base: Mapping[str, Any]) -> Design:
        kind = self._design_kind(settings, bool(levers))
        sampler_seed = settings.get("seed", seed)
        if isinstance(sampler_seed, bool) or not isinstance(sampler_seed, int) or sampler_seed < 0:
            self.fail("sweep.seed", f"[sweep] seed = {sampler_seed!r} must be a non-negative integer.")
            sampler_seed = seed
        samples = settings.get("samples")
        if not levers:
            if "samples" in settings:
                self.fail("sweep.samples", "[sweep] samples is given but nothing is swept.")
            return Design("none", (), None, sampler_seed, ({},))
        if kind in ("grid", "one_at_a_time"):
            if samples is not None:
                self.fail("sweep.samples", f"[sweep] samples applies to latin_hypercube and sobol"
                                           f" designs; a {kind} design uses the listed values.")
                return Design(kind, (), None, sampler_seed, ({},))
            lv = tuple(Lever(k, values=v) for k, v in levers)
            if kind == "grid":
                count = math.prod(len(v) for _, v in levers)
                if count > MAX_RUNS:
                    self.fail("sweep", f"the grid has {count:,} points, more than {MAX_RUNS:,}.")
                    return Design(kind, lv, None, sampler_seed, ({},))
                points = tuple(dict(zip([k for k, _ in levers], combo, strict=True))
                               for combo in product(*[v for _, v in levers]))
            else:
                defaults = Parameters(base)
                points_list: list[dict[str, Any]] = [{}]
                for k, values in levers:
                    points_list.extend({k: v} for v in values if v != defaults[k])
                points = tuple(points_list)
            return Design(kind, lv, None, sampler_seed, points)
        # sampled designs
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            self.fail("sweep.samples", f"[sweep] samples = {samples!r}: a {kind} design needs"
                                       " samples = N, a positive integer (the number of points"
                                       + (", a power of two; points = N x (levers + 2))."
                                          if kind == "sobol" else ")."))
            return Design(kind, (), None, sampler_seed, ({},))
        lv = tuple(Lever(k, low=lo, high=hi) for k, (lo, hi) in levers)
        if kind == "sobol":
            if samples < 2 or samples & (samples - 1):
                up = 1 << max(1, (samples - 1).bit_length())
                self.fail("sweep.samples", f"[sweep] samples = {samples}: a sobol design needs a power"
                                           f" of two (e.g. {up // 2 if up > 2 else 2} or {up}).")
                return Design(kind, (), None, sampler_seed, ({},))
            unit = _sobol_unit(len(lv), samples, sampler_seed)
        else:
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


def _sobol_unit(d: int, n: int, seed: int) -> np.ndarray:
    """SALib's Saltelli/Sobol' sample on the unit cube: n x (d + 2) rows, first order and total."""
    from SALib.sample import sobol

    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


def sobol_problem(levers: list[dict[str, Any]]) -> dict[str, Any]:
    """The SALib problem of a Sobol design's levers (for the analysis in the report)."""
    return {"num_vars": len(levers), "names": [lv["key"] for lv in levers],
            "bounds": [[lv["low"], lv["high"]] for lv in levers]}


def _all_keys() -> Iterator[str]:
    for group, params in TREE.items():
        for name in params:
            yield f"{group}.{name}"
