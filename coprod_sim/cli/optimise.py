"""``coprod optimise FILE``: the affordable policy mixes that raise participation and lower the bias."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coprod_sim.cli.errors import UserError, check_positive, console, interrupted, user_errors
from coprod_sim.cli.options import SetOption, WorkersOption
from coprod_sim.cli.sweep import RulesModuleOption, _folder_name


def register(app: typer.Typer) -> None:
    app.command(short_help="Search affordable policy mixes: participation up, bias down, cost down.")(
        optimise)


@user_errors
def optimise(
    file: Annotated[Path, typer.Argument(
        help="Scenario file (TOML) with an [optimise] table: levers, ranges, costs, budget.",
        show_default=False)],
    trials: Annotated[int | None, typer.Option(
        min=1, help="Candidates to evaluate in all (default: the [optimise] table's trials).")] = None,
    replications: Annotated[int | None, typer.Option(
        min=2, help="Replications per candidate (default: the scenario's).")] = None,
    fresh: Annotated[int | None, typer.Option(
        "--fresh-replications", min=0,
        help="Fresh seeds for re-evaluating the front (default: the [optimise] table's).")] = None,
    sets: SetOption = None,
    rules_modules: RulesModuleOption = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: out/<name>_optimise).")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL (default: sqlite:///OUT/study.db); a database URL such as"
             " postgresql://host/db lets drivers on several machines share one search.")] = None,
    workers: WorkersOption = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a Dask distributed scheduler to run candidates on.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the search in --out/--storage; evaluated candidates are kept.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Discard a search already there.")] = False,
    progress: Annotated[bool, typer.Option(
        help="Show progress (a bar on a terminal, lines otherwise).")] = True,
) -> None:
    """Search the levers of a scenario's [optimise] table for the Pareto front of participation
    (up), bias (down) and cost (down) under its budget, with NSGA-II on common random numbers;
    then re-run the front on fresh seeds. Writes optimise.md, front.csv, trials.csv, pareto.png
    and the resumable study (study.db) into --out. Exits 130 if interrupted: run again with
    --resume to continue."""
    import dataclasses

    from coprod_sim.analysis.optimise import OptimiseInterrupted
    from coprod_sim.analysis.optimise import optimise as search
    from coprod_sim.analysis.optimise_report import write_report
    from coprod_sim.analysis.scenarios import analysis_scenario
    from coprod_sim.rules.registry import parse_assignments, use_modules
    from coprod_sim.scenario.optimise import load_optimise

    if resume and overwrite:
        raise UserError("--resume keeps the search and --overwrite discards it: choose one.")
    check_positive("--workers", workers)
    use_modules(rules_modules or [])  # a researcher's rules, and the channels they declare
    scenario = analysis_scenario(file, replications, parse_assignments(sets or []))
    spec = load_optimise(file)
    if trials is not None:
        spec = dataclasses.replace(spec, trials=trials)
    if fresh is not None:
        spec = dataclasses.replace(spec, fresh_replications=fresh)
    out = out or Path("out") / f"{_folder_name(scenario.name)}_optimise"
    if len(scenario.policies) > 1 or scenario.design.levers:
        console.print("The scenario's policies and [sweep] are not searched: candidates start from its"
                      " base values and change only the [optimise] levers.", highlight=False)
    console.print(f"[bold]{escape(scenario.name)}[/]: {spec.trials} candidates x {scenario.replications}"
                  f" replications, {len(spec.levers)} levers, into {out}/", highlight=False)
    try:
        result = search(scenario, spec, out, storage=storage, workers=workers, scheduler=scheduler,
                        resume=resume, overwrite=overwrite, progress=progress)
    except OptimiseInterrupted as exc:
        raise interrupted(escape(f"{exc.evaluated} candidates are saved in the study. To continue:"
                                 f" coprod optimise {file} --out {out} --resume")) from None
    files = write_report(scenario, spec, result, workers=workers, scheduler=scheduler)
    console.print(f"Done: {result.evaluated} candidates evaluated ({result.skipped_over_budget} proposals"
                  f" over budget skipped). Wrote {', '.join(p.name for p in files.values())} to {out}/",
                  highlight=False)
