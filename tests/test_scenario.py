"""Scenario files: the plan a valid file gives, and every class of mistake (exit 2, file and key)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.params import ParameterError, Parameters, spec
from coprod_sim.run import run_seed
from coprod_sim.scenario.errors import ScenarioError
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.scenario.plan import BASELINE

ROOT = Path(__file__).resolve().parents[1]
COPROD = [sys.executable, "-m", "coprod_sim.cli.app"]

VALID = """\
name = "outreach_test"
description = "Does outreach raise participation without widening the gap?"
steps = 24
replications = 3
seed = 11

[parameters]
population.n_citizens = 300
"policy.outreach_rate" = 0.05

[sweep]
design = "grid"
"administration.staff_incentives" = [0.1, 0.5]
"administration.risk_aversion" = { low = 0.2, high = 0.8, num = 3 }

[policies.universal]
description = "Invite everyone alike"
policy.outreach = "universal"

[policies.targeted]
"policy.outreach" = "targeted_area"
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ====================================================================== a valid file
def test_valid_file_gives_the_documented_plan(tmp_path):
    sc = load_scenario(write(tmp_path, VALID))
    assert sc.name == "outreach_test"
    assert [p.name for p in sc.policies] == [BASELINE, "universal", "targeted"]
    assert sc.design.kind == "grid"
    assert sc.n_design_points == 2 * 3
    assert sc.n_points == 3 * 6 and sc.n_runs == 3 * 6 * 3
    assert sc.seed == 11 and sc.steps == 24
    # range with num: evenly spaced, ends included, no float noise
    assert sc.design.levers[1].values == (0.2, 0.5, 0.8)
    # the base parameters: base values only, no policy, no sweep
    base = sc.base_parameters()
    assert isinstance(base, Parameters)
    assert base["policy.outreach"] == spec("policy.outreach").default
    assert base["policy.outreach_rate"] == 0.05
    assert base["population.n_citizens"] == 300
    assert base["administration.staff_incentives"] == spec("administration.staff_incentives").default


def test_run_numbering_policies_levers_and_seeds(tmp_path):
    sc = load_scenario(write(tmp_path, VALID))
    runs = list(sc.runs())
    assert [r.index for r in runs] == list(range(sc.n_runs))
    for r in runs:
        assert r.index == r.point * sc.replications + r.replication
        assert r.point == [p.name for p in sc.policies].index(r.policy) * sc.n_design_points + r.design_point
        assert r.seed == sc.seed
        for key, value in r.levers.items():
            assert r.params[key] == value
        pol = next(p for p in sc.policies if p.name == r.policy)
        for key, value in pol.changes.items():
            assert r.params[key] == value
    # every (policy, design point) is one point; every point has every replication
    assert len({(r.policy, r.design_point) for r in runs}) == sc.n_points
    # the seed sequence depends on the replication only: paired comparisons across policies
    a = sc.run_at(0, 2)
    b = sc.run_at(sc.n_points - 1, 2)
    assert a.policy != b.policy
    assert run_seed(a.seed, a.replication).generate_state(4).tolist() == \
        run_seed(b.seed, b.replication).generate_state(4).tolist()
    assert run_seed(a.seed, 1).generate_state(4).tolist() != run_seed(a.seed, 2).generate_state(4).tolist()


def test_nested_tables_quoted_keys_and_group_tables_are_the_same_file(tmp_path):
    quoted = load_scenario(write(tmp_path, '[parameters]\n"policy.outreach" = "universal"\n', "a.toml"))
    nested = load_scenario(write(tmp_path, '[parameters]\npolicy.outreach = "universal"\n', "b.toml"))
    group = load_scenario(write(tmp_path, '[policy]\noutreach = "universal"\n', "c.toml"))
    assert quoted.base == nested.base == group.base == {"policy.outreach": "universal"}
    assert quoted.name == "a" and quoted.replications == 1 and quoted.n_runs == 1


