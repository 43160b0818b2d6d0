"""Fast redrawing of a figure whose frame stays put while a few artists move (blitting).

A figure's axes, ticks, titles and legends cost far more to draw than a thousand dots or a
few lines, and they do not change from month to month. :class:`Blitter` draws them once per
*key* (e.g. the colour scheme, or the y range) to a cached background. The page sends that
background once (:meth:`Blitter.still`) and then, each month, only the moving artists as
marks in pixels (:func:`marks`), which the browser paints over it (``canvas.vue``): the server
neither rasterises nor encodes a picture per month. :meth:`Blitter.frame` draws the whole
frame on the server (tests, benchmarks, a picture to save).
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Hashable

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
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
        self._stills: dict[Hashable, str] = {}
        self.lock = threading.RLock()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of a frame in pixels."""
        width, height = self.canvas.get_width_height()
        return int(width), int(height)

    def invalidate(self) -> None:
        """Forget the backgrounds (after a change to the frame, e.g. new axis limits)."""
        self._backgrounds.clear()
        self._stills.clear()

    def forget(self, keep: Hashable = None) -> None:
        """Forget the backgrounds and stills of every key but ``keep``."""
        with self.lock:
            for cache in (self._backgrounds, self._stills):
                for key in [k for k in cache if k != keep]:
                    del cache[key]

    MAX_BACKGROUNDS = 32
    """Backgrounds kept (one per y range of a plot): a server's plots are shared by its towns,
    whose levers widen the axes to a few ranges each; beyond this they are all drawn afresh."""

    def _background(self, key: Hashable) -> object:
        bg = self._backgrounds.get(key)
        if bg is None:
            if len(self._backgrounds) >= self.MAX_BACKGROUNDS:
                self.invalidate()
            shown = [a.get_visible() for a in self.moving]
            for a in self.moving:
                a.set_visible(False)
            self.canvas.draw()
            bg = self._backgrounds[key] = self.canvas.copy_from_bbox(self.fig.bbox)
            for a, vis in zip(self.moving, shown, strict=True):
                a.set_visible(vis)
        return bg

    def still(self, key: Hashable = None) -> str:
        """The frame without its moving artists, as a PNG data URI, made once per ``key``
        (the same string object each time, so the page sees at once that it has not changed)."""
        with self.lock:
            uri = self._stills.get(key)
            if uri is None:
                self.canvas.restore_region(self._background(key))
                pixels = np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
                buf = io.BytesIO()  # 256 colours: a third of the size, sent once to each device
                Image.fromarray(pixels, "RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(
                    buf, format="png")
                uri = self._stills[key] = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
            return uri

    def frame(self, key: Hashable = None, paint: Callable[[np.ndarray], None] | None = None) -> bytes:
        """The figure now, encoded in ``self.format``; the background for ``key`` is drawn the
        first time it is asked for; ``paint``, if given, draws on a copy of the RGBA pixels last
        (how the town's thousand dots are drawn: far quicker than matplotlib's markers)."""
        with self.lock:
            self.canvas.restore_region(self._background(key))
            for a in self.moving:
                if a.get_visible():
                    (a.axes or self.fig).draw_artist(a)
            # The figure is opaque: drop alpha (the copy is needed anyway, the canvas is reused).
            pixels = np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
            if paint is not None:
                paint(pixels)
            return encode(pixels, self.format)


def _px(artist: Artist, xy: np.ndarray, height: int) -> np.ndarray:
    """Points in the artist's coordinates -> pixels from the top left, to 0.1 px."""
    px = artist.get_transform().transform(xy)
    px[:, 1] = height - px[:, 1]
    return np.round(px, 1)


def _line_mark(line: Line2D, height: int, dpi: float) -> dict:
    x = np.asarray(line.get_xdata(), dtype=float)
    y = np.asarray(line.get_ydata(), dtype=float)
    px = _px(line, np.column_stack([x, y]), height) if len(x) else np.empty((0, 2))
    # x0, y0, x1, y1, ...; a missing value breaks the line as in matplotlib (JSON has no NaN: null)
    ok = np.isfinite(px).all(axis=1)
    if ok.all():
        coords: list[float | None] = px.ravel().tolist()
    else:
        coords = []
        for (a, b), good in zip(px.tolist(), ok.tolist(), strict=True):
            coords.extend((a, b) if good else (None,))
    dashes = []
    if line.get_linestyle() not in ("-", "solid"):
        dashes = [round(d * dpi / 72, 1) for d in (line._dash_pattern[1] or ())]  # points -> px
    box = line.axes.get_window_extent() if line.axes is not None else None
    clip = None if box is None else [round(box.x0, 1), round(height - box.y1, 1),
                                     round(box.width, 1), round(box.height, 1)]
    return {"kind": "line", "points": coords, "colour": to_hex(line.get_color()),
            "width": round(line.get_linewidth() * dpi / 72, 2), "dashes": dashes, "clip": clip}


def _text_mark(text: Text, height: int, dpi: float) -> dict:
    x, y = _px(text, np.array([text.get_position()], dtype=float), height)[0]
    mark = {"kind": "text", "text": text.get_text(), "x": float(x), "y": float(y),
            "colour": to_hex(text.get_color()), "size": round(text.get_fontsize() * dpi / 72, 2),
            "bold": text.get_fontweight() in ("bold", 700, "heavy"), "ha": text.get_ha(), "va": text.get_va()}
    patch = text.get_bbox_patch()
    if patch is not None:
        mark["box"] = {"fill": to_hex(patch.get_facecolor(), keep_alpha=True),
                       "edge": to_hex(patch.get_edgecolor())}
    return mark


def marks(blitter: Blitter) -> list[dict]:
    """The blitter's visible moving artists (lines and texts) as marks in pixels, for the
    browser to paint over :meth:`Blitter.still`: lines as polylines clipped to their axes,
    texts with their alignment and box."""
    _, height = blitter.size
    dpi = blitter.fig.dpi
    out = []
    for artist in blitter.moving:
        if not artist.get_visible():
            continue
        if isinstance(artist, Line2D):
            out.append(_line_mark(artist, height, dpi))
        elif isinstance(artist, Text):
            out.append(_text_mark(artist, height, dpi))
        else:
            raise TypeError(f"cannot send a {type(artist).__name__} to the browser")
    return out
