"""The teaching page's parts without a browser: controls from the parameter tree, the town
per session (reset, end of run, register of sessions), the town's layout and drawing, the live
plots and the event study of the virtuous cycle, the words in two languages, the `coprod viz`
command's checks and the offline settings. The page as a whole is tested in a real browser in
test_viz.py."""

from __future__ import annotations

import io
import math
import os
import socket
import string
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from coprod_sim.cli.app import app as cli_app
from coprod_sim.names import LEVELS, QUINTILE_COLUMNS
from coprod_sim.params import TREE, Param, Parameters, spec
from coprod_sim.viz import charts as charts_module
from coprod_sim.viz import server as server_module
from coprod_sim.viz import session as session_module
from coprod_sim.viz import town as town_module
from coprod_sim.viz.charts import (
    CHARTS,
    WHO,
    ConcentrationChart,
    advantaged_share,
    make_charts,
    series,
    shown_charts,
)
from coprod_sim.viz.controls import (
    FEEDBACK_KEY,
    FEEDBACK_OFF,
    TownModel,
    control,
    label,
    lever_keys,
    slider_step,
)
from coprod_sim.viz.cycle import CycleTracker, match_nearest
from coprod_sim.viz.i18n import LANGUAGES, MESSAGES, count, number, percent, pick_language, t
from coprod_sim.viz.info import RATIO_FROM_MONTH, info_markdown, lever_changes, status
from coprod_sim.viz.session import Town, initial_levers, model_kwargs
from coprod_sim.viz.town import TownView, participation_classes, town_layout

SMALL = {"population.n_citizens": 400, "population.n_neighbourhoods": 4}


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ----------------------------------------------------------------------------- controls
def test_one_control_per_slider_parameter_with_the_trees_bounds_and_values():
    base = Parameters()
    flagged = [f"{g}.{n}" for g, ps in TREE.items() for n, p in ps.items() if p.slider]
    assert lever_keys() == flagged and len(flagged) >= 8
    for key in ("administration.staff_incentives", "administration.risk_aversion", "policy.outreach",
                "policy.effort_individual", "policy.effort_collective", FEEDBACK_KEY):
        assert key in flagged, f"{key} is a lever the issue asks for"
    levers = initial_levers(base)
    assert set(levers) == {FEEDBACK_OFF, *flagged}
    for key in flagged:
        entry, p = control(key, levers[key]), spec(key)
        assert entry["value"] == base[key]
        if p.choices is not None:
            assert entry["type"] == "Select" and entry["values"] == list(p.choices)
        else:
            assert entry["type"] in ("SliderFloat", "SliderInt")
            assert (entry["min"], entry["max"]) == (p.low, p.high)
            k = (entry["value"] - entry["min"]) / entry["step"]
            assert abs(k - round(k)) < 1e-6, f"{key} starts off its slider's grid"


def test_controls_start_at_the_scenarios_values():
    base = Parameters({"policy.outreach": "targeted_area", "administration.staff_incentives": 0.37,
                       FEEDBACK_KEY: 0.0})
    levers = initial_levers(base)
    assert levers["policy.outreach"] == "targeted_area"
    assert levers["administration.staff_incentives"] == 0.37
    assert levers[FEEDBACK_OFF] is True


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



# ----------------------------------------------------------------------------- the session's town
def test_feedback_off_switch_sets_feedback_strength_to_zero():
    base = Parameters(SMALL)
    levers = initial_levers(base)
    assert TownModel(**model_kwargs(base, levers)).params[FEEDBACK_KEY] == base[FEEDBACK_KEY] != 0.0
    off = TownModel(**model_kwargs(base, {**levers, FEEDBACK_OFF: True}))
    assert off.params[FEEDBACK_KEY] == 0.0
    assert off.params.replace({FEEDBACK_KEY: base[FEEDBACK_KEY]}) == base


def test_reset_rebuilds_the_same_town_with_the_new_lever_and_keeps_the_drawings(monkeypatch):
    calls = []
    real = town_module.compute_layout
    monkeypatch.setattr(town_module, "compute_layout", lambda m: calls.append(m) or real(m))
    town_module._layouts.clear()
    base = Parameters({**SMALL, "simulation.seed": 99})
    town = Town(base, "en")
    town.picture()
    view, charts = town.view, [town.chart_png(n) for n in CHARTS] and town.charts
    assert set(charts) == set(CHARTS)
    for _ in range(5):
        town.step()
    start = town.model.state.citizens.self_efficacy
    town.reset({**town.applied, "policy.outreach": "universal"})
    assert town.month == 0 and town.model.params["policy.outreach"] == "universal"
    fresh = TownModel(**model_kwargs(base, initial_levers(base)))
    assert (town.model.state.network != fresh.state.network).nnz == 0
    np.testing.assert_array_equal(town.model.state.citizens.self_efficacy, fresh.state.citizens.self_efficacy)
    assert start is not town.model.state.citizens.self_efficacy
    town.picture()
    for name in CHARTS:
        town.chart_png(name)
    assert town.view is view and len(calls) == 1  # nothing redrawn from scratch
    assert all(town.charts[name] is charts[name] for name in CHARTS)
    assert town.view.model is town.model


