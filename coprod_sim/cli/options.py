"""Options and small formatters shared by several commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override a parameter by dotted key, e.g. --set policy.outreach=universal "
                      "(repeatable; `coprod params` lists the keys)."),
]

WorkersOption = Annotated[int | None, typer.Option(
    "--workers", "-w", metavar="N",
    help="Local worker processes (default: one per CPU; 1 runs in this process).")]


def overrides_from_options(sets: list[str] | None, **direct: Any) -> dict[str, Any]:
    """Merge ``--set`` assignments with dedicated options (which win when given)."""
    from coprod_sim.rules.registry import parse_assignments

    overrides = parse_assignments(sets or [])
    for key, value in direct.items():
        if value is not None:
            overrides[key] = value
    return overrides


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``1 run``, ``2 runs``, ``1 policy`` / ``3 policies`` (with ``plural_form``)."""
    return f"{count:,} {word if count == 1 else plural_form or word + 's'}"


def duration(seconds: float) -> str:
    """A duration in the unit a person would use: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
