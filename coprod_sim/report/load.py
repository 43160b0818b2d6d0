"""Reading a sweep's folder: every file checked, a damaged one named with what is wrong.

A sweep folder holds ``manifest.json`` (the scenario as run), ``runs.parquet`` (one row per
run) and ``timeseries.parquet`` (one row per run and month). Nothing here writes anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim.names import OUTCOMES, RENAMED_OUTCOMES
from coprod_sim.params import ParameterError

RUN_COLUMNS = ("policy", "design_point", "replication", "status")
CORE_OUTCOME = "participation_year_last_quarter"
"""Recorded by every version of coprod-sim: a runs table without it is damaged, not old."""
SERIES_COLUMNS = ("policy", "replication", "step")
DESIGNS = ("none", "grid", "one_at_a_time", "latin_hypercube", "sobol")


class ReportError(ParameterError):
    """A folder that does not hold a finished, readable sweep; exit code 2."""

    def __init__(self, message: str):
        super().__init__("DIR", message)


def file_slug(name: str) -> str:
    """A file-name-safe form of a name read from a file (policy, point): never a path.

    Letters, digits, ``_`` and ``-`` are kept; anything else (``/``, ``..``, NUL) becomes ``_``.
    A name that had to change gets a short hash so that two names never share a file.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60] or "unnamed"
    if slug != name:
        slug += "_" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:6]
    return slug


@dataclass
class Policy:
    name: str
    description: str
    changes: dict[str, Any]


@dataclass
class Sweep:
    folder: Path
    manifest: dict[str, Any]
    runs: pd.DataFrame  # finished runs only
    all_runs: pd.DataFrame
    timeseries: pd.DataFrame | None
    policies_declared: list[Policy]
    not_recorded: tuple[str, ...] = ()
    """Outcomes this version records that the sweep's runs lack (an older coprod-sim made
    them): their columns are added as NaN, so every measure of theirs reads n/a."""
    older_runs: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    """Runs of several code versions (a resume with --allow-code-change): for a code whose runs
    have no value of outcomes the other runs have, how many runs and which outcomes."""

    @property
    def scenario(self) -> dict[str, Any]:
        return self.manifest["scenario"]

    @property
    def baseline(self) -> str:
        return str(self.scenario.get("baseline", "baseline"))

    @property
    def policies(self) -> list[str]:
        """Declared policies with at least one finished run, in the scenario's order."""
        ran = set(self.runs["policy"])
        return [p.name for p in self.policies_declared if p.name in ran]

    @property
    def others(self) -> list[str]:
        return [p for p in self.policies if p != self.baseline]

    @property
    def replications(self) -> int:
        return int(self.scenario["replications"])

    @property
    def design(self) -> dict[str, Any]:
        return self.scenario.get("design") or {"kind": "none", "levers": [], "n_points": 1}

    @property
    def kind(self) -> str:
        return str(self.design.get("kind", "none"))

    @property
    def levers(self) -> list[str]:
        return [str(lv["key"]) for lv in self.design.get("levers", [])]

    @property
    def n_points(self) -> int:
        return int(self.design.get("n_points", 1))

    def policy(self, name: str) -> Policy:
        return next(p for p in self.policies_declared if p.name == name)


def _fail(path: Path, what: str) -> ReportError:
    return ReportError(f"{path}: {what}. This folder's sweep is damaged: rerun it with coprod sweep"
                       " FILE --out DIR --overwrite.")


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"cannot be read as JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise _fail(path, f"holds a JSON {type(manifest).__name__}, not an object with a 'scenario'")
    sc = manifest.get("scenario")
    if not isinstance(sc, dict):
        raise _fail(path, "has no 'scenario' object (the scenario as run)")
    pols = sc.get("policies")
    if not isinstance(pols, list) or not pols:
        raise _fail(path, "has no list of policies under 'scenario.policies'")
    for i, p in enumerate(pols):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            raise _fail(path, f"scenario.policies[{i}] has no name")
        if not isinstance(p.get("changes", {}), dict):
            raise _fail(path, f"scenario.policies[{i}].changes is not a table of parameter values")
    reps = sc.get("replications")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise _fail(path, f"scenario.replications is {reps!r}; allowed: a whole number >= 1")
    design = sc.get("design", {"kind": "none"})
    if not isinstance(design, dict) or design.get("kind", "none") not in DESIGNS:
        raise _fail(path, f"scenario.design is not one of the designs {', '.join(DESIGNS)}")
    levers = design.get("levers", [])
    if not isinstance(levers, list) or not all(isinstance(lv, dict) and isinstance(lv.get("key"), str)
                                               for lv in levers):
        raise _fail(path, "scenario.design.levers is not a list of tables with a 'key'")
    return manifest


