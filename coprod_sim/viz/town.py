"""The town's social network, drawn for the page: neighbourhoods as clusters, administrations
marked, citizens coloured by self-efficacy or by whether they take part.

The layout is computed once per model (:func:`town_layout`, cached) and only colours change
from frame to frame; drawing uses matplotlib's object API (no pyplot), so it is safe to call
from the page's worker threads.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from coprod_sim.names import ADMIN_COLOURS, MODE_COLOURS, MODES, NO_MODE
from coprod_sim.viz.render import Blitter

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


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def town_layout(model: CoproductionModel) -> TownLayout:
    """The model's layout, computed on first use and kept as long as the model lives."""
    layout = _cache.get(model)
    if layout is None:
        layout = _cache[model] = compute_layout(model)
    return layout


def compute_layout(model: CoproductionModel) -> TownLayout:
    """Neighbourhoods on a ring, from the least advantaged (left of the top) clockwise to the
    most; inside each, a force-directed layout of its own ties; administrations in the middle.

    Cluster radii grow with the square root of the population so density looks alike.
    """
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
    rng_seed = int(np.random.SeedSequence(model.seed if isinstance(model.seed, int) else 0)
                   .generate_state(1)[0])
    for j in range(k):
        members = np.flatnonzero(hood == j)
        if len(members) == 0:
            continue
        sub = net[members][:, members]
        g = nx.from_scipy_sparse_array(sub)
        pos = nx.spring_layout(g, seed=rng_seed + j, iterations=60)
        p = np.array([pos[i] for i in range(len(members))])
        p -= p.mean(axis=0)
        extent = np.abs(p).max() or 1.0
        xy[members] = centre[j] + 0.92 * radius[j] * p / extent
    upper = sp_upper(net)
    edges = np.stack([xy[upper[0]], xy[upper[1]]], axis=1)
    a = len(state.administrations)
    if a == 1:
        admin_xy = np.zeros((1, 2))
    else:
        r = 0.3 * (np.linalg.norm(centre, axis=1).min() if k > 1 else 1.0)
        t = np.pi / 2 - 2 * np.pi * np.arange(a) / a
        admin_xy = r * np.column_stack([np.cos(t), np.sin(t)])
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
PARTICIPATION_LABELS = ("not in the past year", "took part, past year",
                        *[f"this month: {m}" for m in MODES])

# Geometry of the figure, in inches: a square map on the left, the key on the right.
WIDTH, HEIGHT, MAP = 6.6, 5.6, 5.1
TOWN_DPI = 100  # 660 pixels wide: the map is the page's largest picture


