"""The teaching page: a small town (Mesa model) on a Solara page, served offline.

``coprod viz [FILE]`` serves it (see :mod:`coprod_sim.viz.server`); the page itself is
:mod:`coprod_sim.viz.app`. The helpers (controls, town drawing, charts) are plain functions
of a model, so they are tested and benchmarked without a browser.
"""

# How ``coprod viz`` tells the page which town to build. Declared here, not in app.py, because
# the page reads them when it is imported: the server must set them before that import.
SCENARIO_ENV = "COPROD_VIZ_SCENARIO"
CITIZENS_ENV = "COPROD_VIZ_CITIZENS"
LANG_ENV = "COPROD_VIZ_LANG"
SERVING_ENV = "COPROD_VIZ_SERVING"  # set by the server: warm the page up in the background
