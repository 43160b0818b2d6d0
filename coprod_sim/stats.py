"""The one statistics module: intervals for means, paired differences, correlations, ratios.

Every estimate is an :class:`Estimate` (value, 95% interval, number of independent units).
The units are independent replications (or design points), never the months of one run.

Which interval for which measure (``scale``):

- ``"mean"``: a Student t interval for a mean, ``mean ± t(n-1) s / sqrt(n)``; with ``bounds``
  (a share lies in [0, 1]) its ends are clipped to the range the measure can take.
- ``"ratio"``: a positive ratio (say top over bottom quintile) is averaged and given its
  interval on the log scale, then exponentiated: the estimate is the geometric mean and the
  interval never goes below 0 (Cox & Donnelly 2011, *Principles of Applied Statistics*, 3.4).
- ``"correlation"``: Fisher's z = atanh(r), a t interval on z, back through tanh: the interval
  stays inside (-1, 1) (Fisher 1915, *Biometrika* 10(4)).

A paired difference (policy minus baseline on the same random draws, common random numbers)
is taken on the same scale as the measure's level, so the difference of two levels and the
difference stated agree exactly. When no formula fits, :func:`bootstrap` gives a BCa interval
(Efron 1987, *JASA* 82(397), through :func:`scipy.stats.bootstrap`); :func:`proportion`
gives Wilson's interval for a count of successes (Wilson 1927, *JASA* 22(158)).

SciPy is imported inside the functions that use it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Scale = Literal["mean", "ratio", "correlation"]
LEVEL = 0.95
_EDGE = 1 - 1e-12  # |r| = 1 exactly would give an infinite z


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval; ``low``/``high`` are nan without an interval."""

    mean: float
    low: float
    high: float
    n: int
    method: str = "t"

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def excludes(self, value: float = 0.0) -> bool:
        """True when the interval lies wholly on one side of ``value`` (the effect is clear)."""
        return self.has_interval and (self.low > value or self.high < value)

    @property
    def distinguishable(self) -> bool:
        """A difference whose interval excludes zero: distinguishable from noise."""
        return self.excludes(0.0)

    def __str__(self) -> str:
        if not self.has_interval:
            return f"{self.mean:.3g} (n={self.n}, no interval)"
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}] (n={self.n})"


NO_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0)


