"""The town's social network, drawn for the page: neighbourhoods as clusters, administrations
marked, citizens coloured by self-efficacy or by whether they take part.

The layout is computed once per town (:func:`town_layout`, cached) and only colours change
from frame to frame; drawing uses matplotlib's object API (no pyplot), so it is safe to call
from the page's worker threads.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize, to_hex, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from matplotlib.ticker import FuncFormatter

from coprod_sim.names import ADMIN_COLOURS, MODE_COLOURS, MODES, NO_MODE
from coprod_sim.town.table import town_geometry
from coprod_sim.viz.i18n import count, number, t
from coprod_sim.viz.render import DPI, Blitter, marks
from coprod_sim.viz.town_map import draw_outlines, map_layout

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel

COLOUR_BY = ("self-efficacy", "taking part")
"""What a citizen's colour shows: the two choices of the page's switch."""

EFFICACY_CMAP = "viridis"
NOT_TAKING_PART = "#d9d9d9"
TOOK_PART_THIS_YEAR = "#74c476"


@dataclass(frozen=True)
class TownLayout:
    """Where everything is drawn; fixed for the life of a model."""

    xy: np.ndarray  # (n, 2) citizen positions
    edges: np.ndarray  # (m, 2, 2) segments of the ties, each tie once
    hood_centre: np.ndarray  # (K, 2)
    hood_radius: np.ndarray  # (K,)
    admin_xy: np.ndarray  # (A, 2) where each administration's office is drawn
    outlines: tuple | None = None  # a map's (neighbourhood, ring) outlines; None: the ring of discs


LAYOUT_CACHE_SIZE = 8
_layouts: OrderedDict[bytes, TownLayout] = OrderedDict()
_layouts_lock = threading.Lock()
SPRING_LIMIT = 400
"""Neighbourhoods larger than this are laid out on a sunflower disc (linear time) rather than
by networkx's spring layout, whose sparse path takes close to a minute at 1,000 members."""


def network_key(model: CoproductionModel) -> bytes:
    """What fixes the drawing: the ties, the neighbourhoods, the administrations and the seed.

    Reset rebuilds the same town with the same seed, so every Reset (and every student on
    the same scenario) hits the cache; a lever that changes the town changes the key."""
    state = model.state
    h = hashlib.blake2b(digest_size=16)
    for arr in (state.network.indptr, state.network.indices, state.citizens.neighbourhood,
                state.citizens.ses_rank, state.neighbourhoods.administration):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(str(model.seed).encode())
    return h.digest()


def town_layout(model: CoproductionModel) -> TownLayout:
    """The layout of the model's town, from a small process-wide cache keyed on
    :func:`network_key` (read-only arrays: sessions share them safely)."""
    key = network_key(model)
    with _layouts_lock:
        layout = _layouts.get(key)
        if layout is not None:
            _layouts.move_to_end(key)
            return layout
    layout = compute_layout(model)
    with _layouts_lock:
        _layouts[key] = layout
        while len(_layouts) > LAYOUT_CACHE_SIZE:
            _layouts.popitem(last=False)
    return layout


