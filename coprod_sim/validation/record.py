"""Results of record: the validation table (Markdown) and its numbers (JSON)."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from pathlib import Path
from typing import Any

from coprod_sim.validation.facts import ControlResult, FactResult
from coprod_sim.validation.runs import Settings

SPLIT_NOTE = (
    "Class (docs/facts.md): *input*, a coefficient sets it, so its check verifies the code; "
    "*calibrated*, a calibration target, so its check shows a fit; *emergent*, neither. "
    "Split: the calibration (`coprod calibrate-defaults`) saw only the calibration targets; "
    "the held-out patterns are the evidence that the model reproduces what it was not fitted to."
)


def markdown(rows: list[FactResult], settings: Settings, elapsed: float,
             controls: list[ControlResult] | None = None) -> str:
    lines = [
        "# Validation against the facts of docs/facts.md",
        "",
        f"Settings: {settings.describe()}; {elapsed:.0f} s. Commit: {commit()}.",
        "Rerun: `coprod facts --controls` (see experiments/validation/README.md).",
        "",
        SPLIT_NOTE,
        "",
    ]
    for split in ("held out", "calibration target", "verification"):
        chosen = [r for r in rows if r.split == split]
        if not chosen:
            continue
        lines += [f"## {split.capitalize()}{'s' if split != 'held out' else ''}", "",
                  "| fact | class | expected | simulated (mean [95% CI]) | result | figure |",
                  "|---|---|---|---|---|---|"]
        for r in chosen:
            fig = f"[{r.figure.name}]({r.figure.name})" if r.figure and r.figure.exists() else ""
            lines.append(f"| {r.id} | {r.klass} | {r.expected} | {r.simulated.replace('; ', '<br>')} "
                         f"| {r.verdict} | {fig} |")
        lines.append("")
    gaps = [r for r in rows if r.known_gap and r.passed is False]
    if gaps:
        lines += ["## Known gaps", "", "Facts the current rules do not reproduce, and why "
                  "(docs/facts.md says the same with the numbers).", ""]
        lines += [f"- **{r.id}** ({r.title}): {r.known_gap}" for r in gaps] + [""]
    if controls:
        lines += ["## Controls: each fact without its coefficient", "",
                  "An emergent fact must still hold without its most direct coefficient; an input fact "
                  "must fail without its coefficient.", "",
                  "| fact | class | coefficient removed | still holds? | as the class says | simulated |",
                  "|---|---|---|---|---|---|"]
        for c in controls:
            removed = ", ".join(f"`{k} = {v}`" for k, v in c.removed.items())
            holds = {True: "yes", False: "no", None: "not run"}[c.holds]
            ok = {True: "yes", False: "**no**", None: "-"}[c.consistent]
            lines.append(f"| {c.id} | {c.klass} | {removed} | {holds} | {ok} | "
                         f"{c.simulated.replace('; ', '<br>')} |")
        lines.append("")
    return "\n".join(lines)


def write(rows: list[FactResult], settings: Settings, out: Path, elapsed: float,
          controls: list[ControlResult] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(markdown(rows, settings, elapsed, controls))
    doc = {
        "settings": {**dataclasses.asdict(settings), "base_overrides": dict(settings.base_overrides)},
        "commit": commit(),
        "seconds": round(elapsed, 1),
        "facts": [{"id": r.id, "title": r.title, "class": r.klass, "split": r.split,
                   "expected": r.expected, "simulated": r.simulated, "result": r.verdict,
                   "known_gap": r.known_gap or None,
                   "details": r.details, "figure": r.figure.name if r.figure else None} for r in rows],
        "controls": [{**dataclasses.asdict(c), "consistent": c.consistent} for c in controls or []],
    }
    (out / "results.json").write_text(json.dumps(_clean(doc), indent=2) + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 6)
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