def test_the_run_ends_at_its_last_month_and_says_so():
    base = Parameters({**SMALL, "simulation.steps": 3})
    town = Town(base, "en")
    assert [town.step() for _ in range(5)] == [True, True, True, False, False]
    assert town.finished and town.month == 3
    assert t("finished", "en", month=town.month) == "Run finished at month 3: press Reset to start again."
    town.reset(town.applied)
    assert not town.finished and town.step()


def test_the_register_caps_sessions_and_frees_a_closed_one(monkeypatch):
    monkeypatch.setattr(session_module, "SESSIONS", {})
    monkeypatch.setattr(session_module.LIMITS, "max_sessions", 2)
    # not a real give-back 5 s later: it would run in the middle of another test of this worker
    monkeypatch.setattr(session_module, "give_back_memory_soon", lambda: None)
    base = Parameters(SMALL)
    a = session_module.open_town("a", base, "en")
    assert session_module.open_town("a", base, "en") is a
    b = session_module.open_town("b", base, "fr")
    assert b is not a and b.model is not a.model and b.lang == "fr"
    assert session_module.open_town("c", base, "en") is None  # the class is full
    a.step()
    assert a.month == 1 and b.month == 0  # isolation
    session_module.close_session("a")
    assert a.model is None and session_module.session_count() == 1
    assert session_module.open_town("c", base, "en") is not None


def test_idle_towns_are_put_away_and_reset_brings_them_back(monkeypatch):
    monkeypatch.setattr(session_module, "SESSIONS", {})
    town = session_module.open_town("idle", Parameters(SMALL), "en")
    playing = session_module.open_town("playing", Parameters(SMALL), "en")
    playing.playing = True
    later = town.last_active + 60 * session_module.LIMITS.idle_minutes + 1
    assert session_module.put_away_idle(now=later) == 1
    assert town.put_away and not town.step() and not playing.put_away
    town.reset(town.applied)
    assert town.step() and town.month == 1


def test_memory_is_given_back_a_few_times_once_the_last_town_has_closed(monkeypatch):
    monkeypatch.setattr(session_module, "SESSIONS", {})
    given = []
    monkeypatch.setattr(session_module, "give_back_memory", lambda: given.append(1))
    monkeypatch.setattr(session_module, "give_back_memory_soon", lambda: None)
    monkeypatch.setattr(session_module, "retire_idle_threads", lambda: 0)
    monkeypatch.setattr(session_module, "_passes_left", 0)
    monkeypatch.setattr(session_module, "_last_pass", -math.inf)
    for name in ("a", "b"):
        session_module.open_town(name, Parameters(SMALL), "en")
    assert not session_module.give_back_after_the_class()  # nobody has left
    session_module.close_session("a")
    later = time.monotonic() + session_module.THREADS_IDLE_AFTER
    assert not session_module.give_back_after_the_class(later) and not given  # b is still there
    session_module.close_session("b")
    assert not session_module.give_back_after_the_class() and not given  # threads not idle yet
    later = time.monotonic() + session_module.THREADS_IDLE_AFTER
    assert session_module.give_back_after_the_class(later) and given == [1]  # the class has left
    assert not session_module.give_back_after_the_class(later + 1) and given == [1]  # not at once
    step = session_module.THREADS_IDLE_AFTER
    passes = [session_module.give_back_after_the_class(later + k * step) for k in range(1, 5)]
    assert passes == [True, True, False, False] and len(given) == session_module.AFTER_CLASS_PASSES


def test_a_class_leaving_drops_the_plots_widened_ranges_but_not_their_first():
    town = Town(Parameters(SMALL), "en")
    first = town.chart_frame("concentration")["still"]
    town._on_chart("concentration", lambda chart: chart.widen(np.array([0.95])))
    town.chart_frame("concentration")
    chart = town.charts["concentration"]
    assert len(chart.blitter._stills) >= 2
    charts_module.forget_widened_ranges()
    assert list(chart.blitter._stills) == [chart.ylim]
    assert Town(Parameters(SMALL), "en").chart_frame("concentration")["still"] is first  # kept


