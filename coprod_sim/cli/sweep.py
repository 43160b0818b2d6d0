"""``coprod validate``, ``coprod sweep`` and ``coprod report``: scenario files to sweeps to reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coprod_sim.cli.errors import (
    UserError,
    check_positive,
    console,
    err_console,
    interrupted,
    user_errors,
)
from coprod_sim.cli.options import SetOption, WorkersOption, duration, overrides_from_options, plural

RulesModuleOption = Annotated[list[str] | None, typer.Option(
    "--rules-module", metavar="MODULE",
    help="Load your module of @rule functions (MODULE.py in this folder, on PYTHONPATH or"
         " installed) so the scenario can name its rules (repeatable). A scenario file never"
         " imports code itself.")]


ReplicationsOption = Annotated[int | None, typer.Option(
    "--replications", "-r", metavar="N", help="Replications of every point, instead of the file's.")]
CitizensOption = Annotated[int | None, typer.Option(
    "--citizens", metavar="N", help="Citizens of the town (population.n_citizens), instead of the file's.")]
StepsOption = Annotated[int | None, typer.Option(
    "--steps", metavar="N", help="Months of every run (simulation.steps), instead of the file's.")]


def load_with_options(file: Path, rules_modules: list[str] | None, replications: int | None,
                      citizens: int | None, steps: int | None, sets: list[str] | None):
    """The scenario with the command line's changes (recorded in its plan, so resume checks them)."""
    from coprod_sim.rules.registry import use_modules
    from coprod_sim.scenario.loader import load_scenario

    use_modules(rules_modules or [])
    overrides = overrides_from_options(sets, **{"population.n_citizens": citizens,
                                                "simulation.steps": steps})
    return load_scenario(file, replications=replications, overrides=overrides)


def register(app: typer.Typer) -> None:
    app.command(short_help="Check a scenario file and print its plan and time estimate.")(validate)
    app.command(short_help="Run every run of a scenario, saving each at once.")(sweep)
    app.command(short_help="Write the report and figures of a finished sweep.")(report)


@user_errors
def validate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Scenario file (TOML) to check.",
                                         show_default=False)],
    workers: WorkersOption = None,
    rules_modules: RulesModuleOption = None,
    replications: ReplicationsOption = None,
    citizens: CitizensOption = None,
    steps: StepsOption = None,
    sets: SetOption = None,
) -> None:
    """Check a scenario file and print its plan: points x replications = runs, and a time estimate."""
    check_positive("--workers", workers)
    from rich.table import Table

    from coprod_sim.sweep.estimate import estimate_seconds
    from coprod_sim.sweep.executors import default_workers

    scenario = load_with_options(file, rules_modules, replications, citizens, steps, sets)
    d = scenario.design
    console.print(f"[bold]{escape(scenario.name)}[/] ({escape(str(file))}): valid.", highlight=False)
    if scenario.description:
        console.print(escape(scenario.description), highlight=False)
    t = Table(title="Base values", title_justify="left")
    t.add_column("key")
    t.add_column("value", justify="right")
    for k, v in dict(scenario.base).items():
        t.add_row(k, escape(repr(v)))
    console.print(t)
    p = Table(title="Policies (each compared with the baseline)", title_justify="left")
    p.add_column("policy")
    p.add_column("changes")
    p.add_column("what it is")
    for pol in scenario.policies:
        p.add_row(escape(pol.name), escape(", ".join(f"{k} = {v!r}" for k, v in pol.changes.items()))
                  or "-", escape(pol.description))
    console.print(p)
    if d.levers:
        s = Table(title=f"Sweep: {d.kind.replace('_', ' ')} design", title_justify="left")
        s.add_column("swept parameter")
        s.add_column("values")
        for lv in d.levers:
            vals = (", ".join(repr(v) for v in lv.values) if lv.values is not None
                    else f"sampled in [{lv.low:g}, {lv.high:g}]")
            s.add_row(lv.key, escape(vals))
        console.print(s)
    workers = default_workers() if workers is None else workers
    seconds = estimate_seconds(scenario, workers)
    console.print(
        f"Plan: {plural(len(scenario.policies), 'policy', 'policies')} x"
        f" {plural(scenario.n_design_points, 'design point')} = {plural(scenario.n_points, 'point')};"
        f" x {plural(scenario.replications, 'replication')} ="
        f" [bold]{plural(scenario.n_runs, 'run')}[/] of {scenario.steps} months."
        f" Estimated time: about {duration(seconds)} on {workers} worker(s) here.", highlight=False)


