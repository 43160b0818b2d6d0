"""``coprod explain``: decompose a scenario's selection bias into its channels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from coprod_sim.cli.errors import check_positive, console, err_console, user_errors
from coprod_sim.cli.options import SetOption, WorkersOption
from coprod_sim.cli.sweep import RulesModuleOption, _folder_name


def register(app: typer.Typer) -> None:
    app.command(short_help="Decompose a scenario's selection bias into its channels.")(explain)


@user_errors
def explain(
    file: Annotated[Path | None, typer.Argument(
        help="Scenario file (TOML); default: the built-in default town.", show_default=False)] = None,
    policy: Annotated[str, typer.Option(help="The scenario's policy to explain.")] = "baseline",
    design_point: Annotated[int | None, typer.Option(
        "--design-point", help="With a [sweep]: explain this design point (numbered as in the"
                               " sweep's runs.parquet); default: the base values.")] = None,
    channels: Annotated[str | None, typer.Option(
        help="Comma-separated channels (default: every declared channel that applies).")] = None,
    replications: Annotated[int | None, typer.Option(
        min=2, help="Replications (default: the scenario's; 10 for the default town).")] = None,
    permutations: Annotated[int | None, typer.Option(
        min=2, help="Sample this many orders instead of the exact value (automatic above 7"
                    " channels).")] = None,
    sets: SetOption = None,
    rules_modules: RulesModuleOption = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: out/<name>_explain).")] = None,
    workers: WorkersOption = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a Dask distributed scheduler to run on instead of local processes.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Keep the runs already in --out.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Discard runs already in --out.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Where the selection bias comes from: the Shapley contribution of each channel.

    Each subset of channels (initial endowments by status, networks, screening, rationing,
    self-efficacy feedback, service-quality shortfall, and any a rule declares) is run on the
    same seeds; the contributions add up to the full model minus all channels off. Writes
    explain.md, contributions.csv and waterfall figures into --out.
    """
    from coprod_sim.analysis.explain import explain as decompose
    from coprod_sim.analysis.explain_report import write_report
    from coprod_sim.analysis.scenarios import analysis_scenario
    from coprod_sim.rules.registry import parse_assignments, use_modules
    from coprod_sim.sweep.errors import SweepInterrupted

    check_positive("--workers", workers)
    use_modules(rules_modules or [])  # a researcher's rules, and the channels they declare
    scenario = analysis_scenario(file, replications, parse_assignments(sets or []))
    if scenario.replications < 2:  # an interval needs replications
        import dataclasses

        console.print(f"{escape(scenario.name)} has {scenario.replications} replication: using 10"
                      " (--replications to choose).", highlight=False)
        scenario = dataclasses.replace(scenario, replications=10)
    if scenario.design.levers and design_point is None:
        console.print("The scenario's [sweep] is not explained: the decomposition is of its base"
                      " values (with --policy); choose a point with --design-point.", highlight=False)
    out = out or Path("out") / f"{_folder_name(scenario.name)}_explain"
    names = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    console.print(f"[bold]{escape(scenario.name)}[/]: explaining policy {escape(policy)} over"
                  f" {scenario.replications} replications into {out}/", highlight=False)
    try:
        result = decompose(scenario, out, policy=policy, channels=names, permutations=permutations,
                           workers=workers, scheduler=scheduler, resume=resume, overwrite=overwrite,
                           progress=progress, design_point=design_point)
    except SweepInterrupted as exc:
        again = f"coprod explain {file or ''} --out {out} --resume".replace("  ", " ")
        err_console.print(f"Interrupted: {exc.done} of {exc.total} runs are saved. To complete: {again}",
                          highlight=False)
        raise typer.Exit(130) from None
    files = write_report(result)
    from coprod_sim.analysis.explain_report import contributions_table, plain_words

    for d in result.decompositions.values():
        console.print(plain_words(contributions_table(d), scenario.name), highlight=False)
        console.print()
    console.print(f"Wrote {', '.join(p.name for p in files.values())} to {out}/", highlight=False)
