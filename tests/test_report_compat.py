"""Sweep folders made by an older coprod-sim: the report states what they have, a resume mixes."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.report.effects import NOT_RECORDED
from coprod_sim.report.measures import LEVEL_AREA, LEVEL_OUTPUT, MODE_LEVEL_CONCENTRATION, SEATS_FILLED
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep.engine import sweep
from coprod_sim.sweep.task import read_ipc, to_ipc
from tests.test_report import LEVELS_BODY, assert_every_number_is_in_effects

SCENARIO = """\
name = "compat"
replications = 2
steps = 12
seed = 11
[parameters]
population.n_citizens = 300
population.n_neighbourhoods = 4
""" + LEVELS_BODY
NEWER = tuple(m.column for m in (*LEVEL_AREA, *LEVEL_OUTPUT, *MODE_LEVEL_CONCENTRATION, SEATS_FILLED))
"""Outcomes added after some sweeps were made (the by-level area measures, seats filled)."""
OLD_CODE = "0123456789abcdef"
FORMER = ("top_bottom_ratio_organised", "top_bottom_ratio_collective")
"""An outcome renamed since (its name now, its former name): read under its name now."""


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """A small grid x policies sweep with co-design seats (16 runs) and its scenario file."""
    folder = tmp_path_factory.mktemp("compat")
    path = folder / "compat.toml"
    path.write_text(SCENARIO)
    out = folder / "sweep"
    assert sweep(load_scenario(path), out, workers=1, progress=False).ok
    return out, path


def as_older(made: Path, dest: Path) -> Path:
    """A copy of the sweep as an older coprod-sim would have written it: without NEWER's columns."""
    shutil.copytree(made, dest)
    drop = [f"{k}_{w}" for k in NEWER for w in ("final", "last_quarter")]
    runs = pd.read_parquet(dest / "runs.parquet")
    runs.drop(columns=drop).rename(columns=lambda c: c.replace(*FORMER)).to_parquet(dest / "runs.parquet")
    ts = pd.read_parquet(dest / "timeseries.parquet")
    ts.drop(columns=list(NEWER)).rename(columns=dict([FORMER])).to_parquet(dest / "timeseries.parquet")
    for part in (dest / "runs").glob("*.arrow"):
        table = read_ipc(part.read_bytes()).drop_columns(list(NEWER))
        part.write_bytes(to_ipc(table.rename_columns([dict([FORMER]).get(n, n) for n in table.column_names])))
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest.update(code=OLD_CODE, codes=[OLD_CODE])
    for entry in manifest["runs"]:
        entry["code"] = OLD_CODE
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


def test_report_of_an_older_sweep_leaves_out_what_it_did_not_record(made, tmp_path):
    folder = as_older(made[0], tmp_path / "old")
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    text = (folder / "report.md").read_text()
    note = next(line for line in text.splitlines() if line.startswith("**Note**"))
    assert f"{len(NEWER)} measures it did not record are left out" in note
    assert all(f"`{k}`" in note for k in NEWER)
    assert "mean of monthly ratios" in note  # acceptance then meant something else
    assert FORMER[0] not in note  # recorded under its former name: read under its name now
    # nothing is said of the measures it lacks, and the rest is said as before
    assert "of the seats were filled" not in text
    assert "correlation of neighbourhood advantage with participation: executor" not in text
    assert "## Co-design seats" in text and "### By mode and level" in text
    e = pd.read_csv(folder / "effects.csv")
    gone = e[e.measure.isin(NEWER) & (e.scope != "reference")]
    assert len(gone) and (gone.note == NOT_RECORDED).all() and gone["value"].isna().all()
    kept = e[(e.scope == "policy") & e.measure.isin(["participation_year", FORMER[0]])]
    assert kept["value"].notna().all() and kept.note.isna().all()
    fact = e[(e.scope == "run") & (e.measure == "measures not recorded")]
    assert fact["value"].tolist() == [len(NEWER)]


def test_report_of_a_current_sweep_has_no_note(made, tmp_path):
    folder = tmp_path / "new"
    shutil.copytree(made[0], folder)
    assert CliRunner().invoke(app, ["report", str(folder)]).exit_code == 0
    assert "older coprod-sim" not in (folder / "report.md").read_text()
    e = pd.read_csv(folder / "effects.csv")
    assert "measures not recorded" not in set(e.measure)
    assert not (e.get("note", pd.Series(dtype=str)) == NOT_RECORDED).any()