def sunflower(order: np.ndarray) -> np.ndarray:
    """Points spread evenly on a unit disc (Vogel 1979), the ``order[i]``-th from the centre
    for member ``i``."""
    n = len(order)
    r = np.sqrt((order + 0.5) / max(n, 1))
    theta = order * np.pi * (3 - np.sqrt(5))
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def compute_layout(model: CoproductionModel) -> TownLayout:
    """A town from a table with geometry as a map (:func:`~coprod_sim.viz.town_map.map_layout`);
    any other town's neighbourhoods on a ring, from the least advantaged (left of the top) clockwise to the
    most; inside each, a force-directed layout of its own ties (a sunflower disc, poorest at
    the centre, for a neighbourhood too large for it); administrations in the middle.

    Cluster radii grow with the square root of the population so density looks alike.
    """
    rng_seed = int(np.random.SeedSequence(model.seed if isinstance(model.seed, int) else 0)
                   .generate_state(1)[0])
    geometry = town_geometry(model.params)
    if geometry is not None:
        return map_layout(model, geometry, rng_seed)
    state = model.state
    hoods, net = state.neighbourhoods, state.network
    k = len(hoods)
    n = state.citizens.n
    hood = state.citizens.neighbourhood
    radius = np.sqrt(hoods.size / max(hoods.size.max(), 1))
    if k == 1:
        centre = np.zeros((1, 2))
    else:
        ring = 1.15 * radius.max() / np.sin(np.pi / k) if k > 2 else 2.4 * radius.max()
        angle = np.pi / 2 + np.pi / k - 2 * np.pi * np.arange(k) / k
        centre = ring * np.column_stack([np.cos(angle + np.pi / k), np.sin(angle + np.pi / k)])
    xy = np.zeros((n, 2))
    for j in range(k):
        members = np.flatnonzero(hood == j)
        if len(members) == 0:
            continue
        if len(members) > SPRING_LIMIT:
            rank = np.argsort(np.argsort(state.citizens.ses_rank[members], kind="stable"), kind="stable")
            p = sunflower(rank.astype(float))
        else:
            g = nx.from_scipy_sparse_array(net[members][:, members])
            pos = nx.spring_layout(g, seed=rng_seed + j, iterations=60)
            p = np.array([pos[i] for i in range(len(members))])
        p -= p.mean(axis=0)
        extent = np.abs(p).max() or 1.0
        xy[members] = centre[j] + 0.92 * radius[j] * p / extent
    upper = sp_upper(net)
    edges = np.stack([xy[upper[0]], xy[upper[1]]], axis=1)
    a = len(state.administrations)
    if a == 1:
        admin_xy = np.zeros((1, 2)) if k > 1 else np.array([[0.0, -1.25 * radius[0]]])
    else:
        r = 0.3 * (np.linalg.norm(centre, axis=1).min() if k > 1 else 1.0)
        t = np.pi / 2 - 2 * np.pi * np.arange(a) / a
        admin_xy = r * np.column_stack([np.cos(t), np.sin(t)])
        if k == 1:  # one neighbourhood fills the middle: the offices go below it
            admin_xy = np.column_stack([np.linspace(-0.6, 0.6, a), np.full(a, -1.25)]) * radius[0]
    return TownLayout(xy=xy, edges=edges, hood_centre=centre, hood_radius=radius, admin_xy=admin_xy)


def sp_upper(net) -> tuple[np.ndarray, np.ndarray]:
    """Each tie once (i < j) from a symmetric CSR adjacency."""
    rows = np.repeat(np.arange(net.shape[0]), np.diff(net.indptr))
    cols = net.indices
    keep = rows < cols
    return rows[keep], cols[keep]


def participation_classes(model: CoproductionModel) -> np.ndarray:
    """Per citizen: 0 not in the past year, 1 took part in the past year but not this month,
    2 + m active this month in mode m."""
    c = model.state.citizens
    window = (1 << model.params.simulation.year_window) - 1
    year = (c.activity & window) != 0
    cls = np.where(year, 1, 0)
    active = c.mode != NO_MODE
    cls[active] = 2 + c.mode[active]
    return cls


PARTICIPATION_CMAP = ListedColormap([NOT_TAKING_PART, TOOK_PART_THIS_YEAR, *MODE_COLOURS])
EFFICACY_LUT = (colormaps[EFFICACY_CMAP](np.linspace(0, 1, 256)) * 255).round().astype(np.uint8)
PARTICIPATION_LUT = (to_rgba_array(PARTICIPATION_CMAP.colors) * 255).round().astype(np.uint8)

# Geometry of the figure, in inches at 96 dpi: the square map on top, the key below it.
# Drawn at about the size a 1366x768 screen shows it, so 11 pt text is 14-15 px on screen.
WIDTH, MAP, KEY = 5.8, 5.8, 1.0
HEIGHT = MAP + KEY
TOWN_DPI = DPI
FONT = 11  # points: 14.7 px at 96 dpi


def participation_labels(lang: str) -> list[str]:
    """The key of the "taking part" colours, in ``lang``."""
    return [t("town.part.none", lang), t("town.part.year", lang),
            *[t("town.part.mode", lang, mode=t(f"mode.{m}", lang)) for m in MODES]]


def admin_name(a: int) -> str:
    return chr(65 + a % 26)


