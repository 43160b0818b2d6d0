"""Fast redrawing of a figure whose frame stays put while a few artists move (blitting).

A figure's axes, ticks, titles and legends cost far more to draw than a thousand dots or a
few lines, and they do not change from month to month. :class:`Blitter` draws them once per
*key* (e.g. the colour scheme, or the y range) to a cached background, and each frame only
restores it, draws the moving artists and encodes the pixels as PNG.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Hashable

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 96  # pixels per inch: about the size the page shows them at, so the browser need not stretch them


def encode(pixels: np.ndarray, fmt: str = "png") -> bytes:
    """An RGB pixel array as a 64-colour palette PNG (plots are a few flat colours: 2-3x
    quicker to encode and 2-3x smaller than full-colour PNG, which matters for 30 devices on
    a classroom's Wi-Fi) or as JPEG (quality 92: for the town's thousand dots, quicker still,
    and at this quality dots and thin lines stay clean)."""
    buf = io.BytesIO()
    image = Image.fromarray(pixels, "RGB")
    if fmt == "jpeg":
        image.save(buf, format="jpeg", quality=92)
    else:
        image.quantize(64, method=Image.Quantize.FASTOCTREE).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """A whole figure as PNG bytes (for figures drawn once)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


class Blitter:
    """Draws ``fig`` with a cached background; ``moving`` are the artists redrawn each frame.

    Not thread-safe by itself: :meth:`frame` holds a lock, so callers serialise on it.
    """

    def __init__(self, fig: Figure, dpi: int = DPI, fmt: str = "png"):
        if fmt not in ("png", "jpeg"):
            raise ValueError(f"fmt must be 'png' or 'jpeg', not {fmt!r}")
        fig.set_dpi(dpi)
        self.fig = fig
        self.format = fmt
        self.canvas = FigureCanvasAgg(fig)
        self.moving: list[Artist] = []
        self._backgrounds: dict[Hashable, object] = {}
        self.lock = threading.RLock()

    def invalidate(self) -> None:
        """Forget the backgrounds (after a change to the frame, e.g. new axis limits)."""
        self._backgrounds.clear()

    def frame(self, key: Hashable = None, paint: Callable[[np.ndarray], None] | None = None) -> bytes:
        """The figure now, encoded in ``self.format``; the background for ``key`` is drawn the
        first time it is asked for; ``paint``, if given, draws on a copy of the RGBA pixels last
        (how the town's thousand dots are drawn: far quicker than matplotlib's markers)."""
        with self.lock:
            bg = self._backgrounds.get(key)
            if bg is None:
                shown = [a.get_visible() for a in self.moving]
                for a in self.moving:
                    a.set_visible(False)
                self.canvas.draw()
                bg = self._backgrounds[key] = self.canvas.copy_from_bbox(self.fig.bbox)
                for a, vis in zip(self.moving, shown, strict=True):
                    a.set_visible(vis)
            self.canvas.restore_region(bg)
            for a in self.moving:
                if a.get_visible():
                    (a.axes or self.fig).draw_artist(a)
            # The figure is opaque: drop alpha (the copy is needed anyway, the canvas is reused).
            pixels = np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
            if paint is not None:
                paint(pixels)
            return encode(pixels, self.format)