def test_sampled_and_one_at_a_time_designs(tmp_path):
    lhs = load_scenario(write(tmp_path, """
[sweep]
design = "latin_hypercube"
samples = 7
"administration.risk_aversion" = { low = 0.1, high = 0.9 }
"population.n_citizens" = { low = 200, high = 400 }
""", "lhs.toml"))
    vals = np.array([p["administration.risk_aversion"] for p in lhs.design.points])
    assert len(vals) == 7 and vals.min() >= 0.1 and vals.max() <= 0.9
    # Latin hypercube: one point in each of the 7 equal strata
    assert sorted(np.floor((vals - 0.1) / 0.8 * 7).astype(int).tolist()) == list(range(7))
    assert all(isinstance(p["population.n_citizens"], int) for p in lhs.design.points)

    sobol = load_scenario(write(tmp_path, """
[sweep]
design = "sobol"
samples = 8
"administration.risk_aversion" = { low = 0.1, high = 0.9 }
"administration.staff_incentives" = { low = 0.0, high = 1.0 }
"policy.outreach_rate" = { low = 0.0, high = 0.1 }
""", "sobol.toml"))
    assert sobol.n_design_points == 8 * (3 + 2)  # Saltelli: N (D + 2) without second order

    oat = load_scenario(write(tmp_path, """
[parameters]
"administration.risk_aversion" = 0.5
[sweep]
design = "oat"
"administration.risk_aversion" = [0.2, 0.5, 0.8]
"administration.staff_incentives" = [0.1, 0.9]
""", "oat.toml"))
    # the base point, then each lever's values that differ from its base value, alone
    assert oat.design.points == ({}, {"administration.risk_aversion": 0.2},
                                 {"administration.risk_aversion": 0.8},
                                 {"administration.staff_incentives": 0.1},
                                 {"administration.staff_incentives": 0.9})


def test_a_design_is_the_same_every_time_it_is_loaded(tmp_path):
    text = ('[sweep]\ndesign = "sobol"\nsamples = 4\n'
            '"administration.risk_aversion" = { low = 0.1, high = 0.9 }\n'
            '"policy.outreach_rate" = { low = 0.0, high = 0.1 }\n')
    a = load_scenario(write(tmp_path, text, "a.toml"))
    b = load_scenario(write(tmp_path, text, "b.toml"))
    assert a.design.points == b.design.points and a.fingerprint() == b.fingerprint()


def test_library_scenarios_all_load():
    files = sorted((ROOT / "scenarios").glob("*.toml"))
    assert len(files) >= 7
    for path in files:
        sc = load_scenario(path)
        first = path.read_text().lstrip().splitlines()[0]
        assert first.startswith("#"), f"{path.name} should open with the question it answers"
        assert sc.description, path.name
        assert sc.n_runs >= 1


