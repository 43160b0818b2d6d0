"""`coprod report`: every design answered, every number traceable, damaged folders refused."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from coprod_sim.cli.app import app
from coprod_sim.report.load import file_slug
from coprod_sim.report.writer import write_report
from coprod_sim.scenario.loader import load_scenario
from coprod_sim.sweep.engine import sweep

SMALL = """\
steps = 8
seed = 5
[parameters]
population.n_citizens = 150
population.n_neighbourhoods = 4
"""
GRID = """
[sweep]
"administration.staff_incentives" = [0.1, 0.9]
"policy.outreach_rate" = [0.02, 0.2]
[policies.universal]
description = "invite everyone"
"policy.outreach" = "universal"
[policies.austerity]
"policy.capacity_scale" = 0.3
"""


def run_sweep(folder: Path, name: str, body: str, replications: int = 3) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndescription = "A test of the report."\n'
                    f"replications = {replications}\n{SMALL}{body}")
    out = folder / name
    result = sweep(load_scenario(path), out, workers=1, progress=False)
    assert result.ok
    return out


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """A 2 x 2 grid crossed with three policies, reported once; tests copy it before changing it."""
    out = run_sweep(tmp_path_factory.mktemp("grid"), "grid", GRID)
    write_report(out)
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    dest = tmp_path / folder.name
    shutil.copytree(folder, dest)
    return dest


def figure_names(folder: Path) -> set[str]:
    names = {p.stem for p in (folder / "figures").glob("*.png")}
    assert names == {p.stem for p in (folder / "figures").glob("*.svg")}
    for png in (folder / "figures").glob("*.png"):
        with Image.open(png) as im:
            assert im.size[0] > 400 and im.size[1] > 200
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 20  # not blank
    return names


CITATION = re.compile(r"[A-Z][\w'-]+(?:,? (?:&|and) [A-Z][\w'-]+)*(?: et al\.)?,? (?:1[89]|20)\d\d\b")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(%?)")


def numbers_of(text: str) -> list[tuple[str, float, int, bool]]:
    """Every number a reader sees in report.md (code spans and figure links are names, not numbers)."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"(?m)^>.*$", " ", text)  # the scenario's own description, quoted
    text = CITATION.sub(" ", text)  # a source's year is not a result
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    out = []
    for match in NUMBER.finditer(text):
        token = match.group(0)
        raw = token.rstrip("%").replace(",", "")
        digits = len(raw.split(".")[1]) if "." in raw else 0
        out.append((token, float(raw), digits, token.endswith("%")))
    return out


def assert_every_number_is_in_effects(folder: Path) -> int:
    text = (folder / "report.md").read_text()
    table = pd.read_csv(folder / "effects.csv")
    values = [float(v) for v in table.select_dtypes("number").to_numpy().ravel() if math.isfinite(v)]
    # a number written inside a text cell (a box's limits, in words) is in effects.csv too
    for cell in map(str, table.select_dtypes(exclude="number").to_numpy().ravel()):
        values += [x for _, x, _, _ in numbers_of(cell)]
    checked = 0
    for token, x, digits, _percent in numbers_of(text):
        ok = any(round(v, digits) == x or round(100 * v, digits) == x or
                 round(v, digits) == -x or round(100 * v, digits) == -x for v in values)
        assert ok, f"{token} in report.md is not a value of effects.csv"
        checked += 1
    return checked


# ====================================================================== a grid with policies
def test_grid_with_policies_answers_per_point_with_every_number_in_effects(grid):
    names = figure_names(grid)
    assert names == {"policy_levels", "policy_differences", "quintiles", "trajectories", "heatmap",
                     "point_differences", "levels", "levels_by_point"}
    text = (grid / "report.md").read_text()
    for fig in names:
        assert f"figures/{fig}.png" in text
    assert assert_every_number_is_in_effects(grid) > 100
    effects = pd.read_csv(grid / "effects.csv")
    points = effects[(effects.scope == "point") & (effects.measure == "participation_year")]
    assert len(points) == 4 * 3  # every design point, every policy
    cut = effects[(effects.scope == "policy") & (effects.measure == "participation_year")
                  & (effects.policy == "austerity")].iloc[0]
    assert cut["diff_value"] < 0 and cut["distinguishable"]  # a 70% capacity cut is clear
    assert "**austerity**: it lowers participation" in text
    assert "## Each design point" in text and "## Interactions" in text and "## Main effect" in text
    assert "150 citizens in 4 neighbourhoods" in text and "8 months" in text
    assert "no outreach" in text  # the baseline said in words
    assert "add up to more than the total" in text


