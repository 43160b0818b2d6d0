"""``coprod calibrate FILE``: fit behavioural parameters to observed participation by neighbourhood."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coprod_sim.cli.errors import UserError, console, interrupted, user_errors
from coprod_sim.cli.options import plural
from coprod_sim.cli.sweep import _folder_name


def register(app: typer.Typer) -> None:
    app.command(short_help="Fit behavioural parameters to observed participation by neighbourhood.")(
        calibrate)


@user_errors
def calibrate(
    file: Annotated[Path, typer.Argument(
        help="Scenario file (TOML) with a [town] table holding observed participation and a"
             " [calibrate] table naming the parameters to fit.", show_default=False)],
    trials: Annotated[int | None, typer.Option(
        min=2, help="Trials in all (default: the [calibrate] table's); a resumed study goes on to it.")
                      ] = None,
    citizens: Annotated[int | None, typer.Option(
        metavar="N", min=10, help="Citizens simulated (population.n_citizens), instead of [town] scale:"
                                  " a smaller sample fits faster.")] = None,
    steps: Annotated[int | None, typer.Option(metavar="N", min=1, help="Months per run (simulation.steps).")
                     ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: out/<name>_calibrate).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Discard a study already there.")] = False,
    progress: Annotated[bool, typer.Option(help="Print a line per trial.")] = True,
) -> None:
    """Fit the [calibrate] table's parameters to the town table's observed participation (and
    any town-wide targets) with Optuna on common random numbers. Writes fit.png, fit.csv,
    trials.csv, calibrate.md, calibrated.toml (the scenario with the fitted values, usable as is)
    and the resumable study calibrate.db into --out (--citizens and --steps are written into
    calibrated.toml too). Interrupted: run the same command again to resume."""
    import dataclasses

    from coprod_sim.analysis.calibrate import CalibrateInterrupted
    from coprod_sim.analysis.calibrate import calibrate as fit
    from coprod_sim.analysis.calibrate_report import write_outputs
    from coprod_sim.scenario.calibrate import load_calibrate
    from coprod_sim.scenario.loader import load_scenario

    overrides = {k: v for k, v in (("population.n_citizens", citizens), ("simulation.steps", steps))
                 if v is not None}
    scenario = load_scenario(file, overrides=overrides)
    spec = load_calibrate(file)
    if trials is not None:
        spec = dataclasses.replace(spec, trials=trials)
    if len(scenario.policies) > 1 or scenario.design.levers:
        console.print(escape("The scenario's policies and [sweep] are not used: the fit starts from its base"
                      " values."), highlight=False)
    out = out or Path("out") / f"{_folder_name(scenario.name)}_calibrate"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder.")
    console.print(f"[bold]{escape(scenario.name)}[/]: {plural(spec.trials, 'trial')} x"
                  f" {plural(spec.replications, 'replication')}, {plural(len(spec.parameters), 'parameter')},"
                  f" into {escape(str(out))}/", highlight=False)

    def say(done: int, total: int, best: float) -> None:
        if progress:
            console.print(f"trial {done} of {total}: best loss {best:.4g}", highlight=False)

    try:
        result = fit(scenario, spec, out, overwrite=overwrite, progress=say)
    except CalibrateInterrupted as exc:
        # the same options, or the study is refused as another plan's (steps and citizens are
        # part of the scenario's fingerprint)
        again = "".join(f" --{k} {v}" for k, v in (("trials", trials), ("citizens", citizens),
                                                    ("steps", steps)) if v is not None)
        raise interrupted(escape(f"{exc.completed} trials are saved in {out}/. To continue:"
                                 f" coprod calibrate {file} --out {out}{again}")) from None
    files = write_outputs(scenario, result)
    if result.resumed:
        console.print(f"Resumed a study of {result.resumed} trials.", highlight=False)
    for key in result.keys:
        low, high = result.interval[key]
        console.print(f"{key}: fit {result.best[key]:.4g}, good fits {low:.4g} to {high:.4g}",
                      highlight=False)
    console.print(f"Wrote {', '.join(p.name for p in files.values())} to {out}/", highlight=False)
