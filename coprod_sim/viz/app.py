"""The teaching page as Solara runs it (``coprod viz``): one town per browser tab.

The town comes from the scenario named by ``COPROD_VIZ_SCENARIO`` (the built-in defaults if
unset), its size from ``COPROD_VIZ_CITIZENS`` if set; a scenario larger than a classroom town
is scaled down to :data:`CLASSROOM_CITIZENS` with a notice on the page. ``coprod viz`` sets
these, and the offline settings (no telemetry, no asset fetched from a CDN), before Solara
imports this module.
"""

from __future__ import annotations

import os

import solara
import solara.lab

from coprod_sim.params import Parameters
from coprod_sim.viz import CITIZENS_ENV, LANG_ENV, SCENARIO_ENV
from coprod_sim.viz import page as page_module
from coprod_sim.viz.session import close_session, start_janitor

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
    return lambda: close_session(kernel_id)  # Solara runs it when the tab closes or is culled


solara.lab.on_kernel_start(_on_kernel_start)
start_janitor()


@solara.component
def Page():
    page_module.Page(BASE, NOTICES, LANG)
