"""Geometry of a town's neighbourhoods: which touch, their areas, coordinates that cannot be right.

Pure helpers over a GeoSeries (geopandas and shapely are imported by the caller that reads the
table, or here inside the function that needs them).
"""

from __future__ import annotations

import numpy as np


def outside_lonlat(geometry, ids: tuple[str, ...]) -> list[str]:
    """Rows whose coordinates cannot be longitude/latitude although the table's CRS says so.

    GeoJSON's coordinates are WGS 84 longitude/latitude (RFC 7946), so a file written in metres
    is read as degrees: its areas would be NaN (every neighbourhood silently rural) and its map
    distorted. Such rows are refused instead.
    """
    if geometry.crs is None or not geometry.crs.is_geographic:
        return []
    b = np.asarray(geometry.bounds)
    bad = (b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90)
    return [f"row {i + 1} (id {ids[i]!r}), column 'geometry': coordinates outside longitude -180..180,"
            f" latitude -90..90, but the table's coordinate system ({geometry.crs.name}) is longitude/"
            "latitude (GeoJSON always is: RFC 7946); give longitude/latitude, or a GeoPackage in a"
            " projected coordinate system." for i in np.flatnonzero(bad)]


def areas_km2(geometry) -> np.ndarray:
    """Areas in km2: in the table's projection, or an equal-area one for longitude/latitude."""
    if geometry.crs is not None and geometry.crs.is_geographic:
        geometry = geometry.to_crs(6933)  # WGS 84 / NSIDC EASE-Grid 2.0 Global, equal-area
    return np.asarray(geometry.area) / 1e6  # without a CRS the coordinates are taken as metres


def adjacency(geometry) -> tuple[np.ndarray, np.ndarray]:
    """Neighbourhoods that touch or overlap (sharing a border or a corner), as CSR arrays.

    Found with a shapely STRtree (a bounding-box index), so a city of thousands of areas
    takes milliseconds; a small tolerance closes the slivers digitised borders leave.
    """
    import scipy.sparse as sp
    from shapely import STRtree

    geoms = np.asarray(geometry.values)
    tree = STRtree(geoms)
    span = np.ptp(np.asarray(geometry.total_bounds).reshape(2, 2), axis=0).max()
    left, right = tree.query(geoms, predicate="dwithin", distance=1e-6 * span)
    keep = left != right
    k = len(geoms)
    a = sp.csr_array((np.ones(int(keep.sum())), (left[keep], right[keep])), shape=(k, k))
    a.sum_duplicates()
    return a.indptr.astype(np.int64), a.indices.astype(np.int64)
