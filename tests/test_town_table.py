"""A town from a table of neighbourhoods: reading, mapping, errors naming row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprod_sim.params import ParameterError
from coprod_sim.scenario.errors import ScenarioError
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.town.build import build_state
from coprod_sim.town.streams import Streams
from coprod_sim.town.table import advantage_scale

ROWS = [  # id, name, population, median_income, urban, administration, age_mean, female_share
    ("A", "Alpha", 12000, 21000, 1, "north", 38, 0.55),
    ("B", "Beta", 8000, 35000, 1, "north", 44, 0.51),
    ("C", "Gamma", 5000, 28000, 0, "south", 50, 0.50),
    ("D", "Delta", 15000, 52000, "yes", "south", 40, 0.53),
    ("E", "Epsilon", 3000, 18000, "rural", "east", 55, 0.45),
]
COLUMNS = ["id", "name", "population", "median_income", "urban", "administration", "age_mean",
           "female_share"]


def write_table(folder, rows=ROWS, columns=COLUMNS, name="hoods.csv"):
    (folder / "data").mkdir(exist_ok=True)
    frame = pd.DataFrame(rows, columns=columns)
    path = folder / "data" / name
    if name.endswith(".parquet"):
        frame.astype({"urban": str}).to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def write_scenario(folder, table="data/hoods.csv", extra="", name="town.toml"):
    path = folder / name
    path.write_text(f'name = "t"\nsteps = 3\n[town]\ntable = "{table}"\nadvantage = "median_income"\n'
                    f"scale = 0.05\n{extra}")
    return path


def town_of(path):
    params = load_scenario(path).run_at(0, 0).params
    return params, build_state(params, Streams.from_seed(3))


def test_csv_table_builds_the_town_it_describes(tmp_path):
    write_table(tmp_path)
    params, state = town_of(write_scenario(tmp_path))
    hoods, c = state.neighbourhoods, state.citizens
    assert params.population.n_citizens == round(0.05 * 43000)
    assert params.population.n_neighbourhoods == 5 and params.population.n_administrations == 3
    assert hoods.size.sum() == params.population.n_citizens
    share = hoods.size / hoods.size.sum()
    assert np.allclose(share, np.array([r[2] for r in ROWS]) / 43000, atol=0.002)
    # by rank of median income: E < A < C < B < D
    assert np.allclose(hoods.advantage, [0.3, 0.7, 0.5, 0.9, 0.1])
    assert hoods.urban.tolist() == [True, True, False, True, False]
    assert hoods.administration.tolist() == [0, 0, 1, 1, 2]
    age = np.bincount(c.neighbourhood, c.age) / hoods.size
    assert age[4] - age[0] > 10  # Epsilon's residents are older than Alpha's, as the table says
    assert abs(age[2] - 50) < 4.5  # 250 residents, sd 17: the standard error is about 1.1


def test_deprivation_reverses_the_scale_and_parquet_reads_as_csv(tmp_path):
    write_table(tmp_path, name="hoods.parquet")
    extra = 'advantage_direction = "higher_is_deprived"\nadvantage_scale = "population_rank"\n'
    _params, state = town_of(write_scenario(tmp_path, "data/hoods.parquet", extra))
    adv = state.neighbourhoods.advantage
    assert np.argmax(adv) == 4 and np.argmin(adv) == 3  # the lowest income reads as least advantaged
    assert 0 < adv.min() and adv.max() < 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30),
       st.sampled_from(["rank", "population_rank", "linear"]),
       st.sampled_from(["higher_is_advantaged", "higher_is_deprived"]))
def test_advantage_scale_is_inside_the_unit_interval_and_monotone(values, scale, direction):
    x = np.array(values)
    pop = np.linspace(1, 5, len(x))
    a = advantage_scale(x, pop, direction, scale)
    assert np.all((a > 0) & (a < 1))
    signed = x if direction == "higher_is_advantaged" else -x
    order = np.argsort(signed, kind="stable")
    assert np.all(np.diff(a[order]) >= -1e-12)  # more advantaged never maps lower


@pytest.mark.parametrize(("change", "expected"), [
    (lambda r: [*r[:1], ("A", "Alpha2", 10, 1, 1, "n", 40, 0.5), *r[2:]], "row 2 (line 3), column 'id'"),
    (lambda r: [(*r[0][:2], "many", *r[0][3:]), *r[1:]], "row 1 (line 2, id 'A'), column 'population'"),
    (lambda r: [*r[:2], (*r[2][:3], "n/a", *r[2][4:]), *r[3:]], "column 'median_income'"),
    (lambda r: [*r[:3], (*r[3][:4], "sometimes", *r[3][5:]), *r[4:]],
     "row 4 (line 5, id 'D'), column 'urban'"),
    (lambda r: [*r[:4], (*r[4][:7], 45)], "row 5 (line 6, id 'E'), column 'female_share'"),
])
def test_malformed_tables_name_row_and_column(tmp_path, change, expected):
    write_table(tmp_path, rows=change(list(ROWS)))
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(tmp_path))
    assert expected in str(info.value) and "hoods.csv" in str(info.value)


def test_a_spreadsheet_csv_with_semicolons_and_a_bom_reads_and_empty_cells_are_named(tmp_path):
    (tmp_path / "data").mkdir()
    csv = "\ufeffid;name;population;median_income\nA;Alpha;1000;10\nB;Beta;2000;\nC;Gamma;1500;30\n"
    (tmp_path / "data" / "hoods.csv").write_text(csv, encoding="utf-8")
    path = write_scenario(tmp_path)
    empty = r"row 2 \(line 3, id 'B'\), column 'median_income': the cell is empty"
    with pytest.raises(ScenarioError, match=empty):
        load_scenario(path)
    (tmp_path / "data" / "hoods.csv").write_text(csv.replace("2000;", "2000;20"), encoding="utf-8")
    params = load_scenario(path).run_at(0, 0).params
    assert params.population.n_neighbourhoods == 3 and params.population.n_citizens == 225


def test_missing_column_names_the_setting(tmp_path):
    write_table(tmp_path, columns=["code", *COLUMNS[1:]])
    with pytest.raises(ScenarioError, match=r"no column 'id'.*town\.id_column"):
        load_scenario(write_scenario(tmp_path))


@pytest.mark.parametrize("table", ["../outside.csv", "/etc/hosts", "data/../../x.csv", "data/none.csv"])
def test_paths_outside_the_scenario_folder_or_missing_are_refused(tmp_path, table):
    write_table(tmp_path)
    sub = tmp_path / "s"
    sub.mkdir()
    (tmp_path / "outside.csv").write_text((tmp_path / "data" / "hoods.csv").read_text())
    with pytest.raises(ScenarioError, match=r"town\.table|table ="):
        load_scenario(write_scenario(sub if table.startswith("..") else tmp_path, table))


def test_a_policy_cannot_change_the_town(tmp_path):
    write_table(tmp_path)
    extra = '[policies.other]\ntown.advantage_scale = "linear"\n'
    with pytest.raises(ScenarioError, match="set once for the whole scenario"):
        load_scenario(write_scenario(tmp_path, extra=extra))


def test_scale_too_small_for_the_neighbourhoods_is_refused(tmp_path):
    write_table(tmp_path)
    path = write_scenario(tmp_path)
    path.write_text(path.read_text().replace("scale = 0.05", "scale = 0.0001"))
    with pytest.raises(ParameterError, match="scale"):
        load_scenario(path)


def test_the_cli_reports_a_bad_table_with_exit_2_and_no_traceback(tmp_path):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    write_table(tmp_path, rows=[(*ROWS[0][:2], -3, *ROWS[0][3:]), *ROWS[1:]])
    result = CliRunner().invoke(app, ["run", str(write_scenario(tmp_path))])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "column 'population'" in result.output


@pytest.mark.parametrize("setting", ["administration_column", "age_column", "urban_column", "name_column"])
def test_an_optional_column_the_scenario_renames_must_exist(tmp_path, setting):
    # a misspelt optional column would otherwise fall back silently to the synthetic rule
    write_table(tmp_path)
    with pytest.raises(ScenarioError, match=rf"no column 'council'.*town\.{setting}"):
        load_scenario(write_scenario(tmp_path, extra=f'{setting} = "council"\n'))
    # renamed to a column that exists, it is read
    present = {"administration_column": "administration", "age_column": "age_mean", "urban_column": "urban",
               "name_column": "name"}[setting]
    load_scenario(write_scenario(tmp_path, extra=f'{setting} = "{present}"\n'))


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    # pandas would silently read the first and rename the second 'urban.1'
    write_table(tmp_path, columns=[*COLUMNS[:5], "urban", *COLUMNS[6:]])
    with pytest.raises(ScenarioError, match=r"line 1 \(the header\) names column 'urban' 2 times"):
        load_scenario(write_scenario(tmp_path))
