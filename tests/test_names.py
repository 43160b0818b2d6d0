"""The model's names are declared once (coprod_sim/names.py) and everything reads them there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from coprod_sim import names
from coprod_sim.params import TREE, Parameters
from coprod_sim.run import run

PACKAGE = Path(names.__file__).parent
HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != Path(names.__file__))


def test_every_recorded_column_has_a_declared_label_unit_and_reading():
    result = run(Parameters({"population.n_citizens": 200, "population.n_neighbourhoods": 4,
                             "simulation.steps": 3}))
    columns = list(result.timeseries.columns)
    assert columns == list(names.OUTCOMES), "record and names.OUTCOMES list different columns"
    for name, o in names.OUTCOMES.items():
        assert o.name == name
        assert o.label and o.reads and o.description, name
        assert o.unit in ("share", "ratio", "index", "correlation", "score", "months"), name
    labels = [o.label for o in names.OUTCOMES.values()]
    assert len(set(labels)) == len(labels), "two outcomes share a label"


def test_shares_and_scores_lie_in_their_unit():
    ts = run(Parameters({"population.n_citizens": 300, "population.n_neighbourhoods": 4,
                         "simulation.steps": 14})).timeseries
    for name, o in names.OUTCOMES.items():
        values = ts[name].to_numpy()
        values = values[np.isfinite(values)]
        if o.unit == "share":
            assert ((0 <= values) & (values <= 1)).all(), name
        if o.unit == "score" and name != "efficacy_gap":  # a difference of scores
            assert ((0 <= values) & (values <= 1)).all(), name


def test_quintiles_modes_and_results_are_consistent():
    assert len(names.QUINTILE_LABELS) == len(names.QUINTILE_WORDS) == names.N_QUINTILES
    assert len(names.QUINTILE_COLOURS) == len(names.QUINTILE_COLUMNS) == names.N_QUINTILES
    assert "poorest" in names.QUINTILE_LABELS[0] and "richest" in names.QUINTILE_LABELS[-1]
    assert len(names.MODE_COLOURS) == names.N_MODES == len(names.MODES)
    assert names.NO_MODE not in range(names.N_MODES)
    assert sorted(names.RESULTS) == list(range(len(names.RESULTS)))
    assert all(HEX.fullmatch(c) for c in (*names.QUINTILE_COLOURS, *names.MODE_COLOURS,
                                           *names.POLICY_COLOURS, *names.ADMIN_COLOURS))


def test_the_tree_has_the_declared_groups_in_order_and_a_rule_per_stage():
    core = [g for g in TREE if g in names.PARAMETER_GROUPS]
    assert core == list(names.PARAMETER_GROUPS)
    assert set(TREE["rules"]) == set(names.STAGES)
    assert set(names.TOWN_GROUPS) <= set(names.PARAMETER_GROUPS)
    for m in names.MODES:  # every mode has its per-mode parameters
        assert f"base_{m}" in TREE["citizens"] and f"capacity_{m}" in TREE["administration"]


def test_no_palette_or_declared_name_is_restated_outside_names():
    """No module writes a literal palette (a sequence of colour codes), the quintile labels,
    the mode tuple or the stage table again: they import them from coprod_sim.names."""
    problems = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.List, ast.Tuple)):
                strings = [e.value for e in node.elts
                           if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                if sum(bool(HEX.fullmatch(s)) for s in strings) >= 3:
                    problems.append(f"{where}: a literal palette")
                if tuple(strings) in (names.MODES, names.QUINTILE_LABELS, names.QUINTILE_WORDS):
                    problems.append(f"{where}: restates {tuple(strings)}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in names.QUINTILE_COLOURS:
                    problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}:"
                                    f" quintile colour {node.value}")
            if isinstance(node, ast.Dict) and node.keys and all(  # keys and words, as names'
                    isinstance(e, ast.Constant) for e in (*node.keys, *node.values)):
                if [k.value for k in node.keys] == list(names.STAGES):
                    problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: stage table")
    assert problems == []


def test_names_imports_nothing_heavy_and_nothing_of_the_package():
    tree = ast.parse(Path(names.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "dataclasses"}
