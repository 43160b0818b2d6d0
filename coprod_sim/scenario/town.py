"""A scenario's ``[town]`` table: the neighbourhood table it names, found and checked at load.

``town.table`` is resolved relative to the scenario file and must stay inside the scenario's
folder (no absolute path, no ``..`` out of it): a scenario shared with its data folder runs
anywhere, and a scenario cannot make the program read files elsewhere. The table is read and
checked when the scenario loads, so a bad table stops every command before any run. The
town's size follows from it: ``population.n_citizens`` is ``town.scale`` times the table's
population (unless given), ``population.n_neighbourhoods`` its rows, and
``population.n_administrations`` the administrations it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coprod_sim.params import TREE
from coprod_sim.scenario.errors import Problems
from coprod_sim.town.table import SETTINGS, TableError, read_town_table

SIZE_KEYS = ("population.n_citizens", "population.n_neighbourhoods", "population.n_administrations")
TOWN_KEYS = tuple(f"town.{k}" for k in TREE["town"])
"""Set once per scenario (never by a policy or a sweep): they say which town is simulated."""


def resolve_table(problems: Problems, scenario: Path, value: str, where: str = "[town]") -> str | None:
    """The table's absolute path, or None after recording why it is refused."""
    folder = scenario.resolve().parent
    given = Path(value)
    if given.is_absolute() or (given.drive and not given.root):
        problems.fail("town.table", f"{where} table = {value!r}: give a path relative to the scenario"
                                    " file (e.g. \"data/neighbourhoods.csv\"), not an absolute one.")
        return None
    path = (folder / given).resolve()
    if not path.is_relative_to(folder):
        problems.fail("town.table", f"{where} table = {value!r} leads outside the scenario's folder"
                                    f" ({folder}): keep the table in that folder or below it.")
        return None
    if not path.is_file():
        problems.fail("town.table", f"{where} table = {value!r}: no such file ({path}).")
        return None
    return str(path)


def apply_town(problems: Problems, scenario: Path, base: dict[str, Any], written: set[str],
               typed: set[str] = frozenset()) -> None:
    """Resolve ``town.table`` in ``base``, check the table, and set the town's size keys.

    ``written``: keys the file sets; ``typed``: keys the command line sets (they win).
    """
    given = written | typed
    value = base.get("town.table", "")
    if not value:
        return
    path = resolve_table(problems, scenario, value)
    if path is None:
        return
    base["town.table"] = path
    settings = {k: base.get(f"town.{k}", TREE["town"][k].default) for k in SETTINGS}
    try:
        table = read_town_table(Path(path), settings)
    except TableError as exc:
        problems.fail("town.table", str(exc))
        return
    if {"population.n_citizens", "town.scale"} <= written:
        problems.fail("town.scale", "[town] scale and population.n_citizens both set the number of"
                                    " citizens: give one.")
        return
    if "population.n_citizens" not in given or "town.scale" in typed:
        scale = base.get("town.scale", TREE["town"]["scale"].default)
        n = round(scale * float(table.population.sum()))
        spec = TREE["population"]["n_citizens"]
        if not spec.low <= n <= spec.high:
            problems.fail("town.scale", f"[town] scale = {scale:g} gives {n:,} citizens for the table's"
                                        f" {table.population.sum():,.0f} residents; allowed"
                                        f" {spec.low:,.0f} to {spec.high:,.0f}: choose a scale between"
                                        f" {spec.low / table.population.sum():.2g} and"
                                        f" {min(1.0, spec.high / table.population.sum()):.2g}.")
            return
        base["population.n_citizens"] = n
    if base.get("population.n_citizens", 0) < len(table):
        problems.fail("population.n_citizens", f"{len(table)} neighbourhoods need at least {len(table)}"
                                               " citizens: raise town.scale or population.n_citizens.")
    base["population.n_neighbourhoods"] = len(table)
    if table.n_administrations:
        base["population.n_administrations"] = table.n_administrations


def check_fixed(problems: Problems, where: str, keys: set[str]) -> None:
    """The town's keys and size are the scenario's, not a policy's or a sweep's."""
    for key in sorted(keys & {*TOWN_KEYS}):
        problems.fail(key, f"{where} {key}: the town (its table and how it is read) is set once for the"
                           " whole scenario in [town], not per policy or swept.")
