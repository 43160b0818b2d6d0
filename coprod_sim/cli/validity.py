"""``coprod facts`` and ``coprod calibrate-defaults``: the model against docs/facts.md."""

import time
from pathlib import Path
from typing import Annotated

import typer

from coprod_sim.cli.errors import check_positive, console, user_errors
from coprod_sim.cli.options import SetOption


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (called once by coprod_sim.cli.app)."""
    app.command(short_help="Check the defaults against the facts of docs/facts.md.")(facts)
    app.command("calibrate-defaults",
                short_help="Calibrate the free parameters to docs/facts.md.")(calibrate_defaults)


@user_errors
def facts(
    quick: Annotated[bool, typer.Option("--quick", help="CI settings: 8 replications, 2,000.")] = False,
    only: Annotated[str | None, typer.Option("--facts", help="Comma-separated ids, e.g. F1,F5.")] = None,
    replications: Annotated[int | None, typer.Option(help="Paired replications per arm.")] = None,
    citizens: Annotated[int | None, typer.Option(help="Citizens per town.")] = None,
    controls: Annotated[bool, typer.Option("--controls", help="Also re-run each fact without its"
                                           " coefficient (emergence and input controls).")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (at most 2).")] = 2,
    sets: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for table.md, results.json, figures"
                                             " (default: experiments/validation/results).")] = None,
) -> None:
    """Check the defaults against the stylised facts of docs/facts.md; print the table.

    Exit 0 when every fact passes, 1 when one fails, 2 on a mistake in the options."""
    import dataclasses

    from coprod_sim.params import spec
    from coprod_sim.rules.registry import parse_assignments

    check_positive("--workers", workers)
    check_positive("--replications", replications)
    if citizens is not None:  # the tree's bounds on a town's size
        spec("population.n_citizens").coerce("population.n_citizens", citizens)
    from coprod_sim.validation import facts as F
    from coprod_sim.validation import record
    from coprod_sim.validation.runs import FULL, REDUCED

    base = REDUCED if quick else FULL
    settings = dataclasses.replace(base, replications=replications or base.replications,
                                   n_citizens=citizens or base.n_citizens, workers=workers,
                                   base_overrides=parse_assignments(sets or []))
    chosen = [f.strip() for f in only.split(",")] if only else None
    unknown = [f for f in chosen or [] if f not in F.BY_ID]
    if unknown:
        from coprod_sim.cli.errors import UserError
        raise UserError(f"--facts: unknown fact {', '.join(unknown)}; known: {', '.join(F.BY_ID)}.")
    out = out or F.RESULTS
    console.print(f"[bold]Validation against docs/facts.md[/]: {settings.describe()}.")
    started = time.time()
    rows = F.validate(settings, chosen, out, _progress(console, started))
    ctrl = F.controls(settings, chosen, _progress(console, started)) if controls else None
    elapsed = time.time() - started
    record.write(rows, settings, out, elapsed, ctrl)
    console.print((out / "table.md").read_text(), markup=False, highlight=False, soft_wrap=True)
    failed = [r.id for r in rows if r.passed is False]
    console.print(f"{sum(r.passed is True for r in rows)} passed, {len(failed)} failed"
                  f"{' (' + ', '.join(failed) + ')' if failed else ''}, in {elapsed:.0f} s. "
                  f"Table and figures in {out}/", highlight=False)
    if failed:
        raise typer.Exit(1)

@user_errors
def calibrate_defaults(
    scenario: Annotated[Path | None, typer.Option(help="The prior, a scenario file with a sampled design"
                                                  " (default: scenarios/calibration.toml).")] = None,
    accept: Annotated[float, typer.Option(help="Share of draws kept as the posterior ensemble.")] = 0.05,
    replications: Annotated[int, typer.Option(help="Reruns of each kept draw, fresh seeds.")] = 2,
    workers: Annotated[int, typer.Option(help="Worker processes (at most 2).")] = 2,
    reuse: Annotated[bool, typer.Option("--reuse", help="Keep the saved screening runs; redo only"
                                        " the analysis of the ensemble.")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the results (default:"
                                             " experiments/calibration/results).")] = None,
) -> None:
    """Calibrate the free parameters to the calibration targets of docs/facts.md (F1, F11) by
    approximate Bayesian computation; write the ensemble of good fits and what it identifies."""
    check_positive("--replications", replications)
    check_positive("--workers", workers)
    if not 0 < accept <= 1:
        from coprod_sim.cli.errors import UserError
        raise UserError(f"--accept {accept} is not allowed: a share in (0, 1].")
    from coprod_sim.validation import calibration as C

    out = out or C.RESULTS
    path = (scenario or C.PRIOR).resolve()
    if C.prior(path).design.kind not in ("latin_hypercube", "sobol"):  # a mistake: exit 2 before any run
        from coprod_sim.cli.errors import UserError
        raise UserError(f"{path}: the prior needs a sampled design: [sweep] design = \"latin_hypercube\""
                        " with a range { low, high } for each free parameter.")
    started = time.time()
    if reuse:
        import json

        settings = json.loads((out / "calibration.json").read_text())["settings"]
        summary = C.finish(out, settings, workers, _progress(console, started), path=path)
    else:
        summary = C.calibrate(path, accept, replications, workers, out, _progress(console, started))
    console.print(C.describe(summary), markup=False, highlight=False, soft_wrap=True)
    console.print(f"Wrote {out}/ in {time.time() - started:.0f} s.", highlight=False)


def _progress(console, started: float):
    def progress(done: int, total: int) -> None:
        if done == total or done % 20 == 0:
            console.print(f"  {done}/{total} runs, {time.time() - started:.0f} s", highlight=False)
    return progress