def test_the_servers_idle_threads_are_retired_after_the_class(monkeypatch):
    import anyio
    import anyio.to_thread
    from anyio._backends import _asyncio

    monkeypatch.setattr(_asyncio.WorkerThread, "MAX_IDLE_TIME", 0.05)
    before = sum(isinstance(th, _asyncio.WorkerThread) for th in threading.enumerate())
    served, stop = threading.Event(), threading.Event()

    async def server() -> None:
        tabs = threading.Barrier(6)  # six tabs served at once: six worker threads
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(anyio.to_thread.run_sync, tabs.wait)
        served.set()
        while not stop.is_set():
            await anyio.sleep(0.01)

    def workers() -> int:
        return sum(isinstance(th, _asyncio.WorkerThread) for th in threading.enumerate()) - before

    loop = threading.Thread(target=anyio.run, args=(server,), daemon=True)
    loop.start()
    try:
        assert served.wait(30)
        assert workers() == 6  # the tabs have closed; their threads stay
        time.sleep(0.1)
        assert session_module.retire_idle_threads() >= 1
        deadline = time.monotonic() + 30
        while workers() > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert workers() == 1  # the one that ran the errand is the only one left
    finally:
        stop.set()
        loop.join(30)


# ----------------------------------------------------------------------------- the town
@pytest.fixture(scope="module")
def town():
    t = Town(Parameters(), "en")
    for _ in range(12):
        t.step()
    return t


def test_neighbourhoods_are_clusters_citizens_sit_nearest_their_own_centre(town):
    model = town.model
    lay = town_layout(model)
    d = np.linalg.norm(lay.xy[:, None, :] - lay.hood_centre[None, :, :], axis=2)
    np.testing.assert_array_equal(d.argmin(axis=1), model.state.citizens.neighbourhood)
    assert len(lay.edges) * 2 == model.state.network.nnz
    assert lay.admin_xy.shape == (len(model.state.administrations), 2)


def test_a_one_neighbourhood_town_is_a_disc_poorest_at_the_centre_without_a_spring_layout(monkeypatch):
    monkeypatch.setattr(town_module.nx, "spring_layout", lambda *a, **k: pytest.fail("spring layout"))
    model = TownModel(params=Parameters({"population.n_citizens": 1000, "population.n_neighbourhoods": 1}))
    lay = town_module.compute_layout(model)
    r = np.linalg.norm(lay.xy - lay.hood_centre[0], axis=1)
    assert r.max() <= 0.93 * lay.hood_radius[0]
    assert np.corrcoef(r, model.state.citizens.ses_rank)[0, 1] > 0.95
    view = TownView(model, "en")
    view.picture()
    assert "one neighbourhood" in view.title.get_text()
    one = info_markdown("en", 1, 120)
    assert "area 1" not in one and "single neighbourhood" in one
    assert "area 8 the richest" in info_markdown("en", 8, 120)


def test_town_picture_follows_the_month_and_the_colour_switch(town):
    eff, part = town.picture("self-efficacy"), town.picture("taking part")
    assert decode(eff).shape == decode(part).shape and decode(eff).shape[1] > 400
    assert eff != part
    assert town.picture("self-efficacy") == eff  # same month, same picture
    town.step()
    assert town.picture("self-efficacy") != eff
    with pytest.raises(ValueError, match="colour_by"):
        town.picture("income")


def test_participation_classes_follow_the_citizens_state(town):
    model = town.model
    c = model.state.citizens
    cls = participation_classes(model)
    active = c.mode >= 0
    np.testing.assert_array_equal(cls[active], 2 + c.mode[active])
    year = (c.activity & ((1 << model.params.simulation.year_window) - 1)) != 0
    np.testing.assert_array_equal(cls[~active], year[~active].astype(int))


# ----------------------------------------------------------------------------- the plots
def test_plots_draw_the_recorded_outcomes_and_change_each_month():
    town = Town(Parameters(SMALL), "en")
    first = {name: town.chart_png(name) for name in CHARTS}
    for _ in range(6):
        town.step()
    for name in CHARTS:
        assert town.chart_png(name) != first[name], name
    s = series(town.model)
    q = town.charts["quintiles"]
    for line, col in zip(q.lines, QUINTILE_COLUMNS, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), s[col][1:])
    assert town.charts["efficacy"].ax.get_xlim() == (0, town.model.params.simulation.steps)
    _, first_timers, _ = town.cycle.curves()
    np.testing.assert_array_equal(town.charts["cycle"].first.get_ydata(), first_timers)


