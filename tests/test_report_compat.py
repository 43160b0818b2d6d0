"""Sweep folders made by an older coprod-sim: the report states what they have, a resume mixes."""

from __future__ import annotations

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
from tests.test_report import LEVELS_BODY

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
    runs.drop(columns=drop).to_parquet(dest / "runs.parquet")
    ts = pd.read_parquet(dest / "timeseries.parquet")
    ts.drop(columns=list(NEWER)).to_parquet(dest / "timeseries.parquet")
    for part in (dest / "runs").glob("*.arrow"):
        table = read_ipc(part.read_bytes())
        part.write_bytes(to_ipc(table.drop_columns(list(NEWER))))
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
    # nothing is said of the measures it lacks, and the rest is said as before
    assert "of the seats were filled" not in text
    assert "correlation of neighbourhood advantage with participation: executor" not in text
    assert "## Co-design seats" in text and "### By mode and level" in text
    e = pd.read_csv(folder / "effects.csv")
    gone = e[e.measure.isin(NEWER) & (e.scope != "reference")]
    assert len(gone) and (gone.note == NOT_RECORDED).all() and gone["value"].isna().all()
    kept = e[(e.scope == "policy") & (e.measure == "participation_year")]
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