# ====================================================================== every class of mistake
BAD = [
    # (what is wrong, file text, the key the message must name, a fragment of what is allowed)
    ("unknown parameter", '[parameters]\n"policy.outreech" = "universal"\n', "policy.outreech",
     "Did you mean 'policy.outreach'"),
    ("unknown group", '[parameters]\n"polcy.outreach" = "universal"\n', "polcy.outreach",
     "Did you mean 'policy.outreach'"),
    ("unknown top-level key", "replication = 3\n", "replication", "Did you mean 'replications'"),
    ("not a parameter", "[parameters]\noutreach = 'universal'\n", "outreach", "group.name"),
    # a file setting written after a [table] header belongs to that table in TOML
    ("file setting under [parameters]", "[parameters]\nsteps = 24\n", "steps",
     "'steps' is a setting of the whole file: write it at the top"),
    ("misspelt file setting under [parameters]", "[parameters]\nreplicatons = 3\n", "replicatons",
     "Did you mean 'replications'? 'replications' is a setting of the whole file"),
    ("file setting in a policy", "[policies.p]\nseed = 3\n", "seed", "before the first [table]"),
    ("wrong type (string for number)", '[parameters]\n"administration.risk_aversion" = "high"\n',
     "administration.risk_aversion", "a number in [0, 1]"),
    ("wrong type (fraction for integer)", "[parameters]\npopulation.n_citizens = 10.5\n",
     "population.n_citizens", "an integer"),
    ("wrong type (table for number)", "[parameters]\npolicy.capacity_scale = { a = 1 }\n",
     "policy.capacity_scale", "a number"),
    ("wrong type (replications)", 'replications = "ten"\n', "replications", "an integer"),
    ("out of bounds", '[parameters]\n"administration.risk_aversion" = 1.5\n',
     "administration.risk_aversion", "[0, 1]"),
    ("out of bounds (replications)", "replications = 0\n", "replications", "[1,"),
    ("out of bounds (steps)", "steps = 0\n", "steps", "simulation.steps"),
    ("not a choice", '[parameters]\n"policy.outreach" = "univresal"\n', "policy.outreach",
     "Did you mean 'universal'"),
    ("unknown rule", '[parameters]\n"rules.participation" = "logistic_choise"\n',
     "rules.participation", "Rules for this stage"),
    ("empty sweep", '[sweep]\ndesign = "grid"\n', "[sweep]", "sweeps nothing"),
    ("empty list", '[sweep]\n"policy.outreach_rate" = []\n', "policy.outreach_rate", "empty list"),
    ("one value is not a sweep", '[sweep]\n"policy.outreach_rate" = 0.1\n', "policy.outreach_rate",
     "several values"),
    ("single-value grid", '[sweep]\n"policy.outreach_rate" = [0.1]\n', "policy.outreach_rate",
     "single value"),
    ("value listed twice", '[sweep]\n"policy.outreach_rate" = [0.1, 0.1]\n', "policy.outreach_rate",
     "twice"),
    ("value out of bounds in a sweep", '[sweep]\n"policy.outreach_rate" = [0.1, 2.0]\n',
     "policy.outreach_rate", "[0, 1]"),
    ("low above high", '[sweep]\n"policy.outreach_rate" = { low = 0.5, high = 0.1, num = 3 }\n',
     "policy.outreach_rate", "below high"),
    ("range without num or step", '[sweep]\n"policy.outreach_rate" = { low = 0.0, high = 0.1 }\n',
     "policy.outreach_rate", "num = N"),
    ("unknown range entry", '[sweep]\n"policy.outreach_rate" = { lo = 0.0, high = 0.1, num = 2 }\n',
     "policy.outreach_rate", "Did you mean 'low'"),
    ("fractional range for an integer", '[sweep]\n"population.n_citizens" = '
     "{ low = 100, high = 200, num = 4 }\n", "population.n_citizens", "whole"),
    ("range on a choice", '[sweep]\n"policy.outreach" = { low = 0, high = 1, num = 2 }\n',
     "policy.outreach", "list the values"),
    ("unknown design", '[sweep]\ndesign = "grdi"\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "[sweep] design", "Did you mean 'grid'"),
    ("misspelt sweep setting", '[sweep]\ndesing = "grid"\n"policy.outreach_rate" = [0.1, 0.2]\n',
     "desing", "Did you mean 'design'"),
    ("sampled design without samples", '[sweep]\ndesign = "lhs"\n'
     '"policy.outreach_rate" = { low = 0.0, high = 0.1 }\n', "samples", "positive integer"),
    ("sobol samples not a power of two", '[sweep]\ndesign = "sobol"\nsamples = 6\n'
     '"policy.outreach_rate" = { low = 0.0, high = 0.1 }\n', "samples", "power of two"),
    ("list in a sampled design", '[sweep]\ndesign = "sobol"\nsamples = 4\n'
     '"policy.outreach_rate" = [0.0, 0.1]\n', "policy.outreach_rate", "samples a range"),
    ("samples in a grid", '[sweep]\nsamples = 4\n"policy.outreach_rate" = [0.0, 0.1]\n', "samples",
     "latin_hypercube and sobol"),
    ("swept and set by a policy", '[sweep]\n"policy.outreach_rate" = [0.0, 0.1]\n'
     '[policies.more]\n"policy.outreach_rate" = 0.2\n', "policy.outreach_rate", "not both"),
    ("seed swept", '[sweep]\n"simulation.seed" = [1, 2]\n', "simulation.seed", "replications"),
    ("steps in a policy", '[policies.long]\n"simulation.steps" = 200\n', "simulation.steps",
     "once"),
    ("steps given twice, differently", 'steps = 12\n[parameters]\n"simulation.steps" = 24\n', "steps",
     "give it once"),
    ("duplicate key (TOML)", '[parameters]\n"policy.outreach_rate" = 0.1\n"policy.outreach_rate" = 0.2\n',
     "policy.outreach_rate", "twice"),
    ("duplicate key (quoted and nested)", '[parameters]\n"policy.outreach_rate" = 0.1\n'
     "policy.outreach_rate = 0.2\n", "policy.outreach_rate", "twice"),
    ("duplicate key (two tables)", '[parameters]\n"policy.outreach_rate" = 0.1\n[policy]\n'
     "outreach_rate = 0.2\n", "policy.outreach_rate", "twice"),
    ("duplicate policy table", '[policies.a]\n"policy.outreach" = "universal"\n[policies.a]\n'
     '"policy.outreach_rate" = 0.1\n', "policies.a", "twice"),
    ("duplicate policy name", '[[policies]]\nname = "a"\n"policy.outreach" = "universal"\n'
     '[[policies]]\nname = "a"\n"policy.outreach_rate" = 0.1\n', "policies.a", "twice"),
    ("duplicate policy", '[policies.a]\n"policy.outreach" = "universal"\n[policies.b]\n'
     '"policy.outreach" = "universal"\n', "policies.b", "same changes"),
    ("empty policy", "[policies.nothing]\ndescription = 'does nothing'\n", "policies.nothing",
     "changes nothing"),
    ("inconsistent pair of values", '[policies.odd]\n"administration.risk_aversion_min" = 0.9\n'
     '"administration.risk_aversion_max" = 0.1\n', "administration.risk_aversion_min",
     "must not exceed"),
    ("not TOML", '[parameters\n"policy.outreach" = "universal"\n', "line 1", "not valid TOML"),
    ("unquoted string", "[parameters]\npolicy.outreach = universal\n", "policy.outreach", "line 2"),
]


@pytest.mark.parametrize(("what", "text", "key", "allowed"), BAD, ids=[b[0] for b in BAD])
def test_each_mistake_names_the_file_the_key_and_what_is_allowed(tmp_path, what, text, key, allowed):
    path = write(tmp_path, text, "bad_scenario.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert isinstance(info.value, ParameterError)  # so `coprod` turns it into exit code 2
    assert str(path) in message
    assert key in message, message
    assert allowed in message, message
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and key in result.output


def test_several_mistakes_are_reported_together(tmp_path):
    path = write(tmp_path, 'replicatoins = 2\n[parameters]\n"policy.outreach" = "nobody"\n'
                           '"administration.risk_aversion" = 7\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert len(info.value.problems) == 3
    for key in ("replicatoins", "policy.outreach", "administration.risk_aversion"):
        assert key in str(info.value)


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda d: d / "missing.toml", "no such scenario file"),
    (lambda d: d, "is a folder"),
    (lambda d: (d / "bin.toml").write_bytes(b"name = '\xff\xfe'\n") and d / "bin.toml", "not UTF-8"),
])
def test_unreadable_files_exit_2(tmp_path, make, fragment):
    path = make(tmp_path)
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(path)