def test_towns_share_the_plots_but_each_keeps_its_own_y_range():
    wide, plain = Town(Parameters(SMALL), "en"), Town(Parameters(SMALL), "en")
    plain_first = plain.chart_frame("concentration")
    wide._on_chart("concentration", lambda chart: chart.widen(np.array([0.9])))  # its data outgrew the axis
    assert wide.charts["concentration"] is plain.charts["concentration"]  # one figure for the server
    wide_frame, plain_frame = wide.chart_frame("concentration"), plain.chart_frame("concentration")
    assert wide.ylims["concentration"][1] > 0.9
    assert plain.ylims["concentration"] == ConcentrationChart.ylim  # not widened by the other town
    assert plain_frame["still"] is plain_first["still"] and wide_frame["still"] != plain_frame["still"]
    line = next(m for m in plain_frame["marks"] if m["kind"] == "line")
    assert line == next(m for m in plain_first["marks"] if m["kind"] == "line")  # its pixels unchanged
    wide.reset(wide.applied)
    assert wide.ylims == {}  # a new run starts from the first y range


def test_a_reset_chart_is_back_to_its_first_y_range():
    chart = make_charts(120, "en")["concentration"]
    chart.widen(np.array([0.9]))
    assert chart.ax.get_ylim()[1] > 0.9
    chart.reset()
    assert chart.ax.get_ylim() == chart.ylim


def test_plots_survive_a_month_half_recorded_by_the_playing_thread():
    town = Town(Parameters(SMALL), "en")
    for _ in range(3):
        town.step()
    town.model.datacollector.model_vars["step"].append(4.0)  # as if caught mid-collection
    s = series(town.model)
    assert {len(v) for v in s.values()} == {4}
    for name in CHARTS:
        assert decode(town.chart_png(name)).ndim == 3


# ----------------------------------------------------------------------------- painted in the browser
def data_uri_image(uri: str) -> np.ndarray:
    import base64

    assert uri.startswith("data:image/png;base64,")
    return decode(base64.b64decode(uri.split(",", 1)[1]))


def test_a_plot_sent_to_the_browser_is_its_still_frame_and_its_lines_in_pixels():
    """The browser paints the marks over the still: each line's points, read back through the
    axes, are the recorded outcomes; the still is made once per y range."""
    import json

    town = Town(Parameters(SMALL), "en")
    for _ in range(8):
        town.step()
    for name in CHARTS:
        frame = town.chart_frame(name)
        json.dumps(frame, allow_nan=False)  # what the page sends must be valid JSON
        chart = town.charts[name]
        assert data_uri_image(frame["still"]).shape == (frame["height"], frame["width"], 3)
        assert town.chart_frame(name)["still"] is frame["still"]  # not made again
        lines = [m for m in frame["marks"] if m["kind"] == "line"]
        drawn = [a for a in chart.moving() if hasattr(a, "get_ydata")]
        assert len(lines) == len(drawn) >= 1
        for mark, line in zip(lines, drawn, strict=True):
            xy = np.asarray([p for p in mark["points"] if p is not None], dtype=float).reshape(-1, 2)
            xy[:, 1] = frame["height"] - xy[:, 1]
            back = chart.ax.transData.inverted().transform(xy)
            keep = np.isfinite(np.asarray(line.get_ydata(), dtype=float))
            np.testing.assert_allclose(back[:, 0], np.asarray(line.get_xdata())[keep], atol=0.5)
            ylo, yhi = chart.ax.get_ylim()
            np.testing.assert_allclose(back[:, 1], np.asarray(line.get_ydata())[keep],
                                       atol=0.02 * (yhi - ylo))
            assert mark["colour"].startswith("#") and mark["width"] > 0


def test_the_town_sent_to_the_browser_is_one_colour_per_citizen_at_its_place():
    import base64

    town = Town(Parameters(SMALL), "en")
    for _ in range(5):
        town.step()
    for colour_by in ("self-efficacy", "taking part"):
        frame = town.town_frame(colour_by)
        index = np.frombuffer(base64.b64decode(frame["colours"]), dtype=np.uint8)
        xy = np.frombuffer(base64.b64decode(frame["dots"]["xy"]), dtype="<u2").reshape(-1, 2)
        assert len(index) == len(xy) == town.model.state.citizens.n
        assert index.max() < len(frame["dots"]["palette"])
        assert (xy[:, 0] < frame["width"]).all() and (xy[:, 1] < frame["height"]).all()
        assert frame["month"] == 5
        texts = [m["text"] for m in frame["marks"]]
        assert any(s.startswith("Month 5:") for s in texts)
    np.testing.assert_array_equal(index, participation_classes(town.model))
    # each citizen's place is nearest its own neighbourhood's centre, as on the still
    lay = town_layout(town.model)
    centres = town.view.ax.transData.transform(lay.hood_centre)
    centres[:, 1] = frame["height"] - centres[:, 1]
    nearest = np.linalg.norm(xy[:, None, :] - centres[None, :, :], axis=2).argmin(axis=1)
    np.testing.assert_array_equal(nearest, town.model.state.citizens.neighbourhood)


