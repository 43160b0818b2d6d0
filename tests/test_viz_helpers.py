"""The teaching page's parts without a browser: controls from the parameter tree, the town's
layout and drawing, the live plots, the words, the `coprod viz` command's checks and the
offline settings. The page as a whole is tested in a real browser in test_viz.py."""

from __future__ import annotations

import io
import math
import os
import socket
import subprocess
import sys
import textwrap

import mesa.visualization.solara_viz as mesa_solara_viz
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from coprod_sim.cli.app import app as cli_app
from coprod_sim.names import QUINTILE_COLUMNS
from coprod_sim.params import OUTREACH_POLICIES, TREE, Param, Parameters, spec
from coprod_sim.viz import town as town_module
from coprod_sim.viz.charts import CHARTS, EfficacyChart, charts_for, series
from coprod_sim.viz.controls import (
    FEEDBACK_KEY,
    FEEDBACK_OFF,
    TownModel,
    label,
    lever_help,
    lever_keys,
    model_params,
    slider_step,
)
from coprod_sim.viz.info import INFO, lever_changes, status
from coprod_sim.viz.town import COLOUR_BY, participation_classes, town_layout, town_view

SMALL = {"population.n_citizens": 400, "population.n_neighbourhoods": 4}


def start_kwargs(base: Parameters) -> dict:
    """The keywords SolaraViz builds the first model with: controls at their starting values."""
    return {k: (v["value"] if isinstance(v, dict) else v) for k, v in model_params(base).items()}


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


# ----------------------------------------------------------------------------- controls
def test_one_control_per_slider_parameter_with_the_trees_bounds_and_values():
    base = Parameters()
    mp = model_params(base)
    flagged = [f"{g}.{n}" for g, ps in TREE.items() for n, p in ps.items() if p.slider]
    assert lever_keys() == flagged and len(flagged) >= 8
    for key in ("administration.staff_incentives", "administration.risk_aversion", "policy.outreach",
                "policy.effort_individual", "policy.effort_collective", FEEDBACK_KEY):
        assert key in flagged, f"{key} is a lever the issue asks for"
    assert mp["params"] is base
    for key in flagged:
        entry, p = mp[key.replace(".", "__")], spec(key)
        assert entry["value"] == base[key]
        if p.choices is not None:
            assert entry["type"] == "Select" and entry["values"] == list(p.choices)
        else:
            assert entry["type"] in ("SliderFloat", "SliderInt")
            assert (entry["min"], entry["max"]) == (p.low, p.high)
            k = (entry["value"] - entry["min"]) / entry["step"]
            assert abs(k - round(k)) < 1e-6, f"{key} starts off its slider's grid"
    assert mp[FEEDBACK_OFF] == {"type": "Checkbox", "label": "Virtuous cycle off (feedback strength 0)",
                                "value": False}


def test_controls_start_at_the_scenarios_values():
    base = Parameters({"policy.outreach": "targeted_area", "administration.staff_incentives": 0.37,
                       FEEDBACK_KEY: 0.0})
    mp = model_params(base)
    assert mp["policy__outreach"]["value"] == "targeted_area"
    assert mp["administration__staff_incentives"]["value"] == 0.37
    assert mp[FEEDBACK_OFF]["value"] is True


@given(low=st.integers(-1000, 1000), span_exp=st.integers(-2, 4), span_mant=st.sampled_from([1, 2, 3, 5, 8]),
       ticks=st.integers(0, 1000), is_int=st.booleans())
def test_slider_step_is_round_and_keeps_the_value_on_the_grid(low, span_exp, span_mant, ticks, is_int):
    span = span_mant * 10.0 ** span_exp
    if is_int:
        span = max(1, round(span))
    lo = low / 10 if not is_int else low
    hi = lo + span
    e = math.floor(math.log10(span / 1000))
    # the finest round step the slider may use: a value on its grid is kept exact
    finest = min(m * 10.0 ** x for x in (e, e + 1) for m in (1, 2, 5)
                 if m * 10.0 ** x >= span / 1000 * (1 - 1e-9))
    value = lo + min(ticks * (1 if is_int else finest), span)
    p = Param(default=value if not is_int else int(value), description="x", low=lo, high=hi,
              kind=int if is_int else float)
    step = slider_step(p, value)
    mantissa = step / 10.0 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5))
    if is_int:
        assert float(step).is_integer()
    else:
        assert span / 1000 - 1e-12 <= step <= span / 50 + 1e-12
        k = (value - lo) / step
        assert abs(k - round(k)) < 1e-6