def test_the_baseline_does_not_depend_on_the_outreach_budget_and_the_report_says_so(grid):
    text = (grid / "report.md").read_text()
    assert re.search(r"\*\*baseline\*\* does not depend on `policy.outreach_rate`", text)
    assert not re.search(r"\*\*universal\*\* does not depend on `policy.outreach_rate`", text)


def test_statistics_respect_each_measures_range(grid):
    e = pd.read_csv(grid / "effects.csv")
    scoped = e[e.scope.isin(["policy", "point"])]
    corr = scoped[scoped.measure == "advantage_correlation"].dropna(subset=["ci_low"])
    assert len(corr) and corr.ci_low.ge(-1).all() and corr.ci_high.le(1).all()
    shares = scoped[scoped.measure.str.startswith("participation")].dropna(subset=["ci_low"])
    assert shares.ci_low.ge(0).all() and shares.ci_high.le(1).all()
    ratio = scoped[scoped.measure == "top_bottom_ratio"].dropna(subset=["ci_low"])
    assert ratio.ci_low.gt(0).all()


def test_differences_are_rounded_from_the_raw_difference(grid):
    e = pd.read_csv(grid / "effects.csv")
    r = e[(e.scope == "policy") & (e.measure == "participation_year") & (e.policy == "universal")].iloc[0]
    text = (grid / "report.md").read_text()
    assert f"{round(100 * r.diff_value, 1) + 0.0:+.1f} points" in text


def test_html_report_is_self_contained(grid):
    page = (grid / "report.html").read_text()
    assert "data:image/svg+xml;base64," in page and 'src="figures/' not in page
    assert not re.search(r"(src|href)=\"https?:", page)
    assert "@media print" in page


# ====================================================================== other designs
def test_sobol_design_reports_indices_with_intervals_in_words(tmp_path):
    out = run_sweep(tmp_path, "sobol", """
[sweep]
design = "sobol"
samples = 4
"policy.capacity_scale" = { low = 0.1, high = 1.5 }
"policy.information_campaign" = { low = 0.0, high = 1.0 }
""", replications=1)
    write_report(out)
    assert "sobol" in figure_names(out)
    text = (out / "report.md").read_text()
    assert "Sobol' indices" in text and "matters most" in text and "variance" in text
    e = pd.read_csv(out / "effects.csv")
    s = e[e.scope.str.startswith("sobol")]
    assert set(s.parameter) == {"policy.capacity_scale", "policy.information_campaign"}
    assert s.ci_low.ge(0).all() and s.ci_high.le(1).all()
    assert_every_number_is_in_effects(out)


def test_latin_hypercube_reports_partial_rank_correlations(tmp_path):
    out = run_sweep(tmp_path, "lhs", '[sweep]\ndesign = "latin_hypercube"\nsamples = 8\n'
                    '"policy.capacity_scale" = { low = 0.1, high = 2.0 }\n'
                    '"policy.information_campaign" = { low = 0.0, high = 1.0 }\n', replications=2)
    write_report(out)
    assert {"prcc", "scatter"} <= figure_names(out)
    e = pd.read_csv(out / "effects.csv")
    prcc = e[(e.scope == "prcc") & (e.measure == "participation_year")].set_index("parameter")
    assert prcc.loc["policy.capacity_scale", "value"] > 0  # more capacity, more participation
    assert e[e.scope == "prcc"].dropna(subset=["ci_low"]).ci_low.ge(-1).all()
    assert "partial rank correlation" in (out / "report.md").read_text()
    assert_every_number_is_in_effects(out)


