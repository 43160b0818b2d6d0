"""The ``coprod`` command line.

Every command exits 0 on success and 2 on a user's mistake (bad key, value, file or rule),
with a one-paragraph message naming the file, the key and what is allowed; never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from coprod_sim.params import MODES, ParameterError, Parameters, parse_assignments

app = typer.Typer(
    name="coprod",
    help="Simulate citizens coproducing public services, sweep policies, report selection bias.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

USER_ERROR = 2


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """coprod-sim: citizens coproducing public services with their administrations."""
    if version:
        from coprod_sim import __version__

        console.print(__version__)
        raise typer.Exit()


class UserError(Exception):
    """A mistake in what the user gave us (file, key, value): reported, exit code 2."""


def user_errors(fn: Callable) -> Callable:
    """Turn a user's mistake into a one-paragraph message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ParameterError, UserError) as exc:
            err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(USER_ERROR) from None
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            err_console.print(f"[bold red]Error:[/] cannot read or write{where}: {exc.strerror or exc}",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(USER_ERROR) from None

    return wrapper


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override a parameter by dotted key, e.g. --set policy.outreach=universal "
                      "(repeatable; see docs/parameters.md)."),
]


def overrides_from_options(sets: list[str] | None, **direct: Any) -> dict[str, Any]:
    """Merge ``--set`` assignments with dedicated options (which win when given)."""
    overrides = parse_assignments(sets or [])
    for key, value in direct.items():
        if value is not None:
            overrides[key] = value
    return overrides


# ------------------------------------------------------------------------------- run
@app.command()
@user_errors
def run(
    steps: Annotated[int | None, typer.Option(help="Months to simulate (simulation.steps).")] = None,
    seed: Annotated[int | None, typer.Option(help="Root random seed (simulation.seed).")] = None,
    citizens: Annotated[int | None, typer.Option(help="Number of citizens (population.n_citizens).")] = None,
    sets: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for time series, summary and figure.")] = None,
) -> None:
    """Run one simulation (the built-in default town unless overridden) and summarise it."""
    from coprod_sim.run import run as simulate

    overrides = overrides_from_options(
        sets, **{"simulation.steps": steps, "simulation.seed": seed, "population.n_citizens": citizens})
    params = Parameters(overrides)
    with console.status("simulating..."):
        result = simulate(params)
    print_summary(result)
    if out is not None:
        write_run_outputs(result, out)


def write_run_outputs(result, out: Path) -> None:
    from coprod_sim.figures import run_figure

    paths = result.write(out)
    paths["figure"] = run_figure(result.timeseries, Path(out) / "run.png")
    console.print(f"Wrote {', '.join(p.name for p in paths.values())} to {out}/")


def print_summary(result) -> None:
    """Tables of the run's outcomes, averaged over its last quarter."""
    p = result.params
    mean = result.summary["last_quarter_mean"]
    pct = lambda x: "n/a" if x != x else f"{100 * x:.1f}%"  # noqa: E731
    num = lambda x: "n/a" if x != x else f"{x:.2f}"  # noqa: E731
    console.print(
        f"[bold]coprod run[/]: {p.population.n_citizens:,} citizens, {p.simulation.steps} months, "
        f"seed {result.seed}. Averages over the last quarter of the run.")
    t = Table(title="Participation (active at least once in the past year)", title_justify="left")
    t.add_column("group")
    t.add_column("past year", justify="right")
    t.add_column("this month", justify="right")
    t.add_row("all citizens", pct(mean["participation_year"]), pct(mean["participation"]))
    for m in MODES:
        t.add_row(f"{m} mode", pct(mean[f"participation_year_{m}"]), pct(mean[f"participation_{m}"]))
    for q in range(1, 6):
        label = {1: " (poorest)", 5: " (richest)"}.get(q, "")
        t.add_row(f"SES quintile {q}{label}", pct(mean[f"participation_q{q}"]), "")
    console.print(t)
    b = Table(title="Selection bias and the virtuous cycle", title_justify="left")
    b.add_column("measure")
    b.add_column("value", justify="right")
    b.add_column("reads as")
    b.add_row("top/bottom quintile ratio", num(mean["top_bottom_ratio"]), "1 = no bias")
    b.add_row("  individual mode", num(mean["top_bottom_ratio_individual"]), "")
    b.add_row("  group and collective modes", num(mean["top_bottom_ratio_collective"]), "")
    b.add_row("concentration index", num(mean["concentration_index"]), "0 = equal, >0 favours advantaged")
    b.add_row("advantage-participation correlation", num(mean["advantage_correlation"]),
              "across neighbourhoods")
    b.add_row("output reaching advantaged half", pct(mean["advantaged_output_share"]), "50% = even")
    b.add_row("self-efficacy, participants", num(mean["efficacy_participants"]), "0-1")
    b.add_row("self-efficacy, non-participants", num(mean["efficacy_non_participants"]), "0-1")
    b.add_row("success rate of episodes", pct(mean["success_rate"]), "")
    b.add_row("repeat participants", pct(mean["repeat_share"]), "of the year's participants")
    b.add_row("administration risk aversion", num(mean["risk_aversion_mean"]), "0-1")
    console.print(b)


# ------------------------------------------------------------------------------- params
@app.command()
@user_errors
def params(
    group: Annotated[str | None, typer.Argument(help="Only this group (population, network, ...).")] = None,
) -> None:
    """List the parameters: dotted key, default, unit, allowed values and description."""
    import coprod_sim  # noqa: F401  (built-in rules declare their parameters)
    from coprod_sim.params import TREE, spec

    if group is not None and group not in TREE:
        raise UserError(f"No parameter group {group!r}; groups are: {', '.join(TREE)}.")
    for name in [group] if group else TREE:
        t = Table(title=f"[bold]{name}[/]", title_justify="left", show_lines=False)
        for col in ("key", "default", "unit", "allowed", "description"):
            t.add_column(col, overflow="fold")
        for key in TREE[name]:
            s = spec(f"{name}.{key}")
            t.add_row(f"{name}.{key}", str(s.default), s.unit, s.allowed(), s.description)
        console.print(t)


# ------------------------------------------------------------------------------- entry point
def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
