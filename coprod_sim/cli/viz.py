"""``coprod viz``: serve the teaching page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coprod_sim.cli.errors import UserError, check_positive, console, user_errors


def register(app: typer.Typer) -> None:
    app.command(short_help="Serve the teaching page (offline, in a browser).")(viz)


@user_errors
def viz(
    file: Annotated[Path | None, typer.Argument(
        metavar="FILE",
        help="Scenario file (TOML) whose base values start the town (default: the built-in town).",
        show_default=False)] = None,
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to serve the page on.")] = 8765,
    host: Annotated[str, typer.Option(
        metavar="ADDRESS", help="Address to serve on (127.0.0.1: this computer only).")] = "127.0.0.1",
    citizens: Annotated[int | None, typer.Option(
        metavar="N",
        help="Number of citizens (population.n_citizens); the page is made for 300 to 1,000.")] = None,
) -> None:
    """Serve the teaching page: the town live in a browser, with levers, plots and an Info panel.
    Works offline. Open the address it prints; Ctrl+C stops it."""
    check_positive("--citizens", citizens)
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is not a port: allowed an integer in [1, 65535].")
    from coprod_sim.params import Parameters
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
    if not port_is_free(host, port):
        raise UserError(f"cannot serve on {host}:{port}: the port is in use or the address is not"
                        " this computer's. Choose another with --port (e.g. --port 8766) or --host.")
    console.print(f"[bold]coprod viz[/]: the teaching page for {n:,} citizens is at "
                  f"[bold]http://{host}:{port}[/] (open it in a browser; Ctrl+C stops the server).",
                  highlight=False)
    serve(file, host, port, citizens)
