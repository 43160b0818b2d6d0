"""A town table with geometry: adjacency, ties that bridge neighbouring areas, maps."""

from __future__ import annotations

import numpy as np
import pytest

from coprod_sim.scenario.errors import ScenarioError
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.town.build import build_state
from coprod_sim.town.streams import Streams
from coprod_sim.town.table import town_geometry

pytest.importorskip("geopandas")


def write_grid(folder, columns=4, rows=3, suffix="geojson", crs=3857, size=1000.0):
    """Square neighbourhoods of 1 km (``size`` in the CRS's units) on a grid, advantage rising to the east."""
    import geopandas as gpd
    from shapely.geometry import box

    (folder / "data").mkdir(exist_ok=True)
    cells = [dict(id=f"h{i}_{j}", population=1000 + 50 * (i + j), income=1000.0 * i + j,
                  geometry=box(i * size, j * size, (i + 1) * size, (j + 1) * size))
             for i in range(columns) for j in range(rows)]
    path = folder / "data" / f"grid.{suffix}"
    gpd.GeoDataFrame(cells, crs=crs).to_file(path)
    return path


def scenario(folder, table="data/grid.geojson", extra=""):
    path = folder / "grid.toml"
    path.write_text(f'name = "grid"\nsteps = 6\n[town]\ntable = "{table}"\nadvantage = "income"\n'
                    f"scale = 0.5\n{extra}")
    return path


def test_adjacency_is_queen_contiguity_and_density_makes_areas_urban(tmp_path):
    write_grid(tmp_path)
    params = load_scenario(scenario(tmp_path)).run_at(0, 0).params
    geo = town_geometry(params)
    from coprod_sim.town.table import town_table

    t = town_table(params)
    indptr, _ = t.adjacency
    degree = np.diff(indptr)
    # corners touch 3, edges 5, the two inner cells 8 (borders and corners)
    assert sorted(degree.tolist()) == [3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 8, 8]
    assert len(geo) == 12 and list(geo["neighbourhood"]) == list(range(12))
    assert t.urban.all()  # about 1,000 residents per km2, above the 300 of an urban cluster


def test_geopackage_reads_as_geojson(tmp_path):
    write_grid(tmp_path, suffix="gpkg")
    write_grid(tmp_path)
    a = load_scenario(scenario(tmp_path)).run_at(0, 0).params
    b = load_scenario(scenario(tmp_path, "data/grid.gpkg")).run_at(0, 0).params
    sa, sb = (build_state(p, Streams.from_seed(1)) for p in (a, b))
    assert np.array_equal(sa.neighbourhoods.advantage, sb.neighbourhoods.advantage)
    assert (sa.network != sb.network).nnz == 0


def cross_pairs(state):
    net = state.network.tocoo()
    hood = state.citizens.neighbourhood
    cross = hood[net.row] != hood[net.col]
    return hood[net.row][cross], hood[net.col][cross]


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_bridging_ties_join_adjacent_areas_as_often_as_asked(tmp_path, share):
    write_grid(tmp_path, columns=6, rows=5)
    extra = f"adjacent_bridging = {share}\n[network]\nbridging_share = 0.2\n"
    params = load_scenario(scenario(tmp_path, extra=extra)).run_at(0, 0).params
    from coprod_sim.town.table import town_table

    indptr, indices = town_table(params).adjacency
    k = len(indptr) - 1
    touching = np.zeros((k, k), dtype=bool)
    touching[np.repeat(np.arange(k), np.diff(indptr)), indices] = True
    a, b = cross_pairs(build_state(params, Streams.from_seed(2)))
    near = touching[a, b].mean()
    chance = touching.sum() / (k * (k - 1))  # the share of pairs of areas that touch
    if share == 1.0:
        assert near == 1.0
    else:
        assert abs(near - chance) < 0.06


def test_coprod_run_writes_maps_for_a_town_with_geometry(tmp_path):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    write_grid(tmp_path)
    path = scenario(tmp_path, extra='[policies.targeted]\npolicy.outreach = "targeted_area"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--point", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "maps.png").stat().st_size > 10_000
    plain = CliRunner().invoke(app, ["run", "--steps", "2", "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0 and not (tmp_path / "plain" / "maps.png").exists()


def test_sweep_keeps_participation_by_neighbourhood_and_the_report_maps_it(tmp_path):
    from typer.testing import CliRunner

    from coprod_sim.cli.app import app

    write_grid(tmp_path)
    path = scenario(tmp_path, extra='[policies.targeted]\npolicy.outreach = "targeted_area"\n')
    out = tmp_path / "sweep"
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", str(path), "--replications", "2", "--workers", "1",
                                 "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(list((out / "runs").glob("*.hoods"))) == 4
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert (out / "figures" / "maps.png").is_file()
    text = (out / "report.md").read_text()
    assert "## Map of the town" in text and "figures/maps.png" in text


def test_a_synthetic_town_sweep_keeps_no_neighbourhood_files(tmp_path):
    from coprod_sim.sweep.task import run_task

    path = tmp_path / "plain.toml"
    path.write_text('name = "plain"\nsteps = 2\n[population]\nn_citizens = 200\n')
    outcome = run_task(next(load_scenario(path).runs()))
    assert outcome.status == "done" and outcome.hoods is None


def test_geojson_in_metres_is_refused_since_geojson_is_longitude_latitude(tmp_path):
    # GeoJSON is read as WGS 84 (RFC 7946): metres would give NaN areas (every area rural) and a
    # distorted map; each row outside the degrees' range is named instead
    import json

    path = write_grid(tmp_path, crs=3857)
    data = json.loads(path.read_text())
    data.pop("crs", None)
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=r"row 1 \(id 'h0_0'\), column 'geometry': coordinates outside"):
        load_scenario(scenario(tmp_path))
    # the same squares in degrees are accepted
    write_grid(tmp_path, crs=4326, size=0.01)
    params = load_scenario(scenario(tmp_path)).run_at(0, 0).params
    from coprod_sim.town.table import town_table

    assert town_table(params).urban.all()  # ~1 km2 squares of ~1,000 residents: finite areas


def test_a_text_in_a_numeric_geojson_property_is_named_without_a_library_warning(tmp_path):
    import json
    import warnings

    path = write_grid(tmp_path, crs=4326, size=0.01)
    data = json.loads(path.read_text())
    data["features"][4]["properties"]["population"] = "lots"
    path.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # geopandas' 'Could not parse column' reached the terminal
        with pytest.raises(ScenarioError, match=r"row 5 \(id '[^']+'\), column 'population': 'lots' is not"):
            load_scenario(scenario(tmp_path))