def test_labels_and_help_text_come_from_the_tree():
    assert label("policy.effort_group") == "Effort (group)"
    assert label("administration.staff_incentives") == "Staff incentives"
    helps = dict(lever_help())
    for key in lever_keys():
        assert helps[label(key)].startswith(spec(key).description)
        assert spec(key).allowed() in helps[label(key)]


def test_the_info_panel_names_levers_and_choices_that_exist():
    labels = {label(k) for k in lever_keys()} | {"Virtuous cycle off"}
    for named in ("Virtuous cycle off", "Outreach", "Outreach rate", "Staff incentives", "Risk aversion"):
        assert f"**{named}**" in INFO and named in labels
    assert "*targeted_area*" in INFO and "targeted_area" in OUTREACH_POLICIES
    assert "*universal*" in INFO and "universal" in OUTREACH_POLICIES
    for heading in ("What is this?", "How it works", "What to notice", "Things to try"):
        assert heading in INFO


# ----------------------------------------------------------------------------- the page's model
def test_feedback_off_switch_sets_feedback_strength_to_zero():
    base = Parameters(SMALL)
    assert TownModel(**start_kwargs(base)).params[FEEDBACK_KEY] == base[FEEDBACK_KEY] != 0.0
    off = TownModel(**{**start_kwargs(base), FEEDBACK_OFF: True})
    assert off.params[FEEDBACK_KEY] == 0.0
    assert off.params.replace({FEEDBACK_KEY: base[FEEDBACK_KEY]}) == base


def test_reset_as_solaraviz_does_it_rebuilds_the_same_town_with_the_new_lever():
    base = Parameters(SMALL)
    model = TownModel(**start_kwargs(base))
    for _ in range(5):
        model.step()
    chosen = {**start_kwargs(base), "policy__outreach": "universal"}
    kwargs = mesa_solara_viz._build_model_init_kwargs(
        model, chosen, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    fresh = type(model)(**kwargs)
    assert fresh.state.step == 0 and fresh.params["policy.outreach"] == "universal"
    same = TownModel(**start_kwargs(base))
    assert (fresh.state.network != same.state.network).nnz == 0
    np.testing.assert_array_equal(fresh.state.citizens.self_efficacy, same.state.citizens.self_efficacy)


def test_the_pages_grid_replaces_mesas_only_for_this_page():
    import coprod_sim.viz.app as page

    assert mesa_solara_viz.make_initial_grid_layout(len(page.COMPONENTS)) == [
        {**cell, "moved": False} for cell in page.GRID]
    assert len(mesa_solara_viz.make_initial_grid_layout(3)) == 3
    cells = {(c["x"], c["y"], c["w"], c["h"]) for c in page.GRID}
    assert len(cells) == len(page.COMPONENTS)
    assert all(c["x"] + c["w"] <= 12 for c in page.GRID)


# ----------------------------------------------------------------------------- the town
@pytest.fixture(scope="module")
def town():
    model = TownModel(**start_kwargs(Parameters()))
    for _ in range(12):
        model.step()
    return model


def test_neighbourhoods_are_clusters_citizens_sit_nearest_their_own_centre(town):
    lay = town_layout(town)
    d = np.linalg.norm(lay.xy[:, None, :] - lay.hood_centre[None, :, :], axis=2)
    np.testing.assert_array_equal(d.argmin(axis=1), town.state.citizens.neighbourhood)
    assert len(lay.edges) * 2 == town.state.network.nnz
    assert lay.admin_xy.shape == (len(town.state.administrations), 2)


def test_layout_is_computed_once_per_model_not_per_frame(monkeypatch):
    calls = []
    real = town_module.compute_layout
    monkeypatch.setattr(town_module, "compute_layout", lambda m: calls.append(m) or real(m))
    model = TownModel(**start_kwargs(Parameters(SMALL)))
    view = town_view(model)
    for i in range(4):
        model.step()
        view.picture(COLOUR_BY[i % 2])
    assert town_view(model) is view and town_layout(model) is town_layout(model)
    assert len(calls) == 1
    other = TownModel(**start_kwargs(Parameters(SMALL)))
    town_view(other).picture()
    assert len(calls) == 2  # a new model (a Reset) gets its own layout


def test_town_picture_follows_the_month_and_the_colour_switch(town):
    view = town_view(town)
    eff, part = view.picture("self-efficacy"), view.picture("taking part")
    assert decode(eff).shape == decode(part).shape and decode(eff).shape[1] > 400
    assert eff != part
    assert view.picture("self-efficacy") == eff  # same month, same picture
    town.step()
    assert view.picture("self-efficacy") != eff
    with pytest.raises(ValueError, match="colour_by"):
        view.picture("income")


def test_participation_classes_follow_the_citizens_state(town):
    c = town.state.citizens
    cls = participation_classes(town)
    active = c.mode >= 0
    np.testing.assert_array_equal(cls[active], 2 + c.mode[active])
    year = (c.activity & ((1 << town.params.simulation.year_window) - 1)) != 0
    np.testing.assert_array_equal(cls[~active], year[~active].astype(int))


# ----------------------------------------------------------------------------- the plots
def test_plots_draw_the_recorded_outcomes_and_change_each_month():
    model = TownModel(**start_kwargs(Parameters(SMALL)))
    charts = charts_for(model)
    assert list(charts) == list(CHARTS)
    first = {name: c.png(model) for name, c in charts.items()}
    for _ in range(6):
        model.step()
    for name, c in charts.items():
        assert c.png(model) != first[name], name
    s = series(model)
    q = charts["quintiles"]
    for line, col in zip(q.lines, QUINTILE_COLUMNS, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), s[col][1:])
    np.testing.assert_array_equal(charts["risk_aversion"].line.get_ydata(), s["risk_aversion_mean"])
    assert charts["efficacy"].ax.get_xlim() == (0, model.params.simulation.steps)


