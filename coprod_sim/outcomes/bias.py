"""Selection-bias measures: who coproduces, and who gets what is coproduced.

Each function takes plain arrays and returns a float; ``nan`` where the measure is undefined
(say, nobody took part). Positive values mean coproduction favours the advantaged.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import N_QUINTILES


def quintile_rates(active: np.ndarray, quintile: np.ndarray) -> np.ndarray:
    """Participation rate in each SES quintile (0 = poorest fifth)."""
    count = np.bincount(quintile, minlength=N_QUINTILES)
    return np.bincount(quintile, weights=active, minlength=N_QUINTILES) / np.maximum(count, 1)


def top_bottom_ratio(active: np.ndarray, quintile: np.ndarray) -> float:
    """Participation of the richest SES quintile over that of the poorest.

    R = P(active | Q5) / P(active | Q1); 1 means no selection bias, ``nan`` if the poorest
    quintile has nobody active. The 'volunteering gap' of the BLS release on 2010
    (42% of graduates vs 9% without a diploma, about 4.7) is this ratio by education
    (a different construct: see F5 in docs/facts.md).
    """
    return ratio_of_rates(quintile_rates(active, quintile))


def ratio_of_rates(rates: np.ndarray) -> float:
    """Top over bottom of quintile rates, rates[4] / rates[0]; ``nan`` if the bottom is 0."""
    return float(rates[4] / rates[0]) if rates[0] > 0 else float("nan")


def concentration_index(active: np.ndarray, ses_rank: np.ndarray) -> float:
    """Concentration index of participation over SES rank.

    C = 2 cov(y, R) / mean(y), R the fractional rank in (0, 1). C lies in [-1, 1]: 0 is
    equality, positive values mean participation concentrates among the advantaged.
    Kakwani, Wagstaff & van Doorslaer 1997, J. Econometrics 77(1); O'Donnell et al. 2008,
    'Analyzing Health Equity Using Household Survey Data', ch. 8 (World Bank).
    """
    y = np.asarray(active, dtype=float)
    mean = y.mean() if len(y) else 0.0
    if mean == 0:
        return float("nan")
    cov = np.mean((y - mean) * (ses_rank - ses_rank.mean()))
    return float(2.0 * cov / mean)


def advantage_correlation(active: np.ndarray, neighbourhood: np.ndarray,
                          advantage: np.ndarray) -> float:
    """Pearson correlation, across neighbourhoods, of advantage with participation rate.

    r = corr(advantage_k, mean of y over k). Needs at least three neighbourhoods and some
    variation in both; otherwise ``nan``. Ecological measure of area bias (F5 in docs/facts.md).
    """
    if len(advantage) < 3:
        return float("nan")
    size = np.bincount(neighbourhood, minlength=len(advantage))
    rate = np.bincount(neighbourhood, weights=active, minlength=len(advantage)) / np.maximum(size, 1)
    return rate_correlation(advantage, rate)


def rate_correlation(advantage: np.ndarray, rate: np.ndarray) -> float:
    """Pearson correlation of neighbourhoods' advantage with their rate (``nan`` as above).

    The value is np.corrcoef(advantage, rate)[0, 1], computed with the same operations
    without its generality (it is recorded every month, so its overhead counted).
    """
    if len(advantage) < 3 or _std_is_zero(rate) or _std_is_zero(advantage):
        return float("nan")
    # np.cov(x, y) as NumPy computes it, then corrcoef's normalisation of the [0, 1] entry.
    x = np.concatenate((np.array(advantage, ndmin=2, dtype=np.float64),
                        np.array(rate, ndmin=2, dtype=np.float64)), axis=0)
    k = x.shape[1]
    x -= (np.add.reduce(x, axis=1) / k)[:, None]
    c = np.dot(x, x.T.conj())
    c *= np.true_divide(1, k - 1)
    r = c[0, 1] / np.sqrt(c[0, 0]) / np.sqrt(c[1, 1])
    return float(min(max(r, -1.0), 1.0))


def _std_is_zero(x: np.ndarray) -> bool:
    """x.std() == 0, with ndarray.std's own sums."""
    k = len(x)
    d = x - np.add.reduce(x) / k
    return bool(np.sqrt(np.add.reduce(d * d) / k) == 0)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """np.average(values, weights=weights) for 1-d arrays, with the same sums."""
    dtype = np.result_type(values.dtype, weights.dtype, np.float64)
    return float(np.add.reduce(np.multiply(values, weights, dtype=dtype))
                 / np.add.reduce(weights, dtype=dtype))


def advantaged_output_share(output: np.ndarray, advantage: np.ndarray, size: np.ndarray) -> float:
    """Share of coproduced output that reaches the more advantaged half of residents.

    Output benefits the neighbourhood where it is produced. Neighbourhoods are ordered by
    advantage and residents split at the median; a neighbourhood straddling the split counts
    pro rata. S = sum_k h_k y_k / sum_k y_k, h_k its share of residents in the upper half.
    0.5 is an even split; ``nan`` if nothing was produced.
    """
    total = output.sum()
    if total <= 0:
        return float("nan")
    order = np.argsort(advantage, kind="stable")
    size = size[order].astype(float)
    above = np.cumsum(size) - size  # residents in less advantaged neighbourhoods
    half = size.sum() / 2.0
    upper = np.clip((above + size - half), 0.0, size) / np.maximum(size, 1.0)
    return float((upper * output[order]).sum() / total)


def gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Gini coefficient of ``values`` (e.g. service quality across neighbourhoods).

    G = sum_i sum_j w_i w_j |x_i - x_j| / (2 W^2 mean(x)), weighted by population; 0 is
    equality. Computed from the Lorenz curve, G = 1 - sum_i (p_i - p_{i-1})(L_i + L_{i-1}),
    which equals the double sum. Used for inequality of local service quality.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    total = (w * x).sum()
    if total <= 0:
        return 0.0
    p = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    lorenz = np.concatenate([[0.0], np.cumsum(w * x) / total])
    return float(1.0 - (np.diff(p) * (lorenz[1:] + lorenz[:-1])).sum())