class TownView:
    """The town's drawing for one model. Ties, neighbourhood rings, names and the key are
    drawn once (per colour scheme); each frame recolours the citizens and rewrites the
    month and the administrations' risk aversion."""

    def __init__(self, model: CoproductionModel, dpi: int = TOWN_DPI):
        self.model = model
        lay = town_layout(model)
        state = model.state
        hoods, admins = state.neighbourhoods, state.administrations
        admin_colour = [ADMIN_COLOURS[a % len(ADMIN_COLOURS)] for a in range(len(admins))]
        fig = Figure(figsize=(WIDTH, HEIGHT))
        ax = fig.add_axes((0.0, 0.0, MAP / WIDTH, MAP / HEIGHT))
        lim = float(np.abs(np.vstack([lay.xy, lay.hood_centre])).max() * 1.22)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.axis("off")
        # Static layer: spokes from each administration to the areas it serves, ties, rings.
        spokes = [(lay.admin_xy[hoods.administration[j]], lay.hood_centre[j]) for j in range(len(hoods))]
        ax.add_collection(LineCollection(spokes, colors=[admin_colour[a] for a in hoods.administration],
                                         linewidths=1.2, linestyles="dashed", alpha=0.45, zorder=0))
        ax.add_collection(LineCollection(lay.edges, colors="#808080", linewidths=0.3, alpha=0.25,
                                         zorder=1))
        k = len(hoods)
        for j in range(k):
            ax.add_patch(Circle(lay.hood_centre[j], 1.08 * lay.hood_radius[j], fill=False, zorder=1,
                                edgecolor=admin_colour[hoods.administration[j]], linewidth=1.5, alpha=0.8))
            c = lay.hood_centre[j]
            d = c / (np.linalg.norm(c) or 1.0)
            tag = "poorest" if j == 0 and k > 1 else "richest" if j == k - 1 and k > 1 else ""
            ax.text(*(c + d * (lay.hood_radius[j] * 1.25 + 0.05)),
                    f"area {j + 1}" + (f"\n({tag})" if tag else ""),
                    ha="center", va="center", fontsize=7, color="#333333")
        for a in range(len(admins)):
            ax.scatter(*lay.admin_xy[a], marker="s", s=140, color=admin_colour[a], edgecolor="black",
                       linewidth=0.8, zorder=3)
        # Moving layer: citizens, the administrations' risk aversion, the month.
        size = float(np.clip(9000 / state.citizens.n, 4, 40))
        self.points = ax.scatter(*lay.xy.T, c=np.zeros(len(lay.xy)), s=size, linewidths=0, zorder=2)
        self.admin_labels = [ax.text(
            lay.admin_xy[a][0], lay.admin_xy[a][1] - 0.12 * lay.hood_radius.max(), "",
            ha="center", va="top", fontsize=7, zorder=3,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": admin_colour[a], "alpha": 0.9})
            for a in range(len(admins))]
        self.title = fig.text(0.01, 0.985, "", fontsize=10, va="top")
        # The key: a colour bar for self-efficacy, a legend for taking part; one shows at a time.
        self.cbar_ax = fig.add_axes((0.80, 0.30, 0.03, 0.45))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), EFFICACY_CMAP), cax=self.cbar_ax)
        bar.set_label("self-efficacy\n(0 = \"I can't change anything\",\n1 = confident)", fontsize=7)
        bar.ax.tick_params(labelsize=7)
        handles = [Line2D([], [], marker="o", ls="", color=col, label=lab) for col, lab in zip(
            PARTICIPATION_CMAP.colors, PARTICIPATION_LABELS, strict=True)]
        self.legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.76, 0.80),
                                 fontsize=7, frameon=False, handletextpad=0.2)
        admin_handles = [Line2D([], [], marker="s", ls="", color=admin_colour[a], markeredgecolor="black",
                                label=f"administration {chr(65 + a % 26)}") for a in range(len(admins))]
        fig.legend(handles=admin_handles, loc="lower left", bbox_to_anchor=(0.76, 0.02), fontsize=7,
                   frameon=False, handletextpad=0.2, title="ring colour:\nserved by", title_fontsize=7)
        self.blitter = Blitter(fig, dpi, fmt="jpeg")  # a thousand dots: JPEG encodes them fastest
        self.blitter.moving = [self.points, *self.admin_labels, self.title]

    @property
    def fig(self) -> Figure:
        return self.blitter.fig

    @property
    def format(self) -> str:
        """The picture's image format (as ``solara.Image`` names it)."""
        return self.blitter.format

    def picture(self, colour_by: str = COLOUR_BY[0]) -> bytes:
        """The town now, citizens coloured by ``colour_by`` (one of COLOUR_BY), encoded in
        :attr:`format`."""
        if colour_by not in COLOUR_BY:
            raise ValueError(f"colour_by must be one of {COLOUR_BY}, not {colour_by!r}")
        state = self.model.state
        with self.blitter.lock:
            if colour_by == "self-efficacy":
                self.points.set_cmap(EFFICACY_CMAP)
                self.points.set_clim(0, 1)
                self.points.set_array(state.citizens.self_efficacy.copy())
            else:
                self.points.set_cmap(PARTICIPATION_CMAP)
                self.points.set_clim(-0.5, len(PARTICIPATION_LABELS) - 0.5)
                self.points.set_array(participation_classes(self.model).astype(float))
            self.cbar_ax.set_visible(colour_by == "self-efficacy")
            self.legend.set_visible(colour_by != "self-efficacy")
            for a, text in enumerate(self.admin_labels):
                text.set_text(f"administration {chr(65 + a % 26)}\n"
                              f"risk aversion {state.administrations.risk_aversion[a]:.2f}")
            self.title.set_text(f"The town in month {state.step}: {state.citizens.n:,} citizens "
                                f"in {len(state.neighbourhoods)} neighbourhoods")
            return self.blitter.frame(colour_by)


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def town_view(model: CoproductionModel) -> TownView:
    """The model's drawing, made on first use (layout and static layer) and then reused."""
    with _views_lock:
        view = _views.get(model)
        if view is None:
            view = _views[model] = TownView(model)
        return view