def efficacy_gap_after(months: int, **levers) -> tuple[np.ndarray, np.ndarray, str]:
    model = TownModel(**{**start_kwargs(Parameters()), **levers})
    chart: EfficacyChart = charts_for(model)["efficacy"]
    for _ in range(months):
        model.step()
    chart.png(model)
    return np.asarray(chart.now.get_ydata()), np.asarray(chart.start.get_ydata()), chart.gain_label.get_text()


def test_feedback_off_flattens_the_participants_efficacy_curve():
    """With the cycle on, participants' efficacy rises above where they started (the green
    band); with it off, the curve is their starting efficacy: no band at all."""
    now, start, text = efficacy_gap_after(36)
    assert now[-1] - start[-1] > 0.02 and text.startswith("gain +")
    off_now, off_start, off_text = efficacy_gap_after(36, **{FEEDBACK_OFF: True})
    np.testing.assert_allclose(off_now, off_start, equal_nan=True)
    assert off_text == "gain +0.00"


# ----------------------------------------------------------------------------- words
def test_status_line_tells_the_month_the_gap_and_the_levers_changed():
    base = Parameters(SMALL)
    model = TownModel(**start_kwargs(base))
    assert status(model, base) == "Month 0 · levers as in the scenario"
    for _ in range(3):
        model.step()
    line = status(model, base)
    assert line.startswith("Month 3 · ") and "took part in the past year" in line
    changed = TownModel(**{**start_kwargs(base), FEEDBACK_OFF: True, "policy__outreach": "targeted_area",
                           "administration__risk_aversion": 0.2})
    assert lever_changes(changed.params, base) == ["virtuous cycle off", "risk aversion 0.2",
                                                    "outreach targeted_area"]
    assert status(changed, base).endswith(
        "changed: virtuous cycle off, risk aversion 0.2, outreach targeted_area")


# ----------------------------------------------------------------------------- coprod viz
runner = CliRunner()


