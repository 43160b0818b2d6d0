"""How the command line reports a user's mistake or an interruption: one paragraph, no traceback.

A mistake in what the user gave (file, key, value, option) exits 2; Ctrl+C exits 130. Both
print a message on stderr; neither prints a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from coprod_sim.params import ParameterError

USER_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl+C

console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """A mistake in what the user gave us (file, key, value, option): reported, exit code 2."""


def fail(message: str) -> None:
    """Print ``message`` as an error on stderr (rich markup in it is shown literally)."""
    # escape: messages quote TOML tables like [sweep], which rich would read as markup
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)


_said: list[bool] = []  # whether the interruption was already reported


def interrupted(note: str = "") -> typer.Exit:
    """Say that Ctrl+C stopped the command; the caller raises the returned Exit(130)."""
    err_console.print(f"Interrupted{': ' + note if note else '.'}", highlight=False, soft_wrap=True)
    _said.append(True)
    return typer.Exit(INTERRUPTED)


def interruption_reported() -> bool:
    """Whether :func:`interrupted` already told the user (Typer exits 130 silently itself)."""
    return bool(_said)


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl+C in disguise.

    Ctrl+C while Numba loads a cached function comes out as ``SystemError: ... returned a
    result with an exception set``, with the KeyboardInterrupt as its context.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def user_errors(fn: Callable) -> Callable:
    """Turn a user's mistake into a one-paragraph message and exit code 2, Ctrl+C into 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import click

        try:
            return fn(*args, **kwargs)
        except (ParameterError, UserError) as exc:
            fail(str(exc))
            raise typer.Exit(USER_ERROR) from None
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            fail(f"cannot read or write{where}: {exc.strerror or exc}")
            raise typer.Exit(USER_ERROR) from None
        except (KeyboardInterrupt, click.exceptions.Abort):
            # Abort: a command that runs another click program (the page's server) gets
            # Ctrl+C back as click's Abort.
            raise interrupted() from None
        except SystemError as exc:
            if caused_by_ctrl_c(exc):
                raise interrupted() from None
            raise

    return wrapper


def check_positive(option: str, value: int | None, *, zero: bool = False) -> None:
    """Refuse an impossible count given on the command line (exit 2 via UserError)."""
    if value is None:
        return
    low = 0 if zero else 1
    if value < low:
        raise UserError(f"{option} {value} is not allowed: an integer of at least {low}.")