def test_tabs_closed_together_give_memory_back_once(monkeypatch):
    import threading

    calls = []
    done = threading.Event()
    monkeypatch.setattr(session_module, "give_back_memory", lambda: calls.append(1) or done.set())
    monkeypatch.setattr(session_module, "_give_back", None)
    for _ in range(30):
        session_module.give_back_memory_soon(delay=0.2)
    assert done.wait(10)
    session_module._give_back.join(5)
    assert calls == [1]
    session_module.give_back_memory_soon(delay=0.01)  # a later tab: a new one
    session_module._give_back.join(5)
    assert calls == [1, 1]


# ----------------------------------------------------------------------------- a town drawn as a map
def test_a_town_from_a_table_with_geometry_is_drawn_as_a_map_citizens_inside_their_area():
    import shapely

    from coprod_sim.scenario.loader import load_scenario

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "georgia.toml"
    base = load_scenario(scenario).base_parameters().replace({"population.n_citizens": 600})
    town = Town(base, "en")
    assert town.areas() == (159, True)
    lay = town_layout(town.model)
    assert lay.outlines is not None and {k for k, _ in lay.outlines} == set(range(159))
    hood = town.model.state.citizens.neighbourhood
    for k in np.unique(hood):
        shape = shapely.union_all([shapely.Polygon(ring) for j, ring in lay.outlines if j == k])
        inside = shapely.contains_xy(shape.buffer(1e-9), lay.xy[hood == k, 0], lay.xy[hood == k, 1])
        assert inside.all(), f"a citizen of area {k} drawn outside it"
    frame = town.town_frame("taking part")
    assert data_uri_image(frame["still"]).shape[:2] == (frame["height"], frame["width"])
    assert not any("area 1" in m["text"] for m in frame["marks"])
    assert "159 neighbourhoods" in info_markdown("en", *town.areas(), 120)
    assert "159 quartiers" in info_markdown("fr", *town.areas(), 120)


# ----------------------------------------------------------------------------- levels of involvement
def test_the_levels_levers_are_on_the_page_and_reach_the_model():
    for key in ("policy.codesign_openness", "policy.initiative_support", "policy.digital_share"):
        assert key in lever_keys()
        for lang in LANGUAGES:
            assert t(f"lever.{key}", lang) and t(f"lever.{key}.help", lang)
    base = Parameters(SMALL)
    shares = {}
    for openness in (0.0, 1.0):
        town = Town(base, "en")
        town.reset({**town.applied, "policy.codesign_openness": openness,
                    "policy.initiative_support": openness})
        assert town.model.params["policy.codesign_openness"] == openness
        for _ in range(36):
            town.step()
        s = series(town.model, [f"participation_year_{lv}" for lv in LEVELS[1:]])
        shares[openness] = sum(s[f"participation_year_{lv}"][-12:].mean() for lv in LEVELS[1:])
    assert shares[1.0] > shares[0.0]  # sharing control and supporting initiatives: more design


def test_the_levels_plot_draws_participation_by_level_in_the_third_place():
    assert shown_charts("quintiles")[2] == "quintiles" and shown_charts("levels")[2] == "levels"
    assert all(len(shown_charts(w)) == 4 for w in WHO)
    with pytest.raises(ValueError, match="who"):
        shown_charts("age")
    town = Town(Parameters(SMALL), "en")
    for _ in range(14):
        town.step()
    town.chart_frame("levels")
    chart = town.charts["levels"]
    s = series(town.model)
    for line, lv in zip(chart.lines, LEVELS, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), s[f"participation_year_{lv}"][1:])
    assert "better-off half" in chart.note.get_text()
    town.set_language("fr")
    town.chart_frame("levels")
    assert "moitié aisée" in town.charts["levels"].note.get_text()


def test_the_better_off_share_of_design_work_weights_months_by_their_episodes():
    n = 14
    s = {"step": np.arange(n, dtype=float), "participation": np.full(n, 0.2),
         "high_level_share": np.zeros(n), "advantaged_high_level_share": np.full(n, np.nan)}
    assert advantaged_share(s, 12) is None  # no design or initiative episode
    s["high_level_share"][-2:] = [0.1, 0.3]
    s["advantaged_high_level_share"][-2:] = [1.0, 0.5]
    assert advantaged_share(s, 12) == pytest.approx((0.1 * 1.0 + 0.3 * 0.5) / 0.4)
    assert advantaged_share({k: v[:12] for k, v in s.items()}, 12) is None  # before a year


# ----------------------------------------------------------------------------- the cycle itself
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=30),
       treated=st.lists(st.floats(0, 1), max_size=10))
def test_matching_picks_the_nearest_member_of_the_pool(values, treated):
    pool = np.arange(100, 100 + len(values))
    pool_value, treated = np.asarray(values), np.asarray(treated)
    got = match_nearest(treated, pool, pool_value)
    for x, g in zip(treated, got, strict=True):
        assert abs(pool_value[g - 100] - x) == pytest.approx(np.abs(pool_value - x).min())