def draw_rings(ax, lay: TownLayout, served: np.ndarray, admin_colour: list[str], lang: str) -> None:
    """Each neighbourhood as a ring in its administration's colour, named (poorest, richest),
    with a dashed spoke from the administration that serves it."""
    k = len(lay.hood_centre)
    if k > 1:
        spokes = [(lay.admin_xy[served[j]], lay.hood_centre[j]) for j in range(k)]
        ax.add_collection(LineCollection(spokes, colors=[admin_colour[a] for a in served],
                                         linewidths=1.2, linestyles="dashed", alpha=0.45, zorder=0))
    for j in range(k):
        ax.add_patch(Circle(lay.hood_centre[j], 1.08 * lay.hood_radius[j], fill=False, zorder=1,
                            edgecolor=admin_colour[served[j]], linewidth=1.5, alpha=0.8))
        if k == 1:
            continue
        c = lay.hood_centre[j]
        d = c / (np.linalg.norm(c) or 1.0)
        tag = t("town.poorest", lang) if j == 0 else t("town.richest", lang) if j == k - 1 else ""
        ax.text(*(c + d * (lay.hood_radius[j] * 1.3 + 0.05)),
                t("town.area", lang, j=j + 1) + (f"\n({tag})" if tag else ""),
                ha="center", va="center", fontsize=FONT, color="#333333")


