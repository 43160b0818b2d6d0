"""A town built from a table with geometry, drawn as a map: each neighbourhood its own shape,
its citizens spread inside it (the ring of discs of :func:`coprod_sim.viz.town.compute_layout`
says nothing about a town of 159 counties).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd

    from coprod_sim.model import CoproductionModel


def outlines(geometry: gpd.GeoDataFrame) -> list[tuple[int, np.ndarray]]:
    """(neighbourhood, exterior ring) for every polygon part, in the table's coordinates."""
    rings = []
    for k, shape in enumerate(geometry.geometry.values):
        parts = getattr(shape, "geoms", [shape])
        rings.extend((k, np.asarray(part.exterior.coords)[:, :2]) for part in parts)
    return rings


def spread_inside(shape, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points drawn uniformly inside ``shape`` (rejection from its bounding box); a
    sliver too thin to hit falls back on its representative point."""
    import shapely

    x0, y0, x1, y1 = shape.bounds
    found = np.empty((0, 2))
    for _ in range(30):
        if len(found) >= count:
            break
        cand = rng.uniform((x0, y0), (x1, y1), size=(max(4 * count, 16), 2))
        found = np.vstack([found, cand[shapely.contains_xy(shape, cand[:, 0], cand[:, 1])]])
    if len(found) < count:
        point = shape.representative_point()
        found = np.vstack([found, np.tile((point.x, point.y), (count - len(found), 1))])
    return found[:count]


def map_layout(model: CoproductionModel, geometry: gpd.GeoDataFrame, seed: int):
    """The layout of a town with geometry (see :class:`~coprod_sim.viz.town.TownLayout`),
    coordinates scaled to about [-1, 1]: citizens inside their neighbourhood."""
    from coprod_sim.viz.town import TownLayout, sp_upper

    state = model.state
    hood = state.citizens.neighbourhood
    shapes = geometry.geometry.values
    x0, y0, x1, y1 = geometry.total_bounds
    centre, half = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, y1 - y0) / 2 or 1.0
    rng = np.random.default_rng(seed)
    xy = np.zeros((state.citizens.n, 2))
    for k, shape in enumerate(shapes):
        members = np.flatnonzero(hood == k)
        if len(members):
            xy[members] = spread_inside(shape, len(members), rng)
    points = np.array([[p.x, p.y] for p in (s.representative_point() for s in shapes)])
    radius = np.sqrt(np.asarray(geometry.geometry.area) / np.pi) / half
    hood_centre = (points - centre) / half
    # The offices in a row under the map, as a key: the areas an administration serves are
    # outlined in its colour (on a map they interleave, so no spot stands for all of them).
    a = len(state.administrations)
    low = ((np.concatenate([ring for _, ring in outlines(geometry)]) - centre) / half)[:, 1].min()
    admin_xy = np.column_stack([np.linspace(-0.5, 0.5, a) if a > 1 else np.zeros(1), np.full(a, low - 0.08)])
    xy = (xy - centre) / half
    upper = sp_upper(state.network)
    edges = np.stack([xy[upper[0]], xy[upper[1]]], axis=1)
    rings = tuple((k, (ring - centre) / half) for k, ring in outlines(geometry))
    return TownLayout(xy=xy, edges=edges, hood_centre=hood_centre, hood_radius=radius, admin_xy=admin_xy,
                      outlines=rings)


def draw_outlines(ax, rings: tuple, colours: list[str]) -> None:
    """The neighbourhoods' shapes, lightly filled, outlined in the colour of the administration
    that serves each (``colours[k]`` for neighbourhood k)."""
    from matplotlib.collections import PolyCollection

    ax.add_collection(PolyCollection([ring for _, ring in rings], facecolors="#f3f3f3",
                                     edgecolors=[colours[k] for k, _ in rings], linewidths=0.8, zorder=0))