def test_a_runs_table_without_participation_is_damaged_not_old(made, tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(made[0], folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.drop(columns=["participation_year_last_quarter"]).to_parquet(folder / "runs.parquet")
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "runs.parquet" in result.output and "participation_year_last_quarter" in result.output


def test_resume_over_an_older_sweep_gives_its_runs_nan_where_they_lack_outcomes(made, tmp_path, capsys):
    folder = as_older(made[0], tmp_path / "mixed")
    for part in ("0000000", "0000005"):
        (folder / "runs" / f"{part}.arrow").unlink()  # two runs to do again with this version
    result = sweep(load_scenario(made[1]), folder, workers=1, progress=False, resume=True,
                   allow_code_change=True)
    assert result.ok and result.resumed == 14
    warning = " ".join(capsys.readouterr().err.split())
    assert "14 runs (of an older coprod-sim) lack the outcomes" in warning
    assert all(k in warning for k in NEWER)
    fresh = pd.read_parquet(made[0] / "runs.parquet")
    runs = pd.read_parquet(folder / "runs.parquet")
    assert list(runs.columns) == list(fresh.columns)  # the current layout
    new = runs["run"].isin([0, 5])
    for k in NEWER:
        col = f"{k}_last_quarter"
        assert runs.loc[~new, col].isna().all()
        pd.testing.assert_series_equal(runs.loc[new, col], fresh.loc[new, col])
    shared = [c for c in fresh.columns if not c.startswith(NEWER)]
    pd.testing.assert_frame_equal(runs[shared], fresh[shared])  # the old runs' own values kept
    ts = pd.read_parquet(folder / "timeseries.parquet")
    assert list(ts.columns) == list(pd.read_parquet(made[0] / "timeseries.parquet").columns)
    assert ts.loc[~ts["run"].isin([0, 5]), list(NEWER)].isna().all().all()
    report = CliRunner().invoke(app, ["report", str(folder)])
    assert report.exit_code == 0, report.output
    text = (folder / "report.md").read_text()
    note = next(line for line in text.splitlines() if line.startswith("**Note**"))
    assert f"the 14 runs of code `{OLD_CODE}` have no value of" in note
    named = set(re.findall(r"`([a-z_]+)`", note))
    assert named and named <= set(NEWER)  # those the two new runs have (some are n/a in them too)
    assert "older coprod-sim (code" not in text  # the columns are there, empty for the old runs
    assert_every_number_is_in_effects(folder)


# ====================================================================== words and tiny cells
def test_a_signed_number_that_is_not_zero_never_reads_as_zero():
    from coprod_sim.report.measures import CONCENTRATION, PARTICIPATION_M, TOP_BOTTOM

    assert PARTICIPATION_M.fmt(-0.0003, True) == "-0.03"  # QA's CI end, -0.03 points, read "+0.0"
    assert PARTICIPATION_M.fmt(0.0003, True) == "+0.03"
    assert CONCENTRATION.fmt(-0.0004, True) == "-0.0004"
    assert TOP_BOTTOM.fmt(-1e-9, True).startswith("-0.0")  # beyond three more decimals: the sign
    assert PARTICIPATION_M.fmt(0.0, True) == PARTICIPATION_M.fmt(-0.0, True) == "+0.0"
    assert PARTICIPATION_M.fmt(0.0123, True) == "+1.2"  # a number that does not round to 0: as before


def test_a_difference_not_distinguishable_from_noise_is_not_said_as_a_rise():
    from types import SimpleNamespace

    from coprod_sim.report.markdown import policy_sentence
    from coprod_sim.report.measures import PARTICIPATION_M

    base = {"value": 0.349}
    sw = SimpleNamespace(baseline="baseline")

    def said(low: float, high: float, distinguishable: bool) -> str:
        r = {"value": 0.3491, "diff_value": 0.0003, "diff_ci_low": low, "diff_ci_high": high,
             "diff_n": 8, "distinguishable": distinguishable}
        rows = SimpleNamespace(policy={(PARTICIPATION_M.column, "open_half"): r,
                                       (PARTICIPATION_M.column, "baseline"): base})
        return policy_sentence(sw, rows, "open_half")

    noise = said(-0.001, 0.002, False)
    assert "raises" not in noise and "lowers" not in noise, noise
    assert "no change in participation is distinguishable from noise: 34.9% to 34.9%, +0.03 points" in noise
    clear = said(0.0001, 0.0004, True)
    assert "it raises participation" in clear and "(95% CI +0.01 to +0.04)" in clear, clear


def test_a_ratio_undefined_in_half_the_replications_or_more_is_na_in_report_and_effects(made, tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(made[0], folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    col = "top_bottom_ratio_collective_initiator_last_quarter"
    # as in QA's sweep: one bottom-fifth and one top-fifth initiator where any, none elsewhere
    runs[col] = runs["replication"].map({0: 1.0, 1: float("nan")})
    runs.to_parquet(folder / "runs.parquet")
    assert CliRunner().invoke(app, ["report", str(folder)]).exit_code == 0
    text = (folder / "report.md").read_text()
    table = text.split("### By mode and level")[1]
    row = next(r for r in table.splitlines() if r.startswith("| baseline | collective | initiator |"))
    assert "n/a in 1 of 2 replications" in row and "1.00" not in row, row
    e = pd.read_csv(folder / "effects.csv")
    r = e[(e.scope == "policy") & (e.measure == col.removesuffix("_last_quarter"))
          & (e.policy == "baseline")].iloc[0]
    assert math.isnan(r["value"]) and r["n"] == 1 and r["shown"] == "n/a in 1 of 2 replications"
    assert "too few to estimate" in r["note"]
    assert_every_number_is_in_effects(folder)


def test_an_estimate_from_most_replications_is_kept_with_a_note():
    from coprod_sim.report.effects import Partial, level, row
    from coprod_sim.report.measures import MODE_LEVEL_RATIO

    m = MODE_LEVEL_RATIO[0]
    runs = pd.DataFrame({"design_point": 0, "replication": range(10),
                         f"{m.column}_last_quarter": [2.0] * 9 + [float("nan")]})
    e = level(runs, m)
    assert isinstance(e, Partial) and not e.withheld and e.n == 9 and e.mean == pytest.approx(2.0)
    assert row("policy", m, "p", e)["note"] == "value undefined in 1 of 10 replications: from the other 9"
    runs.loc[4:, f"{m.column}_last_quarter"] = float("nan")
    assert math.isnan(level(runs, m).mean)  # 4 of 10: n/a
