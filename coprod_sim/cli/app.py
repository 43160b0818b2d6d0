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
from rich.markup import escape
from rich.table import Table

from coprod_sim.names import MODES, OUTCOMES, QUINTILE_COLUMNS, QUINTILE_LABELS
from coprod_sim.params import ParameterError, Parameters, parse_assignments

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


def _print_version(value: bool) -> None:
    if value:
        from coprod_sim import __version__

        console.print(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """coprod-sim: citizens coproducing public services with their administrations."""


class UserError(Exception):
    """A mistake in what the user gave us (file, key, value): reported, exit code 2."""


def user_errors(fn: Callable) -> Callable:
    """Turn a user's mistake into a one-paragraph message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ParameterError, UserError) as exc:
            # escape: messages quote TOML tables like [sweep], which rich would read as markup
            err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
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
    file: Annotated[Path | None, typer.Argument(
        help="Scenario file (TOML): run one of its runs, chosen by --point and --replication.",
        show_default=False)] = None,
    point: Annotated[int | None, typer.Option(
        help="With FILE: the point (policy x design point) to run, as numbered in the sweep's"
             " runs.parquet and manifest (default 0).")] = None,
    replication: Annotated[int | None, typer.Option(
        help="The replication, whose seed sequence the run uses (default 0 with FILE).")] = None,
    steps: Annotated[int | None, typer.Option(help="Months to simulate (simulation.steps).")] = None,
    seed: Annotated[int | None, typer.Option(help="Root random seed (simulation.seed).")] = None,
    citizens: Annotated[int | None, typer.Option(help="Number of citizens (population.n_citizens).")] = None,
    sets: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for time series, summary and figure.")] = None,
) -> None:
    """Run one simulation (the built-in default town unless overridden) and summarise it.

    With a scenario FILE, run exactly the run of a sweep given by --point and --replication
    (same parameters, same seed); options given as well apply on top.
    """
    from coprod_sim.run import run as simulate

    overrides = overrides_from_options(
        sets, **{"simulation.steps": steps, "simulation.seed": seed, "population.n_citizens": citizens})
    params, replication = scenario_run_parameters(file, point, replication, overrides)
    with console.status("simulating..."):
        result = simulate(params, replication=replication)
    print_summary(result)
    if out is not None:
        write_run_outputs(result, out)


def write_run_outputs(result, out: Path) -> None:
    from coprod_sim.report.figures import run_figure

    paths = result.write(out)
    paths["figure"] = run_figure(result.timeseries, Path(out) / "run.png")
    console.print(f"Wrote {', '.join(p.name for p in paths.values())} to {out}/")


SUMMARY_MEASURES = (
    "top_bottom_ratio", "top_bottom_ratio_individual", "top_bottom_ratio_collective",
    "concentration_index", "advantage_correlation", "advantaged_output_share",
    "efficacy_participants", "efficacy_non_participants", "success_rate", "repeat_share",
    "risk_aversion_mean",
)
"""The bias and feedback measures ``coprod run`` prints, in order (words from names.OUTCOMES)."""


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
    for col, label in zip(QUINTILE_COLUMNS, QUINTILE_LABELS, strict=True):
        t.add_row(f"SES {label}", pct(mean[col]), "")
    console.print(t)
    b = Table(title="Selection bias and the virtuous cycle", title_justify="left")
    b.add_column("measure")
    b.add_column("value", justify="right")
    b.add_column("reads as")
    for col in SUMMARY_MEASURES:
        o = OUTCOMES[col]
        b.add_row(o.label, pct(mean[col]) if o.unit == "share" else num(mean[col]), o.reads)
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


# ------------------------------------------------------------------------------- scenarios and sweeps
def scenario_run_parameters(file: Path | None, point: int | None, replication: int | None,
                            overrides: dict[str, Any]) -> tuple[Parameters, int | None]:
    """Parameters and replication of ``coprod run [FILE] [--point I] [--replication R]``."""
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


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


WorkersOption = Annotated[int | None, typer.Option(
    "--workers", "-w", help="Local worker processes (default: one per CPU; 1 runs in this process).")]


@app.command()
@user_errors
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario file (TOML) to check.", show_default=False)],
    workers: WorkersOption = None,
) -> None:
    """Check a scenario file and print its plan: points x replications = runs, and a time estimate."""
    from coprod_sim.scenario.loader import load_scenario
    from coprod_sim.sweep.estimate import estimate_seconds
    from coprod_sim.sweep.executors import default_workers

    scenario = load_scenario(file)
    d = scenario.design
    console.print(f"[bold]{escape(scenario.name)}[/] ({escape(str(file))}): valid.", highlight=False)
    if scenario.description:
        console.print(escape(scenario.description), highlight=False)
    changed = dict(scenario.base)
    t = Table(title="Base values", title_justify="left")
    t.add_column("key")
    t.add_column("value", justify="right")
    for k, v in changed.items():
        t.add_row(k, repr(v))
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
            s.add_row(lv.key, vals)
        console.print(s)
    workers = default_workers() if workers is None else workers
    seconds = estimate_seconds(scenario, workers)
    console.print(
        f"Plan: {_n(len(scenario.policies), 'policy', 'policies')} x"
        f" {_n(scenario.n_design_points, 'design point')} = {_n(scenario.n_points, 'point')};"
        f" x {_n(scenario.replications, 'replication')} ="
        f" [bold]{_n(scenario.n_runs, 'run')}[/] of {scenario.steps} months."
        f" Estimated time: about {_duration(seconds)} on {workers} worker(s) here.", highlight=False)


@app.command()
@user_errors
def sweep(
    file: Annotated[Path, typer.Argument(help="Scenario file (TOML).", show_default=False)],
    workers: WorkersOption = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: out/<scenario name>).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Complete a sweep already in --out: keep its finished runs, run the rest"
                         " (and retry failed ones). Also starts a new sweep if there is none.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Discard a sweep already in --out and start again.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) to run on its"
             " workers instead of local processes.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run every run of a scenario (policies x design points x replications), saving each at once.

    Writes manifest.json, runs.parquet and timeseries.parquet into --out. Ctrl-C or a kill
    loses at most the runs in flight; run again with --resume to complete the sweep.
    Exits 1 (naming them) if some runs failed, 130 if interrupted.
    """
    from coprod_sim.scenario.loader import load_scenario
    from coprod_sim.sweep.engine import sweep as run_sweep
    from coprod_sim.sweep.errors import SweepInterrupted

    if resume and overwrite:
        raise UserError("--resume keeps the runs already in --out and --overwrite discards them:"
                        " choose one.")
    scenario = load_scenario(file)
    out = out or Path("out") / _folder_name(scenario.name)
    console.print(f"[bold]{escape(scenario.name)}[/]: {scenario.n_runs:,} runs ({scenario.n_points} points x"
                  f" {scenario.replications} replications) into {out}/", highlight=False)
    try:
        result = run_sweep(scenario, out, workers=workers, scheduler=scheduler, resume=resume,
                           overwrite=overwrite, progress=progress)
    except SweepInterrupted as exc:
        err_console.print(f"Interrupted: {exc.done} of {exc.total} runs are saved in {exc.out}/."
                          f" To complete the sweep: coprod sweep {file} --out {exc.out} --resume",
                          highlight=False)
        raise typer.Exit(130) from None
    kept = f" ({result.resumed} were already done)" if result.resumed else ""
    console.print(f"Done: {result.done} of {result.total} runs{kept} on {result.executor} in"
                  f" {_duration(result.seconds)}. Wrote manifest.json, runs.parquet,"
                  f" timeseries.parquet to {out}/. Next: coprod report {out}", highlight=False)
    if result.failed:
        listed = list(result.failed.items())
        lines = "\n".join(f"  run {i}: {escape(err)}" for i, err in listed[:20])
        more = f"\n  ... and {len(listed) - 20} more (see manifest.json)" if len(listed) > 20 else ""
        err_console.print(f"[bold red]{len(listed)} run(s) failed[/] (errors and tracebacks in"
                          f" {out}/runs/*.failed.json; the others are saved):\n{lines}{more}\n"
                          f"After a fix, rerun them with: coprod sweep {file} --out {out} --resume",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _folder_name(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "sweep"


@app.command()
@user_errors
def report(
    folder: Annotated[Path, typer.Argument(help="Folder of a finished sweep (coprod sweep --out).",
                                           show_default=False)],
) -> None:
    """Write report.md and figures (PNG and SVG) for a sweep: policy effects on participation and
    bias with 95% confidence intervals, SES quintiles, self-efficacy, heat maps, Sobol indices."""
    from coprod_sim.report.writer import write_report

    result = write_report(folder)
    console.print(f"Wrote {result.report} and {len(result.figures)} figures in"
                  f" {result.figures_dir}/.", highlight=False)
    for line in result.headlines:
        console.print(f"  {line}", highlight=False)


# ------------------------------------------------------------------------------- viz
@app.command()
@user_errors
def viz(
    file: Annotated[Path | None, typer.Argument(
        help="Scenario file (TOML) whose base values start the town (default: the built-in town).",
        show_default=False)] = None,
    port: Annotated[int, typer.Option(help="Port to serve the page on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to serve on (127.0.0.1: this computer only).")
                    ] = "127.0.0.1",
    citizens: Annotated[int | None, typer.Option(
        help="Number of citizens (population.n_citizens); the page is made for 300 to 1,000.")] = None,
) -> None:
    """Serve the teaching page: the town live in a browser, with levers, plots and an Info panel.
    Works offline. Open the address it prints; Ctrl+C stops it."""
    from coprod_sim.viz.server import MAX_CITIZENS, port_is_free, serve

    base = Parameters()
    if file is not None:
        from coprod_sim.scenario.loader import load_scenario

        base = load_scenario(file).base_parameters()
    if citizens is not None:
        base = base.replace({"population.n_citizens": citizens})
    n = base.population.n_citizens
    if n > MAX_CITIZENS:
        where = f"{file} sets" if file is not None and citizens is None else "asked for"
        raise UserError(f"population.n_citizens: {where} {n:,} citizens; the page draws every citizen"
                        f" and allows at most {MAX_CITIZENS:,} (it is made for 300 to 1,000)."
                        " Choose the size with --citizens, e.g. --citizens 1000.")
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is not a port: allowed an integer in [1, 65535].")
    if not port_is_free(host, port):
        raise UserError(f"cannot serve on {host}:{port}: the port is in use or the address is not"
                        " this computer's. Choose another with --port (e.g. --port 8766) or --host.")
    console.print(f"[bold]coprod viz[/]: the teaching page for {n:,} citizens is at "
                  f"[bold]http://{host}:{port}[/] (open it in a browser; Ctrl+C stops the server).",
                  highlight=False)
    serve(file, host, port, citizens)


# ------------------------------------------------------------------------------- rules
rules_app = typer.Typer(
    help="List the rules of each stage of a month (no command), or check a rule against its"
         " stage's contract (check). Writing your own: docs/extending.md.",
    no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(rules_app, name="rules")


@rules_app.callback(invoke_without_command=True)
@user_errors
def rules_list(
    ctx: typer.Context,
    modules: Annotated[list[str] | None, typer.Option(
        "--import", "-i", metavar="MODULE",
        help="Also list the rules a module of yours declares with @rule (repeatable).")] = None,
) -> None:
    """List every stage of a month with its rules, a one-line description each and their parameters.

    Select a rule with --set rules.STAGE=NAME (or in a scenario's [rules] table), by name or
    as package.module:function. `coprod rules check` tests one against its contract."""
    if ctx.invoked_subcommand is not None:
        return
    from coprod_sim.params import spec
    from coprod_sim.rules.base import STAGES
    from coprod_sim.rules.registry import RuleError, available, declared_params, import_module, summary

    for module in modules or []:
        try:
            import_module(module.partition(":")[0])
        except RuleError as exc:
            raise UserError(f"--import {module}: {exc.problem}") from None
    defaults = Parameters()
    console.print("[bold]Rules of each stage of a month[/], in order. Select one with "
                  "--set rules.STAGE=NAME or package.module:function; check one with "
                  "`coprod rules check`.", highlight=False)
    for stage, what in STAGES.items():
        t = Table(title=f"[bold]{stage}[/]: {what}", title_justify="left", show_header=False,
                  box=None, padding=(0, 2))
        t.add_column("rule", no_wrap=True)
        t.add_column("description", overflow="fold")
        for name, fn in sorted(available(stage).items(),
                               key=lambda item: (item[0] != defaults[f"rules.{stage}"], item[0])):
            default = " (default)" if name == defaults[f"rules.{stage}"] else ""
            text = summary(fn) or "(no docstring)"
            declared = declared_params(fn)
            for key in declared:  # documented like the tree's own parameters
                s = spec(key)
                unit = "" if s.unit == "-" else f" ({s.unit})"
                text += (f"\n  [dim]{key} = {s.default!r}: {escape(s.description)};"
                         f" {escape(s.allowed())}{escape(unit)}[/]")
            t.add_row(f"[bold]{name}[/]{default}", text)
        console.print(t)
        console.print()


@rules_app.command("check")
@user_errors
def rules_check(
    rule: Annotated[str, typer.Argument(
        help="The rule: package.module:function, or the name of a registered rule.",
        show_default=False)],
    stage: Annotated[str | None, typer.Option(
        help="The stage it is for; needed only if the rule is not declared with @rule(stage).")] = None,
    examples: Annotated[int, typer.Option(min=1, max=100_000,
                                          help="Generated towns per check.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the generated towns (same seed, same report).")] = 0,
) -> None:
    """Check a rule against its stage's contract: shape, dtype and bounds over generated towns,
    inputs left unchanged, determinism under a seed. Exit 0 if it keeps the contract, 2 if not."""
    from coprod_sim.rules.contract import check_rule

    with console.status(f"checking {rule} ..."):
        report = check_rule(rule, stage, examples=examples, seed=seed)
    console.print(report.format(), highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(USER_ERROR)


import coprod_sim.cli.explain  # noqa: E402, F401  (registers `coprod explain`)
from coprod_sim.cli import validity as _validity  # noqa: E402  (coprod facts, calibrate-defaults)

_validity.register(app)


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