def cycle_after(months: int, off: bool) -> tuple[float, float]:
    """(effect of taking part by month 12 of the event study, participants' efficacy gap)."""
    town = Town(Parameters(), "en")
    town.reset({**town.applied, FEEDBACK_OFF: off})
    for _ in range(months):
        town.step()
    row = town.model.latest
    return town.cycle.effect()[1], row["efficacy_participants"] - row["efficacy_non_participants"]


def test_the_event_study_separates_the_cycle_from_selection():
    """With feedback off taking part changes no one's self-efficacy: the matched effect is
    nil, yet participants stay far above the rest (selection). With it on, the effect is
    positive but most of the gap is still selection."""
    effect_off, gap_off = cycle_after(48, off=True)
    effect_on, gap_on = cycle_after(48, off=False)
    assert abs(effect_off) < 0.01 and gap_off > 0.2
    assert effect_on > 0.02 and gap_on > 2 * effect_on


def test_the_tracker_follows_first_timers_once():
    town = Town(Parameters(SMALL), "en")
    tracker = CycleTracker(town.model.state.citizens)
    seen = set()
    for _ in range(12):
        town.model.step()
        before = len(tracker.treated)
        tracker.update(town.model.state.citizens)
        new = set(tracker.treated[before:].tolist())
        assert not new & seen
        seen |= new
        assert (town.model.state.citizens.episodes[tracker.treated] > 0).all()
    assert tracker.n[0] >= tracker.n[1:].max(initial=0)


# ----------------------------------------------------------------------------- words, two languages
def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_string_has_both_languages_with_the_same_fields():
    assert set(LANGUAGES) == set(MESSAGES) == {"en", "fr"}
    assert set(MESSAGES["en"]) == set(MESSAGES["fr"])
    for key in MESSAGES["en"]:
        assert fields(MESSAGES["en"][key]) == fields(MESSAGES["fr"][key]), key
    same = {k for k in MESSAGES["en"] if MESSAGES["en"][k] == MESSAGES["fr"][k]}
    assert same <= {"button.pause", "town.admin", "title_short"}, same
    for key in lever_keys():
        for lang in LANGUAGES:
            assert MESSAGES[lang][f"lever.{key}"] and MESSAGES[lang][f"lever.{key}.help"], (lang, key)
        for choice in spec(key).choices or ():
            assert f"choice.{choice}" in MESSAGES["fr"], choice


def test_english_lever_names_and_help_come_from_the_tree():
    assert label("policy.effort_group") == "Effort (group)"
    for key in lever_keys():
        assert t(f"lever.{key}", "en") == label(key)
        assert t(f"lever.{key}.help", "en") == spec(key).description