def test_real_process_exit_2_without_traceback(tmp_path):
    path = write(tmp_path, '[parameters]\n"citizens.efficacy_weigth" = 3\n')
    for command in ("validate", "sweep"):
        proc = subprocess.run([*COPROD, command, str(path)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert str(path) in proc.stderr and "citizens.efficacy_weight" in proc.stderr


def test_validate_prints_the_plan(tmp_path):
    path = write(tmp_path, VALID)
    result = CliRunner().invoke(app, ["validate", str(path), "--workers", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 policies x 6 design points = 18 points; x 3 replications = 54 runs" in text
    assert re.search(r"Estimated time: about \d", text)


# ====================================================================== malformed files, generated
# A small TOML writer (the test must not depend on one being installed).
def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


KEYS = ["policy.outreach", "policy.outreach_rate", "administration.risk_aversion",
        "population.n_citizens", "simulation.steps", "simulation.seed", "rules.participation",
        "rules.outcome", "nonsense.key", "policy", "citizens.efficacy_weight", "design", "samples",
        "low", "high", "num", "step", "description", "name", "threshold.spread"]
scalars = st.one_of(st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["universal", "none", "grid", "sobol", "lhs",
                                                           "oat", "mymod:rule", ":", "a.b:c"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8)
tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
files = st.fixed_dictionaries({}, optional={
    "name": scalars, "description": scalars, "steps": scalars, "seed": scalars, "replications": scalars,
    "replicate": scalars, "parameters": tables, "policy": tables, "sweep": tables,
    "policies": st.dictionaries(st.text(min_size=1, max_size=6), tables, max_size=3),
})


def render(doc: dict) -> str:
    top = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    body = []
    for k, v in doc.items():
        if isinstance(v, dict):
            body.append(f"[{json.dumps(k)}]")
            body += [f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(top + body) + "\n"


@given(doc=files, mangle=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.text(max_size=3))))
def test_generated_malformed_files_never_raise_anything_but_a_scenario_error(tmp_path_factory, doc, mangle):
    text = render(doc)
    if mangle is not None:  # break the syntax at a random place, sometimes
        at, junk = mangle
        text = text[:at] + junk + text[at:]
    path = tmp_path_factory.mktemp("gen") / "generated.toml"
    path.write_text(text)
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        assert str(path) in str(exc)
        assert exc.problems and all(isinstance(k, str) and m for k, m in exc.problems)
        return
    # accepted: then it must give a plan whose every run has valid parameters
    assert sc.n_runs >= 1
    first = next(sc.runs())
    assert isinstance(first.params, Parameters)


@given(doc=files)
def test_generated_files_through_the_command_exit_0_or_2_without_traceback(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("cli") / "generated.toml"
    path.write_text(render(doc))
    result = CliRunner().invoke(app, ["validate", str(path), "--workers", "1"])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


# ====================================================================== the documentation
def test_every_toml_example_in_docs_scenarios_loads(tmp_path):
    text = (ROOT / "docs" / "scenarios.md").read_text()
    blocks = re.findall(r"```toml[^\n]*\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        load_scenario(write(tmp_path, block, f"example_{i}.toml"))
    full = re.search(r"```toml file=example.toml\n(.*?)```", text, flags=re.S).group(1)
    sc = load_scenario(write(tmp_path, full, "example.toml"))
    assert (len(sc.policies), sc.n_design_points, sc.n_points, sc.n_runs) == (3, 12, 36, 180)
    assert "3 policies (baseline, universal, targeted_area) x 12 design points" in text
    assert "**180 runs**" in text
