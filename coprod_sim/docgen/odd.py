"""Keep docs/ODD.md (the ODD+D description of the model) true to the code.

docs/ODD.md is written by hand, except for blocks between markers such as::

    <!-- generated: parameters citizens -->
    ...
    <!-- /generated -->

which this module fills from the parameter tree (``params.TREE``), the rule registry
(``rules.registry.available``, with each rule's docstring: its equation and source) and the
recorded outcomes (``names.OUTCOMES``). ``check()`` lists what is out of date or
missing: a stale block, a parameter or rule the hand-written text never mentions, an ODD+D
section that is gone. tests/test_odd.py fails on any of them.

    .venv/bin/python -m coprod_sim.docgen.odd          # rewrite the generated blocks in place
    .venv/bin/python -m coprod_sim.docgen.odd --check  # list problems, exit 1 if any
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

from coprod_sim import params as P
from coprod_sim.docgen.paramdocs import parameter_table
from coprod_sim.names import OUTCOMES, PARAMETER_GROUPS, STAGES
from coprod_sim.rules.registry import available

ODD_PATH = Path(__file__).resolve().parents[2] / "docs" / "ODD.md"

BLOCK = re.compile(r"(<!-- generated: (?P<what>[a-z_ ]+?) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)

SECTIONS = (
    # ODD (Grimm et al. 2020) with the ODD+D design concepts for human decisions (Mueller et al. 2013)
    "Purpose and patterns", "Entities, state variables and scales", "Process overview and scheduling",
    "Theoretical and empirical background", "Individual decision-making", "Learning",
    "Individual sensing", "Individual prediction", "Interaction", "Collectives", "Heterogeneity",
    "Stochasticity", "Observation", "Emergence", "Implementation details", "Initialisation",
    "Input data", "Submodels",
)
"""Headings an ODD+D description must have."""

DEFAULT_RULES: dict[str, str] = {stage: P.TREE["rules"][stage].default for stage in STAGES}


def parameters_block(group: str) -> str:
    return parameter_table(group, "meaning")


def rules_block(stage: str) -> str:
    """Every registered rule of a stage with its full docstring (equation and source)."""
    out = []
    for name, fn in sorted(available(stage).items(), key=lambda kv: (kv[0] != DEFAULT_RULES[stage], kv[0])):
        tag = " (default)" if name == DEFAULT_RULES[stage] else ""
        doc = inspect.getdoc(fn) or "(no docstring)"
        out += [f"**`{name}`**{tag}, `{fn.__module__}`", "", "```text", doc, "```", ""]
    return "\n".join(out).rstrip()


def outcomes_block() -> str:
    lines = ["| column | meaning |", "|---|---|"]
    lines += [f"| `{k}` | {o.description} |" for k, o in OUTCOMES.items()]
    return "\n".join(lines)


def groups_of_rules() -> list[str]:
    """Parameter groups declared by rules (beyond the core groups)."""
    return [g for g in P.TREE if g not in PARAMETER_GROUPS]


def generate(what: str) -> str:
    kind, _, arg = what.partition(" ")
    if kind == "parameters":
        if arg == "rule_groups":
            return "\n\n".join(f"`{g}`\n\n{parameters_block(g)}" for g in groups_of_rules()) or \
                "(no rule declares parameters of its own)"
        return parameters_block(arg)
    if kind == "rules":
        return rules_block(arg)
    if kind == "outcomes":
        return outcomes_block()
    raise ValueError(f"unknown generated block {what!r}")


def render(text: str) -> str:
    """``text`` with every generated block filled in from the code."""
    return BLOCK.sub(lambda m: f"{m.group(1)}{generate(m.group('what'))}\n{m.group(4)}", text)


def prose(text: str) -> str:
    """The hand-written part: everything outside generated blocks."""
    return BLOCK.sub("", text)


def check(text: str | None = None) -> list[str]:
    """Problems with the ODD document; empty when it is complete and up to date."""
    text = ODD_PATH.read_text() if text is None else text
    problems = []
    if render(text) != text:
        problems.append("generated blocks are out of date: run `python -m coprod_sim.docgen.odd`")
    hand = prose(text)
    for key in P.iter_keys():
        if f"`{key}`" not in hand:
            problems.append(f"parameter `{key}` is not described in the text (only in generated tables)")
        if not P.spec(key).description.strip():
            problems.append(f"parameter `{key}` has no description in the parameter tree")
    for stage in STAGES:
        if f"<!-- generated: rules {stage} -->" not in text:
            problems.append(f"no generated block for the rules of stage {stage!r}")
        for name in available(stage):
            if f"`{name}`" not in hand:
                problems.append(f"rule `{name}` (stage {stage}) is not described in the text")
    for group in P.TREE:
        wanted = "rule_groups" if group in groups_of_rules() else group
        if f"<!-- generated: parameters {wanted} -->" not in text:
            problems.append(f"no generated parameter table for group {group!r}")
    headings = {h.strip().lower() for h in re.findall(r"^#+\s*(?:[\dIVXivx.]+\s+)?(.+)$", text, re.M)}
    for section in SECTIONS:
        if section.lower() not in headings:
            problems.append(f"ODD+D section {section!r} is missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coprod_sim.docgen.odd", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="list problems instead of rewriting")
    args = ap.parse_args(argv)
    text = ODD_PATH.read_text()
    if not args.check:
        new = render(text)
        if new != text:
            ODD_PATH.write_text(new)
            print(f"updated {ODD_PATH}")
    problems = check()
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
