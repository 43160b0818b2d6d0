"""The teaching page: a Mesa SolaraViz page of a small town (run with ``coprod viz``).

Also runs as ``solara run coprod_sim/viz/app.py``, as Mesa's examples do, for development;
``coprod viz`` adds the scenario file, the checks and the offline settings (no telemetry, no
asset fetched from a CDN), so a class should use it. The town comes from the scenario named
by ``COPROD_VIZ_SCENARIO`` (the built-in defaults if unset), its size from
``COPROD_VIZ_CITIZENS`` if set.
"""

from __future__ import annotations

import os

import markdown
import mesa.visualization.solara_viz as mesa_solara_viz
import solara
from mesa.visualization import SolaraViz

from coprod_sim.params import Parameters
from coprod_sim.viz import CITIZENS_ENV, SCENARIO_ENV
from coprod_sim.viz.charts import CHARTS, charts_for
from coprod_sim.viz.controls import TownModel, lever_help, model_params
from coprod_sim.viz.info import INFO, TITLE, status
from coprod_sim.viz.town import COLOUR_BY, town_view


def base_parameters() -> Parameters:
    """The town the page starts from: the scenario's base values, or the tree's defaults."""
    path = os.environ.get(SCENARIO_ENV)
    if path:
        from coprod_sim.scenario.loader import load_scenario

        base = load_scenario(path).base_parameters()
    else:
        base = Parameters()
    citizens = os.environ.get(CITIZENS_ENV)
    if citizens:
        base = base.replace({"population.n_citizens": int(citizens)})
    return base


BASE = base_parameters()
MODEL_PARAMS = model_params(BASE)
colour_by = solara.reactive(COLOUR_BY[0])


def TownPanel(model: TownModel):
    """The town's network, with the status line and the colour switch."""
    view = town_view(model)
    picture = solara.use_memo(lambda: view.picture(colour_by.value), [model, model.steps, colour_by.value])
    with solara.Column(classes=["coprod-town"], gap="4px", style={"padding": "4px 8px"}) as main:
        solara.Text(status(model, BASE), classes=["coprod-status"], style={"font-weight": "500"})
        solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_BY), dense=True)
        solara.Image(picture, width="100%", format=view.format, classes=["coprod-town-map"])
    return main


def chart_panel(name: str):
    """A page component showing the live plot ``name`` (see charts.CHARTS)."""

    def ChartPanel(model: TownModel):
        png = solara.use_memo(lambda: charts_for(model)[name].png(model), [model, model.steps])
        return solara.Image(png, width="100%", classes=["coprod-chart", f"coprod-chart-{name}"])

    ChartPanel.__name__ = f"ChartPanel_{name}"
    return ChartPanel


# Rendered here rather than by solara.Markdown, which loads KaTeX from the CDN for maths.
INFO_HTML = markdown.markdown(INFO)
LEVER_HELP_HTML = ("<p><i>Move a lever, then press Reset: the same town, with the same luck, starts"
                   " again with the new value.</i></p>"
                   + "".join(f"<p><b>{name}</b>: {text}</p>" for name, text in lever_help()))


def InfoPanel(model: TownModel):
    """The Info panel, in plain words."""
    return solara.HTML(tag="div", unsafe_innerHTML=INFO_HTML, classes=["coprod-info"])


COMPONENTS = [(TownPanel, 0), (InfoPanel, 0), *[(chart_panel(name), 0) for name in CHARTS]]

# Where each panel sits on Mesa's 12-column grid (rows of 30 px): the town and the Info panel
# side by side on top, taller than Mesa's default cells, then the four plots two by two.
GRID = [
    {"i": 0, "x": 0, "y": 0, "w": 7, "h": 15},
    {"i": 1, "x": 7, "y": 0, "w": 5, "h": 15},
    {"i": 2, "x": 0, "y": 15, "w": 6, "h": 9},
    {"i": 3, "x": 6, "y": 15, "w": 6, "h": 9},
    {"i": 4, "x": 0, "y": 24, "w": 6, "h": 9},
    {"i": 5, "x": 6, "y": 24, "w": 6, "h": 9},
]
_mesa_grid = mesa_solara_viz.make_initial_grid_layout


def _grid_layout(num_components: int) -> list[dict]:
    # SolaraViz gives every panel the same cell and offers no option for it; its layout
    # function is looked up at call time, so the page's layout replaces it for this page only.
    if num_components != len(GRID):
        return _mesa_grid(num_components)
    return [{**cell, "moved": False} for cell in GRID]


mesa_solara_viz.make_initial_grid_layout = _grid_layout

CSS = """
/* one page of panels: Mesa's "Page 0" tab says nothing to a class */
.v-tabs { display: none; }
.vue-grid-item > * { height: 100%; }
.coprod-town { height: 100%; }
.coprod-town-map, .coprod-chart { min-height: 0; flex: 1 1 0; width: 100% !important;
  height: 100% !important; object-fit: contain; }
.coprod-chart { display: block; }
.coprod-info { height: 100%; overflow-y: auto; padding: 0 12px; font-size: 14px; }
.coprod-info h3 { margin: 12px 0 4px 0; }
.coprod-info strong, .coprod-lever-help b { font-weight: 700; }
.coprod-lever-help p { margin-bottom: 6px; font-size: 13px; }
"""


@solara.component
def LeverHelpCard():
    with solara.Sidebar(), solara.Card("What the levers mean"):
        solara.HTML(tag="div", unsafe_innerHTML=LEVER_HELP_HTML, classes=["coprod-lever-help"])


@solara.component
def LeverHelp():
    # One level deeper than SolaraViz's own sidebar, so that the card comes after its controls.
    LeverHelpCard()


@solara.component
def Page():
    """One town per browser session, so two tabs do not step the same model."""
    model = solara.use_memo(
        lambda: TownModel(**{k: (v["value"] if isinstance(v, dict) else v)
                             for k, v in MODEL_PARAMS.items()}), [])
    solara.Style(CSS)
    SolaraViz(model, components=COMPONENTS, model_params=MODEL_PARAMS, name=TITLE)
    LeverHelp()
