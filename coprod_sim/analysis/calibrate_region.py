"""The region of good fits of a calibration: a quadratic response surface over the trials' losses.

A trial's loss is noisy (its runs are a sample of the model's randomness), so the lowest loss
among many trials is lower than the loss surface's minimum (the winner's curse), and a region
drawn around it with Wilks' threshold misses the truth too often. A quadratic surface fitted
by least squares to the best trials averages that noise out (response-surface methodology;
Box & Wilson 1951, *Journal of the Royal Statistical Society B* 13(1), 1-45):

    L(x) ~ c + (x - m)' A (x - m),

x the fitted values scaled to [0, 1] by their ranges. The fit is the centre m; the region of
good fits is {x : (x - m)' A (x - m) <= q}, q the 95% quantile of a chi-square with as many
degrees of freedom as fitted parameters (a profile-likelihood region; Wilks 1938), whose
extent along parameter i is m_i +/- sqrt(q (A^-1)_ii). The ensemble of good fits is the
trials inside it. When the surface is not a bowl (too few trials, a flat or saddle-shaped
loss) the region falls back to the trials within q of the lowest loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
MIN_POINTS = 12


@dataclass
class Region:
    centre: np.ndarray  # (p,) in the parameters' units
    low: np.ndarray  # (p,) the region's extent along each parameter
    high: np.ndarray
    inside: np.ndarray  # (T,) bool: trials in the region (the ensemble)
    fitted: np.ndarray  # (T,) the surface's loss at each trial (NaN without a surface)
    method: str


def region(values: np.ndarray, losses: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> Region:
    """The region of good fits of trials ``values`` (T, p) with ``losses`` (T,) in the ranges."""
    from scipy.stats import chi2

    p = values.shape[1]
    q = chi2.ppf(LEVEL, p)
    x = (values - lows) / (highs - lows)
    surface = _quadratic(x, losses)
    if surface is not None:
        m, a, c = surface
        inv = np.linalg.inv(a)
        half = np.sqrt(q * np.diag(inv))
        d = x - m
        fitted = c + np.einsum("ti,ij,tj->t", d, a, d)
        span = highs - lows
        return Region(np.clip(lows + span * m, lows, highs), np.clip(lows + span * (m - half), lows, highs),
                      np.clip(lows + span * (m + half), lows, highs), fitted <= c + q, fitted,
                      "quadratic response surface")
    inside = losses <= losses.min() + q
    best = values[int(np.argmin(losses))]
    return Region(best, values[inside].min(axis=0), values[inside].max(axis=0), inside,
                  np.full(len(losses), np.nan), "trials within the threshold of the lowest loss")


def _quadratic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Least-squares c + b'x + x'Qx over the best trials; (centre, A, minimum) if a bowl."""
    t, p = x.shape
    terms = [(i, j) for i in range(p) for j in range(i, p)]
    n = max(MIN_POINTS, 4 * (1 + p + len(terms)))
    if t < n:
        return None
    best = np.argsort(y, kind="stable")[:n]
    xs, ys = x[best], y[best]
    design = np.column_stack([np.ones(n), xs, *[xs[:, i] * xs[:, j] for i, j in terms]])
    coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
    a = np.zeros((p, p))
    for (i, j), value in zip(terms, coef[1 + p:], strict=True):
        a[i, j] = a[j, i] = value if i == j else value / 2
    if np.any(np.linalg.eigvalsh(a) <= 1e-9):
        return None
    m = np.linalg.solve(2 * a, -coef[1:1 + p])
    c = float(coef[0] + coef[1:1 + p] @ m + m @ a @ m)
    return m, a, c