def test_one_at_a_time_shows_response_curves_with_bands_and_success_rates(tmp_path):
    out = run_sweep(tmp_path, "oat", '[sweep]\ndesign = "one_at_a_time"\n'
                    '"policy.capacity_scale" = [0.3, 1.0, 2.0]\n'
                    '"administration.staff_incentives" = [0.0, 1.0]\n', replications=2)
    write_report(out)
    assert "response" in figure_names(out)
    text = (out / "report.md").read_text()
    assert "Raising `policy.capacity_scale` from 0.3 to 2" in text and "success rate" in text
    assert_every_number_is_in_effects(out)


# ====================================================================== damaged folders, names, files
DAMAGE = {
    "manifest {}": ("manifest.json", lambda p: p.write_text("{}"), "no 'scenario'"),
    "manifest []": ("manifest.json", lambda p: p.write_text("[]"), "JSON list"),
    "manifest not JSON": ("manifest.json", lambda p: p.write_text("{not json"), "JSON"),
    "manifest without policies": ("manifest.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "scenario": {**json.loads(p.read_text())["scenario"],
                                                   "policies": []}})), "no list of policies"),
    "runs without status": ("runs.parquet", lambda p: pd.read_parquet(p).drop(columns="status")
                            .to_parquet(p), "status"),
    "garbage timeseries": ("timeseries.parquet", lambda p: p.write_bytes(b"garbage" * 100),
                           "not a readable Parquet"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_sweep_folder_exits_2_naming_the_file_and_keeps_the_old_report(grid, tmp_path, case):
    folder = copy_of(grid, tmp_path)
    name, damage, said = DAMAGE[case]
    damage(folder / name)
    before = {p.name: p.read_bytes() for p in (folder / "figures").iterdir()}
    old_md = (folder / "report.md").read_text()
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert name in message and said in message and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in (folder / "figures").iterdir()} == before
    assert (folder / "report.md").read_text() == old_md
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_report_of_a_folder_without_a_sweep_exits_2(tmp_path):
    for folder in (tmp_path, tmp_path / "missing"):
        result = CliRunner().invoke(app, ["report", str(folder)])
        assert result.exit_code == 2
        assert str(folder) in " ".join(result.output.split())


def test_a_policy_named_as_a_path_writes_nothing_outside_the_folder(grid, tmp_path):
    folder = copy_of(grid, tmp_path / "inside")
    evil = "x/../../../ESCAPED"
    manifest = json.loads((folder / "manifest.json").read_text())
    for p in manifest["scenario"]["policies"]:
        if p["name"] == "universal":
            p["name"] = evil
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for table in ("runs.parquet", "timeseries.parquet"):
        t = pd.read_parquet(folder / table)
        t["policy"] = t["policy"].replace("universal", evil)
        t.to_parquet(folder / table)
    before = set(tmp_path.rglob("*")) - set(folder.rglob("*"))
    write_report(folder)
    assert set(tmp_path.rglob("*")) - set(folder.rglob("*")) == before
    assert evil in (folder / "report.md").read_text()
    assert "/" not in file_slug(evil) and ".." not in file_slug(evil)
    assert file_slug(evil) != file_slug("x/../../../ESCAPEd")


def test_new_figures_replace_old_ones_and_a_users_own_file_stays(grid, tmp_path):
    folder = copy_of(grid, tmp_path)
    (folder / "figures" / "notes.txt").write_text("mine")
    (folder / "figures" / "sobol.png").write_bytes(b"an old design's figure")
    write_report(folder)
    assert (folder / "figures" / "notes.txt").read_text() == "mine"
    assert not (folder / "figures" / "sobol.png").exists()


def test_result_files_follow_the_umask(grid, tmp_path):
    folder = copy_of(grid, tmp_path)
    old = os.umask(0o027)
    try:
        write_report(folder)
    finally:
        os.umask(old)
    for path in [folder / "report.md", folder / "report.html", folder / "effects.csv",
                 *(folder / "figures").glob("*.png")]:
        assert path.stat().st_mode & 0o777 == 0o640, path
    assert (folder / "figures").stat().st_mode & 0o777 == 0o750


