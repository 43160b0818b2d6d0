"""``coprod rules`` (list the rules of each stage) and ``coprod rules check`` (test one)."""

from __future__ import annotations

from typing import Annotated

import typer

from coprod_sim.cli.errors import USER_ERROR, UserError, console, user_errors

rules_app = typer.Typer(
    help="List the rules of each stage of a month (no command), or check a rule against its"
         " stage's contract (check). Writing your own: docs/extending.md.",
    no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules", short_help="List the rules of each stage, or check one.")


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
    from rich.markup import escape
    from rich.table import Table

    from coprod_sim.names import STAGES
    from coprod_sim.params import Parameters, spec
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
        t = Table(title=f"[bold]{stage}[/]: {escape(what)}", title_justify="left", show_header=False,
                  box=None, padding=(0, 2))
        t.add_column("rule", no_wrap=True)
        t.add_column("description")
        chosen = defaults[f"rules.{stage}"]
        for name, fn in sorted(available(stage).items(), key=lambda item: (item[0] != chosen, item[0])):
            default = " (default)" if name == chosen else ""
            text = escape(summary(fn) or "(no docstring)")
            for key in declared_params(fn):  # documented like the tree's own parameters
                s = spec(key)
                unit = "" if s.unit == "-" else f" ({s.unit})"
                text += (f"\n  [dim]{key} = {escape(repr(s.default))}: {escape(s.description)};"
                         f" {escape(s.allowed())}{escape(unit)}[/]")
            t.add_row(f"[bold]{escape(name)}[/]{default}", text)
        console.print(t)
        console.print()


@rules_app.command("check")
@user_errors
def rules_check(
    rule: Annotated[str, typer.Argument(
        metavar="RULE", help="The rule: package.module:function, or the name of a registered rule.",
        show_default=False)],
    stage: Annotated[str | None, typer.Option(
        metavar="STAGE",
        help="The stage it is for; needed only if the rule is not declared with @rule(stage).")] = None,
    examples: Annotated[int, typer.Option(min=1, max=100_000, metavar="N",
                                          help="Generated towns per check.")] = 100,
    seed: Annotated[int, typer.Option(
        metavar="N", help="Seed of the generated towns (same seed, same report).")] = 0,
) -> None:
    """Check a rule against its stage's contract: shape, dtype and bounds over generated towns,
    inputs left unchanged, determinism under a seed. Exit 0 if it keeps the contract, 2 if not."""
    from coprod_sim.rules.contract import check_rule

    with console.status(f"checking {rule} ..."):
        report = check_rule(rule, stage, examples=examples, seed=seed)
    console.print(report.format(), highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(USER_ERROR)