def _read_table(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise _fail(path, f"is not a readable Parquet table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise _fail(path, f"lacks the column(s) {', '.join(missing)}")
    return table


def load_sweep(folder: str | Path) -> Sweep:
    """Read and check a finished sweep; a ReportError (exit 2) names any damaged file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder: give the --out folder of a sweep"
                          " (coprod sweep FILE --out DIR).")
    manifest_path, runs_path = folder / "manifest.json", folder / "runs.parquet"
    if not manifest_path.exists():
        raise ReportError(f"{folder} holds no manifest.json, so it is not a sweep's folder:"
                          " run coprod sweep FILE --out DIR first.")
    if not runs_path.exists():
        raise ReportError(f"{folder} has no runs.parquet yet: the sweep has not finished. Complete it"
                          " with coprod sweep FILE --out DIR --resume.")
    manifest = _read_manifest(manifest_path)
    all_runs = _read_table(runs_path, RUN_COLUMNS)
    declared = [Policy(p["name"], str(p.get("description", "")), dict(p.get("changes", {})))
                for p in manifest["scenario"]["policies"]]
    unknown = sorted(set(all_runs["policy"].astype(str)) - {p.name for p in declared})
    if unknown:
        raise _fail(runs_path, f"has runs of policies the manifest does not declare: {unknown[:3]}")
    all_runs, not_recorded = _fill_not_recorded(all_runs, runs_path)
    runs = all_runs[all_runs["status"] == "done"].copy()
    if runs.empty:
        raise ReportError(f"{folder}: no run finished (see the errors in manifest.json), nothing"
                          " to report.")
    ts_path = folder / "timeseries.parquet"
    ts = _read_table(ts_path, SERIES_COLUMNS) if ts_path.exists() else None
    return Sweep(folder, manifest, runs, all_runs, ts, declared, not_recorded,
                 _older_runs(manifest, runs))


def _older_runs(manifest: dict[str, Any], runs: pd.DataFrame) -> dict[str, tuple[int, tuple[str, ...]]]:
    """For each code version whose finished runs have no value of some outcomes that the other
    runs have (they were made before those outcomes existed): its count of runs, those outcomes."""
    code_of = {e.get("run"): e.get("code") for e in manifest.get("runs", [])
               if isinstance(e, dict) and e.get("code")}
    if len(set(code_of.values())) < 2 or "run" not in runs:
        return {}
    names = [k for k in OUTCOMES if k != "step"]
    has = runs[[f"{k}_last_quarter" for k in names]].notna().groupby(runs["run"].map(code_of)).any()
    somewhere = has.any()
    out = {}
    for code, row in has.iterrows():
        gone = tuple(k for k, col in zip(names, has.columns, strict=True) if somewhere[col] and not row[col])
        if gone:
            out[str(code)] = (int((runs["run"].map(code_of) == code).sum()), gone)
    return out


def _fill_not_recorded(runs: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Add, as NaN, the outcome columns an older coprod-sim did not record; name those outcomes.

    A sweep folder outlives the code that wrote it: measures added since then are absent, and
    the report states what the folder has (each such measure n/a) rather than failing.
    """
    if CORE_OUTCOME not in runs:
        raise _fail(path, f"lacks the column {CORE_OUTCOME} (every run records it)")
    runs = runs.rename(columns={f"{old}_{w}": f"{new}_{w}" for old, new in RENAMED_OUTCOMES.items()
                                for w in ("final", "last_quarter") if f"{new}_{w}" not in runs})
    absent = tuple(k for k in OUTCOMES if k != "step"
                   and (f"{k}_last_quarter" not in runs or f"{k}_final" not in runs))
    new = [c for k in absent for c in (f"{k}_final", f"{k}_last_quarter") if c not in runs]
    if new:
        runs = pd.concat([runs, pd.DataFrame(np.nan, index=runs.index, columns=new)], axis=1)
    return runs, absent
