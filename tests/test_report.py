"""`coprod report`: the statistics it states, and every figure for every kind of design."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.report.writer import paired_difference, t_interval, write_report
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep.engine import sweep

SMALL = """\
steps = 12
seed = 5
[parameters]
population.n_citizens = 200
population.n_neighbourhoods = 4
"""


def run_sweep(tmp_path: Path, name: str, body: str, replications: int = 3) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndescription = "A test of the report."\n'
                    f"replications = {replications}\n{SMALL}{body}")
    out = tmp_path / name
    result = sweep(load_scenario(path), out, workers=1, progress=False)
    assert result.ok
    return out


def pngs_and_svgs(folder: Path) -> set[str]:
    names = {p.stem for p in (folder / "figures").glob("*.png")}
    assert names == {p.stem for p in (folder / "figures").glob("*.svg")}
    for png in (folder / "figures").glob("*.png"):
        with Image.open(png) as im:
            assert im.size[0] > 400 and im.size[1] > 200
            # not blank: a figure has many distinct colours
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 20
    return names


# ====================================================================== statistics
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=30))
def test_t_interval_matches_scipy(values):
    est = t_interval(values)
    assert est.n == len(values)
    assert math.isclose(est.mean, float(np.mean(values)), abs_tol=1e-9)
    if np.std(values) > 1e-9:
        low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                     scale=stats.sem(values))
        assert math.isclose(est.low, low, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(est.high, high, rel_tol=1e-9, abs_tol=1e-9)


def test_one_value_has_no_interval():
    est = t_interval([0.3])
    assert est.mean == 0.3 and math.isnan(est.low) and not est.distinguishable


def test_pairing_removes_the_noise_policies_share():
    """Replications differ a lot, a policy adds exactly 0.01: paired, that is clear."""
    rng = np.random.default_rng(1)
    rep_effect = rng.normal(0, 0.2, size=8)
    rows = []
    for r, e in enumerate(rep_effect):
        for pol, shift in (("baseline", 0.0), ("p", 0.01)):
            for d in range(2):
                rows.append({"policy": pol, "design_point": d, "replication": r,
                             "y": 0.3 + e + shift + 0.001 * d})
    runs = pd.DataFrame(rows)
    diff = paired_difference(runs, "p", "baseline", "y", 8)
    assert math.isclose(diff.mean, 0.01, abs_tol=1e-12)
    assert diff.distinguishable and diff.high - diff.low < 1e-9
    # unpaired, the two levels' intervals overlap widely: the pairing is what tells them apart
    a = t_interval(runs[runs.policy == "p"].groupby("replication")["y"].mean())
    b = t_interval(runs[runs.policy == "baseline"].groupby("replication")["y"].mean())
    assert a.low < b.high and b.low < a.high


def test_pairs_with_a_missing_run_are_left_out():
    runs = pd.DataFrame({"policy": ["baseline"] * 3 + ["p"] * 2, "design_point": [0] * 5,
                         "replication": [0, 1, 2, 0, 1], "y": [1.0, 2.0, 3.0, 1.5, 2.5]})
    diff = paired_difference(runs, "p", "baseline", "y", 3)
    assert diff.n == 2 and diff.mean == 0.5


# ====================================================================== reports
def test_grid_sweep_with_policies_makes_every_figure_and_says_what_each_policy_does(tmp_path):
    out = run_sweep(tmp_path, "grid", """
[sweep]
"administration.staff_incentives" = [0.1, 0.9]
"administration.risk_aversion" = [0.2, 0.8]
[policies.universal]
description = "invite everyone"
"policy.outreach" = "universal"
[policies.austerity]
"policy.capacity_scale" = 0.3
""")
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    names = pngs_and_svgs(out)
    assert names == {"policy_levels", "policy_differences", "quintiles", "trajectories", "heatmap"}
    text = (out / "report.md").read_text()
    for fig in names:
        assert f"figures/{fig}.png" in text
    for pol in ("universal", "austerity"):
        assert f"**{pol}**" in text
    assert text.count("from noise") >= 2 and "95% CI" in text
    # a capacity cut to 30% lowers participation, clearly, even in a small town
    effects = pd.read_csv(out / "effects.csv")
    cut = effects[(effects.measure == "participation_year") & (effects.policy == "austerity")].iloc[0]
    assert cut["diff"] < 0 and cut["distinguishable"]
    assert re.search(r"\*\*austerity\*\* \[policy.capacity_scale = 0.3\]: it lowers participation", text)
    # the tables of measures, of SES quintiles and of modes: one row per policy each
    assert text.count("| baseline |") == 3 and "| policy | individual | group | collective |" in text


def test_sobol_design_reports_first_order_and_total_indices(tmp_path):
    out = run_sweep(tmp_path, "sobol", """
[sweep]
design = "sobol"
samples = 4
"policy.capacity_scale" = { low = 0.1, high = 1.5 }
"policy.information_campaign" = { low = 0.0, high = 1.0 }
""", replications=1)
    result = write_report(out)
    assert "sobol" in pngs_and_svgs(out)
    text = result.report.read_text()
    assert "| outcome | lever | first order | total |" in text
    assert "| participation_year | policy.capacity_scale |" in text
    assert "Only the baseline was run" in text


@pytest.mark.parametrize(("design", "levers"), [
    ("one_at_a_time", '"policy.capacity_scale" = [0.3, 1.0, 2.0]\n"policy.outreach_rate" = [0.0, 0.1]'),
    ("latin_hypercube", 'samples = 6\n"policy.capacity_scale" = { low = 0.3, high = 2.0 }'),
])
def test_one_at_a_time_and_latin_hypercube_show_the_response_to_each_lever(tmp_path, design, levers):
    out = run_sweep(tmp_path, design, f'[sweep]\ndesign = "{design}"\n{levers}\n', replications=2)
    write_report(out)
    assert "response" in pngs_and_svgs(out)


def test_report_of_a_folder_without_a_sweep_exits_2(tmp_path):
    for folder in (tmp_path, tmp_path / "missing"):
        result = CliRunner().invoke(app, ["report", str(folder)])
        assert result.exit_code == 2
        assert str(folder) in " ".join(result.output.split())