@user_errors
def sweep(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Scenario file (TOML).",
                                         show_default=False)],
    workers: WorkersOption = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Output folder (default: out/<scenario name>).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Complete a sweep already in --out: keep its finished runs, run the rest"
                         " (and retry failed ones). Also starts a new sweep if there is none.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Discard a sweep already in --out and start again.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS",
        help="Address of a Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) to run on its"
             " workers instead of local processes.")] = None,
    progress: Annotated[bool, typer.Option(
        help="Show progress: a bar on a terminal, plain lines in a log or a pipe.")] = True,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only errors and the failed runs (no plan, progress or summary).")
                     ] = False,
    rules_modules: RulesModuleOption = None,
    replications: ReplicationsOption = None,
    citizens: CitizensOption = None,
    steps: StepsOption = None,
    sets: SetOption = None,
    run_timeout: Annotated[float | None, typer.Option(
        "--run-timeout", metavar="SECONDS",
        help="Stop a run that takes longer and record it as failed (default: no limit).")] = None,
    allow_code_change: Annotated[bool, typer.Option(
        "--allow-code-change",
        help="With --resume: accept runs computed by another version of coprod-sim's code (the"
             " manifest records the code of every run).")] = False,
) -> None:
    """Run every run of a scenario (policies x design points x replications), saving each at once.

    Writes manifest.json, runs.parquet and timeseries.parquet into --out. Ctrl-C or a kill
    loses at most the runs in flight; run again with --resume to complete the sweep.
    A run that fails in any way (an error in a rule, its process dying, longer than
    --run-timeout) is recorded with its cause and the others go on; the tables are written,
    then the command exits 1 naming the failed runs. Exits 2 (writing nothing) on a mistake
    in the file or the options, or if another command is using --out; 130 if interrupted.
    """
    check_positive("--workers", workers)
    if resume and overwrite:
        raise UserError("--resume keeps the runs already in --out and --overwrite discards them:"
                        " choose one.")
    if run_timeout is not None and not 0 < run_timeout < float("inf"):
        raise UserError(f"--run-timeout {run_timeout:g} is not allowed: a number of seconds above 0.")
    from coprod_sim.sweep.engine import sweep as run_sweep
    from coprod_sim.sweep.errors import SweepInterrupted

    scenario = load_with_options(file, rules_modules, replications, citizens, steps, sets)
    out = out or Path("out") / _folder_name(scenario.name)
    again = _resume_command(file, out, rules_modules, replications, citizens, steps, sets)
    if not quiet:
        console.print(f"[bold]{escape(scenario.name)}[/]: {scenario.n_runs:,} runs ({scenario.n_points}"
                      f" points x {scenario.replications} replications) into {escape(str(out))}/",
                      highlight=False)
    try:
        result = run_sweep(scenario, out, workers=workers, scheduler=scheduler, resume=resume,
                           overwrite=overwrite, progress=progress and not quiet,
                           run_timeout=run_timeout, allow_code_change=allow_code_change)
    except SweepInterrupted as exc:
        raise interrupted(f"{exc.done} of {exc.total} runs are saved in {exc.out}/."
                          f" To complete the sweep: {again}"
                          ) from None
    kept = f" ({result.resumed} were already done)" if result.resumed else ""
    if not quiet:
        console.print(f"Done: {result.done} of {result.total} runs{kept} on {result.executor} in"
                      f" {duration(result.seconds)}. Wrote manifest.json, runs.parquet,"
                      f" timeseries.parquet to {escape(str(out))}/. Next: coprod report"
                      f" {escape(str(out))}", highlight=False)
    if result.failed:
        listed = list(result.failed.items())
        lines = "\n".join(f"  run {i}: {escape(err)}" for i, err in listed[:20])
        more = f"\n  ... and {len(listed) - 20} more (see manifest.json)" if len(listed) > 20 else ""
        err_console.print(f"[bold red]{len(listed)} run(s) failed[/] of {result.total} (errors and"
                          f" tracebacks in {escape(str(out))}/runs/*.failed.json; the others are"
                          f" saved):\n{lines}{more}\n"
                          f"After a fix, rerun them with: {escape(again)}", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(1)


def _resume_command(file: Path, out: Path, rules_modules: list[str] | None, replications: int | None,
                    citizens: int | None, steps: int | None, sets: list[str] | None) -> str:
    """The command that resumes this sweep: the same plan, so the same options."""
    import shlex

    words = ["coprod", "sweep", str(file), "--out", str(out), "--resume"]
    words += [w for m in rules_modules or [] for w in ("--rules-module", m)]
    for option, value in (("--replications", replications), ("--citizens", citizens),
                          ("--steps", steps)):
        if value is not None:
            words += [option, str(value)]
    words += [w for a in sets or [] for w in ("--set", a)]
    return " ".join(shlex.quote(w) for w in words)


def _folder_name(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "sweep"


@user_errors
def report(
    folder: Annotated[Path, typer.Argument(
        metavar="FOLDER", help="Folder of a finished sweep (coprod sweep --out).", show_default=False)],
    rules_modules: RulesModuleOption = None,
) -> None:
    """Write report.md and figures (PNG and SVG) for a sweep: policy effects on participation and
    bias with 95% confidence intervals, SES quintiles, self-efficacy, heat maps, Sobol indices."""
    from coprod_sim.report.writer import write_report
    from coprod_sim.rules.registry import use_modules

    use_modules(rules_modules or [])  # the parameters of the sweep's custom rules
    result = write_report(folder)
    console.print(f"Wrote {escape(str(result.report))}, {result.html.name} and {len(result.figures)}"
                  f" figures in {escape(str(result.figures_dir))}/.", highlight=False)
    for line in result.headlines:
        console.print(f"  {escape(line)}", highlight=False)
