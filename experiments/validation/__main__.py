"""Run the validation experiments and print the table: fact, expected, simulated, pass/fail.

    .venv/bin/python -m experiments.validation            # full: the validation of record
    .venv/bin/python -m experiments.validation --reduced  # what CI runs
    .venv/bin/python -m experiments.validation --facts F1,F5 --replications 5

Figures, the table (Markdown) and the numbers (JSON) go to --out
(experiments/validation/results by default). Exit code 0 when every fact passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from coprod_sim.params import parse_assignments
from experiments.validation.facts import FULL, REDUCED, RESULTS, FactResult, Settings, validate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.validation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reduced", action="store_true", help="CI settings: fewer replications, smaller towns")
    ap.add_argument("--replications", type=int, help="paired replications per arm")
    ap.add_argument("--citizens", type=int, help="citizens per town")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (at most 2)")
    ap.add_argument("--facts", help="comma-separated fact ids, e.g. F1,F5 (default: all)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="change a default for every arm (e.g. to see a fact break)")
    ap.add_argument("--out", type=Path, default=None, help=f"output folder (default: {RESULTS})")
    args = ap.parse_args(argv)

    base = REDUCED if args.reduced else FULL
    settings = dataclasses.replace(
        base,
        replications=args.replications or base.replications,
        n_citizens=args.citizens or base.n_citizens,
        workers=args.workers,
        base_overrides=parse_assignments(args.sets),
    )
    out = args.out or RESULTS
    facts = [f.strip() for f in args.facts.split(",")] if args.facts else None
    console = Console()
    console.print(f"[bold]Validation against docs/facts.md[/]: {settings.describe()}.")
    started = time.time()

    def progress(done: int, total: int) -> None:
        if done == total or done % 20 == 0:
            console.print(f"  {done}/{total} runs, {time.time() - started:.0f} s", highlight=False)

    rows = validate(settings, facts, out, progress)
    elapsed = time.time() - started
    console.print(table(rows))
    write(rows, settings, out, elapsed)
    failed = [r.id for r in rows if r.passed is False]
    console.print(f"{sum(r.passed is True for r in rows)} passed, {len(failed)} failed"
                  f"{' (' + ', '.join(failed) + ')' if failed else ''}, "
                  f"{sum(r.passed is None for r in rows)} skipped, in {elapsed:.0f} s. "
                  f"Figures and table in {out}/")
    return 1 if failed else 0


def table(rows: list[FactResult]) -> Table:
    t = Table(title="Stylised facts (95% confidence intervals over paired replications)",
              title_justify="left", show_lines=True)
    t.add_column("fact")
    t.add_column("expected", max_width=40)
    t.add_column("simulated (mean [95% CI])", max_width=70)
    t.add_column("result")
    for r in rows:
        colour = {True: "green", False: "red", None: "yellow"}[r.passed]
        t.add_row(r.id, r.expected, r.simulated.replace("; ", "\n"), f"[{colour}]{r.verdict}[/]")
    return t


def markdown(rows: list[FactResult], settings: Settings, elapsed: float) -> str:
    lines = [
        "# Validation against docs/facts.md",
        "",
        f"Settings: {settings.describe()}; {elapsed:.0f} s. Commit: {_commit()}.",
        "Rerun: `.venv/bin/python -m experiments.validation` (see experiments/validation/README.md).",
        "",
        "| fact | expected | simulated (mean [95% CI]) | result | figure |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        fig = f"[{r.figure.name}]({r.figure.name})" if r.figure and r.figure.exists() else ""
        lines.append(f"| {r.id} | {r.expected} | {r.simulated.replace('; ', '<br>')} | {r.verdict} | {fig} |")
    return "\n".join(lines) + "\n"


def write(rows: list[FactResult], settings: Settings, out: Path, elapsed: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(markdown(rows, settings, elapsed))
    doc = {
        "settings": {**dataclasses.asdict(settings), "base_overrides": dict(settings.base_overrides)},
        "commit": _commit(),
        "seconds": round(elapsed, 1),
        "facts": [{"id": r.id, "fact": r.fact, "expected": r.expected, "simulated": r.simulated,
                   "result": r.verdict, "details": r.details,
                   "figure": r.figure.name if r.figure else None} for r in rows],
    }
    (out / "results.json").write_text(json.dumps(_clean(doc), indent=2) + "\n")


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 6)
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def _commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
