"""``coprod run``: one simulation, summarised in the terminal, optionally written to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from coprod_sim.cli.errors import UserError, check_positive, console, user_errors
from coprod_sim.cli.options import SetOption, overrides_from_options
from coprod_sim.names import LEVELS, MODES, OUTCOMES, QUINTILE_COLUMNS, QUINTILE_LABELS

SUMMARY_MEASURES = (
    "top_bottom_ratio", "top_bottom_ratio_individual", "top_bottom_ratio_organised",
    "concentration_index", "advantage_correlation", "advantaged_output_share",
    "efficacy_participants", "efficacy_non_participants", "success_rate", "repeat_share",
    "risk_aversion_mean",
)
"""The bias and feedback measures ``coprod run`` prints, in order (words from names.OUTCOMES)."""


def register(app: typer.Typer) -> None:
    app.command(short_help="Run one simulation and summarise it.")(run)


@user_errors
def run(
    file: Annotated[Path | None, typer.Argument(
        metavar="FILE",
        help="Scenario file (TOML): run one of its runs, chosen by --point and --replication.",
        show_default=False)] = None,
    point: Annotated[int | None, typer.Option(
        metavar="I", help="With FILE: the point (policy x design point) to run, as numbered in the"
                          " sweep's runs.parquet and manifest (default 0).")] = None,
    replication: Annotated[int | None, typer.Option(
        metavar="R", help="The replication, whose seed sequence the run uses (default 0 with FILE)."
    )] = None,
    steps: Annotated[int | None, typer.Option(metavar="N", help="Months to simulate (simulation.steps).")
                     ] = None,
    seed: Annotated[int | None, typer.Option(metavar="N", help="Root random seed (simulation.seed).")
                    ] = None,
    citizens: Annotated[int | None, typer.Option(
        metavar="N", help="Number of citizens (population.n_citizens).")] = None,
    sets: SetOption = None,
    out: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Folder for time series, summary and figure.")] = None,
) -> None:
    """Run one simulation (the built-in default town unless overridden) and summarise it.

    With a scenario FILE, run exactly the run of a sweep given by --point and --replication
    (same parameters, same seed); options given as well apply on top.
    """
    check_positive("--point", point, zero=True)
    check_positive("--replication", replication, zero=True)
    overrides = overrides_from_options(
        sets, **{"simulation.steps": steps, "simulation.seed": seed, "population.n_citizens": citizens})
    params, replication = scenario_run_parameters(file, point, replication, overrides)
    from coprod_sim.run import run as simulate

    with console.status("simulating..."):
        result = simulate(params, replication=replication)
    print_summary(result)
    if out is not None:
        write_run_outputs(result, out)
        write_town_maps(result, out, file, point, overrides)


def scenario_run_parameters(file: Path | None, point: int | None, replication: int | None,
                            overrides: dict[str, Any]):
    """Parameters and replication of ``coprod run [FILE] [--point I] [--replication R]``."""
    from rich.markup import escape

    from coprod_sim.params import Parameters

    if file is None:
        if point is not None:
            raise UserError("--point needs a scenario FILE: coprod run FILE --point I --replication R.")
        return Parameters(overrides), replication
    from coprod_sim.scenario.loader import load_scenario

    scenario = load_scenario(file)
    chosen = scenario.run_at(point or 0, replication or 0)
    params = chosen.params.replace(overrides) if overrides else chosen.params
    where = ", ".join(f"{k} = {v!r}" for k, v in chosen.levers.items())
    console.print(f"[bold]{escape(scenario.name)}[/]: point {chosen.point}"
                  f" (policy {escape(repr(chosen.policy))}"
                  f"{', ' + where if where else ''}), replication {chosen.replication},"
                  f" seed {chosen.seed}.", highlight=False)
    return params, chosen.replication


def write_run_outputs(result, out: Path) -> None:
    from coprod_sim.report.figures import run_figure

    paths = result.write(out)
    paths["figure"] = run_figure(result.timeseries, Path(out) / "run.png")
    console.print(f"Wrote {', '.join(p.name for p in paths.values())} to {out}/", highlight=False)


def write_town_maps(result, out: Path, file: Path | None, point: int | None, overrides) -> None:
    """Maps of participation, bias and the policy's effect, when the town has geometry."""
    from coprod_sim.report.maps import town_run_maps

    with console.status("drawing maps..."):
        path = town_run_maps(result, out, file, point or 0, overrides)
    if path is not None:
        console.print(f"Wrote {path.name} (maps of the neighbourhoods) to {out}/", highlight=False)


