"""The teaching page as Solara runs it (``coprod viz``): one town per browser tab.

The town comes from the scenario named by ``COPROD_VIZ_SCENARIO`` (the built-in defaults if
unset), its size from ``COPROD_VIZ_CITIZENS`` if set; a scenario larger than a classroom town
is scaled down to :data:`CLASSROOM_CITIZENS` with a notice on the page. ``coprod viz`` sets
these, and the offline settings (no telemetry, no asset fetched from a CDN), before Solara
imports this module.
"""

from __future__ import annotations

import os
import threading

import solara
import solara.lab

from coprod_sim.params import Parameters
from coprod_sim.viz import CITIZENS_ENV, LANG_ENV, SCENARIO_ENV, SERVING_ENV

CLASSROOM_CITIZENS = 1_000
"""A scenario's town is shown at most this size unless ``--citizens`` asks otherwise."""


def base_parameters() -> tuple[Parameters, list[tuple[str, dict]]]:
    """The town the page starts from, and the notices to show about it (catalogue keys and
    fields): the scenario's base values, or the tree's defaults."""
    path = os.environ.get(SCENARIO_ENV)
    if path:
        from coprod_sim.scenario.loader import load_scenario

        base = load_scenario(path).base_parameters()
    else:
        base = Parameters()
    notices: list[tuple[str, dict]] = []
    citizens = os.environ.get(CITIZENS_ENV)
    if citizens:
        base = base.replace({"population.n_citizens": int(citizens)})
    elif base.population.n_citizens > CLASSROOM_CITIZENS:
        scenario_n = base.population.n_citizens
        base = base.replace({"population.n_citizens": CLASSROOM_CITIZENS})
        notices.append(("notice.scaled", {"scenario": scenario_n, "shown": CLASSROOM_CITIZENS}))
    if base.population.n_neighbourhoods == 1:
        notices.append(("notice.one_area", {}))
    return base, notices


BASE, NOTICES = base_parameters()
LANG = os.environ.get(LANG_ENV) or None  # None: the browser's language


def _on_kernel_start():
    kernel_id = solara.get_kernel_id()

    def closed() -> None:  # Solara runs it when the tab closes or its connection is culled
        from coprod_sim.viz.session import close_session

        close_session(kernel_id)

    return closed


def prewarm() -> None:
    """Import the page's heavy parts (Mesa, Numba, matplotlib), step and draw the town once, after
    the server has started: Solara imports this module before it listens, so the page answers
    within seconds and the first tab finds the layout, the fonts and the compiled month ready."""
    import importlib

    from coprod_sim.viz.charts import CHARTS
    from coprod_sim.viz.i18n import LANGUAGES
    from coprod_sim.viz.session import Town, give_back_memory, start_janitor

    # The page's own modules too (loading them is the point): imported during a session, their
    # objects would sit among the towns' and keep memory from being returned after the class.
    importlib.import_module("coprod_sim.viz.page")

    start_janitor()
    town = Town(BASE, LANG or "en")
    town.step()  # the compiled month: built (or read from its disk cache) before anyone clicks Step
    town.town_frame()
    for lang in [LANG] if LANG else LANGUAGES:  # the plots, shared by the tabs, in each language
        town.set_language(lang)
        for name in CHARTS:
            town.chart_frame(name)
    town.release()
    give_back_memory()  # what the warm-up town used goes back: the idle server is its true size


solara.lab.on_kernel_start(_on_kernel_start)
# Only when the server imports this module: a script or test that imports it must not leave a
# daemon thread in Numba or matplotlib code at exit (it crashed the interpreter's shutdown).
if os.environ.get(SERVING_ENV):
    threading.Thread(target=prewarm, name="coprod-viz-prewarm", daemon=True).start()


@solara.component
def Page():
    from coprod_sim.viz import page

    page.Page(BASE, NOTICES, LANG)
