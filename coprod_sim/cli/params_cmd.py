"""``coprod params``: the parameter tree, readable in a terminal of any width and when piped.

The default text lists each key as a line ``group.name = default`` (exactly what a scenario's
``[parameters]`` table or ``--set`` takes, never wrapped) with its description below as a TOML
comment, wrapped at word boundaries to the terminal's width: the whole output is valid TOML.
``--format csv`` and ``--format json`` give the same rows for other programs; ``--format table``
a boxed table for wide terminals.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import textwrap
from enum import StrEnum
from typing import Annotated

import typer

from coprod_sim.cli.errors import UserError, user_errors


class Format(StrEnum):
    text = "text"
    table = "table"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command(short_help="List every parameter: default, unit, allowed values, meaning.")(params)


@user_errors
def params(
    group: Annotated[str | None, typer.Argument(
        metavar="GROUP", help="Only this group (population, network, ...).", show_default=False)
    ] = None,
    format: Annotated[Format, typer.Option(
        "--format", "-f", help="text: key = default, description below; table: boxed columns;"
                               " csv or json: one row per key for other programs.")] = Format.text,
) -> None:
    """List the parameters: dotted key, default, unit, allowed values and description."""
    from coprod_sim.names import PARAMETER_GROUPS
    from coprod_sim.params import TREE, describe

    if group is not None and group not in TREE:
        raise UserError(f"No parameter group {group!r}; groups are: {', '.join(TREE)}.")
    rows = [dict(r, group=r["key"].partition(".")[0]) for r in describe()]
    rows = [r for r in rows if group is None or r["group"] == group]
    if format is Format.csv:
        writer = csv.DictWriter(sys.stdout, ["key", "group", "default", "unit", "allowed",
                                             "description"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif format is Format.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif format is Format.table:
        _table(rows)
    else:
        _text(rows, PARAMETER_GROUPS)


def _text(rows: list[dict], intros: dict[str, str]) -> None:
    """Valid TOML: ``key = default`` lines, pasteable into a scenario's ``[parameters]``, with
    the group's introduction and each key's description as comments."""
    from coprod_sim.docgen.paramdocs import format_value

    width = max(40, shutil.get_terminal_size((100, 24)).columns) - 1  # COLUMNS, else the terminal
    out: list[str] = []
    current = None
    for r in rows:
        if r["group"] != current:
            current = r["group"]
            intro = f"{current}: {intros.get(current, 'parameters declared by a rule.')}"
            out += ([""] if out else []) + _comment(intro, width, "")
        unit = "" if r["unit"] == "-" else f"{r['unit']}; "
        out.append(f"{r['key']} = {format_value(r['default'])}")
        out += _comment(f"{r['description']} ({unit}{r['allowed']})", width, "    ")
    sys.stdout.write("\n".join(out) + "\n")


def _comment(text: str, width: int, indent: str) -> list[str]:
    """``text`` as TOML comment lines of at most ``width`` characters, broken between words."""
    return textwrap.wrap(text, width, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# ",
                         break_long_words=False, break_on_hyphens=False)


def _table(rows: list[dict]) -> None:
    from rich.table import Table
    from rich.text import Text

    from coprod_sim.cli.errors import console
    from coprod_sim.docgen.paramdocs import format_value

    t = Table(show_lines=False)
    # keys are never broken (a copied key works); the rest wraps, the description at words
    t.add_column("key", no_wrap=True)
    t.add_column("default", overflow="fold", max_width=16)
    t.add_column("description (unit; allowed)", min_width=24)
    for r in rows:
        unit = "" if r["unit"] == "-" else f"{r['unit']}; "
        t.add_row(Text(r["key"]), Text(format_value(r["default"])),
                  Text(f"{r['description']} ({unit}{r['allowed']})"))
    console.print(t, highlight=False)
