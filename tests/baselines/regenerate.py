"""Fixed-seed regression baseline of the default model.

Regenerate only when a change of behaviour is intended (e.g. a new calibration), and say
so in the commit: ``.venv/bin/python tests/baselines/regenerate.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from coprod_sim.run import run

BASELINE = Path(__file__).with_name("default_timeseries.csv")
SETTINGS = {"population.n_citizens": 600, "population.n_neighbourhoods": 6, "simulation.steps": 36,
            "policy.outreach": "targeted_area"}  # outreach on, so that every stage is exercised
SEED = 20261122


def baseline_run() -> pd.DataFrame:
    return run(SETTINGS, seed=SEED).timeseries


if __name__ == "__main__":
    baseline_run().to_csv(BASELINE, index=False, float_format="%.17g")
    print(f"wrote {BASELINE}")
