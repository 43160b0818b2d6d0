"""A custom rule in sweeps: in process and on a Dask cluster of two worker processes it gives
the same results, bit for bit; on local worker processes a broken one fails only the runs that
use it. (docs/extending.md's test runs a healthy sweep on two local worker processes.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

from tests.rules_support import COPROD, crowding_source

SCENARIO = """
name = "custom_rule_sweep"
steps = 8
seed = 3
replications = 2

[population]
n_citizens = 300
n_neighbourhoods = 4

[policy]
outreach = "universal"
outreach_rate = 0.2

[policies.crowding]
rules.participation = "crowding_out"
crowdsweep.strength = 6.0
{broken}
"""

BROKEN = """
[policies.broken]
rules.outcome = "my_rules:fails_in_month_two"
"""

FRAGILE = '''

@rule("outcome")
def fails_in_month_two(state, params):
    """Succeeds at first, then raises."""
    if state.step >= 1:
        raise RuntimeError("month two is too much")
    return np.full(state.n, 0.5)
'''

DASK = """
import subprocess, sys
from distributed import LocalCluster

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        done = subprocess.run([sys.argv[1], "sweep", "scenario.toml", "--out", "out_dask",
                               "--scheduler", cluster.scheduler_address,
                               "--rules-module", "my_rules"],
                              capture_output=True, text=True)
    print(done.stdout)
    print(done.stderr, file=sys.stderr)
    sys.exit(done.returncode)
"""


def research_folder(tmp_path: Path, broken: bool) -> Path:
    """A folder outside the repository with a module of rules and a scenario using it."""
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "my_rules.py").write_text(crowding_source("crowding_out", "crowdsweep") + FRAGILE)
    (folder / "scenario.toml").write_text(SCENARIO.format(broken=BROKEN if broken else ""))
    return folder


def env() -> dict[str, str]:
    out = {**os.environ, "COLUMNS": "150"}
    out.pop("PYTHONPATH", None)
    return out


def sweep(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COPROD, "sweep", "scenario.toml", "--rules-module", "my_rules", *args],
                          cwd=folder, capture_output=True,
                          text=True, timeout=900, env=env())


def outcomes(folder: Path, out: str) -> pd.DataFrame:
    runs = pd.read_parquet(folder / out / "runs.parquet").sort_values("run").reset_index(drop=True)
    return runs


def test_a_broken_custom_rule_fails_only_its_runs_on_local_workers(tmp_path):
    folder = research_folder(tmp_path, broken=True)
    result = sweep(folder, "--out", "out", "--workers", "2")
    assert "Traceback" not in result.stderr
    runs = outcomes(folder, "out")
    status = dict(zip(runs["policy"] + "/" + runs["replication"].astype(str), runs["status"],
                      strict=True))
    assert status == {"baseline/0": "done", "baseline/1": "done", "crowding/0": "done",
                      "crowding/1": "done", "broken/0": "failed", "broken/1": "failed"}
    errors = runs.loc[runs["status"] == "failed", "error"]
    assert errors.str.contains("Rule 'my_rules:fails_in_month_two' for stage 'outcome'").all()
    assert errors.str.contains("RuntimeError: month two is too much").all()
    assert "Rule 'my_rules:fails_in_month_two'" in result.stdout + result.stderr


def test_a_custom_rule_gives_the_same_results_in_process_and_on_dask(tmp_path):
    folder = research_folder(tmp_path, broken=False)
    local = sweep(folder, "--out", "out_local", "--workers", "1")
    assert local.returncode == 0, local.stdout + local.stderr
    (folder / "dask_sweep.py").write_text(textwrap.dedent(DASK))
    dask = subprocess.run([sys.executable, "dask_sweep.py", COPROD], cwd=folder, capture_output=True,
                          text=True, timeout=900, env=env())
    assert dask.returncode == 0, dask.stdout + dask.stderr
    assert "Dask cluster" in dask.stdout
    a, b = outcomes(folder, "out_local"), outcomes(folder, "out_dask")
    assert (a["status"] == "done").all() and (b["status"] == "done").all()
    finals = [c for c in a.columns if c.endswith("_final")]
    assert finals
    pd.testing.assert_frame_equal(a[finals], b[finals])
    # the custom rule did something: its runs differ from the baseline's on the same draws
    crowd, base = a[a["policy"] == "crowding"], a[a["policy"] == "baseline"]
    assert not crowd[finals].reset_index(drop=True).equals(base[finals].reset_index(drop=True))
