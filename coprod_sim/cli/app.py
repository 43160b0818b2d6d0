"""The ``coprod`` command line: builds the Typer app from one module per command group.

Every command exits 0 on success, 2 on a user's mistake (bad key, value, option, file or
rule) with a one-paragraph message naming the file, the key and what is allowed, and 130 on
Ctrl+C; never with a traceback (see :mod:`coprod_sim.cli.errors`).

Adding a command group: write ``coprod_sim/cli/<group>.py`` with a ``register(app)`` function
that adds its commands, and add the module to ``COMMAND_MODULES`` below (one line). A command
module imports only typer and light modules at its top; everything heavy (NumPy, Numba,
pandas, Mesa, Solara, matplotlib, Dask, SciPy) is imported inside the command that needs it,
so that ``coprod --help`` stays fast (benchmarks/bench_startup.py measures it).
"""

# No ``from __future__ import annotations``: the root callback is defined inside build(), and
# typer evaluates its annotations, which name the locally imported typer.
import importlib
import sys
from typing import Annotated

COMMAND_MODULES: tuple[str, ...] = (
    "coprod_sim.cli.run",
    "coprod_sim.cli.sweep",
    "coprod_sim.cli.params_cmd",
    "coprod_sim.cli.rules",
    "coprod_sim.cli.viz",
    "coprod_sim.cli.explain",
    "coprod_sim.cli.optimise",
    "coprod_sim.cli.calibrate",
    "coprod_sim.cli.validity",
)
"""The modules whose ``register(app)`` adds commands, in the order ``coprod --help`` lists them."""


def build():
    """The ``coprod`` Typer application with every command group registered."""
    import typer

    app = typer.Typer(
        name="coprod",
        help="Simulate citizens coproducing public services, sweep policies, report selection bias.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain help (click's formatter): flags read as flags (no "<bool>"), text wraps at the
        # terminal's width, piped help is plain text, and help needs no import of rich.
        rich_markup_mode=None,
    )

    def print_version(value: bool) -> None:
        if value:
            from coprod_sim import __version__

            print(__version__)
            raise typer.Exit()

    @app.callback()
    def root(
        version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                              help="Print the version and exit.")] = False,
    ) -> None:
        """coprod-sim: citizens coproducing public services with their administrations."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def __getattr__(name: str):
    # ``from coprod_sim.cli.app import app`` (tests, embedding) builds the app on first use,
    # so that importing this module costs nothing until a command line is parsed.
    if name == "app":
        app = build()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point: Ctrl+C at any moment, imports included, exits 130 quietly."""
    try:
        app = build()
        app()
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except SystemError as exc:
        from coprod_sim.cli.errors import caused_by_ctrl_c

        if not caused_by_ctrl_c(exc):
            raise
        if not _reported():
            print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except SystemExit as exc:
        # Ctrl+C while Typer parses or calls a command: Typer exits 130 without a word
        if exc.code == 130 and not _reported():
            print("Interrupted.", file=sys.stderr)
        raise


def _reported() -> bool:
    from coprod_sim.cli.errors import interruption_reported

    return interruption_reported()


if __name__ == "__main__":
    main()