def print_summary(result) -> None:
    """Tables of the run's outcomes, averaged over its last quarter."""
    from rich.table import Table

    p = result.params
    mean = result.summary["last_quarter_mean"]
    console.print(
        f"[bold]coprod run[/]: {p.population.n_citizens:,} citizens, {p.simulation.steps} months, "
        f"seed {result.seed}. Averages over the last quarter of the run.")
    t = Table(title="Participation (active at least once in the past year)", title_justify="left")
    t.add_column("group")
    t.add_column("past year", justify="right")
    t.add_column("this month", justify="right")
    t.add_row("all citizens", _pct(mean["participation_year"]), _pct(mean["participation"]))
    for m in MODES:
        t.add_row(f"{m} mode", _pct(mean[f"participation_year_{m}"]), _pct(mean[f"participation_{m}"]))
    for col, label in zip(QUINTILE_COLUMNS, QUINTILE_LABELS, strict=True):
        t.add_row(f"SES {label}", _pct(mean[col]), "")
    console.print(t)
    b = Table(title="Selection bias and the virtuous cycle", title_justify="left")
    b.add_column("measure")
    b.add_column("value", justify="right")
    b.add_column("reads as")
    for col in SUMMARY_MEASURES:
        o = OUTCOMES[col]
        b.add_row(o.label, _pct(mean[col]) if o.unit == "share" else _num(mean[col]), o.reads)
    console.print(b)
    print_levels(mean)


def print_levels(mean: dict[str, float]) -> None:
    """Participation and bias by level of involvement; who holds co-design seats, if any."""
    from rich.table import Table

    t = Table(title="Levels of involvement (past year; episodes this month)", title_justify="left")
    t.add_column("level")
    t.add_column("participation", justify="right")
    t.add_column("top/bottom ratio", justify="right")
    t.add_column("concentration index", justify="right")
    for lv in LEVELS:
        t.add_row(lv, _pct(mean[f"participation_year_{lv}"]), _num(mean[f"top_bottom_ratio_{lv}"]),
                  _num(mean[f"concentration_index_{lv}"]))
    console.print(t)
    area = "; ".join(f"{lv} {_num(mean[f'advantage_correlation_{lv}'])},"
                     f" {_pct(mean[f'advantaged_output_share_{lv}'])}" for lv in LEVELS)
    console.print(f"Area bias by level (neighbourhood advantage vs participation; output reaching the"
                  f" advantaged half): {area}.", highlight=False)
    ml = Table(title="By mode and level: participation (top/bottom ratio, concentration index)",
               title_justify="left")
    ml.add_column("mode")
    for lv in LEVELS:
        ml.add_column(lv, justify="right")
    for m in MODES:
        ml.add_row(m, *[f"{_pct(mean[f'participation_year_{m}_{lv}'])}"
                        f" ({_num(mean[f'top_bottom_ratio_{m}_{lv}'])},"
                        f" {_num(mean[f'concentration_index_{m}_{lv}'])})" for lv in LEVELS])
    console.print(ml)
    console.print(
        f"Designer and initiator episodes: {_pct(mean['high_level_share'])} of episodes,"
        f" {_pct(mean['advantaged_high_level_share'])} of them by the advantaged half.",
        highlight=False)
    seats = [mean[f"seat_share_q{q}"] for q in range(1, len(QUINTILE_LABELS) + 1)]
    if any(x == x for x in seats):  # seats were open
        held = ", ".join(f"{label} {_pct(x)}" for label, x in zip(QUINTILE_LABELS, seats, strict=True))
        console.print(f"Co-design seats held: {held}.", highlight=False)
        took = ", ".join(f"{label} {_pct(mean[f'seat_acceptance_q{q}'])}"
                         for q, label in enumerate(QUINTILE_LABELS, 1))
        console.print(f"Of those asked for a seat, accepted: {took} (the rest declined);"
                      f" seats filled: {_pct(mean['seats_filled_share'])}.", highlight=False)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"