def test_a_report_is_refused_while_another_command_holds_the_folder(grid, tmp_path):
    from coprod_sim.report.writer import write_report
    from coprod_sim.sweep.errors import SweepError
    from coprod_sim.sweep.lock import folder_lock

    folder = copy_of(grid, tmp_path)
    before = (folder / "report.md").read_text()
    with folder_lock(folder, "coprod sweep"), pytest.raises(SweepError, match="in use by"):
        write_report(folder)
    assert (folder / "report.md").read_text() == before
    write_report(folder)  # released: the report goes through


# ====================================================================== levels of involvement
LEVELS_BODY = """
[sweep]
"administration.risk_aversion" = [0.2, 0.8]
[policies.open]
description = "waive the control screening of designer and initiator offers"
"policy.codesign_openness" = 1.0
[policies.open_call]
"policy.codesign_seats" = 20.0
"policy.seat_selection" = "open_call"
[policies.sortition]
"policy.codesign_seats" = 20.0
"policy.seat_selection" = "sortition"
"""


def test_levels_of_involvement_are_answered_by_policy_level_point_and_seat(tmp_path):
    path = tmp_path / "levels.toml"
    path.write_text('name = "levels"\nreplications = 3\nsteps = 12\nseed = 3\n[parameters]\n'
                    f'population.n_citizens = 600\npopulation.n_neighbourhoods = 4\n{LEVELS_BODY}')
    out = tmp_path / "levels"
    assert sweep(load_scenario(path), out, workers=1, progress=False).ok
    write_report(out)
    assert {"levels", "levels_by_point", "seats"} <= figure_names(out)
    text = (out / "report.md").read_text()
    for heading in ("## Levels of involvement", "### By policy and level", "### By mode and level",
                    "### At each design point", "## Co-design seats: who sits, who declines"):
        assert heading in text
    assert "levels of involvement" in text.split("## How to read the measures")[1]  # glossary
    e = pd.read_csv(out / "effects.csv")
    pol = e[e.scope == "policy"]
    # every level and mode x level measure, for every policy, with differences from the baseline
    for col in ("participation_year_designer", "top_bottom_ratio_initiator", "concentration_index_executor",
                "participation_year_group_designer", "high_level_share", "advantaged_high_level_share"):
        assert set(pol[pol.measure == col].policy) == {"baseline", "open", "open_call", "sortition"}
    opened = pol[(pol.measure == "high_level_share") & (pol.policy == "open")].iloc[0]
    assert opened.diff_value > 0 and opened.distinguishable  # opening co-design shares more control
    seats = e[e.scope == "seats"]
    assert set(seats.policy) == {"sortition"} and set(seats.compared_with) == {"open_call"}
    # four bias measures (ratio, concentration, area correlation, output share) x two higher levels x policies
    assert len(e[e.scope == "level gap"]) == 4 * 2 * 4
    for col in ("advantage_correlation_designer", "advantaged_output_share_executor",
                "concentration_index_group_designer"):  # the area measures by level, mode x level
        assert set(pol[pol.measure == col].policy) == {"baseline", "open", "open_call", "sortition"}
        assert f"`{col.rsplit('_', 1)[0]}_" in text.split("## How to read the measures")[1] or col in text
    assert "concentration_index_group_designer" in set(seats.measure)
    dep = e[e.scope == "policy x parameter"]
    assert set(dep.parameter) == {"administration.risk_aversion"}
    assert_every_number_is_in_effects(out)


def test_terminal_headline_says_no_change_for_an_exactly_zero_difference():
    from types import SimpleNamespace

    from coprod_sim.report.markdown import headline
    from coprod_sim.report.measures import CONCENTRATION, PARTICIPATION_M

    row = {"diff_n": 5, "distinguishable": False}
    rows = SimpleNamespace(policy={(PARTICIPATION_M.column, "same"): {**row, "diff_value": 0.0},
                                   (CONCENTRATION.column, "same"): {**row, "diff_value": 0.004}})
    line = headline(SimpleNamespace(), rows, "same")
    assert "no change" in line.split(";")[0] and "+0.0" not in line.split(";")[0], line
    assert "not distinguishable from noise" in line.split(";")[1], line
