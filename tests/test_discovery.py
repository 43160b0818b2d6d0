"""Scenario discovery: PRIM finds a box planted in a synthetic sweep table."""

import numpy as np
import pandas as pd
import pytest

from coprod_sim.analysis.discovery import QUESTIONS, discover, sampled_levers
from coprod_sim.analysis.discovery_report import discovery_section


def _planted(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    runs = pd.DataFrame({
        "administration.staff_incentives": rng.random(n),
        "policy.outreach_rate": rng.random(n) * 0.1,
        "administration.capacity_individual": 50 + 200 * rng.random(n),
        "status": "done", "policy": "baseline"})
    box = (runs["administration.staff_incentives"] < 0.2) & (runs["policy.outreach_rate"] > 0.06)
    runs["concentration_index_last_quarter"] = np.where(box, 0.2, 0.08) + rng.normal(0, 0.02, n)
    runs["participation_year_last_quarter"] = 0.3 + rng.normal(0, 0.05, n)
    return runs


def test_a_planted_box_is_found():
    runs = _planted()
    box = discover(runs, QUESTIONS[0], threshold=0.15)
    assert box is not None
    assert set(box.limits) == {"administration.staff_incentives", "policy.outreach_rate"}
    lo, hi = box.limits["administration.staff_incentives"]
    assert lo == -np.inf and hi == pytest.approx(0.2, abs=0.03)
    lo, hi = box.limits["policy.outreach_rate"]
    assert lo == pytest.approx(0.06, abs=0.006) and hi == np.inf
    assert box.density >= 0.8 and box.coverage >= 0.8
    text = box.sentence()
    assert "staff incentives below 0.2" in text and "outreach rate above 0.06" in text


def test_no_box_when_nothing_is_of_interest_and_none_for_a_grid():
    runs = _planted()
    assert discover(runs, QUESTIONS[0], threshold=5.0) is None
    grid = runs.assign(**{"administration.staff_incentives": np.repeat([0.1, 0.5, 0.9], 200),
                          "policy.outreach_rate": 0.05, "administration.capacity_individual": 100.0})
    assert sampled_levers(grid) == []
    assert discovery_section(grid, ".") == ("", [], [])


def test_section_writes_figures_and_rows(tmp_path):
    markdown, figures, rows = discovery_section(_planted(), tmp_path, thresholds={"bias_high": 0.15})
    assert "PRIM" in markdown and figures and all(f.exists() for f in figures)
    row = next(r for r in rows if r["question"] == "bias_high")
    assert row["found"] and row["ci_low"] <= row["value"] <= row["ci_high"] and row["n"] > 0
    # participation is noise here: PRIM may peel, but no box is denser beyond doubt
    noise = next(r for r in rows if r["question"] == "participation_low")
    assert not noise["found"] and "No range of the levers stands out" in markdown


def test_default_threshold_still_finds_the_planted_box():
    box = discover(_planted(), QUESTIONS[0])
    assert box.found and "administration.staff_incentives" in box.limits


def test_replications_are_averaged_per_design_point_and_slivers_dropped():
    runs = _planted(300, seed=1)
    runs["design_point"] = np.arange(len(runs))
    twice = pd.concat([runs.assign(replication=0), runs.assign(replication=1)], ignore_index=True)
    noise = np.random.default_rng(2).normal(0, 0.02, len(twice))
    twice["concentration_index_last_quarter"] += noise
    box = discover(twice, QUESTIONS[0], threshold=0.15)
    assert box.unit == "point" and box.replications == 2 and box.n_runs == 300
    assert set(box.limits) == {"administration.staff_incentives", "policy.outreach_rate"}
    assert "each the mean of its 2 replications" in box.sentence()


def test_the_report_gets_the_section_for_sampled_designs_only(tmp_path):
    from types import SimpleNamespace

    from coprod_sim.analysis.discovery_report import add_to_report

    levers = ["administration.staff_incentives", "policy.outreach_rate",
              "administration.capacity_individual"]
    table = pd.DataFrame([{"scope": "run", "measure": "x", "value": 1.0}])
    lhs = SimpleNamespace(kind="latin_hypercube", levers=levers, runs=_planted())
    text, rows = add_to_report(lhs, tmp_path, "# Report\n", table)
    assert text.startswith("# Report\n\n## Where the bias is high") and "figures/discovery_" in text
    assert len(rows[rows.scope != "setting"]) == 3 and set(rows["scope"]) == {"run", "discovery", "setting"}
    assert {"discovery minimum density", "discovery minimum coverage"} <= set(rows["measure"])
    grid = SimpleNamespace(kind="grid", levers=levers, runs=_planted())
    assert add_to_report(grid, tmp_path, "# Report\n", table) == ("# Report\n", table)
