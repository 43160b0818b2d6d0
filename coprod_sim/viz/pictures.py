"""The page's town and plots as browser canvases, in one widget (``pictures.vue``, shipped
with the package): one message a month for all five pictures.

The server sends each picture's still frame once and then, each month, only what moves (marks
in pixels, one colour index per citizen); the browser paints them. See
:mod:`coprod_sim.viz.render`.
"""

from __future__ import annotations

from collections.abc import Callable

import solara


@solara.component_vue("pictures.vue", vuetify=False)
def Pictures(stills: list[str], dots: dict, frames: list[dict], month: int, main_class: str = "coprod-main",
             event_drawn: Callable[[int], None] | None = None):
    """The town (``frames[0]``) and the plots: each frame's width, height, ``css_class`` and
    marks (the town's also its citizens' colours, placed by ``dots``), painted over
    ``stills[i]`` (data URIs); ``event_drawn(month)`` once a new ``month`` is on screen."""
