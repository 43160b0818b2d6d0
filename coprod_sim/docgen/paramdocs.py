"""Parameter reference generated from the tree: ``docs/parameters.md`` and ``coprod params``.

Regenerate the file with ``.venv/bin/python -m coprod_sim.docgen.paramdocs > docs/parameters.md``;
a test fails when it is out of date, so the reference can never drift from the defaults.
"""

from __future__ import annotations

import coprod_sim  # noqa: F401  (built-in rules declare their parameters on import)
from coprod_sim import params as P

GROUP_INTROS: dict[str, str] = {
    "population": "The synthetic town: neighbourhoods on an advantage gradient and who lives there.",
    "network": "Social ties: small worlds inside neighbourhoods, a few bridges between them.",
    "citizens": "How citizens decide to take part, how episodes succeed, and how experience feeds back.",
    "administration": "Administrations' screening, capacity, learning, and local service quality.",
    "policy": "Levers a scenario sweeps: outreach, task design, budget, transfers, information, organisers.",
    "levels": "Levels of involvement (executor, designer, initiator) and co-design seats.",
    "simulation": "How a run is driven.",
    "rules": "Which rule runs each stage of a month: a built-in name or `package.module:function`.",
}


def format_value(v: object) -> str:
    """A default as it is written in a TOML scenario file."""
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return str(v).lower()
    return f"{v:g}" if isinstance(v, float) else str(v)


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
    for group, params in P.TREE.items():
        lines += [f"## `{group}`", "", GROUP_INTROS.get(group, ""), "",
                  "| key | default | unit | allowed | description |",
                  "|---|---|---|---|---|"]
        for name, spec in params.items():
            lines.append(f"| `{group}.{name}` | {format_value(spec.default)} | {spec.unit} | "
                         f"{spec.allowed()} | {spec.description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(parameters_markdown(), end="")
