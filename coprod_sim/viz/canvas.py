"""The page's pictures as browser canvases (``canvas.vue``, shipped with the package).

The server sends a still frame once and then, each month, only what moves (marks in pixels,
one colour index per citizen); the browser paints them. See :mod:`coprod_sim.viz.render`.
"""

from __future__ import annotations

from collections.abc import Callable

import solara


@solara.component_vue("canvas.vue", vuetify=False)
def Canvas(still: str, width: int, height: int, marks: list, css_class: str = "",
           dots: dict | None = None, colours: str | None = None, month: int | None = None,
           event_drawn: Callable[[int], None] | None = None):
    """A still frame (data URI) of ``width`` x ``height`` pixels with ``marks`` painted over it
    (and ``dots`` coloured by ``colours``); ``event_drawn(month)`` once a new ``month`` is shown."""
