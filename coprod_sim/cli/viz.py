"""``coprod viz``: serve the teaching page (this computer only, or a classroom's network)."""

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
        help="Scenario file (TOML) whose base values start the town (default: the built-in town). "
             "A larger town is shown at 1,000 citizens, with a notice.",
        show_default=False)] = None,
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to serve the page on.")] = 8765,
    host: Annotated[str | None, typer.Option(
        metavar="ADDRESS",
        help="Address to serve on (default 127.0.0.1: this computer only; with --classroom, "
             "0.0.0.0: every network of this computer).", show_default=False)] = None,
    citizens: Annotated[int | None, typer.Option(
        metavar="N",
        help="Number of citizens (population.n_citizens); the page is made for 300 to 1,000.")] = None,
    lang: Annotated[str, typer.Option(
        metavar="LANG", help="Language of the page: auto (each browser's own), en or fr.")] = "auto",
    classroom: Annotated[bool, typer.Option(
        "--classroom",
        help="Let students open the page from their own devices on the room's network: prints the "
             "address to type and a QR code; each browser gets its own town.")] = False,
    max_sessions: Annotated[int | None, typer.Option(
        metavar="N", help="Most towns open at once (default 8; 41 with --classroom: 40 students and "
                          "the teacher).", show_default=False)] = None,
    idle_minutes: Annotated[float, typer.Option(
        metavar="MIN", help="A town untouched this long is put away to free memory.")] = 20.0,
) -> None:
    """Serve the teaching page: the town live in a browser, with levers, plots and an Info panel.
    Works offline. Open the address it prints; Ctrl+C stops it."""
    check_positive("--citizens", citizens)
    check_positive("--max-sessions", max_sessions)
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is not a port: allowed an integer in [1, 65535].")
    if lang not in ("auto", "en", "fr"):
        raise UserError(f"--lang {lang!r}: allowed auto, en or fr.")
    if not idle_minutes > 0:
        raise UserError(f"--idle-minutes {idle_minutes:g}: allowed a number of minutes above 0.")
    from coprod_sim.params import Parameters
    from coprod_sim.viz.server import MAX_CITIZENS, port_problem, serve, serve_on_system_malloc

    base = Parameters()
    if file is not None:
        from coprod_sim.scenario.loader import load_scenario

        base = load_scenario(file).base_parameters()
    if citizens is not None:
        base = base.replace({"population.n_citizens": citizens})
        if citizens > MAX_CITIZENS:
            raise UserError(f"--citizens {citizens:,}: the page draws every citizen and allows at most "
                            f"{MAX_CITIZENS:,} (it is made for 300 to 1,000).")
    host = host or ("0.0.0.0" if classroom else "127.0.0.1")
    problem = port_problem(host, port)
    if problem is None:
        serve_on_system_malloc()  # Linux: this command again, in a new process (see server.py)
    if problem is not None:
        raise UserError(f"cannot serve on {host}:{port}: {problem}. Choose another with --port "
                        "(e.g. --port 8766)" + (" or --host." if "address" in problem else "."))
    url, classroom_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}", None
    if classroom:
        from coprod_sim.viz.classroom import lan_address, qr_terminal

        address = lan_address() if host in ("0.0.0.0", "::") else host
        if address is None:
            raise UserError("--classroom: this computer is on no local network. Join the room's Wi-Fi "
                            "(or start a hotspot), then start again.")
        classroom_url = f"http://{address}:{port}"
        console.print(f"[bold]Classroom[/]: students open [bold]{classroom_url}[/] or scan:", highlight=False)
        console.print(qr_terminal(classroom_url), highlight=False, markup=False)
    n = min(base.population.n_citizens, 1_000) if citizens is None else citizens
    console.print(f"[bold]coprod viz[/]: the teaching page for {n:,} citizens is at "
                  f"[bold]{url}[/] (open it in a browser; Ctrl+C stops the server).",
                  highlight=False)
    serve(file, host, port, citizens, lang=None if lang == "auto" else lang, classroom_url=classroom_url,
          max_sessions=max_sessions or (41 if classroom else 8), idle_minutes=idle_minutes)