def test_viz_refuses_a_town_too_big_to_draw():
    r = runner.invoke(cli_app, ["viz", "--citizens", "50000"])
    assert r.exit_code == 2
    assert "population.n_citizens" in r.output and "--citizens" in r.output


def test_viz_reports_a_bad_scenario_file(tmp_path):
    r = runner.invoke(cli_app, ["viz", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "missing.toml" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy]\noutreach = 'everybody'\n")
    r = runner.invoke(cli_app, ["viz", str(bad)])
    assert r.exit_code == 2 and "policy.outreach" in r.output and "targeted_area" in r.output
    assert "Traceback" not in r.output


def test_viz_reports_a_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(cli_app, ["viz", "--port", str(port)])
    assert r.exit_code == 2 and str(port) in r.output and "--port" in r.output


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_the_page_starts_from_a_scenario_file(tmp_path):
    scenario = tmp_path / "town.toml"
    scenario.write_text('name = "viz"\nseed = 7\nsteps = 48\n\n[population]\nn_citizens = 400\n'
                        'n_neighbourhoods = 4\n\n[policy]\noutreach = "targeted_area"\n')
    r = run_python("""
        import coprod_sim.viz.app as page
        from coprod_sim.viz.controls import TownModel
        base = page.MODEL_PARAMS["params"]
        print(base["simulation.seed"], base["simulation.steps"], base["population.n_citizens"],
              page.MODEL_PARAMS["policy__outreach"]["value"])
        m = TownModel(**{k: (v["value"] if isinstance(v, dict) else v) for k, v in page.MODEL_PARAMS.items()})
        m.step()
        print(m.state.citizens.n, m.state.step)
        """, COPROD_VIZ_SCENARIO=str(scenario), COPROD_VIZ_CITIZENS="300")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["7", "48", "300", "targeted_area", "300", "1"]


def test_offline_settings_silence_telemetry_and_refuse_cdn_downloads():
    r = run_python("""
        from coprod_sim.viz.server import OfflineAssetError, forbid_cdn_fetches, offline_environment
        offline_environment()
        import solara.server.settings as settings
        import solara.settings
        from solara.server import cdn_helper
        forbid_cdn_fetches()
        assert settings.telemetry.mixpanel_enable is False
        assert solara.settings.assets.proxy is True
        try:
            cdn_helper.get_path(settings.assets.proxy_cache_dir, "not-shipped@1.0.0/x.js")
        except OfflineAssetError as e:
            print("refused", e)
        # what solara-assets ships is served from disk
        print(cdn_helper.get_path(settings.assets.proxy_cache_dir, "requirejs@2.3.6/require.js").exists())
        """)
    assert r.returncode == 0, r.stderr
    assert "refused offline: https://" in r.stdout and r.stdout.strip().endswith("True")


def test_plots_survive_a_month_half_recorded_by_the_playing_thread():
    model = TownModel(**start_kwargs(Parameters(SMALL)))
    for _ in range(3):
        model.step()
    model.datacollector.model_vars["step"].append(4.0)  # as if caught mid-collection
    s = series(model)
    assert {len(v) for v in s.values()} == {4}
    for chart in charts_for(model).values():
        assert decode(chart.png(model)).ndim == 3


def test_served_page_builds_the_town_of_the_scenario_file(tmp_path):
    """`coprod viz FILE` must hand FILE to the page before the page module is imported."""
    import subprocess
    import sys
    import textwrap

    scenario = tmp_path / "town.toml"
    scenario.write_text('name = "small town"\nsteps = 12\n[parameters]\n'
                        'population.n_citizens = 350\npolicy.outreach = "universal"\n')
    probe = textwrap.dedent(f"""
        import solara.__main__ as solara_main
        from pathlib import Path

        def fake_main(args, **kw):  # stands in for the server: build the page as Solara would
            import coprod_sim.viz.app as app
            print(app.BASE["population.n_citizens"], app.BASE["policy.outreach"])

        solara_main.run.main = fake_main
        from coprod_sim.viz.server import serve
        serve(Path({str(scenario)!r}), "127.0.0.1", 8765)
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["350", "universal"]
