"""Parameter reference generated from the tree: ``docs/parameters.md`` and ``coprod params``.

Regenerate the file with ``.venv/bin/python -m coprod_sim.docgen.paramdocs > docs/parameters.md``;
a test fails when it is out of date, so the reference can never drift from the defaults.
"""

from __future__ import annotations

from coprod_sim import params as P
from coprod_sim.names import PARAMETER_GROUPS


def format_value(v: object) -> str:
    """A default as it is written in a TOML scenario file."""
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        short = f"{v:g}"
        return short if float(short) == v else repr(v)  # never a rounded default: copies must work
    return str(v)


def parameters_markdown() -> str:
    """The whole tree as Markdown tables, one per group."""
    lines = [
        "# Parameters",
        "",
        "Generated from `coprod_sim/params.py`, the one place where defaults live"
        " (`python -m coprod_sim.docgen.paramdocs > docs/parameters.md`). Keys are dotted paths,"
        " used as they are in scenario files and in `coprod run --set key=value`."
        " A month is one step; scores are on [0, 1]; 'logit' weights act on log-odds.",
        "",
    ]
    for group in P.TREE:
        lines += [f"## `{group}`", "", PARAMETER_GROUPS.get(group, ""), "", parameter_table(group), ""]
    return "\n".join(lines)


def parameter_table(group: str, last: str = "description") -> str:
    """One group of the tree as a Markdown table (docs/parameters.md and docs/ODD.md)."""
    lines = [f"| key | default | unit | allowed | {last} |", "|---|---|---|---|---|"]
    for name, spec in P.TREE[group].items():
        lines.append(f"| `{group}.{name}` | {format_value(spec.default)} | {spec.unit} | "
                     f"{spec.allowed()} | {spec.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(parameters_markdown(), end="")