def _finite(values: Iterable[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return v[np.isfinite(v)]


def _t_half(v: np.ndarray, level: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def t_interval(values: Iterable[float], level: float = LEVEL,
               bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean with a Student t interval (non-finite values dropped; no interval below n = 2).

    ``bounds``: the range the measure can take; the interval's ends are clipped to it.
    """
    v = _finite(values)
    if len(v) == 0:
        return NO_ESTIMATE
    mean = float(v.mean())
    if len(v) < 2:
        return Estimate(mean, math.nan, math.nan, 1)
    half = _t_half(v, level)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(mean, low, high, len(v))


def _forward(scale: Scale, v: np.ndarray) -> np.ndarray:
    if scale == "ratio":
        v = v[v > 0]
        return np.log(v)
    if scale == "correlation":
        return np.arctanh(np.clip(v, -_EDGE, _EDGE))
    return v


def _back(scale: Scale, z: float) -> float:
    if scale == "ratio":
        return math.exp(z)
    if scale == "correlation":
        return math.tanh(z)
    return z


def interval(values: Iterable[float], scale: Scale = "mean", level: float = LEVEL,
          bounds: tuple[float, float] | None = None) -> Estimate:
    """A measure's average over independent units with its interval, on the measure's scale.

    ``"mean"``: t interval (clipped to ``bounds``); ``"ratio"``: geometric mean, interval on
    the log scale (values <= 0 dropped); ``"correlation"``: Fisher z average and interval.
    """
    if scale == "mean":
        return t_interval(values, level, bounds)
    z = _forward(scale, _finite(values))
    e = t_interval(z, level)
    if e.n == 0:
        return NO_ESTIMATE
    method = "log t" if scale == "ratio" else "Fisher z t"
    return Estimate(_back(scale, e.mean), _back(scale, e.low) if e.has_interval else math.nan,
                    _back(scale, e.high) if e.has_interval else math.nan, e.n, method)


def paired_difference(a: Iterable[float], b: Iterable[float], scale: Scale = "mean",
                      level: float = LEVEL, bounds: tuple[float, float] | None = None
                      ) -> Estimate:
    """``a`` minus ``b``, paired element by element (same random draws), with its interval.

    Pairs with a missing value on either side are left out. On the ``"mean"`` scale this is a
    t interval of the differences (clipped to the widest difference ``bounds`` allow). On the
    ``"ratio"`` and ``"correlation"`` scales the paired t interval is taken on the transformed
    scale (log, Fisher z) and mapped back around ``b``'s level, so that the estimate is exactly
    interval(a) - interval(b) over the same pairs and the interval respects the measure's range.
    """
    x, y = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in length: {len(x)} and {len(y)}")
    keep = np.isfinite(x) & np.isfinite(y)
    if scale == "ratio":
        keep &= (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    if scale == "mean":
        width = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
        return t_interval(x - y, level, width)
    zx, zy = _forward(scale, x), _forward(scale, y)
    d = t_interval(zx - zy, level)
    if d.n == 0:
        return NO_ESTIMATE
    base = float(zy.mean())
    ref = _back(scale, base)
    method = "paired log t" if scale == "ratio" else "paired Fisher z t"

    def shift(dz: float) -> float:
        return _back(scale, base + dz) - ref if math.isfinite(dz) else math.nan

    return Estimate(shift(d.mean), shift(d.low), shift(d.high), d.n, method)


def bootstrap(values: Iterable[float], statistic: Callable[[np.ndarray], float] = np.mean,
              level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> Estimate:
    """BCa bootstrap interval of ``statistic`` over independent values (fixed seed: same result).

    For a statistic with no closed-form interval (a median, a share of runs, a difference of
    medians computed inside ``statistic``). Needs at least three distinct values.
    """
    from scipy import stats

    v = _finite(values)
    if len(v) == 0:
        return NO_ESTIMATE
    est = float(statistic(v))
    if len(v) < 3 or np.ptp(v) == 0:
        return Estimate(est, math.nan, math.nan, len(v), "bootstrap")
    res = stats.bootstrap((v,), statistic, vectorized=False,
                          confidence_level=level, n_resamples=resamples, method="BCa",
                          rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return Estimate(est, float(ci.low), float(ci.high), len(v), "bootstrap")


def proportion(successes: int, trials: int, level: float = LEVEL) -> Estimate:
    """A share of successes with Wilson's score interval (inside [0, 1], good for small counts)."""
    from scipy import stats

    if trials <= 0:
        return NO_ESTIMATE
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method="wilson")
    return Estimate(successes / trials, float(ci.low), float(ci.high), int(trials), "Wilson")


def correlation_interval(r: float, n: int, controls: int = 0, level: float = LEVEL) -> Estimate:
    """Fisher's z interval of one (partial) correlation from ``n`` observations.

    ``z = atanh(r) ± z_(1+level)/2 / sqrt(n - 3 - controls)``, back through tanh; ``controls``
    is the number of variables partialled out (Fisher 1924, *Metron* 3). No interval when
    ``n - 3 - controls < 1``.
    """
    from scipy import stats

    if not math.isfinite(r):
        return Estimate(math.nan, math.nan, math.nan, n, "Fisher z")
    df = n - 3 - controls
    if df < 1:
        return Estimate(r, math.nan, math.nan, n, "Fisher z")
    z, half = math.atanh(max(-_EDGE, min(_EDGE, r))), float(stats.norm.ppf(0.5 + level / 2)) / math.sqrt(df)
    return Estimate(r, math.tanh(z - half), math.tanh(z + half), n, "Fisher z")


def partial_rank_correlations(x: np.ndarray, y: np.ndarray, level: float = LEVEL) -> list[Estimate]:
    """Partial rank correlation of ``y`` with each column of ``x``, the others held fixed (PRCC).

    Ranks, then the correlation of the residuals of column j and of y regressed on the other
    columns; Fisher z intervals with the other columns partialled out (Marino et al. 2008,
    *J. Theor. Biol.* 254(1), the usual companion of a Latin hypercube design).
    """
    from scipy import stats

    keep = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    x, y = x[keep], y[keep]
    n, p = x.shape
    ranks = np.column_stack([stats.rankdata(c) for c in x.T]) if n else x
    ry = stats.rankdata(y)
    out = []
    for j in range(p):
        others = np.column_stack([np.ones(n), np.delete(ranks, j, axis=1)])

        def resid(v: np.ndarray, others: np.ndarray = others) -> np.ndarray:
            coef, *_ = np.linalg.lstsq(others, v, rcond=None)
            return v - others @ coef

        a, b = resid(ranks[:, j]), resid(ry)
        den = math.sqrt(float(a @ a) * float(b @ b))
        r = float(a @ b) / den if den > 0 else math.nan
        out.append(correlation_interval(r, n, p - 1, level))
    return out