class TownView:
    """The town's drawing, in one language. Ties, neighbourhood rings, names and the key are
    drawn once (per colour scheme); each frame recolours the citizens and rewrites the
    month and the administrations' caution.

    A view draws whatever model it is bound to: Reset binds the new model (:meth:`bind`) and
    keeps the figure and its cached backgrounds when the town is the same."""

    def __init__(self, model: CoproductionModel, lang: str = "en", dpi: int = TOWN_DPI):
        self.model = model
        self.lang = lang
        self.key = network_key(model)
        lay = town_layout(model)
        state = model.state
        hoods, admins = state.neighbourhoods, state.administrations
        admin_colour = [ADMIN_COLOURS[a % len(ADMIN_COLOURS)] for a in range(len(admins))]
        fig = Figure(figsize=(WIDTH, HEIGHT))
        ax = fig.add_axes((0.0, KEY / HEIGHT, 1.0, MAP / HEIGHT))
        lim = float(np.abs(np.vstack([lay.xy, lay.hood_centre, lay.admin_xy])).max() * 1.25)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim * 1.08)  # room for the title line
        ax.set_aspect("equal")
        ax.axis("off")
        # Static layer: the neighbourhoods (a map's outlines, or rings with the spokes from each
        # administration to the areas it serves), the ties.
        if lay.outlines is not None:
            draw_outlines(ax, lay.outlines, [admin_colour[a] for a in hoods.administration])
        else:
            draw_rings(ax, lay, hoods.administration, admin_colour, lang)
        tie_alpha = float(np.clip(60.0 / max(len(lay.edges), 1) ** 0.5, 0.03, 0.25))
        ax.add_collection(LineCollection(lay.edges, colors="#808080", linewidths=0.3, alpha=tie_alpha,
                                         zorder=1))
        for a in range(len(admins)):
            ax.scatter(*lay.admin_xy[a], marker="s", s=160, color=admin_colour[a], edgecolor="black",
                       linewidth=0.8, zorder=3)
        # Moving layer: citizens (painted as pixels, see _paint_citizens), the administrations'
        # caution, the month.
        size = float(np.clip(9000 / state.citizens.n, 4, 40))  # marker area in points^2
        self.dot_radius = max(1.5, np.sqrt(size) * dpi / 72 / 2)
        self.xy, self.ax = lay.xy, ax
        self.dots: tuple[np.ndarray, np.ndarray] | None = None
        self._dots: dict[str, dict] = {}  # what the browser needs to place the dots
        self.admin_labels = [ax.text(
            lay.admin_xy[a][0], lay.admin_xy[a][1] - 0.1 * lay.hood_radius.max(), "",
            ha="center", va="top", fontsize=FONT, zorder=3,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": admin_colour[a], "alpha": 0.9})
            for a in range(len(admins))]
        self.title = fig.text(0.02, 0.99, "", fontsize=FONT + 1, va="top", weight="bold")
        # The key, under the map: a colour bar for self-efficacy, a legend for taking part.
        self.cbar_ax = fig.add_axes((0.08, 0.45 * KEY / HEIGHT, 0.84, 0.14 * KEY / HEIGHT))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), EFFICACY_CMAP), cax=self.cbar_ax,
                           orientation="horizontal")
        bar.ax.tick_params(labelsize=FONT)
        bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v, lang, 1)))
        bar.ax.set_title(t("town.efficacy_key", lang), fontsize=FONT)
        handles = [Line2D([], [], marker="o", ls="", color=col, label=lab) for col, lab in zip(
            PARTICIPATION_CMAP.colors, participation_labels(lang), strict=True)]
        self.legend = fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=2,
                                 fontsize=FONT, frameon=False, handletextpad=0.2, columnspacing=1.0)
        self.blitter = Blitter(fig, dpi, fmt="jpeg")  # a thousand dots: JPEG encodes them fastest
        self.blitter.moving = [*self.admin_labels, self.title]

    def bind(self, model: CoproductionModel) -> bool:
        """Draw ``model`` from now on; False if its town differs (then make a new view)."""
        if network_key(model) != self.key:
            return False
        self.model = model
        return True

    @property
    def fig(self) -> Figure:
        return self.blitter.fig

    @property
    def format(self) -> str:
        """The picture's image format (as ``solara.Image`` names it)."""
        return self.blitter.format

    def _update(self, colour_by: str) -> tuple[np.ndarray, np.ndarray]:
        """Set the moving texts and the key for ``colour_by``; (palette, each citizen's index
        in it)."""
        if colour_by not in COLOUR_BY:
            raise ValueError(f"colour_by must be one of {COLOUR_BY}, not {colour_by!r}")
        model, lang = self.model, self.lang
        state = model.state
        if colour_by == "self-efficacy":
            lut, index = EFFICACY_LUT, np.clip(state.citizens.self_efficacy * 255, 0, 255).astype(np.intp)
        else:
            lut, index = PARTICIPATION_LUT, participation_classes(model)
        self.cbar_ax.set_visible(colour_by == "self-efficacy")
        self.legend.set_visible(colour_by != "self-efficacy")
        for a, text in enumerate(self.admin_labels):
            text.set_text(f"{admin_name(a)}: " + t("town.admin_risk", lang, value=number(
                state.administrations.risk_aversion[a], lang)))
        k = len(state.neighbourhoods)
        areas = t("town.areas.one", lang) if k == 1 else t("town.areas.many", lang, k=k)
        self.title.set_text(t("town.title", lang, month=state.step, n=count(state.citizens.n, lang),
                              areas=areas))
        return lut, index

    def picture(self, colour_by: str = COLOUR_BY[0]) -> bytes:
        """The town now, citizens coloured by ``colour_by`` (one of COLOUR_BY), encoded in
        :attr:`format` (drawn on the server: tests, benchmarks; the page uses :meth:`frame`)."""
        with self.blitter.lock:
            lut, index = self._update(colour_by)
            colours = lut[index]
            return self.blitter.frame(colour_by, paint=lambda pixels: self._paint_citizens(pixels, colours))

    def frame(self, colour_by: str = COLOUR_BY[0]) -> dict:
        """The town now as the browser paints it (``canvas.vue``): the still frame (once per
        colour scheme), the citizens' places and palette (once per town and scheme), each
        citizen's colour this month (one byte each, base64) and the moving texts."""
        with self.blitter.lock:
            lut, index = self._update(colour_by)
            width, height = self.blitter.size
            still = self.blitter.still(colour_by)
            dots = self._dots.get(colour_by)
            if dots is None:
                px = self.pixels(height)
                dots = self._dots[colour_by] = {
                    "xy": base64.b64encode(np.rint(px).astype("<u2").tobytes()).decode(),
                    "radius": round(float(self.dot_radius), 2),
                    "palette": [to_hex(rgba[:3] / 255) for rgba in lut]}
            return {"still": still, "width": width, "height": height, "dots": dots,
                    "colours": base64.b64encode(index.astype(np.uint8).tobytes()).decode(),
                    "marks": marks(self.blitter)}

    def pixels(self, height: int) -> np.ndarray:
        """Each citizen's place in the frame, in pixels from the top left."""
        px = self.ax.transData.transform(self.xy)
        px[:, 1] = height - px[:, 1]
        return px

    def _paint_citizens(self, pixels: np.ndarray, colours: np.ndarray) -> None:
        """Each citizen as a small disc of its colour, straight into the frame's pixels."""
        if self.dots is None:  # where the dots go, known once the axes have their final box
            height, width = pixels.shape[:2]
            px = self.pixels(height)
            r = int(np.ceil(self.dot_radius))
            dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
            disc = dy ** 2 + dx ** 2 <= (self.dot_radius + 0.5) ** 2
            rows = np.rint(px[:, 1]).astype(np.intp)[:, None] + dy[disc][None, :]
            cols = np.rint(px[:, 0]).astype(np.intp)[:, None] + dx[disc][None, :]
            self.dots = (np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1))
        rows, cols = self.dots
        pixels[rows, cols] = colours[:, None, :3]