def test_the_browsers_language_is_followed():
    assert pick_language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert pick_language("en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert pick_language("de-DE,fr;q=0.5,en;q=0.7") == "en"
    assert pick_language("de-DE") == "en" and pick_language(None) == "en" and pick_language("") == "en"
    assert pick_language("de, fr-CA;q=0.8") == "fr"


def test_numbers_are_written_the_languages_way():
    assert number(0.25, "fr") == "0,25" and number(0.25, "en") == "0.25"
    assert number(0.07, "fr", sign=True) == "+0,07"
    assert count(1000, "en") == "1,000" and count(1000, "fr") == "1\u202f000"
    assert percent(0.12, "en") == "12%" and percent(0.12, "fr") == "12\u202f%"


def test_the_info_text_names_levers_and_choices_that_exist():
    for lang in LANGUAGES:
        text = info_markdown(lang, 8, 120)
        for key in ("policy.outreach", "administration.staff_incentives"):
            assert t(f"lever.{key}", lang).split(" (")[0].lower() in text.lower(), (lang, key)
        for choice in ("targeted_area", "universal"):
            assert f"*{t(f'choice.{choice}', lang)}*" in text
        assert "120" in text
    assert "selection" in info_markdown("en", 8, 120) and "sélection" in info_markdown("fr", 8, 120)


def test_status_line_holds_the_ratio_back_for_a_year_and_names_the_levers_changed():
    base = Parameters()
    town = Town(base, "en")
    assert status(town.model, town.applied, base) == "Month 0 · levers as at the start"
    for _ in range(3):
        town.step()
    line = status(town.model, town.applied, base)
    assert line.startswith("Month 3 · ") and "took part in the past year" in line
    assert "too early to compare" in line and "times as often" not in line
    for _ in range(RATIO_FROM_MONTH):
        town.step()
    assert "times as often" in status(town.model, town.applied, base)
    levers = {**town.applied, FEEDBACK_OFF: True, "policy.outreach": "targeted_area",
              "administration.risk_aversion": 0.2}
    assert lever_changes(levers, base, "en") == ["virtuous cycle off", "risk aversion 0.20",
                                                 "outreach the poorest areas"]
    assert status(town.model, town.applied, base, "fr").startswith("Mois 15 · ")


# ----------------------------------------------------------------------------- coprod viz
runner = CliRunner()


def test_viz_refuses_a_town_too_big_to_draw():
    r = runner.invoke(cli_app, ["viz", "--citizens", "50000"])
    assert r.exit_code == 2
    assert "--citizens" in r.output and "2,000" in r.output


def test_viz_reports_a_bad_scenario_file(tmp_path):
    r = runner.invoke(cli_app, ["viz", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "missing.toml" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy]\noutreach = 'everybody'\n")
    r = runner.invoke(cli_app, ["viz", str(bad)])
    assert r.exit_code == 2 and "policy.outreach" in r.output and "targeted_area" in r.output
    assert "Traceback" not in r.output


def test_viz_reports_a_port_in_use_and_a_privileged_port(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(cli_app, ["viz", "--port", str(port)])
    assert r.exit_code == 2 and str(port) in r.output and "in use" in r.output and "--port" in r.output

    def refuse(self, address):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refuse)
    r = runner.invoke(cli_app, ["viz", "--port", "80"])
    assert r.exit_code == 2 and "reserved for the system" in r.output and "administrator" in r.output


def test_viz_refuses_an_unknown_language():
    r = runner.invoke(cli_app, ["viz", "--lang", "de"])
    assert r.exit_code == 2 and "auto, en or fr" in r.output


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_the_page_starts_from_a_scenario_file_and_scales_a_big_one(tmp_path):
    scenario = tmp_path / "town.toml"
    scenario.write_text('name = "viz"\nseed = 7\nsteps = 48\n\n[population]\nn_citizens = 400\n'
                        'n_neighbourhoods = 4\n\n[policy]\noutreach = "targeted_area"\n')
    probe = """
        import coprod_sim.viz.app as page
        base = page.BASE
        print(base["simulation.seed"], base["simulation.steps"], base["population.n_citizens"],
              base["policy.outreach"], [k for k, _ in page.NOTICES])
        """
    r = run_python(probe, COPROD_VIZ_SCENARIO=str(scenario), COPROD_VIZ_CITIZENS="300")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["7", "48", "300", "targeted_area", "[]"]
    scenario.write_text('name = "big"\n\n[population]\nn_citizens = 5000\nn_neighbourhoods = 1\n')
    r = run_python(probe, COPROD_VIZ_SCENARIO=str(scenario))
    assert r.returncode == 0, r.stderr
    assert "1000" in r.stdout.split() and "['notice.scaled', 'notice.one_area']" in r.stdout


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


def test_solara_settings_hide_the_badge_and_shorten_the_cull_in_classroom_mode():
    r = run_python("""
        from coprod_sim.viz.server import offline_environment, solara_settings
        offline_environment()
        from solara.server import settings
        solara_settings(classroom=True)
        print(settings.theme.show_banner, settings.theme.loader, settings.kernel.cull_timeout)
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "plain", "90s"]


def test_classroom_address_and_qr_code():
    from coprod_sim.viz import classroom

    address = classroom.lan_address()
    assert address is None or not address.startswith("127.")
    assert "\u2588" in classroom.qr_terminal("http://192.168.1.20:8765") or "█" in classroom.qr_terminal(
        "http://192.168.1.20:8765")
    assert classroom.qr_data_uri("http://192.168.1.20:8765").startswith("data:image/svg+xml")


def test_the_teachers_page_is_the_one_opened_on_this_computer(monkeypatch):
    from coprod_sim.viz import classroom

    monkeypatch.delenv(classroom.CLASSROOM_URL_ENV, raising=False)
    assert not classroom.is_teacher({"host": ["127.0.0.1:8765"]})  # not in classroom mode
    monkeypatch.setenv(classroom.CLASSROOM_URL_ENV, "http://192.168.1.20:8765")
    assert classroom.is_teacher({"host": ["127.0.0.1:8765"]})
    assert classroom.is_teacher({"host": ["localhost:8765"]})
    assert classroom.is_teacher({"host": ["[::1]:8765"]})
    assert not classroom.is_teacher({"host": ["192.168.1.20:8765"]})
    assert not classroom.is_teacher({})


def test_served_page_builds_the_town_of_the_scenario_file(tmp_path):
    """`coprod viz FILE` must hand FILE to the page before the page module is imported."""
    scenario = tmp_path / "town.toml"
    scenario.write_text('name = "small town"\nsteps = 12\n[parameters]\n'
                        'population.n_citizens = 350\npolicy.outreach = "universal"\n')
    probe = f"""
        import solara.__main__ as solara_main
        from pathlib import Path

        def fake_main(args, **kw):  # stands in for the server: build the page as Solara would
            import coprod_sim.viz.app as app
            print(app.BASE["population.n_citizens"], app.BASE["policy.outreach"], app.LANG)

        solara_main.run.main = fake_main
        from coprod_sim.viz.server import serve
        serve(Path({str(scenario)!r}), "127.0.0.1", 8765, lang="fr")
    """
    out = run_python(probe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["350", "universal", "fr"]


def _stream_ids() -> set[int]:
    """The increments of the random streams alive now (each stream's own)."""
    import gc

    return {g.bit_generator.state["state"]["inc"] for g in gc.get_objects()
            if isinstance(g, np.random.Generator) and isinstance(g.bit_generator, np.random.PCG64)}


def test_giving_memory_back_forgets_closed_towns_streams_and_open_towns_run_on_unchanged():
    import gc

    before = _stream_ids()
    closed = Town(Parameters({**SMALL, "simulation.seed": 4242}), "en")
    for _ in range(3):
        closed.step()
    streams = _stream_ids() - before
    still_open, reference = (Town(Parameters(SMALL), "en") for _ in range(2))
    for _ in range(3):
        still_open.step()
    closed.release()
    del closed
    gc.collect()
    assert streams and streams & _stream_ids()  # the compiled month keeps the streams it jumped...
    session_module.give_back_memory()
    assert not streams & _stream_ids()  # ...until memory is given back
    for _ in range(3):
        still_open.step()
    for _ in range(6):
        reference.step()
    np.testing.assert_equal(still_open.model.latest, reference.model.latest)  # the same months (NaN = NaN)


def _open_fonts() -> int:
    """Font files open in this process (matplotlib's FreeType faces keep theirs open)."""
    import gc
    import io

    return sum(1 for f in gc.get_objects() if isinstance(f, io.FileIO) and not f.closed
               and str(f.name).endswith((".ttf", ".otf")))


def test_giving_memory_back_closes_the_fonts_of_closed_tabs_threads():
    import threading

    session_module.give_back_memory()
    before = _open_fonts()
    # each tab draws from its own threads, and matplotlib keeps fonts per thread
    tabs = [threading.Thread(target=lambda: Town(Parameters(SMALL), "en").picture())
            for _ in range(3)]
    for tab in tabs:
        tab.start()
        tab.join()
    assert _open_fonts() > before  # the threads are gone, their fonts are not...
    session_module.give_back_memory()
    assert _open_fonts() == 0  # ...until memory is given back


def test_the_server_runs_again_on_glibcs_malloc_with_the_same_command():
    command = server_module.system_malloc_command
    guarded = ["/usr/bin/python3", "-c", "import sys; sys.addaudithook(...)", "viz", "--port", "8765"]
    argv = ["-c", "viz", "--port", "8765"]
    assert command(guarded, argv, {}, "linux") == guarded  # the -c guard runs again
    entry = ["/venv/bin/python", "/venv/bin/coprod", "viz", "--classroom"]
    assert command(entry, ["/venv/bin/coprod", "viz", "--classroom"], {}, "linux") == entry
    module = ["/venv/bin/python", "-m", "coprod_sim.cli.app", "viz"]
    assert command(module, ["/x/coprod_sim/cli/app.py", "viz"], {"HOME": "/root"}, "linux") == module
    # already on it (the new process), or the user's own choice; not glibc; not our command line
    settled = {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}
    assert command(entry, ["/venv/bin/coprod", "viz"], settled, "linux") is None
    mine = {"PYTHONMALLOC": "pymalloc", "GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"}
    assert command(entry, ["/venv/bin/coprod", "viz"], mine, "linux") is None
    # the user's allocator, without the caches' setting: again, to turn the caches off
    own_allocator = {"PYTHONMALLOC": "pymalloc"}
    assert command(entry, ["/venv/bin/coprod", "viz", "--classroom"], own_allocator, "linux") == entry
    assert command(entry, ["/venv/bin/coprod", "viz"], {}, "darwin") is None
    assert command(["/venv/bin/python", "-m", "pytest", "tests"], ["pytest", "tests"], {}, "linux") is None


def test_the_server_runs_without_glibcs_per_thread_caches_unless_the_user_set_them():
    env = server_module.system_malloc_environment
    assert env({"HOME": "/root"}) == {"HOME": "/root", "PYTHONMALLOC": "malloc",
                                     "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}
    assert env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"})["GLIBC_TUNABLES"] == \
        "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0"
    mine = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=3"}
    assert env(mine)["GLIBC_TUNABLES"] == "glibc.malloc.tcache_count=3"
    assert env({"PYTHONMALLOC": "pymalloc"}) == {"PYTHONMALLOC": "pymalloc",
                                                 "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}
