"""A scenario file's tables flattened to dotted parameter keys, and each value checked.

Parameter keys are exactly ``group.name`` whether written ``[group]`` then ``name = ..``,
``group.name = ..`` or ``"group.name" = ..``; every entry keeps where it was written
(``[parameters]``, ``[policies.NAME]``, ``[sweep]``) for the messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from coprod_sim.params import TREE, ParameterError, spec
from coprod_sim.scenario.errors import Problems, did_you_mean, type_name

Entries = dict[str, tuple[str, Any]]
"""Dotted key -> (where it was written, raw value)."""

SWEEP_SETTINGS = ("design", "samples", "seed")
SWEEP_CONTAINERS = ("parameters", "levers")  # optional sub-tables holding the swept keys
FIXED_ONCE = ("simulation.seed", "simulation.steps")  # set once per scenario, never swept
FILE_SETTINGS = ("name", "description", "steps", "seed", "replications")
"""Settings of the whole file (top-level keys): written under a [table] header by mistake, TOML
puts them inside that table, where they would read as unknown parameters."""


def all_keys() -> Iterator[str]:
    for group, params in TREE.items():
        for name in params:
            yield f"{group}.{name}"


def flatten(problems: Problems, where: str, table: Mapping[str, Any], prefix: tuple[str, ...] = (),
            out: Entries | None = None) -> Entries:
    """Dotted keys (quoted or as nested tables) -> (where, value); duplicates reported.

    Parameter keys are exactly ``group.name``, so descending stops at two parts; deeper
    tables are values (a lever's range) and shallower scalars are not parameters.
    """
    out = {} if out is None else out
    for raw_key, value in table.items():
        parts = (*prefix, *[p.strip() for p in str(raw_key).split(".")])
        if len(parts) >= 2:
            key = ".".join(parts)
            if key in out:
                problems.fail(key, f"{where} {key} is given twice (also in {out[key][0]}): give it once.")
            else:
                out[key] = (where, value)
        elif isinstance(value, dict):
            flatten(problems, where, value, parts, out)
        else:
            key = ".".join(parts)
            problems.fail(key, f"{where} {key} = {value!r}: {key!r} is not a parameter.{not_a_key_hint(key)}")
    return out


def not_a_key_hint(key: str) -> str:
    """What to write instead of a one-part key: a file setting in the wrong place, or a parameter."""
    close = difflib.get_close_matches(key, FILE_SETTINGS, n=1, cutoff=0.8)
    if close:
        said = "" if close[0] == key else f" Did you mean {close[0]!r}?"
        return (f"{said} {close[0]!r} is a setting of the whole file: write it at the top, before the"
                " first [table] header (every line after a header belongs to that table).")
    return (f"{did_you_mean(key, list(all_keys()))} Parameter keys are 'group.name', e.g."
            " policy.outreach.")


def base_entries(problems: Problems, data: Mapping[str, Any]) -> Entries:
    """The base values: ``[parameters]`` and the top-level ``[group]`` tables."""
    out: Entries = {}
    table = data.get("parameters", {})
    if not isinstance(table, dict):
        problems.fail("parameters", f"parameters = {table!r} must be a table: [parameters] with"
                                    " lines like policy.outreach = \"universal\".")
    else:
        flatten(problems, "[parameters]", table, (), out)
    for group in TREE:
        if group in data:
            if isinstance(data[group], dict):
                flatten(problems, f"[{group}]", data[group], (group,), out)
            else:
                problems.fail(group, f"{group} = {data[group]!r}: {group!r} is a parameter group;"
                                     f" write [{group}] then name = value lines, or {group}.name = value.")
    return out


def policy_items(problems: Problems, table: Any) -> list[tuple[Any, Any]]:
    """(name, body) of each policy, from ``[policies.NAME]`` tables or ``[[policies]]`` entries."""
    if table is None:
        return []
    if isinstance(table, list):  # [[policies]] with name = "..."
        items = []
        for i, entry in enumerate(table):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                problems.fail(f"policies[{i}]", f"[[policies]] entry {i + 1} needs name = \"...\""
                                                " and the parameter changes it makes.")
                continue
            items.append((entry["name"], {k: v for k, v in entry.items() if k != "name"}))
        return items
    if isinstance(table, dict):
        return list(table.items())
    problems.fail("policies", f"policies = {table!r} must be tables: [policies.NAME] with the"
                              " parameter changes each policy makes.")
    return []


def policy_entries(problems: Problems, table: Any) -> dict[str, tuple[str, Entries]]:
    """name -> (description, dotted entries)."""
    out: dict[str, tuple[str, Entries]] = {}
    for name, body in policy_items(problems, table):
        where = f"[policies.{name}]"
        if not str(name).strip():
            problems.fail("policies", "a policy has an empty name.")
            continue
        if name in out:
            problems.fail(f"policies.{name}", f"[policies.{name}]: policy name {name!r} is used twice:"
                                              " give each policy its own name.")
            continue
        if not isinstance(body, dict):
            problems.fail(f"policies.{name}", f"{where} must be a table of parameter changes, e.g."
                                              f" [policies.{name}] then policy.outreach = \"universal\".")
            continue
        description = body.get("description", "")
        if not isinstance(description, str):
            problems.fail(f"policies.{name}.description", f"{where} description = {description!r}"
                                                          " must be a string.")
            description = ""
        changes = {k: v for k, v in body.items() if k != "description"}
        out[name] = (description, flatten(problems, where, changes))
    return out


def sweep_entries(problems: Problems, table: Any) -> tuple[Entries, dict[str, Any]]:
    """The swept keys of ``[sweep]`` (also under [sweep.parameters]) and its settings."""
    if table is None:
        return {}, {}
    if not isinstance(table, dict):
        problems.fail("sweep", f"sweep = {table!r} must be a table: [sweep] with design = \"grid\""
                               " and the swept parameters.")
        return {}, {}
    settings = {k: v for k, v in table.items() if k in SWEEP_SETTINGS}
    entries = {k: v for k, v in table.items() if k not in SWEEP_SETTINGS}
    for container in SWEEP_CONTAINERS:  # [sweep.parameters] reads like [parameters]
        if isinstance(entries.get(container), dict):
            inner = entries.pop(container)
            for k, v in inner.items():
                if k in entries:
                    problems.fail(f"sweep.{k}", f"[sweep] {k} is given twice: give it once.")
                entries[k] = v
    if not entries:
        problems.fail("sweep", "[sweep] sweeps nothing: add swept parameters such as"
                               " administration.risk_aversion = [0.2, 0.5, 0.8], or remove [sweep].")
    for k, v in list(entries.items()):
        # A bare word that is not a setting is a misspelt setting, not a parameter group.
        if "." not in k and k not in TREE and not isinstance(v, dict):
            hint = did_you_mean(k, SWEEP_SETTINGS)
            problems.fail(f"sweep.{k}", f"[sweep] {k} is not a sweep setting.{hint} Settings are"
                                        f" {', '.join(SWEEP_SETTINGS)}; swept parameters are"
                                        " dotted keys like administration.risk_aversion.")
            del entries[k]
    return flatten(problems, "[sweep]", entries), settings


def coerce(problems: Problems, where_key: str, key: str, value: Any, where: str) -> Any:
    """A checked value for ``key``, or None after recording the problem."""
    try:
        s = spec(key)
    except ParameterError as exc:
        problems.fail(where_key, f"{where}{exc}")
        return None
    if (isinstance(value, str) and s.kind is not str) or isinstance(value, (dict, list)):
        unit = "" if s.unit == "-" else f" ({s.unit})"
        problems.fail(where_key, f"{where}{key} = {value!r} has the wrong type ({type_name(value)}):"
                                 f" expected {s.allowed()}{unit}.")
        return None
    try:
        return s.coerce(key, value)
    except ParameterError as exc:
        problems.fail(where_key, f"{where}{exc}")
        return None


def checked_values(problems: Problems, entries: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    """The entries' values checked against the tree; the wrong ones left out (and recorded)."""
    out = {}
    for key, (w, value) in entries.items():
        v = coerce(problems, key, key, value, f"{w} ")
        if v is not None:
            out[key] = v
    return out
