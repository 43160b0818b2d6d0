"""The `coprod run` command, as a user runs it: in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

COPROD = [str(Path(sys.executable).with_name("coprod"))]


def coprod(*args, **kw):
    return subprocess.run([*COPROD, *args], capture_output=True, text=True, timeout=300, **kw)


def test_run_prints_summary_and_writes_outputs(tmp_path):
    out = tmp_path / "out"
    r = coprod("run", "--citizens", "500", "--steps", "30", "--seed", "3",
               "--set", "policy.outreach=universal", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for fragment in ("SES Q1 (poorest)", "SES Q5 (richest)", "concentration index",
                     "individual mode", "collective mode", "self-efficacy, participants"):
        assert fragment in r.stdout
    for name in ("timeseries.parquet", "timeseries.csv", "neighbourhoods.parquet", "summary.json", "run.png"):
        assert (out / name).stat().st_size > 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 31
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["parameters"]["policy.outreach"] == "universal"
    assert (out / "run.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "key", "fragment"),
    [
        (["--set", "citizens.efficacy_weight=99"], "citizens.efficacy_weight", "[0, 20]"),
        (["--set", "citizens.efficasy_weight=1"], "citizens.efficasy_weight", "Did you mean"),
        (["--set", "policy.outreach=everybody"], "policy.outreach", "'universal'"),
        (["--set", "policy.outreach"], "policy.outreach", "dotted.key=value"),
        (["--citizens", "0"], "population.n_citizens", "[10,"),
        (["--set", "rules.participation=no_such_rule"], "participation", "logistic_choice"),
    ],
)
def test_bad_input_exits_2_with_one_paragraph_naming_the_key(args, key, fragment):
    r = coprod("run", "--steps", "2", *args)
    assert r.returncode == 2
    assert key in r.stderr and fragment in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_help_for_run():
    r = coprod("run", "--help")
    assert r.returncode == 0 and "--set" in r.stdout and "--out" in r.stdout


def test_version():
    from coprod_sim import __version__

    r = coprod("--version")
    assert r.returncode == 0 and r.stdout.strip() == __version__ != "0.0.0+unknown"
