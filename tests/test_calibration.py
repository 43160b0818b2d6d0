"""The defaults are traceable to the recorded calibration, and the calibration's pieces behave.

The recorded output is experiments/calibration/results/calibration.json, written by
``coprod calibrate-defaults``. When a rule changes, rerun that command and adopt its values:
this test says which default no longer matches.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from coprod_sim.params import spec
from coprod_sim.validation import calibration as C

RECORD = C.RESULTS / "calibration.json"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(RECORD.read_text())


def test_every_calibrated_default_is_the_adopted_value(record):
    assert set(record["adopted"]) == set(C.free())
    wrong = {k: (spec(k).default, v) for k, v in record["adopted"].items() if spec(k).default != v}
    assert not wrong, f"defaults (tree, calibration) differ: {wrong}; rerun coprod calibrate-defaults"


def test_the_adopted_defaults_fit_as_well_as_the_ensemble(record):
    """The refitted mode baselines, with the other defaults kept, would have been accepted."""
    assert record["adopted_fits_as_well_as_the_ensemble"]
    assert record["adopted_outcomes"]["distance"] <= record["acceptance_distance"]
    assert record["adopted_outcomes"]["gulf"] >= 3.0  # F1, the calibration target
    assert 0.17 <= record["adopted_outcomes"]["participation_year"] <= 0.40  # F11


ENSEMBLE_GAPS = {
    "F4 feedback off - on": (0.8, "3 of the 20 good fits (2 seeds each) show no aggregate cycle"
                             " (feedback off - on: +0.1, +0.2 and +1.4 points), all with capacity for"
                             " individual episodes below 102 per 1,000 residents: there rationing, not"
                             " self-efficacy, sets how many take part (docs/facts.md, F4)"),
}
"""Held-out patterns that part of the ensemble misses, with the share the record must still reach."""


def test_the_held_out_patterns_hold_across_the_ensemble(record):
    """Every good fit shows the held-out patterns (F4's aggregate cycle, F5), not only the defaults."""
    assert record["held_out"], "no held-out check recorded"
    gaps = []
    for pattern, share in record["held_out"].items():
        floor, why = ENSEMBLE_GAPS.get(pattern, (0.9, ""))
        assert share >= floor, f"{pattern}: only {share:.0%} of the ensemble shows it"
        if share < 0.9:
            gaps.append(f"{pattern} {share:.0%}: {why}")
    if gaps:
        pytest.xfail("; ".join(gaps))


def test_the_record_says_what_the_targets_identify(record):
    assert set(record["identified"]) | set(record["not_identified"]) == set(C.free())
    assert record["settings"]["points"] >= 200 and record["accepted"] >= 10


def test_distance_is_zero_on_the_targets():
    ts = pd.DataFrame({"participation_year": np.full(121, 0.285)})
    terms = C.distance_terms({"participation_year": 0.285, "repeat_share": 0.75}, gulf=C.GULF_AIM, ts=ts)
    assert terms == {"F11 share": 0.0, "F11 regulars": 0.0, "F1 gulf": 0.0, "steady state": 0.0}
    off = C.distance_terms({"participation_year": 0.40, "repeat_share": 0.75}, gulf=C.GULF_AIM / 1.5, ts=ts)
    assert off["F11 share"] == pytest.approx(1.0) and off["F1 gulf"] == pytest.approx(1.0)


def test_identification_separates_a_pinned_parameter_from_a_free_one():
    rng = np.random.default_rng(1)
    n = 400
    ranges = C.free()
    data = {k: rng.uniform(low, high, n) for k, (low, high) in ranges.items()}
    low, high = ranges["citizens.base_individual"]
    data["citizens.base_individual"] = rng.normal((low + high) / 2, 0.02 * (high - low), n)
    ident = C.identification(pd.DataFrame(data), ranges).set_index("parameter")
    assert ident.loc["citizens.base_individual", "identified"]
    assert not ident.loc["citizens.effort_weight", "identified"]
    assert math.isclose(ident.loc["citizens.effort_weight", "iqr_ratio"], 1.0, abs_tol=0.15)


def test_the_prior_is_a_scenario_file_whose_draws_stay_inside_their_ranges():
    sample = pd.DataFrame([dict(p) for p in C.prior().design.points])
    assert len(sample) >= 200
    for key, (low, high) in C.free().items():
        assert sample[key].between(low, high).all()
        spec(key)  # every calibrated key exists in the tree
